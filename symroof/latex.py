"""LaTeX in the seeds' notation (``S_i``, ``S_c``, products as the documents write them).

Examples
--------
>>> from symroof.symbols import B, S_i, S_c, H, N
>>> to_latex(N * (24 * B * S_i * H**2 + 4 * B * S_i * S_c * H))
'N \\\\left(24 B S_i H^{2} + 4 B S_i S_c H\\\\right)'
"""

from __future__ import annotations

import sympy
from sympy.printing.latex import LatexPrinter

from symroof import symbols as sym
from symroof.cost import Cost

__all__ = ["cost_latex", "to_latex"]

# The seeds write products in this order: B S_i S_c H ... (batch first, then lengths, then widths).
_ORDER = [sym.B, sym.S, sym.S_i, sym.S_c, sym.H, sym.N, sym.Z, sym.n_h, sym.n_kv, sym.d_h,
          sym.F, sym.V, sym.E, sym.k_e, sym.T, sym.b_w, sym.b_a, sym.b_kv, sym.pi, sym.beta]
# S_i prints as S_i (as the seeds write it); multi-letter subscripts need braces.
_NAMES = {s: (s.name.replace("_", "_{", 1) + "}" if len(s.name.split("_")[-1]) > 1 else s.name)
          for s in _ORDER}
_NAMES[sym.pi] = r"\pi"
_NAMES[sym.beta] = r"\beta"


class _SeedPrinter(LatexPrinter):
    def _print_Mul(self, expr: sympy.Mul) -> str:  # type: ignore[override]
        coeff, rest = expr.as_coeff_Mul()
        factors = sympy.Mul.make_args(rest)
        if any(not (f.is_Symbol or (f.is_Pow and f.base.is_Symbol)) for f in factors):
            return super()._print_Mul(expr)
        rank = {s: i for i, s in enumerate(_ORDER)}
        key = lambda f: rank.get(f.base if f.is_Pow else f, len(rank))
        body = " ".join(self._print(f) for f in sorted(factors, key=key))
        if coeff == 1:
            return body
        if coeff == -1:
            return "- " + body
        if coeff.is_Integer:
            return f"{self._print(coeff)} {body}"
        return super()._print_Mul(expr)


def to_latex(expr: sympy.Expr | Cost, **settings: object) -> str:
    """LaTeX for an expression (or a `Cost`, term by term) in the seeds' notation."""
    if isinstance(expr, Cost):
        return cost_latex(expr)
    settings.setdefault("symbol_names", _NAMES)
    return _SeedPrinter(settings).doprint(expr)


def cost_latex(cost: Cost) -> str:
    """``\\text{FLOPs} = ...``, ``\\text{Bytes} = ...`` and the intensity, one line each."""
    lines = [r"\text{FLOPs} &= " + to_latex(cost.flops),
             r"\text{Bytes} &= " + to_latex(cost.bytes)]
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"
