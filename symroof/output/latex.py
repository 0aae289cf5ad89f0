r"""A standalone LaTeX derivation of a model's prefill and decode (`document`), which compiles with
``pdflatex``; the formulas come from `symroof.printing` (re-exported here: ``symroof.latex.to_latex``).

>>> tex = document("llama-3-8b", "roofline-notes", "H100-SXM", S_c=1024)
>>> tex.startswith("\\documentclass")
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sympy

from symroof import analysis
from symroof import hardware as _hardware
from symroof import symbols as sym
from symroof.cost import Cost
from symroof.cost.base import _grouped, _text, cost_latex, cost_rows, intensity_latex
from symroof.cost.conventions import resolve
from symroof.cost.phases import decode, prefill, step
from symroof.model import presets as _models
from symroof.model.arch import Arch
from symroof.printing import escape, seed_form, sum_lines, to_latex

__all__ = ["cost_latex", "cost_rows", "document", "formula_lines", "intensity_latex", "seed_form", "sum_lines",
           "to_latex"]

_READABLE = {"readable": True}


def formula_lines(cost: Cost, only: str | None = None, *, bare: bool = False) -> list[str]:
    r"""The FLOPs, bytes and intensity of ``cost`` as lines of LaTeX, each a display formula.

    Every line is in math mode (``\[ \text{FLOPs} = ... \]``), so it pastes into a document as
    it is; ``only`` (``flops``, ``bytes`` or ``intensity``) keeps one; ``bare=True`` gives the
    formulas without delimiters or names, for a math environment of one's own.
    (``symroof latex`` prints these lines.)

    >>> from symroof.symbols import B, H
    >>> cost = Cost(flops={"ffn/up": 8 * B * H**2}, bytes={"weights": 8 * H**2})
    >>> for line in formula_lines(cost):
    ...     print(line)
    \[ \text{FLOPs} = 8 B H^{2} \]
    \[ \text{Bytes} = 8 H^{2} \]
    \[ \text{Intensity} = \frac{8 B H^{2}}{8 H^{2}} \]
    >>> formula_lines(cost, "bytes", bare=True)
    ['8 H^{2}']
    """
    formulas = {"flops": (r"\text{FLOPs}", to_latex(cost.flops)), "bytes": (r"\text{Bytes}", to_latex(cost.bytes)),
                "intensity": (r"\text{Intensity}", intensity_latex(cost))}
    if only is not None and only not in formulas:
        raise ValueError(f"only={only!r} must be one of {', '.join(formulas)}")
    keep = [only] if only else list(formulas)
    if bare:
        return [formulas[k][1] for k in keep]
    return [rf"\[ {formulas[k][0]} = {formulas[k][1]} \]" for k in keep]

# ---- a standalone derivation document --------------------------------------------------

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
    exact = to_latex(value, **_READABLE)
    return exact if value.is_Integer else rf"{exact} \approx {float(value):.4g}"


def _align(rows: Sequence[tuple[str, Any]], max_chars: int) -> str:
    """An ``align*`` block of ``label = formula`` rows, long sums broken at their ``+`` signs."""
    out = []
    for label, formula in rows:
        if isinstance(formula, tuple):           # a sum printed part by part (the whole-model terms, N (...))
            lines: list[str] = []
            for part in formula:
                more = sum_lines(part, max_chars, **_READABLE)
                if lines and len(lines[-1]) + len(more[0]) + 3 <= max_chars:
                    lines[-1] += " + " + more[0]
                    lines.extend(more[1:])
                else:
                    lines.extend(([f"+ {more[0]}"] if lines else [more[0]]) + more[1:])
        else:
            lines = sum_lines(formula, max_chars, **_READABLE) if isinstance(formula, sympy.Basic) else [formula]
        out.append(f"{label} &= {lines[0]}")
        out.extend(rf"&\quad {line}" for line in lines[1:])
    return "\\begin{align*}\n" + " \\\\\n".join(out) + "\n\\end{align*}\n"


def _ratio(label: str, numerator: sympy.Expr, denominator: sympy.Expr, max_chars: int,
           names: tuple[str, str] = (r"\text{numerator}", r"\text{denominator}")) -> str:
    """``label = \\frac{num}{den}``; a long one as ``\\frac{names}`` with each side on rows of its own."""
    num, den = to_latex(numerator, **_READABLE), to_latex(denominator, **_READABLE)
    if max(len(num), len(den)) <= max_chars:
        return _align([(label, rf"\frac{{{num}}}{{{den}}}")], max_chars)
    head = _align([(label, rf"\frac{{{names[0]}}}{{{names[1]}}}")], max_chars)
    return head + "where\n" + _align([(names[0], numerator), (names[1], denominator)], max_chars)


def _intensity_block(cost: Cost, max_chars: int) -> str:
    """FLOPs over bytes, in full when both sides fit on a line (else they are the totals above)."""
    rows = [(r"\text{Arithmetic Intensity}", r"\frac{\text{FLOPs}_\text{total}}{\text{Bytes}_\text{total}}")]
    num, den = to_latex(cost.flops, **_READABLE), to_latex(cost.bytes, **_READABLE)
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


_ONCE = ("lm_head", "embedding", "final_norm")      # terms of the whole model, not of every layer


def _per_layer(value: sympy.Expr, layers: Any) -> sympy.Expr | None:
    """``value / layers`` if it is a polynomial with whole coefficients, else None."""
    if not (isinstance(layers, sympy.Integer) and layers > 1):
        return None
    share = sympy.expand(value / layers)
    try:
        poly = sympy.Poly(share, *sorted(share.free_symbols, key=str)) if share.free_symbols else None
    except sympy.PolynomialError:             # e.g. the experts a batch touches, (1 − k/E)^B: not a polynomial
        return None
    coeffs = poly.coeffs() if poly is not None else [share]
    return share if all(c.is_Integer for c in coeffs) else None


def _by_layers(name: str, value: sympy.Expr, layers: Any) -> sympy.Expr:
    """A term of every layer as ``N · (its share of one layer)`` (``N`` is defined in the model table)."""
    if any(part in name for part in _ONCE):
        return value
    share = _per_layer(value, layers)
    return value if share is None else sym.N * share


def _terms_rows(cost: Cost, what: str, depth: int | None, layers: Any = None) -> list[tuple[str, Any]]:
    terms = cost.flop_terms if what == "FLOPs" else cost.byte_terms
    grouped = _grouped(terms, depth)
    rows: list[tuple[str, Any]] = [(rf"\text{{{what}}}_{_text(name)}", _by_layers(name, value, layers))
                                   for name, value in grouped.items()]
    total = cost.flops if what == "FLOPs" else cost.bytes
    layer_part = sympy.Add(*(v for n, v in grouped.items() if not any(p in n for p in _ONCE)))
    share = _per_layer(layer_part, layers)
    if share is not None and share != 0:
        rest = sympy.expand(total - layer_part)
        layered = sympy.expand(sym.N * share)        # every term has N: printed N (...)
        total = (rest, layered) if rest != 0 else layered
    rows.append((rf"\text{{{what}}}_\text{{total}}", total))
    return rows


def _crossover_section(cost: Cost, hw: Any, values: Mapping[str, Any], max_chars: int) -> str:

    target = hw if hw is not None else sym.pi / sym.beta
    balance = target.balance if hw is not None else target
    given = {k: v for k, v in values.items() if k != "B" and sym.by_name(k) in cost.free_symbols}
    at = ", ".join(f"${to_latex(sym.by_name(k))} = {to_latex(v)}$" for k, v in given.items())
    out = [f"\\subsection*{{Crossover batch{' at ' + at if at else ''}}}\n"]
    label = r"\text{balance}" if hw is None else rf"\text{{balance of {escape(hw.name)}}}"
    out.append("The step is compute-bound where its intensity reaches the machine balance "
               "$\\pi/\\beta$:\n" + _align([(label, balance if hw is None else _number(balance))],
                                             max_chars))
    try:
        c = analysis.crossover_batch(cost, target, **given)
    except ValueError as err:
        return "".join(out) + f"No closed form: {escape(str(err))}.\n"
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
                       if c.above == "compute" else f"{escape(c.reason)}.")
            out.append("\n")
    return "".join(out)


def _no_crossover(c: Any) -> str:
    """Why there is no crossover batch, in words."""
    if c.limit.is_number and c.balance.is_number:
        if c.limit <= c.balance:
            return ("No crossover: the step is memory-bound for every batch, since its intensity "
                    "stays below the balance however large $B$ grows.")
        return "No crossover: the step is compute-bound already at $B = 1$, and for every larger batch."
    return f"{escape(c.reason)}."


def _numbers_section(cost: Cost, hw: Any, values: Mapping[str, Any], phase: str) -> str:

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
                 f"bound on {escape(hw.name)} & {t.bound} \\\\"]
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
        f"\\title{{{escape(title)}}}\n\\author{{symroof}}\n\\date{{}}\n\\begin{{document}}\n\\maketitle\n",
        f"Conventions: \\texttt{{{escape(conv.name)}}}. A matmul $(m, k) \\times (k, n)$ costs $2mkn$ FLOPs; "
        "bytes are those moved to and from memory in one forward pass; the arithmetic intensity is "
        "FLOPs per byte.\n",
        _arch_table(arch),
        _conventions_table(conv, arch),
        "",                                   # the notation, filled in once the formulas are known
    ]
    notation = len(parts) - 1
    used: set[sympy.Symbol] = {sym.pi, sym.beta}
    if hw is not None:
        parts.append(_hardware_section(hw))
    for phase in phases:
        heading, description = _PHASES[phase]
        cost = builders[phase](arch, conv)
        used |= cost.flops.free_symbols | cost.bytes.free_symbols
        parts.append(f"\\section{{{escape(heading)}}}\n{description}\n")
        parts.append("\\subsection*{FLOPs}\n" + _align(_terms_rows(cost, "FLOPs", depth, arch.layers), max_chars))
        parts.append("\\subsection*{Bytes}\n" + _align(_terms_rows(cost, "Bytes", depth, arch.layers), max_chars))
        parts.append("\\subsection*{Arithmetic intensity}\n")
        parts.append(_intensity_block(cost, max_chars))
        parts.append(_crossover_section(cost, hw, values, max_chars))
        parts.append(_numbers_section(cost, hw, values, phase))
    if isinstance(arch.layers, sympy.Integer) and arch.layers > 1:
        used.add(sym.N)                       # the terms of every layer print as N (...)
    used |= {s_ for s_ in sym.ALL.values() if s_ in arch_symbols(arch)}
    parts[notation] = _notation(used, hw, given=set(values))
    parts.append("\\end{document}\n")
    return "".join(parts)


def arch_symbols(arch: Any) -> set[sympy.Symbol]:
    """The symbols left in an architecture's fields (a symbolic Arch keeps H, N, ...)."""
    out: set[sympy.Symbol] = set()
    for field, _, _ in _ARCH_FIELDS:
        value = getattr(arch, field, None)
        if isinstance(value, sympy.Basic):
            out |= value.free_symbols
    return out


def _notation(used: set[sympy.Symbol], hw: Any, given: set[str]) -> str:
    """Every symbol the document uses, with its meaning (π and β with the GPU's values when given)."""
    rows = []
    for name, symbol in sym.ALL.items():
        if symbol not in used:
            continue
        meaning = escape(sym.DESCRIPTIONS[name])
        if hw is not None and symbol in (sym.pi, sym.beta):
            value = hw.peak_flops if symbol is sym.pi else hw.bandwidth
            meaning += f" (${_sci(value)}$ on {escape(hw.name)})"
        elif symbol in (sym.pi, sym.beta):
            meaning += " of the accelerator; their ratio $\\pi/\\beta$ is its balance"
        rows.append(f"${to_latex(symbol)}$ & {meaning} \\\\")
    return ("\\section*{Notation}\n\\begin{tabular}{ll}\n" + "\n".join(rows) + "\n\\end{tabular}\n")


def _arch_table(arch: Any) -> str:
    rows = []
    for field, symbol, label in _ARCH_FIELDS:
        value = getattr(arch, field)
        if value is None:
            continue
        rows.append(f"{label} & ${to_latex(sym.by_name(symbol))}$ & ${to_latex(value, **_READABLE)}$ \\\\")
    rows.append(f"FFN kind & & {arch.ffn_kind} \\\\")
    if arch.is_moe:
        rows.append(f"experts (active per token) & $E$ ($k_e$) & ${to_latex(arch.experts)}$ "
                    f"(${to_latex(arch.experts_per_token)}$) \\\\")
    source = f"{{\\raggedright Source: {escape(arch.source)}.\\par}}\n" if arch.source else ""
    return ("\\section*{Model}\n\\begin{tabular}{lll}\n" + "\n".join(rows) + "\n\\end{tabular}\n\n" + source)


# Conventions that only matter for some models: MLA attention, mixture-of-experts FFNs, tensor parallelism
# (a document has no T).
_ONLY_FOR = {"mla": lambda arch: arch.is_mla, "mla_prefill": lambda arch: arch.is_mla,
             "experts_read": lambda arch: arch.is_moe,
             "expert_parallel": lambda arch: arch.is_moe, "comms": lambda arch: False}


def _conventions_table(conv: Any, arch: Any = None) -> str:
    import dataclasses

    rows = [f"{escape(f.name)} & \\texttt{{{escape(getattr(conv, f.name))}}} \\\\"
            for f in dataclasses.fields(conv)
            if f.name != "name" and (arch is None or _ONLY_FOR.get(f.name, lambda a: True)(arch))]
    return "\\section*{Conventions}\n\\begin{tabular}{ll}\n" + "\n".join(rows) + "\n\\end{tabular}\n"


def _hardware_section(hw: Any) -> str:
    rows = [f"peak $\\pi$ ({escape(hw.dtype)}) & ${_sci(hw.peak_flops)}$ FLOP/s \\\\",
            f"bandwidth $\\beta$ & ${_sci(hw.bandwidth)}$ byte/s \\\\",
            f"balance $\\pi/\\beta$ & ${_number(hw.balance)}$ FLOP/byte \\\\"]
    source = f"{{\\raggedright Source: {escape(hw.source)}.\\par}}\n" if hw.source else ""
    return (f"\\section*{{Hardware: {escape(hw.name)}}}\n\\begin{{tabular}}{{ll}}\n" + "\n".join(rows)
            + "\n\\end{tabular}\n\n" + source)
