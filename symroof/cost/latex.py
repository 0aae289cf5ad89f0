r"""A `Cost` in LaTeX, term by term, in the seeds' notation (`symroof.printing.to_latex` for each formula)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sympy

from symroof.printing import escape, to_latex

if TYPE_CHECKING:
    from symroof.cost.base import Cost

__all__ = ["cost_latex", "cost_rows", "intensity_latex"]


def intensity_latex(cost: Cost, **settings: Any) -> str:
    r"""The arithmetic intensity of ``cost`` as ``\frac{FLOPs}{Bytes}``, neither side simplified.

    >>> from symroof.cost import Cost
    >>> from symroof.symbols import B, H
    >>> intensity_latex(Cost(flops={"ffn/up": 8 * B * H**2}, bytes={"weights": 8 * H**2 + 2 * B * H}))
    '\\frac{8 B H^{2}}{8 H^{2} + 2 B H}'
    """
    return rf"\frac{{{to_latex(cost.flops, **settings)}}}{{{to_latex(cost.bytes, **settings)}}}"




def _text(name: str) -> str:
    r"""A term name inside ``\text{}`` (``lm_head`` -> ``lm\_head``)."""
    return r"\text{" + escape(name) + "}"


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

    >>> from symroof.cost import Cost
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

    >>> from symroof.cost import Cost
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
