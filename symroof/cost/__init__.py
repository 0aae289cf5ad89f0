"""What one forward pass costs: `Cost` (named FLOP and byte terms), `Conventions` (what to count),
the cost of each block of a layer (`components`, with `moe` and `mla`), and the phases built from
one step function (`phases`: step, prefill, decode)."""

from symroof.cost.base import Cost, UnknownSymbol, substitutions

__all__ = ["Cost", "UnknownSymbol", "substitutions"]
