"""`Cost`: FLOPs and bytes moved, kept by named term, as exact SymPy expressions.

A `Cost` is a frozen value. FLOP terms carry path names (``attention/q``,
``attention/scores``, ``ffn/up``, ``lm_head``); byte terms likewise
(``weights/attention/q``, ``activations``, ``kv/read``, ``kv/write``), so a
prefix selects a group: ``cost.bytes_of("kv")`` is all KV-cache traffic.

Examples
--------
>>> from symroof.symbols import B, H
>>> layer = Cost(flops={"ffn/up": 8 * B * H**2}, bytes={"weights/ffn/up": 8 * H**2})
>>> total = 2 * layer + Cost(flops={"lm_head": B * H})
>>> total.flops
16*B*H**2 + B*H
>>> total.subs(B=4, H=16).flops
16448
>>> total.intensity.subs({B: 1, H: 2})
33/32
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import sympy

from symroof import symbols as _symbols
from symroof._values import as_term, as_value
from symroof.printing import escape, to_latex

__all__ = ["Cost", "UnknownSymbol", "cost_latex", "cost_rows", "intensity_latex", "substitutions"]


class UnknownSymbol(KeyError, ValueError):
    """An unknown symbol name: a ``KeyError`` (as `symbols.by_name` raises) and a ``ValueError`` (bad input)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _frozen(terms: Mapping[str, Any] | None, what: str) -> Mapping[str, sympy.Expr]:
    out: dict[str, sympy.Expr] = {}
    for name, value in (terms or {}).items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what} term name {name!r} must be a non-empty string")
        # text is refused, never parsed; a negative, infinite or undefined term is no cost
        expr = as_term(value, f"{what} term {name!r}")
        if expr != 0:
            out[name] = expr
    return MappingProxyType(out)


def substitutions(values: Mapping[Any, Any] | None = None, /, **named: Any) -> dict[sympy.Symbol, Any]:
    """Build a SymPy substitution dict from symbols or symbol *names* (never parsed text).

    >>> substitutions(B=8, S_c=1024)
    {B: 8, S_c: 1024}
    """
    out: dict[sympy.Symbol, Any] = {}
    for key, value in {**dict(values or {}), **named}.items():
        if isinstance(key, str):
            try:
                key = _symbols.by_name(key)
            except KeyError as err:
                raise UnknownSymbol(err.args[0]) from None
        elif not isinstance(key, sympy.Symbol):
            raise TypeError(f"substitution key {key!r} must be a symbol or a symbol name")
        if isinstance(value, bool):
            raise ValueError(f"{key}={value!r}: a bool is not a size")
        # one rule per quantity (`symroof._values.as_value`), as the phases apply it: text would
        # reach SymPy's parser, and B=-1, B=0 or B=0.5 a silently wrong cost
        out[key] = as_value(key, value)
    return out


@dataclass(frozen=True, eq=True)
class Cost:
    """FLOPs and bytes by named term; ``+`` merges terms, ``k * cost`` scales them."""

    flop_terms: Mapping[str, sympy.Expr] = field(default_factory=dict)
    byte_terms: Mapping[str, sympy.Expr] = field(default_factory=dict)

    def __init__(self, flops: Mapping[str, Any] | None = None, bytes: Mapping[str, Any] | None = None):
        object.__setattr__(self, "flop_terms", _frozen(flops, "FLOP"))
        object.__setattr__(self, "byte_terms", _frozen(bytes, "byte"))

    # ---- totals -------------------------------------------------------------
    @property
    def flops(self) -> sympy.Expr:
        """Total FLOPs: the sum of all FLOP terms."""
        return sympy.Add(*self.flop_terms.values())

    @property
    def bytes(self) -> sympy.Expr:
        """Total bytes moved to and from memory: the sum of all byte terms."""
        return sympy.Add(*self.byte_terms.values())

    @property
    def intensity(self) -> sympy.Expr:
        """Arithmetic intensity, FLOPs per byte (``flops / bytes``; unsimplified)."""
        return self.flops / self.bytes

    @property
    def terms(self) -> dict[str, dict[str, sympy.Expr]]:
        """The named terms: ``{"flops": {...}, "bytes": {...}}``."""
        return {"flops": dict(self.flop_terms), "bytes": dict(self.byte_terms)}

    def flops_of(self, prefix: str) -> sympy.Expr:
        """Sum of the FLOP terms whose path starts with ``prefix`` (``"attention"``)."""
        return sympy.Add(*(v for k, v in self.flop_terms.items() if _under(k, prefix)))

    def bytes_of(self, prefix: str) -> sympy.Expr:
        """Sum of the byte terms whose path starts with ``prefix`` (``"kv"``, ``"weights"``)."""
        return sympy.Add(*(v for k, v in self.byte_terms.items() if _under(k, prefix)))

    # ---- algebra ------------------------------------------------------------
    def __add__(self, other: object) -> Cost:
        if not isinstance(other, Cost):
            return NotImplemented
        return Cost(_merge(self.flop_terms, other.flop_terms), _merge(self.byte_terms, other.byte_terms))

    def __radd__(self, other: object) -> Cost:
        if other == 0:  # so that sum(costs) works
            return self
        return NotImplemented

    def __mul__(self, k: object) -> Cost:
        if isinstance(k, (Cost, bool)) or not isinstance(k, (int, sympy.Expr)):
            return NotImplemented
        as_term(k, "factor")      # a negative, infinite or undefined factor is refused
        return Cost({n: k * v for n, v in self.flop_terms.items()}, {n: k * v for n, v in self.byte_terms.items()})

    __rmul__ = __mul__

    def map(self, fn: Any) -> Cost:
        """Apply ``fn`` to every term (e.g. ``sympy.expand``)."""
        return Cost({n: fn(v) for n, v in self.flop_terms.items()}, {n: fn(v) for n, v in self.byte_terms.items()})

    def subs(self, values: Mapping[Any, Any] | None = None, /, **named: Any) -> Cost:
        """Substitute symbols, given as symbols or by name: ``cost.subs(B=8, S_c=1024)``."""
        table = substitutions(values, **named)
        return self.map(lambda e: e.subs(table))

    def expand(self) -> Cost:
        return self.map(sympy.expand)

    @property
    def free_symbols(self) -> set[sympy.Symbol]:
        out: set[sympy.Symbol] = set()
        for v in (*self.flop_terms.values(), *self.byte_terms.values()):
            out |= v.free_symbols
        return out

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.flop_terms.items())), tuple(sorted(self.byte_terms.items()))))

    # ---- display --------------------------------------------------------------
    def _latex(self, printer: Any = None) -> str:
        """The cost term by term (`symroof.cost.base.cost_latex`); SymPy's printing hook."""
        return cost_latex(self)

    def _repr_latex_(self) -> str:
        return "$\\displaystyle " + cost_latex(self) + "$"

    def __repr__(self) -> str:
        f = ", ".join(f"{k!r}: {v}" for k, v in self.flop_terms.items())
        b = ", ".join(f"{k!r}: {v}" for k, v in self.byte_terms.items())
        return f"Cost(flops={{{f}}}, bytes={{{b}}})"


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix.rstrip("/") + "/")


def _merge(a: Mapping[str, sympy.Expr], b: Mapping[str, sympy.Expr]) -> dict[str, sympy.Expr]:
    out = dict(a)
    for name, value in b.items():
        out[name] = out[name] + value if name in out else value
    return out


def total(costs: Iterable[Cost]) -> Cost:
    """Sum of costs (the empty sum is the zero `Cost`)."""
    return sum(costs, Cost())


# ---- a Cost in LaTeX, term by term, in the seeds' notation -----------------------------------



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
