"""One function per block of a decoder layer; each returns a `Cost`.

All functions take the architecture, the conventions and a `Step` (the batch
``B``, the ``S_i`` new tokens per sequence and the ``S_c`` cached ones) and
return FLOPs and bytes **for one layer** (``lm_head`` and ``embeddings``: for
the model). A matmul ``(m, k) @ (k, n)`` costs ``2·m·k·n`` FLOPs.

Examples
--------
>>> from symroof.model.arch import Arch
>>> from symroof.cost.conventions import get
>>> from symroof.symbols import B, S, H
>>> c = attention_projections(Arch.symbolic(), get("000"), Step(B, S, 0))
>>> c.flops
8*B*H**2*S

Beyond the seeds: mixture-of-experts FFNs (`symroof.moe`), multi-head latent
attention (`symroof.mla`, dispatched from `attention_projections`,
`attention_scores` and `attention_values`), and the memory traffic of the
attention kernel (`attention_kernel`: ``flash`` re-reads K and V once per query
block; ``unfused`` writes and reads the score matrix).

>>> flash = get("exact").replace(attention_kernel="flash", query_block=64)
>>> # causal: block 1 reads 64 keys, block 2 reads 128; each key 2·8 elements of 2 bytes
>>> attention_kernel(Arch(hidden=8, layers=1, heads=2), flash, Step(1, 128, 0)).byte_terms["attention/kv"]
6144
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from symroof import symbols as sym
from symroof._values import as_value
from symroof.cost import Cost
from symroof.cost.conventions import Conventions
from symroof.model import params as _params
from symroof.model.arch import Arch

__all__ = [
    "Step",
    "activations",
    "attention",
    "attention_kernel",
    "attention_projections",
    "attention_scores",
    "attention_values",
    "embeddings",
    "ffn",
    "flash_query_block",
    "key_count",
    "kv_cache",
    "layer",
    "lm_head",
    "norms",
    "query_key_pairs",
    "rope",
]


@dataclass(frozen=True)
class Step:
    """One forward pass: ``batch`` sequences, each with ``new`` tokens over ``cached`` ones."""

    batch: sympy.Expr = sym.B
    new: sympy.Expr = sym.S_i
    cached: sympy.Expr = sym.S_c

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
        return self.cached == 0


def _weights(arch: Arch, conv: Conventions, names: tuple[str, ...], *,
             dense: bool = False) -> dict[str, sympy.Expr]:
    """Weight bytes of the named per-layer tensors under ``conv.weights``."""
    if conv.weights not in ("matrices", "all"):
        return {}
    full = conv.weights == "all"
    counts = _params.layer_parameters(arch, biases=full, norms=full, dense=dense)
    bare = (_params.layer_parameters(arch, biases=False, norms=full, dense=dense)
            if full and arch.tensor_bytes else counts)
    return {f"weights/{n}": _tensor_bytes(arch, n, counts[n], bare[n]) for n in names if n in counts}


def _tensor_bytes(arch: Arch, name: str, count: sympy.Expr, bare: sympy.Expr) -> sympy.Expr:
    """Bytes of ``count`` parameters of tensor ``name``, ``count - bare`` of them its bias
    (`Arch.bytes_of`: a quantised matrix keeps its bias in the compute dtype). Without
    per-tensor bytes, or with ``bare`` = ``count``, this is ``count · weight_bytes``."""
    return bare * arch.bytes_of(name) + (count - bare) * arch.bytes_of("bias")


def attention_projections(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """Q, K, V and output projections (MLA: its down-, up- and output projections, `symroof.mla`)."""
    if arch.is_mla:
        from symroof.cost import mla

        full = mla.attention(arch, conv, step)
        return Cost({k: v for k, v in full.flop_terms.items() if k not in _SCORE_TERMS}, full.byte_terms)
    t, H = step.tokens, arch.hidden
    flops = {
        "attention/q": 2 * t * H * arch.q_width,     # (B·S_i, H) @ (H, n_h·d_h) -> Q
        "attention/k": 2 * t * H * arch.kv_width,    # (B·S_i, H) @ (H, n_kv·d_h) -> K
        "attention/v": 2 * t * H * arch.kv_width,    # (B·S_i, H) @ (H, n_kv·d_h) -> V
        "attention/out": 2 * t * arch.q_width * H,   # (B·S_i, n_h·d_h) @ (n_h·d_h, H) -> O
    }
    return Cost(flops, _weights(arch, conv, tuple(flops)))


_SCORE_TERMS = ("attention/scores", "attention/values")


def key_count(conv: Conventions, step: Step) -> sympy.Expr:
    """Keys each sequence's new tokens attend to: ``S_c + S_i``; with ``keys="cached"`` and a
    non-empty cache, ``S_c`` (000's decode formula)."""
    if conv.keys == "cached" and not step.empty_cache:
        return step.cached
    return step.cached + step.new


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


def _head_widths(arch: Arch, conv: Conventions) -> tuple[sympy.Expr, sympy.Expr]:
    if arch.is_mla:
        from symroof.cost import mla

        return mla.head_widths(arch, conv)
    return arch.head_dim, arch.head_dim


def attention_scores(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """``Q K^T``: per head (S_i, d_h) @ (d_h, keys) for each of the pairs scored."""
    pairs = query_key_pairs(conv, step)
    width = _head_widths(arch, conv)[0]
    return Cost({"attention/scores": 2 * step.batch * arch.heads * pairs * width})


def attention_values(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """``A V``: per head (S_i, keys) @ (keys, d_h)."""
    pairs = query_key_pairs(conv, step)
    width = _head_widths(arch, conv)[1]
    return Cost({"attention/values": 2 * step.batch * arch.heads * pairs * width})


def attention(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """The attention block: projections, scores and values."""
    return (attention_projections(arch, conv, step) + attention_scores(arch, conv, step)
            + attention_values(arch, conv, step))


def ffn(arch: Arch, conv: Conventions, step: Step, *, dense: bool = False) -> Cost:
    """The feed-forward block: dense (up, down) or gated (gate, up, down); MoE uses active experts.

    A MoE layer routes each token to ``experts_per_token`` of the ``experts``
    (plus the ``shared_experts``); FLOPs count the active ones and the router
    ``(B·S_i, H) @ (H, E)``; weight bytes count the shared experts, the router
    and the routed experts read under ``conv.experts_read`` and
    ``conv.expert_parallel`` (`symroof.moe.routed_experts_read`; by default every
    expert). ``dense=True``: one of a MoE model's first ``dense_layers``, whose
    FFN is dense of width ``ffn_dim``.
    """
    t, H = step.tokens, arch.hidden
    moe = arch.is_moe and not dense
    width = arch.expert_ffn_dim if moe else arch.ffn_dim
    active = arch.experts_per_token + arch.shared_experts if moe else 1
    names = ("ffn/gate", "ffn/up", "ffn/down") if arch.ffn_kind == "gated" else ("ffn/up", "ffn/down")
    # each matrix: (B·S_i, H) @ (H, F) per active expert (down: (B·S_i, F) @ (F, H))
    flops = {n: 2 * t * active * H * width for n in names}
    if not moe:
        return Cost(flops, _weights(arch, conv, names, dense=dense))
    flops["ffn/router"] = 2 * t * H * arch.experts
    weights = _weights(arch, conv, ("ffn/router",))
    if conv.weights in ("matrices", "all"):
        from symroof.cost import moe as _moe

        read = _moe.routed_experts_read(arch, conv, t) + arch.shared_experts
        one = _params.expert_parameters(arch, biases=conv.weights == "all")
        bare = _params.expert_parameters(arch, biases=False) if arch.tensor_bytes else one
        weights.update({f"weights/{n}": read * _tensor_bytes(arch, n, one[n], bare[n]) for n in names})
    return Cost(flops, weights)


def norms(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """The two norms of a layer: no matmul FLOPs; their weights under ``weights="all"``."""
    return Cost(bytes=_weights(arch, conv, ("norm",)))


def activations(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """Activation traffic of one layer (see `Conventions.activations`)."""
    reads_writes = {"layer-io": 2, "fused": 3, "none": 0}[conv.activations]
    return Cost(bytes={"activations": reads_writes * step.tokens * arch.hidden * arch.act_bytes})


def kv_cache(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """KV-cache traffic of one layer: read the S_c cached K, V; write the S_i new ones.

    MLA caches one latent of ``kv_cache_width`` elements per token (``one``: half of it).
    """
    write = conv.kv_write == "always" or (conv.kv_write == "decode" and not step.empty_cache)
    if arch.is_mla:
        per_token = arch.kv_cache_width * arch.kv_bytes          # the latent and RoPE key, one token, one layer
        return Cost(bytes={
            "kv/read": _READ_SHARE[conv.kv_read] * step.batch * step.cached * per_token,
            "kv/write": (step.tokens * per_token) if write else 0,
        })
    read_tensors = {"k+v": 2, "one": 1, "none": 0}[conv.kv_read]
    per_token = arch.kv_width * arch.kv_bytes   # one of K or V, one token, one layer
    return Cost(bytes={
        "kv/read": read_tensors * step.batch * step.cached * per_token,
        "kv/write": (2 * step.tokens * per_token) if write else 0,
    })


_READ_SHARE = {"k+v": sympy.Integer(1), "one": sympy.Rational(1, 2), "none": sympy.Integer(0)}


def flash_query_block(sram_bytes: object, head_dim: object, bytes_per_element: object = 2) -> sympy.Expr:
    """Queries per block that fit on chip, as FlashAttention sets them (arXiv 2205.14135,
    Algorithm 1: ``B_r = min(ceil(M / 4d), d)`` for ``M`` elements of on-chip memory).

    >>> flash_query_block(228 * 1024, 128)      # H100: 228 KiB of shared memory per SM, bf16
    128
    >>> flash_query_block(16 * 1024, 128)
    16
    """
    from symroof._values import as_amount, as_count

    elements = sympy.floor(as_amount(sram_bytes, "sram_bytes") / as_amount(bytes_per_element, "bytes_per_element"))
    d = as_count(head_dim, "head_dim")
    return sympy.Min(sympy.ceiling(elements / (4 * d)), d)


def _kernel_key_reads(conv: Conventions, step: Step) -> sympy.Expr:
    """Key tokens whose K and V the attention kernel reads, per sequence and KV head."""
    keys = key_count(conv, step)
    if conv.attention_kernel == "unfused":
        return keys                      # Q K^T reads each key once, A V each value once
    blocks = sympy.ceiling(step.new / conv.query_block)
    if conv.scores == "causal" and not (conv.keys == "cached" and not step.empty_cache):
        # query block j = 1..n needs keys up to its last query, S_c + min(j·b, S_i):
        # sum = n·S_c + b·n(n−1)/2 + S_i (only the last block is cut by S_i)
        return blocks * step.cached + conv.query_block * blocks * (blocks - 1) / 2 + step.new
    return blocks * keys


def attention_kernel(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """Memory traffic of the attention kernel beyond the ideal one (see `Conventions.attention_kernel`).

    ``attention/kv``: K and V bytes the kernel reads beyond the one read of the
    cache counted in ``kv/read`` (``flash``: once per query block, per KV head,
    i.e. a GQA group shares its K/V loads; ``unfused``: one pass, which adds the
    new tokens' K and V). Naive MLA attends over up-projected K and V that are
    activations, not cache: written once and read by the kernel, at ``b_a``.
    ``attention/scores``: the unfused kernel's ``S_i × keys`` matrix per head,
    written, read by the softmax, written as probabilities and read by ``A·V``.
    """
    if conv.attention_kernel == "ideal" or conv.scores == "none":
        return Cost()
    B, keys = step.batch, key_count(conv, step)
    reads = _kernel_key_reads(conv, step)
    if arch.is_mla and conv.mla == "naive":
        expanded = arch.heads * (arch.qk_nope_head_dim + arch.qk_rope_head_dim + arch.v_head_dim)
        kv = B * (reads + keys) * expanded * arch.act_bytes
    else:
        kv = _READ_SHARE[conv.kv_read] * B * (reads - step.cached) * arch.kv_cache_width * arch.kv_bytes
    out = {"attention/kv": kv}
    if conv.attention_kernel == "unfused":
        out["attention/scores"] = 4 * B * arch.heads * step.new * keys * arch.act_bytes
    return Cost(bytes=out)


def embeddings(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """Token (and learned position) embeddings: a gather, no FLOPs; weights under ``all``."""
    if conv.weights != "all":
        return Cost()
    tables = _params.model_parameters(arch)
    names = ("embedding", "positions", "final_norm")
    return Cost(bytes={f"weights/{n}": tables[n] * arch.bytes_of(n) for n in names if n in tables})


def lm_head(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """The output projection (B·positions, H) @ (H, V), at every or the last position."""
    positions = {"none": 0, "all": step.new, "last": 1}[conv.lm_head]
    flops = {"lm_head": 2 * step.batch * positions * arch.hidden * arch.vocab}
    untied = _params.model_parameters(arch).get("lm_head", 0)   # zero when tied to the embedding
    weights = {"weights/lm_head": untied * arch.bytes_of("lm_head")} if conv.weights == "all" else {}
    return Cost(flops, weights)


def rope(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """The rotary angle table under ``rope="matmul"``: ``(d_r/2, 1) @ (1, S_i)``, once per forward pass
    and not per sequence (transformers' default ``position_ids`` have batch 1); ``d_r`` = ``head_dim``,
    MLA: ``qk_rope_head_dim``; learned positions: none."""
    if conv.rope == "none" or arch.max_positions != 0:
        return Cost()
    width = arch.qk_rope_head_dim if arch.is_mla else arch.head_dim
    return Cost({"rope": 2 * (width / 2) * step.new})


def layer(arch: Arch, conv: Conventions, step: Step, *, dense: bool = False) -> Cost:
    """One decoder layer: attention, FFN, norms, activations, KV cache and attention-kernel traffic.

    ``dense=True``: one of a MoE model's first ``dense_layers`` (a dense FFN).
    """
    parts = (attention(arch, conv, step), ffn(arch, conv, step, dense=dense), norms(arch, conv, step),
             activations(arch, conv, step), kv_cache(arch, conv, step), attention_kernel(arch, conv, step))
    return sum(parts, Cost())
