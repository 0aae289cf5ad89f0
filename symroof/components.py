"""One function per block of a decoder layer; each returns a `Cost`.

All functions take the architecture, the conventions and a `Step` (the batch
``B``, the ``S_i`` new tokens per sequence and the ``S_c`` cached ones) and
return FLOPs and bytes **for one layer** (``lm_head`` and ``embeddings``: for
the model). A matmul ``(m, k) @ (k, n)`` costs ``2·m·k·n`` FLOPs.

Examples
--------
>>> from symroof.arch import Arch
>>> from symroof.conventions import get
>>> from symroof.symbols import B, S, H
>>> c = attention_projections(Arch.symbolic(), get("000"), Step(B, S, 0))
>>> c.flops
8*B*H**2*S
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from symroof import params as _params
from symroof import symbols as sym
from symroof.arch import Arch
from symroof.conventions import Conventions
from symroof.cost import Cost

__all__ = [
    "Step",
    "activations",
    "attention",
    "attention_projections",
    "attention_scores",
    "attention_values",
    "embeddings",
    "ffn",
    "kv_cache",
    "layer",
    "lm_head",
    "norms",
    "query_key_pairs",
]


@dataclass(frozen=True)
class Step:
    """One forward pass: ``batch`` sequences, each with ``new`` tokens over ``cached`` ones."""

    batch: sympy.Expr = sym.B
    new: sympy.Expr = sym.S_i
    cached: sympy.Expr = sym.S_c

    @property
    def tokens(self) -> sympy.Expr:
        """Tokens processed in this pass, ``B·S_i``."""
        return self.batch * self.new

    @property
    def empty_cache(self) -> bool:
        """True for prefill: the cache is literally zero (not merely a symbol)."""
        return sympy.sympify(self.cached) == 0


def _weights(arch: Arch, conv: Conventions, names: tuple[str, ...]) -> dict[str, sympy.Expr]:
    """Weight bytes of the named per-layer tensors under ``conv.weights``."""
    if conv.weights not in ("matrices", "all"):
        return {}
    full = conv.weights == "all"
    counts = _params.layer_parameters(arch, biases=full, norms=full)
    return {f"weights/{n}": counts[n] * arch.weight_bytes for n in names if n in counts}


def attention_projections(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """Q, K, V and output projections."""
    t, H = step.tokens, arch.hidden
    flops = {
        "attention/q": 2 * t * H * arch.q_width,     # (B·S_i, H) @ (H, n_h·d_h) -> Q
        "attention/k": 2 * t * H * arch.kv_width,    # (B·S_i, H) @ (H, n_kv·d_h) -> K
        "attention/v": 2 * t * H * arch.kv_width,    # (B·S_i, H) @ (H, n_kv·d_h) -> V
        "attention/out": 2 * t * arch.q_width * H,   # (B·S_i, n_h·d_h) @ (n_h·d_h, H) -> O
    }
    return Cost(flops, _weights(arch, conv, tuple(flops)))


def query_key_pairs(conv: Conventions, step: Step) -> sympy.Expr:
    """Query-key pairs scored per sequence and head in one step.

    ``cached+new`` keys: dense ``S_i·(S_c+S_i)``; causal ``S_i·S_c + S_i(S_i+1)/2``.
    ``cached`` keys (000): ``S_i·S_c`` (with an empty cache, the prompt over itself).
    """
    s_i, s_c = step.new, step.cached
    if conv.scores == "none":
        return sympy.Integer(0)
    if conv.keys == "cached" and not step.empty_cache:
        return s_i * s_c
    if conv.scores == "causal":
        return s_i * s_c + s_i * (s_i + 1) / 2
    return s_i * (s_c + s_i)


def attention_scores(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """``Q K^T``: per head (S_i, d_h) @ (d_h, keys) for each of the pairs scored."""
    pairs = query_key_pairs(conv, step)
    return Cost({"attention/scores": 2 * step.batch * arch.heads * pairs * arch.head_dim})


def attention_values(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """``A V``: per head (S_i, keys) @ (keys, d_h)."""
    pairs = query_key_pairs(conv, step)
    return Cost({"attention/values": 2 * step.batch * arch.heads * pairs * arch.head_dim})


def attention(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """The attention block: projections, scores and values."""
    return (attention_projections(arch, conv, step) + attention_scores(arch, conv, step)
            + attention_values(arch, conv, step))


def ffn(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """The feed-forward block: dense (up, down) or gated (gate, up, down); MoE uses active experts.

    A MoE layer routes each token to ``experts_per_token`` of the ``experts``
    (plus the ``shared_experts``); FLOPs count the active ones and the router
    ``(B·S_i, H) @ (H, E)``; weight bytes count every expert.
    """
    t, H = step.tokens, arch.hidden
    width = arch.expert_ffn_dim if arch.is_moe else arch.ffn_dim
    active = arch.experts_per_token + arch.shared_experts if arch.is_moe else 1
    names = ("ffn/gate", "ffn/up", "ffn/down") if arch.ffn_kind == "gated" else ("ffn/up", "ffn/down")
    # each matrix: (B·S_i, H) @ (H, F) per active expert (down: (B·S_i, F) @ (F, H))
    flops = {n: 2 * t * active * H * width for n in names}
    if arch.is_moe:
        flops["ffn/router"] = 2 * t * H * arch.experts
        names = (*names, "ffn/router")
    return Cost(flops, _weights(arch, conv, names))


def norms(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """The two norms of a layer: no matmul FLOPs; their weights under ``weights="all"``."""
    return Cost(bytes=_weights(arch, conv, ("norm",)))


def activations(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """Activation traffic of one layer (see `Conventions.activations`)."""
    reads_writes = {"layer-io": 2, "fused": 3, "none": 0}[conv.activations]
    return Cost(bytes={"activations": reads_writes * step.tokens * arch.hidden * arch.act_bytes})


def kv_cache(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """KV-cache traffic of one layer: read the S_c cached K, V; write the S_i new ones."""
    read_tensors = {"k+v": 2, "one": 1, "none": 0}[conv.kv_read]
    write = conv.kv_write == "always" or (conv.kv_write == "decode" and not step.empty_cache)
    per_token = arch.kv_width * arch.kv_bytes   # one of K or V, one token, one layer
    return Cost(bytes={
        "kv/read": read_tensors * step.batch * step.cached * per_token,
        "kv/write": (2 * step.tokens * per_token) if write else 0,
    })


def embeddings(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """Token (and learned position) embeddings: a gather, no FLOPs; weights under ``all``."""
    if conv.weights != "all":
        return Cost()
    tables = _params.model_parameters(arch)
    names = ("embedding", "positions", "final_norm")
    return Cost(bytes={f"weights/{n}": tables[n] * arch.weight_bytes for n in names if n in tables})


def lm_head(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """The output projection (B·positions, H) @ (H, V), at every or the last position."""
    positions = {"none": 0, "all": step.new, "last": 1}[conv.lm_head]
    flops = {"lm_head": 2 * step.batch * positions * arch.hidden * arch.vocab}
    untied = 0 if arch.tied_embeddings else arch.vocab * arch.hidden
    weights = {"weights/lm_head": untied * arch.weight_bytes} if conv.weights == "all" else {}
    return Cost(flops, weights)


def layer(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """One decoder layer: attention, FFN, norms, activations and KV cache."""
    return sum(
        (part(arch, conv, step) for part in (attention, ffn, norms, activations, kv_cache)),
        Cost(),
    )
