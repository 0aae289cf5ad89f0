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

A `Cost` prints term by term (`symroof.cost.base`); `symroof.latex.document` writes a
standalone ``.tex`` derivation of prefill and decode that compiles with ``pdflatex``.

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
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sympy
from sympy.core.sorting import default_sort_key
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from symroof import symbols as sym
from symroof._values import as_expr

__all__ = [
    "escape",
    "readable_integer",
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

    readable = False    # documents: large integers as m·2^k or in digit groups (`readable_integer`)

    def _print_Integer(self, expr: sympy.Integer) -> str:  # type: ignore[override]
        mantissa, zeros = _power_of_ten(expr)
        if not zeros:
            return readable_integer(int(expr)) if self.readable else str(expr)
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


def readable_integer(n: int) -> str:
    r"""A large integer as a reader takes it in: ``m \cdot 2^{k}`` when it is a small multiple of a
    power of two (``1073741824`` is ``2^{30}``), else in groups of three digits (``15\,009\,841\,152``);
    below 100,000 as it is.

    >>> readable_integer(1073741824), readable_integer(3758096384), readable_integer(15009841152)
    ('2^{30}', '7 \\cdot 2^{29}', '15\\,009\\,841\\,152')
    >>> readable_integer(4096), readable_integer(-131072)
    ('4096', '-2^{17}')
    """
    if abs(n) < 100_000:
        return str(n)
    sign, m = ("-" if n < 0 else ""), abs(n)
    k = (m & -m).bit_length() - 1                # the power of two dividing m
    if k >= 10 and m >> k < 1000:
        odd = m >> k
        head = "" if odd == 1 else str(odd) + r" \cdot "
        return f"{sign}{head}2^{{{k}}}"
    digits = f"{m:,}".replace(",", r"\,")
    return sign + digits


def _printer(settings: Mapping[str, Any]) -> _SeedPrinter:
    options = dict(settings)
    readable = bool(options.pop("readable", False))
    options.setdefault("symbol_names", _NAMES)
    printer = _SeedPrinter(options)
    printer.readable = readable
    return printer


def to_latex(expr: Any, **settings: Any) -> str:
    r"""LaTeX for an expression (or a `Cost`, term by term) in the seeds' notation.

    ``settings`` are sympy's LaTeX printer settings, and ``readable=True`` (large integers as
    `readable_integer` writes them, as the derivation documents print them).

    >>> from symroof.symbols import B, H, Z, b_w, n_kv, d_h
    >>> to_latex(b_w * Z * 10**9 + 2 * B * H * n_kv * d_h)
    'b_w Z 10^{9} + 2 B H n_{kv} d_h'
    >>> to_latex(sympy.Integer(2 * 10**9))
    '2 \\cdot 10^{9}'
    """
    if hasattr(expr, "_latex"):          # SymPy's printing hook: a `Cost` prints term by term
        return str(expr._latex(_printer(settings)))
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


_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            # unicode that pdflatex's default input encoding may not typeset
            "≈": r"$\approx$", "→": r"$\to$", "∞": r"$\infty$", "≥": r"$\geq$", "≤": r"$\leq$",
            "·": r"$\cdot$", "×": r"$\times$", "−": "-", "π": r"$\pi$", "β": r"$\beta$", "µ": r"$\mu$",
            "–": "--", "—": "---", "’": "'", "“": "``", "”": "''"}


def escape(text: str) -> str:
    """Text safe inside LaTeX (``_``, ``%``, ``&`` ... escaped; a few unicode signs as math).

    >>> escape("lm_head ≈ 50% of B·S")
    'lm\\\\_head $\\\\approx$ 50\\\\% of B$\\\\cdot$S'
    """
    return "".join(_SPECIAL.get(ch, ch) if ord(ch) < 128 or ch in _SPECIAL else "?" for ch in str(text))
