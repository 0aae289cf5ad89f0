"""One forward pass (`Step`) and the keys its queries see in each attention kind.

A `Step` is ``B`` sequences, each with ``S_i`` new tokens over ``S_c`` cached ones. Which keys a
new token's query sees depends on the layer's attention kind (`symroof.model.layers.Attention`):

* full: every cached key and the new ones up to itself;
* sliding window ``W``: the last ``W`` positions, itself included (so at most ``W - 1`` cached);
* chunked ``C_a``: the positions of its own chunk up to itself.

Examples
--------
>>> from symroof.conventions import get
>>> from symroof.model.layers import Attention
>>> from symroof.symbols import S_c, W
>>> query_key_pairs(get("exact"), Step(1, 1, S_c), Attention(8, head_dim=64, window=W))
Min(W, S_c + 1)
>>> query_key_pairs(get("exact"), Step(1, 10, 0), Attention(8, head_dim=64, chunk=4))    # (1+2+3+4)·2 + 1+2
23
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy

from symroof import symbols as sym
from symroof._values import as_value
from symroof.cost.conventions import Conventions
from symroof.model.layers import Attention

__all__ = ["Step", "cached_visible", "key_count", "query_key_pairs"]


@dataclass(frozen=True)
class Step:
    """One forward pass: ``batch`` sequences, each with ``new`` tokens over ``cached`` ones."""

    batch: Any = sym.B
    new: Any = sym.S_i
    cached: Any = sym.S_c

    def __post_init__(self) -> None:
        # the rules of B, S_i and S_c (`symroof._values.as_value`); text is refused, never parsed
        for name, symbol in (("batch", sym.B), ("new", sym.S_i), ("cached", sym.S_c)):
            object.__setattr__(self, name, as_value(symbol, getattr(self, name), name))

    @property
    def tokens(self) -> sympy.Expr:
        """Tokens processed in this pass, ``B·S_i``."""
        return self.batch * self.new

    @property
    def empty_cache(self) -> bool:
        """True for prefill: the cache is literally zero (not merely a symbol)."""
        return bool(self.cached == 0)


def _chunk_pairs(upto: sympy.Expr, chunk: sympy.Expr) -> sympy.Expr:
    """Query-key pairs of positions ``0 .. upto-1`` under chunked attention: position ``p`` sees
    ``(p mod C) + 1`` keys, so a whole chunk gives ``C(C+1)/2`` and the rest ``r(r+1)/2``."""
    whole = sympy.floor(upto / chunk)
    rest = upto - chunk * whole
    return whole * chunk * (chunk + 1) / 2 + rest * (rest + 1) / 2


def cached_visible(conv: Conventions, step: Step, attention: Attention) -> sympy.Expr:
    """Cached tokens the step's queries see, whose K and V are read: ``S_c``; a sliding layer keeps
    at most ``W - 1`` (``min(S_c, W - 1)``); a chunked layer the cached part of the first new token's
    chunk, ``S_c mod C_a`` (with ``scores="dense"``, as an eager kernel computes it, every token the
    layer keeps, ``min(S_c, C_a - 1)``)."""
    s_c = step.cached
    if attention.window is not None:
        return sympy.Min(s_c, attention.window - 1)
    if attention.chunk is not None:
        if conv.scores == "dense":
            return sympy.Min(s_c, attention.chunk - 1)
        return sympy.Mod(s_c, attention.chunk)
    return s_c


def key_count(conv: Conventions, step: Step, attention: Attention | None = None) -> sympy.Expr:
    """Keys each sequence's new tokens attend to: the cached ones they see and the ``S_i`` new ones;
    with ``keys="cached"`` and a non-empty cache, the cached ones only (000's decode formula)."""
    seen = step.cached if attention is None else cached_visible(conv, step, attention)
    if conv.keys == "cached" and not step.empty_cache:
        return seen
    return seen + step.new


def query_key_pairs(conv: Conventions, step: Step, attention: Attention | None = None) -> sympy.Expr:
    """Query-key pairs scored per sequence and head in one step.

    Full attention, ``cached+new`` keys: dense ``S_i·(S_c+S_i)``; causal ``S_i·S_c + S_i(S_i+1)/2``.
    ``cached`` keys (000): ``S_i·S_c`` (with an empty cache, the prompt over itself). Sliding window
    ``W``, causal: query ``q`` (1-based position) sees ``min(q, W)`` keys, summed over the new
    positions ``S_c+1 .. S_c+S_i``; chunked: ``(p mod C_a) + 1`` at 0-based position ``p``. Dense
    scores score every key a kernel holds, ``S_i·(seen + S_i)`` (`cached_visible`).
    """
    s_i, s_c = step.new, step.cached
    if conv.scores == "none":
        return sympy.Integer(0)
    seen = s_c if attention is None else cached_visible(conv, step, attention)
    if conv.keys == "cached" and not step.empty_cache:
        return s_i * seen
    if conv.scores == "dense":
        return s_i * (seen + s_i)
    span = None if attention is None else attention.span
    if span is None:
        return s_i * s_c + s_i * (s_i + 1) / 2
    if attention is not None and attention.chunk is not None:
        return sympy.expand(_chunk_pairs(s_c + s_i, span) - _chunk_pairs(s_c, span))
    if s_i == 1:
        return sympy.Min(s_c + 1, span)
    # positions q = S_c+1 .. u see q keys (u: the last one not beyond W), the rest W each
    u = sympy.Min(s_c + s_i, sympy.Max(s_c, span))
    return (u * (u + 1) - s_c * (s_c + 1)) / 2 + span * (s_c + s_i - u)
