"""The canonical SymPy symbols of symroof, in the seeds' notation.

Every symbol is ``positive=True``; those that count things (tokens, layers,
heads, widths, GPUs) are also ``integer=True``. Bytes per element are positive
rationals (int4 is 1/2 byte), and hardware rates are positive reals.

The symbol *names* are the keyword names used everywhere else in symroof:
``cost.subs(B=8, S_c=1024)``, ``evaluator(B=..., S_c=...)`` and the CLI.

Examples
--------
>>> from symroof.symbols import B, S_i, S_c, H
>>> sympy.latex(B * S_i * S_c * H)
'B H S_{c} S_{i}'
>>> by_name("S_c") is S_c
True
"""

from __future__ import annotations

import sympy

__all__ = [
    "ALL",
    "DESCRIPTIONS",
    "B",
    "C_a",
    "C_p",
    "E",
    "F",
    "H",
    "N",
    "S",
    "S_c",
    "S_g",
    "S_i",
    "S_p",
    "T",
    "V",
    "W",
    "Z",
    "b_a",
    "b_kv",
    "b_w",
    "beta",
    "by_name",
    "d_h",
    "k_e",
    "n_h",
    "n_kv",
    "pi",
]


def _count(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, positive=True, integer=True)


def _real(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, positive=True)


# workload
B = _count("B")        # batch size (sequences)
S = _count("S")        # prompt length in prefill
S_i = _count("S_i")    # new tokens per sequence in one forward pass
S_c = _count("S_c")    # tokens already in the KV cache
S_g = _count("S_g")    # tokens generated per request (whole-request costs)
S_p = _count("S_p")    # prompt tokens shared by the B requests of a batch (a prefix computed once)
C_p = _count("C_p")    # tokens per chunk of a chunked prefill
# architecture
H = _count("H")        # hidden size, d_model
N = _count("N")        # number of layers
Z = _real("Z")         # parameter count in billions (000: 2·Z·10^9 bytes of fp16 weights)
n_h = _count("n_h")    # query heads
n_kv = _count("n_kv")  # key/value heads (MHA: n_kv = n_h; MQA: 1)
d_h = _count("d_h")    # head dimension
F = _count("F")        # FFN inner width (4H in GPT-style, d_ffn in SwiGLU)
V = _count("V")        # vocabulary size
E = _count("E")        # routed experts of a mixture-of-experts FFN
k_e = _count("k_e")    # experts active per token
T = _count("T")        # tensor-parallel degree
W = _count("W")        # attention window of a sliding-window layer (each query sees at most W keys)
C_a = _count("C_a")    # attention chunk of a chunked-attention layer (Llama 4: attention_chunk_size)
# precision: bytes per element
b_w = _real("b_w")     # weights
b_a = _real("b_a")     # activations
b_kv = _real("b_kv")   # KV cache
# hardware
pi = _real("pi")       # peak FLOP/s
beta = _real("beta")   # memory bandwidth, bytes/s

DESCRIPTIONS: dict[str, str] = {
    "B": "batch size (sequences)",
    "S": "prompt length in prefill",
    "S_i": "new tokens per sequence in one forward pass (1 in decode)",
    "S_c": "tokens already in the KV cache",
    "H": "hidden size (d_model)",
    "N": "number of layers",
    "Z": "parameter count in billions",
    "n_h": "query heads",
    "n_kv": "key/value heads",
    "d_h": "head dimension",
    "F": "FFN inner width",
    "V": "vocabulary size",
    "E": "routed experts",
    "k_e": "experts active per token",
    "T": "tensor-parallel degree",
    "W": "attention window (keys one query sees at most)",
    "C_a": "attention chunk (tokens per chunk of chunked attention)",
    "S_g": "tokens generated per request",
    "S_p": "shared prompt prefix (tokens computed once for the batch)",
    "C_p": "prefill chunk (tokens per chunk of a chunked prefill)",
    "b_w": "bytes per weight element",
    "b_a": "bytes per activation element",
    "b_kv": "bytes per KV-cache element",
    "pi": "peak FLOP/s",
    "beta": "memory bandwidth (bytes/s)",
}

ALL: dict[str, sympy.Symbol] = {
    s.name: s
    for s in (B, S, S_i, S_c, S_g, S_p, C_p, H, N, Z, n_h, n_kv, d_h, F, V, E, k_e, T, W, C_a, b_w, b_a, b_kv, pi, beta)
}


def by_name(name: str) -> sympy.Symbol:
    """Return the canonical symbol called ``name``; raise ``KeyError`` naming the allowed ones."""
    try:
        return ALL[name]
    except KeyError:
        raise KeyError(
            f"unknown symbol {name!r}; allowed: {', '.join(ALL)}"
        ) from None
