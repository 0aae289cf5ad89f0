r"""LaTeX in the seeds' notation: ``S_i``, ``S_c``, ``24 B S_i H^{2}``, ``2 Z 10^{9}``.

`to_latex` prints any expression (or a `Cost`) the way the source documents
write their formulas:

* symbols in the seeds' order inside a product: bytes per element first (they
  stand where 000 writes its fp16 ``2``), then ``N B S S_i S_c H`` and the
  widths; round coefficients as a power of ten after the symbols
  (``2 Z 10^{9}``, as 000 writes the fp16 weights of a Z-billion model);
* polynomials expanded, and ``N`` pulled out of a sum when every term has it
  (000: ``N (24 B S H^2 + 4 B S^2 H)``, but ``2 Z 10^9 + 4 N B S H``);
* the terms of a sum in a fixed order: first those that do not grow with the
  context, then by their degree in ``S_c``, ``S``, ``S_i``, ``B`` and ``N``
  (weights, then activations, then the KV cache, as 000 lists them);
* a ratio as ``\frac``.

`cost_latex` prints a `Cost` term by term; `document` writes a standalone
``.tex`` derivation of prefill and decode that compiles with ``pdflatex``.

Examples
--------
>>> import symroof
>>> from symroof.symbols import B, S_i, S_c, H, N, Z
>>> to_latex(N * (24 * B * S_i * H**2 + 4 * B * S_i * S_c * H))
'N \\left(24 B S_i H^{2} + 4 B S_i S_c H\\right)'
>>> to_latex(2 * Z * 10**9 + 8 * N * B * S_i * H + 2 * N * B * S_c * H)
'2 Z 10^{9} + 8 N B S_i H + 2 N B S_c H'
>>> fp16 = symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2)
>>> print(to_latex(symroof.prefill(fp16, "000").intensity))
\frac{N \left(24 B S H^{2} + 4 B S^{2} H\right)}{2 Z 10^{9} + 4 N B S H}
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sympy
from sympy.core.sorting import default_sort_key
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from symroof import symbols as sym
from symroof._values import as_expr
from symroof.arch import Arch
from symroof.cost import Cost

__all__ = [
    "cost_latex",
    "cost_rows",
    "document",
    "intensity_latex",
    "seed_form",
    "sum_lines",
    "to_latex",
]

# Order of symbols inside a product. 000 writes "4 N B S H", "24 B S_i H^2", "2 Z 10^9":
# layers, batch, lengths, widths; bytes per element stand first, where 000 has fp16's 2.
_ORDER = [sym.b_w, sym.b_a, sym.b_kv, sym.N, sym.B, sym.S, sym.S_i, sym.S_c, sym.H,
          sym.n_h, sym.n_kv, sym.d_h, sym.F, sym.V, sym.E, sym.k_e, sym.Z, sym.T, sym.pi, sym.beta]
_RANK = {s: i for i, s in enumerate(_ORDER)}
# The order of the terms of a sum: ascending degree in these, most significant first.
_TERM_ORDER = (sym.S_c, sym.S, sym.S_i, sym.B, sym.N)
# S_i prints as S_i (as the seeds write it); multi-letter subscripts need braces.
_NAMES = {s: (s.name.replace("_", "_{", 1) + "}" if len(s.name.split("_")[-1]) > 1 else s.name)
          for s in _ORDER}
_NAMES[sym.pi] = r"\pi"
_NAMES[sym.beta] = r"\beta"
# A coefficient with at least this many trailing zeros prints as m·10^k (000: "2 Z 10^9").
_MIN_ZEROS = 6


def _degree(term: sympy.Expr, symbol: sympy.Symbol) -> sympy.Expr:
    exponent = term.as_powers_dict().get(symbol, 0)
    return exponent if getattr(exponent, "is_Number", True) else sympy.Integer(0)


def _term_key(term: sympy.Expr) -> tuple[Any, ...]:
    """Sort key of a term of a sum: context-free terms first, then by degree (see module doc)."""
    _, monomial = term.as_coeff_Mul()
    degrees = tuple(_degree(monomial, s) for s in _TERM_ORDER)
    return (*degrees, -_degree(monomial, sym.H), default_sort_key(monomial))


def _factor_key(factor: sympy.Expr) -> tuple[int, Any]:
    base = factor.base if factor.is_Pow else factor
    return (_RANK.get(base, len(_RANK)), default_sort_key(factor))


def _power_of_ten(n: sympy.Integer) -> tuple[sympy.Integer, int]:
    """``n = m·10^k`` with k the trailing zeros if there are at least `_MIN_ZEROS`, else ``(n, 0)``."""
    digits = str(abs(int(n)))
    zeros = len(digits) - len(digits.rstrip("0"))
    if n == 0 or zeros < _MIN_ZEROS:
        return n, 0
    return sympy.Integer(int(n) // 10**zeros), zeros


def _layers_factor(terms: Sequence[sympy.Expr]) -> bool:
    """True if every term of a sum (of two or more) has the layer count ``N`` as a factor."""
    return len(terms) > 1 and all(_degree(t, sym.N) >= 1 for t in terms)


class _SeedPrinter(LatexPrinter):
    """sympy's LaTeX printer with the seeds' products, term order and factor N."""

    def _as_ordered_terms(self, expr: sympy.Expr, order: Any = None) -> list[sympy.Expr]:
        return sorted(sympy.Add.make_args(expr), key=_term_key)

    def _signed_terms(self, terms: Iterable[sympy.Expr]) -> list[str]:
        """``["t1", "+ t2", "- t3", ...]``: each term printed with the sign that joins it."""
        out = []
        for i, term in enumerate(terms):
            sign = ""
            if term.could_extract_minus_sign():
                sign, term = "- ", -term
            elif i:
                sign = "+ "
            tex = self._print(term)
            if self._needs_add_brackets(term):
                tex = rf"\left({tex}\right)"
            out.append(sign + tex)
        return out

    def _print_Add(self, expr: sympy.Add, order: Any = None) -> str:  # type: ignore[override]
        terms = self._as_ordered_terms(expr)
        if _layers_factor(terms):
            inner = " ".join(self._signed_terms(sorted((t / sym.N for t in terms), key=_term_key)))
            return rf"{self._print(sym.N)} \left({inner}\right)"
        return " ".join(self._signed_terms(terms))

    def _print_Integer(self, expr: sympy.Integer) -> str:  # type: ignore[override]
        mantissa, zeros = _power_of_ten(expr)
        if not zeros:
            return str(expr)
        head = "" if mantissa == 1 else f"{mantissa} \\cdot "
        return f"{head}10^{{{zeros}}}"

    def _print_Mul(self, expr: sympy.Mul) -> str:  # type: ignore[override]
        if expr.could_extract_minus_sign():
            return "- " + self._print(-expr)
        numerator, denominator = sympy.fraction(expr)
        if denominator != 1:
            return rf"\frac{{{self._print(numerator)}}}{{{self._print(denominator)}}}"
        coeff, rest = expr.as_coeff_Mul()
        parts: list[str] = []
        zeros = 0
        if coeff.is_Integer:
            coeff, zeros = _power_of_ten(coeff)
        if coeff != 1:
            parts.append(self._print(coeff))
        for factor in sorted(sympy.Mul.make_args(rest), key=_factor_key):
            parts.append(self.parenthesize(factor, PRECEDENCE["Mul"], strict=True))
        if zeros:
            parts.append(f"10^{{{zeros}}}")
        return _join(parts)


def _join(parts: Sequence[str]) -> str:
    """Juxtapose factors; a ``\\cdot`` only between two numbers (``2 \\cdot 3^{S}``)."""
    out = parts[0] if parts else "1"
    for prev, part in itertools.pairwise(parts):
        numeric = prev[:1].isdigit() and part[:1].isdigit()
        out += (r" \cdot " if numeric else " ") + part
    return out


def seed_form(expr: Any) -> sympy.Expr:
    """Expand the numerator and the denominator if they are polynomials; leave the rest alone.

    >>> from symroof.symbols import B, S, H, N
    >>> seed_form(N * B * S * (S + 6 * H))
    6*B*H*N*S + B*N*S**2
    """
    expr = as_expr(expr, "expr")
    numerator, denominator = sympy.fraction(expr)
    parts = [sympy.expand(p) if p.is_polynomial() else p for p in (numerator, denominator)]
    if denominator == 1:
        return parts[0]
    return sympy.Mul(parts[0], sympy.Pow(parts[1], -1), evaluate=False)


def _printer(settings: Mapping[str, Any]) -> _SeedPrinter:
    options = dict(settings)
    options.setdefault("symbol_names", _NAMES)
    return _SeedPrinter(options)


def to_latex(expr: Any, **settings: Any) -> str:
    r"""LaTeX for an expression (or a `Cost`, term by term) in the seeds' notation.

    ``settings`` are sympy's LaTeX printer settings.

    >>> from symroof.symbols import B, H, Z, b_w, n_kv, d_h
    >>> to_latex(b_w * Z * 10**9 + 2 * B * H * n_kv * d_h)
    'b_w Z 10^{9} + 2 B H n_{kv} d_h'
    >>> to_latex(sympy.Integer(2 * 10**9))
    '2 \\cdot 10^{9}'
    """
    if isinstance(expr, Cost):
        return cost_latex(expr)
    expr = as_expr(expr, "expr")
    expr = seed_form(expr)
    numerator, denominator = sympy.fraction(expr)
    printer = _printer(settings)
    if denominator != 1 and isinstance(expr, sympy.Mul):
        # print each side of a ratio in its own seed form (sympy would distribute coefficients)
        sign = ""
        if numerator.could_extract_minus_sign():
            sign, numerator = "- ", -numerator
        return sign + rf"\frac{{{printer.doprint(numerator)}}}{{{printer.doprint(denominator)}}}"
    return printer.doprint(expr)


def intensity_latex(cost: Cost, **settings: Any) -> str:
    r"""The arithmetic intensity of ``cost`` as ``\frac{FLOPs}{Bytes}``, neither side simplified.

    >>> from symroof.symbols import B, H
    >>> intensity_latex(Cost(flops={"ffn/up": 8 * B * H**2}, bytes={"weights": 8 * H**2 + 2 * B * H}))
    '\\frac{8 B H^{2}}{8 H^{2} + 2 B H}'
    """
    return rf"\frac{{{to_latex(cost.flops, **settings)}}}{{{to_latex(cost.bytes, **settings)}}}"


def sum_lines(expr: Any, max_chars: int = 100, **settings: Any) -> list[str]:
    r"""``to_latex(expr)`` broken at its ``+`` signs into lines of about ``max_chars`` characters.

    A sum with the factor ``N`` opens ``N \left(`` on the first line and closes on the last,
    with ``\right.`` and ``\left.`` at the breaks (each line is balanced on its own).

    >>> from symroof.symbols import B, S, H, N
    >>> sum_lines(N * (24 * B * S * H**2 + 4 * B * S**2 * H), max_chars=12)
    ['N \\left(24 B S H^{2} \\right.', '\\left. + 4 B S^{2} H\\right)']
    >>> sum_lines(B * H, max_chars=12)
    ['B H']
    """
    expr = seed_form(expr)
    printer = _printer(settings)
    if not isinstance(expr, sympy.Add):
        return [printer.doprint(expr)]
    terms = printer._as_ordered_terms(expr)
    factored = _layers_factor(terms)
    if factored:
        terms = sorted((t / sym.N for t in terms), key=_term_key)
    lines: list[list[str]] = [[]]
    for tex in printer._signed_terms(terms):
        if lines[-1] and sum(len(t) + 1 for t in lines[-1]) + len(tex) > max_chars:
            lines.append([])
        lines[-1].append(tex)
    text = [" ".join(line) for line in lines]
    if not factored:
        return text
    n = printer.doprint(sym.N)
    if len(text) == 1:
        return [rf"{n} \left({text[0]}\right)"]
    return ([rf"{n} \left({text[0]} \right.", *(rf"\left. {t} \right." for t in text[1:-1]),
             rf"\left. {text[-1]}\right)"])


# ---- a Cost, term by term ---------------------------------------------------------------


def _text(name: str) -> str:
    r"""A term name inside ``\text{}`` (``lm_head`` -> ``lm\_head``)."""
    return r"\text{" + _escape(name) + "}"


def _grouped(terms: Mapping[str, sympy.Expr], depth: int | None) -> dict[str, sympy.Expr]:
    if depth is None:
        return dict(terms)
    out: dict[str, sympy.Expr] = {}
    for name, value in terms.items():
        key = "/".join(name.split("/")[:depth])
        out[key] = out.get(key, sympy.Integer(0)) + value
    return out


def cost_rows(cost: Cost, *, depth: int | None = None, **settings: Any) -> list[tuple[str, str]]:
    r"""``(label, formula)`` pairs: each FLOP term, the FLOP total, each byte term, the byte total.

    ``depth`` groups terms by the first ``depth`` parts of their path (``depth=1``:
    ``attention``, ``ffn``; ``weights``, ``activations``, ``kv``).

    >>> from symroof.symbols import B, H
    >>> cost = Cost(flops={"ffn/up": 8 * B * H**2, "ffn/down": 8 * B * H**2}, bytes={"weights": 8 * H**2})
    >>> for label, formula in cost_rows(cost, depth=1):
    ...     print(label, "=", formula)
    \text{FLOPs}_\text{ffn} = 16 B H^{2}
    \text{FLOPs}_\text{total} = 16 B H^{2}
    \text{Bytes}_\text{weights} = 8 H^{2}
    \text{Bytes}_\text{total} = 8 H^{2}
    """
    rows = []
    for what, terms, total in (("FLOPs", cost.flop_terms, cost.flops), ("Bytes", cost.byte_terms, cost.bytes)):
        for name, value in _grouped(terms, depth).items():
            rows.append((rf"\text{{{what}}}_{_text(name)}", to_latex(value, **settings)))
        rows.append((rf"\text{{{what}}}_\text{{total}}", to_latex(total, **settings)))
    return rows


def cost_latex(cost: Cost, *, depth: int | None = None, intensity: bool = True, **settings: Any) -> str:
    r"""A `Cost` term by term in an ``aligned`` block: FLOPs, bytes, then the intensity.

    >>> from symroof.symbols import B, H
    >>> cost = Cost(flops={"ffn/up": 8 * B * H**2}, bytes={"weights": 8 * H**2})
    >>> print(cost_latex(cost, intensity=False))
    \begin{aligned}
    \text{FLOPs}_\text{ffn/up} &= 8 B H^{2} \\
    \text{FLOPs}_\text{total} &= 8 B H^{2} \\
    \text{Bytes}_\text{weights} &= 8 H^{2} \\
    \text{Bytes}_\text{total} &= 8 H^{2}
    \end{aligned}
    >>> cost_latex(cost).splitlines()[-2].split(" = ")[-1]
    '\\frac{8 B H^{2}}{8 H^{2}}'
    """
    lines = [f"{label} &= {formula}" for label, formula in cost_rows(cost, depth=depth, **settings)]
    if intensity and cost.byte_terms:
        lines.append(r"\text{Arithmetic Intensity} &= \frac{\text{FLOPs}_\text{total}}{\text{Bytes}_\text{total}} = "
                     + intensity_latex(cost, **settings))
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


# ---- a standalone derivation document --------------------------------------------------

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            # unicode that pdflatex's default input encoding may not typeset
            "≈": r"$\approx$", "→": r"$\to$", "∞": r"$\infty$", "≥": r"$\geq$", "≤": r"$\leq$",
            "·": r"$\cdot$", "×": r"$\times$", "−": "-", "π": r"$\pi$", "β": r"$\beta$", "µ": r"$\mu$",
            "–": "--", "—": "---", "’": "'", "“": "``", "”": "''"}


def _escape(text: str) -> str:
    """Text safe inside LaTeX (``_``, ``%``, ``&`` ... escaped; a few unicode signs as math).

    >>> _escape("lm_head ≈ 50% of B·S")
    'lm\\\\_head $\\\\approx$ 50\\\\% of B$\\\\cdot$S'
    """
    return "".join(_SPECIAL.get(ch, ch) if ord(ch) < 128 or ch in _SPECIAL else "?" for ch in str(text))


_PHASES = {
    "prefill": ("Prefill", r"$B$ sequences of $S$ prompt tokens each over an empty KV cache "
                r"(the step at $S_i = S$, $S_c = 0$)."),
    "decode": ("Decode", r"$B$ sequences each generate one token ($S_i = 1$) over $S_c$ cached tokens."),
    "step": ("A step of S_i tokens", r"$B$ sequences, each with $S_i$ new tokens over $S_c$ cached ones "
             r"(speculative decoding verifies $S_i = k$ drafted tokens in one step)."),
}

_ARCH_FIELDS = (("hidden", "H", "hidden size"), ("layers", "N", "layers"), ("heads", "n_h", "query heads"),
                ("kv_heads", "n_kv", "key/value heads"), ("head_dim", "d_h", "head dimension"),
                ("ffn_dim", "F", "FFN width"), ("vocab", "V", "vocabulary"),
                ("weight_bytes", "b_w", "bytes per weight"), ("act_bytes", "b_a", "bytes per activation"),
                ("kv_bytes", "b_kv", "bytes per KV element"), ("params_b", "Z", "nominal size (billions)"))


def _sci(value: Any, unit: str = "") -> str:
    """``1.480 \\times 10^{13}`` (4 significant digits), for numbers in running text."""
    x = float(value)
    mantissa, exponent = f"{x:.3e}".split("e")
    body = mantissa if int(exponent) == 0 else rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return body + (rf"~\text{{{unit}}}" if unit else "")


def _ms(seconds: Any) -> str:
    """Seconds as milliseconds, 4 significant digits."""
    return f"{float(seconds) * 1e3:.4g}"


def _number(value: sympy.Expr) -> str:
    """An exact number, and its decimal value when it is not an integer."""
    exact = to_latex(value)
    return exact if value.is_Integer else rf"{exact} \approx {float(value):.4g}"


def _align(rows: Sequence[tuple[str, Any]], max_chars: int) -> str:
    """An ``align*`` block of ``label = formula`` rows, long sums broken at their ``+`` signs."""
    out = []
    for label, formula in rows:
        lines = sum_lines(formula, max_chars) if isinstance(formula, sympy.Basic) else [formula]
        out.append(f"{label} &= {lines[0]}")
        out.extend(rf"&\quad {line}" for line in lines[1:])
    return "\\begin{align*}\n" + " \\\\\n".join(out) + "\n\\end{align*}\n"


def _ratio(label: str, numerator: sympy.Expr, denominator: sympy.Expr, max_chars: int,
           names: tuple[str, str] = (r"\text{numerator}", r"\text{denominator}")) -> str:
    """``label = \\frac{num}{den}``; a long one as ``\\frac{names}`` with each side on rows of its own."""
    num, den = to_latex(numerator), to_latex(denominator)
    if max(len(num), len(den)) <= max_chars:
        return _align([(label, rf"\frac{{{num}}}{{{den}}}")], max_chars)
    head = _align([(label, rf"\frac{{{names[0]}}}{{{names[1]}}}")], max_chars)
    return head + "where\n" + _align([(names[0], numerator), (names[1], denominator)], max_chars)


def _intensity_block(cost: Cost, max_chars: int) -> str:
    """FLOPs over bytes, in full when both sides fit on a line (else they are the totals above)."""
    rows = [(r"\text{Arithmetic Intensity}", r"\frac{\text{FLOPs}_\text{total}}{\text{Bytes}_\text{total}}")]
    num, den = to_latex(cost.flops), to_latex(cost.bytes)
    if max(len(num), len(den)) <= max_chars:
        rows.append(("", rf"\frac{{{num}}}{{{den}}}"))
    return _align(rows, max_chars)


def _limit(c: Any, max_chars: int) -> str:
    """The limit of the intensity as B grows: a number, or a ratio of polynomials."""
    label = r"\lim_{B \to \infty} \text{Arithmetic Intensity}"
    if c.limit.is_number:
        return _align([(label, _number(c.limit))], max_chars)
    num, den = sympy.fraction(c.limit)
    return _ratio(label, num, den, max_chars, (r"\text{num}_{\infty}", r"\text{den}_{\infty}"))


def _terms_rows(cost: Cost, what: str, depth: int | None) -> list[tuple[str, Any]]:
    terms = cost.flop_terms if what == "FLOPs" else cost.byte_terms
    rows: list[tuple[str, Any]] = [(rf"\text{{{what}}}_{_text(name)}", value)
                                   for name, value in _grouped(terms, depth).items()]
    rows.append((rf"\text{{{what}}}_\text{{total}}", cost.flops if what == "FLOPs" else cost.bytes))
    return rows


def _crossover_section(cost: Cost, hw: Any, values: Mapping[str, Any], max_chars: int) -> str:
    from symroof import analysis

    target = hw if hw is not None else sym.pi / sym.beta
    balance = target.balance if hw is not None else target
    given = {k: v for k, v in values.items() if k != "B" and sym.by_name(k) in cost.free_symbols}
    at = ", ".join(f"${to_latex(sym.by_name(k))} = {to_latex(v)}$" for k, v in given.items())
    out = [f"\\subsection*{{Crossover batch{' at ' + at if at else ''}}}\n"]
    label = r"\text{balance}" if hw is None else rf"\text{{balance of {_escape(hw.name)}}}"
    out.append("The step is compute-bound where its intensity reaches the machine balance "
               "$\\pi/\\beta$:\n" + _align([(label, balance if hw is None else _number(balance))],
                                             max_chars))
    try:
        c = analysis.crossover_batch(cost, target, **given)
    except ValueError as err:
        return "".join(out) + f"No closed form: {_escape(str(err))}.\n"
    if not c.exists or c.value is None:
        out.append(_limit(c, max_chars))
        out.append(_no_crossover(c) + "\n")
        return "".join(out)
    value = c.value
    if value.is_number:
        out.append(_align([(r"B^{*}", _number(value))], max_chars))
        below = "memory" if c.above == "compute" else "compute"
        out.append(f"The step is {below}-bound for $B < B^{{*}}$ and {c.above}-bound beyond; "
                   f"the smallest {c.above}-bound batch is $B = {sympy.ceiling(value)}$.\n")
    else:
        num, den = sympy.fraction(value)
        out.append(_ratio(r"B^{*}", num, den, max_chars, (r"\text{num}_{B^{*}}", r"\text{den}_{B^{*}}")))
        out.append(_limit(c, max_chars))
        if c.condition is not sympy.true:
            out.append("It is a crossover when the limit of the intensity as $B$ grows exceeds "
                       "the balance (otherwise the step stays memory-bound)."
                       if c.above == "compute" else f"{_escape(c.reason)}.")
            out.append("\n")
    return "".join(out)


def _no_crossover(c: Any) -> str:
    """Why there is no crossover batch, in words."""
    if c.limit.is_number and c.balance.is_number:
        if c.limit <= c.balance:
            return ("No crossover: the step is memory-bound for every batch, since its intensity "
                    "stays below the balance however large $B$ grows.")
        return "No crossover: the step is compute-bound already at $B = 1$, and for every larger batch."
    return f"{_escape(c.reason)}."


def _numbers_section(cost: Cost, hw: Any, values: Mapping[str, Any], phase: str) -> str:
    from symroof import analysis

    given = {k: v for k, v in values.items() if sym.by_name(k) in cost.free_symbols}
    if not given:
        return ""
    at = cost.subs(given)
    where = ", ".join(f"${to_latex(sym.by_name(k))} = {to_latex(v)}$" for k, v in given.items())
    out = [f"\\subsection*{{At {where}}}\n"]
    if at.free_symbols:
        out.append(_align([(r"\text{FLOPs}_\text{total}", at.flops), (r"\text{Bytes}_\text{total}", at.bytes)],
                          100))
        return "".join(out)
    rows = [f"FLOPs & ${_sci(at.flops)}$ FLOP \\\\", f"bytes & ${_sci(at.bytes)}$ byte \\\\",
            f"arithmetic intensity & ${float(at.intensity):.4g}$ FLOP/byte \\\\"]
    if hw is not None:
        t = analysis.latency(cost.subs(given), hw)
        rows += [f"compute time $\\text{{FLOPs}}/\\pi$ & {_ms(t.compute_s)} ms \\\\",
                 f"memory time $\\text{{Bytes}}/\\beta$ & {_ms(t.memory_s)} ms \\\\",
                 f"bound on {_escape(hw.name)} & {t.bound} \\\\"]
    out.append("\\begin{tabular}{ll}\n" + "\n".join(rows) + "\n\\end{tabular}\n")
    return "".join(out)


def document(arch: Any, conventions: Any = None, hardware: Any = None, *, title: str | None = None,
             phases: Sequence[str] = ("prefill", "decode"), depth: int | None = None, max_chars: int = 90,
             **values: Any) -> str:
    r"""A standalone ``.tex`` derivation: FLOPs, bytes and intensity term by term, and the crossover.

    ``arch`` is an `Arch` or a preset name, ``conventions`` a `Conventions` or a
    preset name, ``hardware`` a `Hardware`, a GPU name, or None (then the crossover
    is given against the symbolic balance ``pi/beta``). ``phases`` are any of
    ``prefill``, ``decode``, ``step``; ``depth`` groups terms by path (``1``:
    attention, ffn; weights, activations, kv). ``values`` (``B=8, S_c=1024``) add a
    section of numbers to each phase whose symbols they name; the crossover is
    solved for ``B`` at the other values.

    >>> tex = document("llama-3-8b", "roofline-notes", "H100-SXM", S_c=1024)
    >>> tex.startswith(r"\documentclass") and tex.rstrip().endswith(r"\end{document}")
    True
    >>> document("llama-3-8b", phases=("warmup",))
    Traceback (most recent call last):
    ...
    ValueError: phases=('warmup',): each must be one of prefill, decode, step
    """
    from symroof import hardware as _hardware
    from symroof import models as _models
    from symroof.conventions import resolve
    from symroof.phases import decode, prefill, step

    if isinstance(arch, str):
        arch = _models.get(arch)
    if not isinstance(arch, Arch):
        raise ValueError(f"arch={arch!r} must be an Arch or a model name from symroof.models.names()")
    conv = resolve(conventions)
    hw = None if hardware is None else _hardware.get(hardware)
    if isinstance(phases, str) or not phases or any(p not in _PHASES for p in phases):
        raise ValueError(f"phases={tuple(phases) if not isinstance(phases, str) else phases!r}: "
                         f"each must be one of {', '.join(_PHASES)}")
    for name in values:
        if name not in sym.ALL:
            raise ValueError(f"unknown symbol {name!r} in values; allowed: {', '.join(sym.ALL)}")
    builders: dict[str, Callable[..., Cost]] = {"prefill": prefill, "decode": decode, "step": step}
    name = arch.name or "the model"
    title = title or f"Inference cost of {name}"
    parts = [
        "\\documentclass[11pt]{article}\n\\usepackage[margin=2cm]{geometry}\n\\usepackage{amsmath}\n",
        "\\allowdisplaybreaks\n\\sloppy\n\\setlength{\\parindent}{0pt}\n\\setlength{\\parskip}{4pt}\n",
        f"\\title{{{_escape(title)}}}\n\\author{{symroof}}\n\\date{{}}\n\\begin{{document}}\n\\maketitle\n",
        f"Conventions: \\texttt{{{_escape(conv.name)}}}. A matmul $(m, k) \\times (k, n)$ costs $2mkn$ FLOPs; "
        "bytes are those moved to and from memory in one forward pass; the arithmetic intensity is "
        "FLOPs per byte.\n",
        _arch_table(arch),
        _conventions_table(conv),
    ]
    if hw is not None:
        parts.append(_hardware_section(hw))
    for phase in phases:
        heading, description = _PHASES[phase]
        cost = builders[phase](arch, conv)
        parts.append(f"\\section{{{_escape(heading)}}}\n{description}\n")
        parts.append("\\subsection*{FLOPs}\n" + _align(_terms_rows(cost, "FLOPs", depth), max_chars))
        parts.append("\\subsection*{Bytes}\n" + _align(_terms_rows(cost, "Bytes", depth), max_chars))
        parts.append("\\subsection*{Arithmetic intensity}\n")
        parts.append(_intensity_block(cost, max_chars))
        parts.append(_crossover_section(cost, hw, values, max_chars))
        parts.append(_numbers_section(cost, hw, values, phase))
    parts.append("\\end{document}\n")
    return "".join(parts)


def _arch_table(arch: Any) -> str:
    rows = []
    for field, symbol, label in _ARCH_FIELDS:
        value = getattr(arch, field)
        if value is None:
            continue
        rows.append(f"{label} & ${to_latex(sym.by_name(symbol))}$ & ${to_latex(value)}$ \\\\")
    rows.append(f"FFN kind & & {arch.ffn_kind} \\\\")
    if arch.is_moe:
        rows.append(f"experts (active per token) & $E$ ($k_e$) & ${to_latex(arch.experts)}$ "
                    f"(${to_latex(arch.experts_per_token)}$) \\\\")
    source = f"Source: {_escape(arch.source)}.\n" if arch.source else ""
    return ("\\section*{Model}\n\\begin{tabular}{lll}\n" + "\n".join(rows) + "\n\\end{tabular}\n\n" + source)


def _conventions_table(conv: Any) -> str:
    import dataclasses

    rows = [f"{_escape(f.name)} & \\texttt{{{_escape(getattr(conv, f.name))}}} \\\\"
            for f in dataclasses.fields(conv) if f.name != "name"]
    return "\\section*{Conventions}\n\\begin{tabular}{ll}\n" + "\n".join(rows) + "\n\\end{tabular}\n"


def _hardware_section(hw: Any) -> str:
    rows = [f"peak $\\pi$ ({_escape(hw.dtype)}) & ${_sci(hw.peak_flops)}$ FLOP/s \\\\",
            f"bandwidth $\\beta$ & ${_sci(hw.bandwidth)}$ byte/s \\\\",
            f"balance $\\pi/\\beta$ & ${_number(hw.balance)}$ FLOP/byte \\\\"]
    source = f"Source: {_escape(hw.source)}.\n" if hw.source else ""
    return (f"\\section*{{Hardware: {_escape(hw.name)}}}\n\\begin{{tabular}}{{ll}}\n" + "\n".join(rows)
            + "\n\\end{tabular}\n\n" + source)
