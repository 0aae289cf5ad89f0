"""An independent FLOP and byte counter: walks a tiny decoder shape by shape.

It shares no code with symroof's formulas. It enumerates every matmul of one
forward pass as (m, k, n) triples — per sequence, per head, per query token for
attention (so the causal mask is applied by counting keys one query at a time)
— and sums 2·m·k·n. Python ints throughout.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Tiny:
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn_dim: int
    gated: bool
    vocab: int = 11


def matmuls(m: Tiny, batch: int, new: int, cached: int, *, causal: bool, lm_head: str):
    """Yield (name, rows, inner, cols) for every matmul of one step."""
    tokens = batch * new
    for _ in range(m.layers):
        yield "attention/q", tokens, m.hidden, m.heads * m.head_dim
        yield "attention/k", tokens, m.hidden, m.kv_heads * m.head_dim
        yield "attention/v", tokens, m.hidden, m.kv_heads * m.head_dim
        for _seq in range(batch):
            for _head in range(m.heads):
                for q in range(new):
                    # the query at position cached+q sees keys 0..cached+q (causal) or all
                    keys = cached + q + 1 if causal else cached + new
                    yield "attention/scores", 1, m.head_dim, keys
                    yield "attention/values", 1, keys, m.head_dim
        yield "attention/out", tokens, m.heads * m.head_dim, m.hidden
        if m.gated:
            yield "ffn/gate", tokens, m.hidden, m.ffn_dim
        yield "ffn/up", tokens, m.hidden, m.ffn_dim
        yield "ffn/down", tokens, m.ffn_dim, m.hidden
    positions = {"all": new, "last": 1, "none": 0}[lm_head]
    if positions:
        yield "lm_head", batch * positions, m.hidden, m.vocab


def count_flops(m: Tiny, batch: int, new: int, cached: int, *, causal: bool, lm_head: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, rows, inner, cols in matmuls(m, batch, new, cached, causal=causal, lm_head=lm_head):
        out[name] = out.get(name, 0) + 2 * rows * inner * cols
    return out


def kv_bytes(m: Tiny, batch: int, new: int, cached: int, elem: int) -> tuple[int, int]:
    """(read, written) KV-cache bytes: every cached element of K and V read once, new ones written."""
    read = written = 0
    for _ in range(m.layers):
        for _seq in range(batch):
            for _tensor in ("K", "V"):
                read += cached * m.kv_heads * m.head_dim * elem
                written += new * m.kv_heads * m.head_dim * elem
    return read, written
