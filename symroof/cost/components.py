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

Each function takes an optional ``layer`` (one of ``arch.groups``' layers; by default the
model's last group) and reads the layer's matrices from its one table
(`symroof.model.layers.matrices`): a matrix of ``(in, out)`` costs ``2·tokens·in·out`` FLOPs for
the tokens that use it and ``copies read · in·out`` weight bytes. The keys a query sees and the
cached tokens a layer keeps follow its attention kind (full, sliding window ``W``, chunked ``C_a``,
latent: `key_count`, `query_key_pairs`, `kv_cache`).

Beyond the seeds: mixture-of-experts FFNs (`symroof.cost.moe`), multi-head latent
attention (`symroof.cost.mla`), and the memory traffic of the attention kernel
(`attention_kernel`: ``flash`` re-reads K and V once per query block; ``unfused`` writes and
reads the score matrix).

>>> flash = get("exact").replace(attention_kernel="flash", query_block=64)
>>> # causal: block 1 reads 64 keys, block 2 reads 128; each key 2·8 elements of 2 bytes
>>> attention_kernel(Arch(hidden=8, layers=1, heads=2), flash, Step(1, 128, 0)).byte_terms["attention/kv"]
6144
"""

from __future__ import annotations

import sympy

from symroof import symbols as sym
from symroof._values import as_amount, as_count
from symroof.cost import mla as _mla
from symroof.cost import moe as _moe
from symroof.cost import statespace as _statespace
from symroof.cost.base import Cost
from symroof.cost.conventions import Conventions
from symroof.cost.step import Step, cached_visible, key_count, query_key_pairs
from symroof.model import params as _params
from symroof.model.arch import Arch
from symroof.model.layers import Attention, Layer, layer_norm_parameters, matrices

__all__ = [
    "Step",
    "activations",
    "attention",
    "attention_kernel",
    "attention_projections",
    "attention_scores",
    "attention_values",
    "cached_visible",
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


def _layer(arch: Arch, layer: Layer | None, *, dense: bool = False) -> Layer:
    if layer is not None:
        return layer
    groups = [g for _, g in arch.groups]
    if dense:
        return next((g for g in groups if g.ffn is None or not g.ffn.is_moe), groups[0])
    return groups[-1]


def _attention(arch: Arch, layer: Layer | None) -> Attention | None:
    return _layer(arch, layer).attention


def _matrix_bytes(arch: Arch, conv: Conventions, layer: Layer, prefix: str, step: Step) -> dict[str, sympy.Expr]:
    """Weight bytes of the layer's matrices whose names start with ``prefix``, under ``conv.weights``:
    ``matrices`` the matrices alone, ``all`` with their biases (at the bytes of ``"bias"``). A MoE
    layer reads the routed experts `symroof.cost.moe.routed_experts_read` says, every shared one."""
    if conv.weights not in ("matrices", "all"):
        return {}
    full = conv.weights == "all"
    out: dict[str, sympy.Expr] = {}
    for m in matrices(layer, arch.hidden):
        if not m.name.startswith(prefix):
            continue
        read = (_moe.routed_experts_read(layer.ffn, conv, step.tokens) if m.use == "routed" and layer.ffn
                else m.copies)
        one = m.rows * m.cols * arch.bytes_of(m.name) + (m.cols * arch.bytes_of("bias") if full and m.bias else 0)
        key = f"weights/{m.name}"
        out[key] = out.get(key, sympy.Integer(0)) + read * one
    return out


def attention_projections(arch: Arch, conv: Conventions, step: Step, *, layer: Layer | None = None) -> Cost:
    """Q, K, V and output projections (MLA: its down-, up- and output projections, `symroof.cost.mla`)."""
    lay = _layer(arch, layer)
    a = lay.attention
    if a is None:
        return Cost()
    if a.is_mla:
        full = _mla.attention(arch, a, conv, step)
        flops = {k: v for k, v in full.flop_terms.items() if k not in _SCORE_TERMS}
        return Cost(flops, _matrix_bytes(arch, conv, lay, "attention/", step))
    t = step.tokens
    # (B·S_i, H) @ (H, n_h·d_h) -> Q; (B·S_i, H) @ (H, n_kv·d_h) -> K and V; (B·S_i, n_h·d_h) @ (n_h·d_h, H) -> O
    flops = {m.name: 2 * t * m.rows * m.cols for m in matrices(lay, arch.hidden) if m.name.startswith("attention/")}
    weights = _matrix_bytes(arch, conv, lay, "attention/", step)
    if a.sinks and conv.weights == "all":
        weights["weights/attention/sinks"] = a.heads * arch.bytes_of("attention/sinks")
    return Cost(flops, weights)


_SCORE_TERMS = ("attention/scores", "attention/values")


def _per_pair(arch: Arch, conv: Conventions, step: Step, layer: Layer | None, which: int, name: str) -> Cost:
    """``2·B·n_h·pairs·width`` for the score (``which = 0``) or value (1) width of one head."""
    a = _attention(arch, layer)
    if a is None:
        return Cost()
    width = _mla.head_widths(a, conv, step)[which] if a.is_mla else a.head_dim
    return Cost({name: 2 * step.batch * a.heads * query_key_pairs(conv, step, a) * width})


def attention_scores(arch: Arch, conv: Conventions, step: Step, *, layer: Layer | None = None) -> Cost:
    """``Q K^T``: per head (S_i, d_h) @ (d_h, keys) for each of the pairs scored."""
    return _per_pair(arch, conv, step, layer, 0, "attention/scores")


def attention_values(arch: Arch, conv: Conventions, step: Step, *, layer: Layer | None = None) -> Cost:
    """``A V``: per head (S_i, keys) @ (keys, d_h)."""
    return _per_pair(arch, conv, step, layer, 1, "attention/values")


def attention(arch: Arch, conv: Conventions, step: Step, *, layer: Layer | None = None) -> Cost:
    """The attention block: projections, scores and values."""
    return (attention_projections(arch, conv, step, layer=layer) + attention_scores(arch, conv, step, layer=layer)
            + attention_values(arch, conv, step, layer=layer))


def ffn(arch: Arch, conv: Conventions, step: Step, *, dense: bool = False, layer: Layer | None = None) -> Cost:
    """The feed-forward block: dense (up, down) or gated (gate, up, down); MoE uses active experts.

    A MoE layer routes each token to ``experts_per_token`` of the ``experts``
    (plus the ``shared_experts``); FLOPs count the active ones and the router
    ``(B·S_i, H) @ (H, E)``; weight bytes count the shared experts, the router
    and the routed experts read under ``conv.experts_read`` and
    ``conv.expert_parallel`` (`symroof.cost.moe.routed_experts_read`). ``dense=True``: a MoE
    model's dense layer (its first ``dense_layers``).
    """
    lay = _layer(arch, layer, dense=dense)
    f = lay.ffn
    if f is None:
        return Cost()
    t = step.tokens
    # each matrix: (B·S_i, H) @ (H, F) per active expert (down: (B·S_i, F) @ (F, H))
    users = {"all": t, "routed": t * f.experts_per_token, "shared": t}
    flops: dict[str, sympy.Expr] = {}
    router = None
    for m in matrices(lay, arch.hidden):
        if not m.name.startswith("ffn/"):
            continue
        n = 2 * users[m.use] * m.rows * m.cols * (m.copies if m.use == "shared" else 1)
        if m.name == "ffn/router":
            router = n
        else:
            flops[m.name] = flops.get(m.name, sympy.Integer(0)) + n
    if router is not None:
        flops["ffn/router"] = router
    weights = _matrix_bytes(arch, conv, lay, "ffn/", step)
    if "weights/ffn/router" in weights:                        # the router first, as it runs first
        weights = {"weights/ffn/router": weights.pop("weights/ffn/router"), **weights}
    return Cost(flops, weights)


def norms(arch: Arch, conv: Conventions, step: Step, *, layer: Layer | None = None) -> Cost:
    """The layer's norms (and q/k and latent norms): no matmul FLOPs; their weights under ``weights="all"``."""
    if conv.weights != "all":
        return Cost()
    return Cost(bytes={"weights/norm": layer_norm_parameters(_layer(arch, layer), arch.hidden)
                       * arch.bytes_of("norm")})


def activations(arch: Arch, conv: Conventions, step: Step, *, layer: Layer | None = None) -> Cost:
    """Activation traffic of one layer (see `Conventions.activations`)."""
    reads_writes = {"layer-io": 2, "fused": 3, "none": 0}[conv.activations]
    return Cost(bytes={"activations": reads_writes * step.tokens * arch.hidden * arch.act_bytes})


def kv_cache(arch: Arch, conv: Conventions, step: Step, *, layer: Layer | None = None) -> Cost:
    """KV-cache traffic of one layer: read the K and V of the cached tokens its new tokens see
    (`cached_visible`: all ``S_c``; at most ``W - 1`` for a sliding layer; a chunked layer's own chunk);
    write the ``S_i`` new ones. MLA caches one latent of ``kv_lora_rank + qk_rope_head_dim`` elements
    per token (``kv_read="one"``: half of it)."""
    a = _attention(arch, layer)
    if a is None:
        return Cost()
    write = conv.kv_write == "always" or (conv.kv_write == "decode" and not step.empty_cache)
    seen = cached_visible(conv, step, a)
    if a.is_mla:
        per_token = (a.kv_lora_rank + a.qk_rope_head_dim) * arch.kv_bytes     # the latent and RoPE key
        return Cost(bytes={
            "kv/read": _READ_SHARE[conv.kv_read] * step.batch * seen * per_token,
            "kv/write": (step.tokens * per_token) if write else 0,
        })
    read_tensors = {"k+v": 2, "one": 1, "none": 0}[conv.kv_read]
    per_token = a.cached_kv_width * arch.kv_bytes   # one of K or V, one token, one layer
    return Cost(bytes={
        "kv/read": read_tensors * step.batch * seen * per_token,
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
    elements = sympy.floor(as_amount(sram_bytes, "sram_bytes") / as_amount(bytes_per_element, "bytes_per_element"))
    d = as_count(head_dim, "head_dim")
    return sympy.Min(sympy.ceiling(elements / (4 * d)), d)


def _kernel_key_reads(conv: Conventions, step: Step, a: Attention) -> sympy.Expr:
    """Key tokens whose K and V the attention kernel reads, per sequence and KV head."""
    keys = key_count(conv, step, a)
    if conv.attention_kernel == "unfused":
        return keys                      # Q K^T reads each key once, A V each value once
    blocks = sympy.ceiling(step.new / conv.query_block)
    if a.span is not None:
        # a block of b queries needs at most span + b - 1 keys (the window of its first query and its own)
        return blocks * sympy.Min(keys, a.span + conv.query_block - 1)
    if conv.scores == "causal" and not (conv.keys == "cached" and not step.empty_cache):
        # query block j = 1..n needs keys up to its last query, S_c + min(j·b, S_i):
        # sum = n·S_c + b·n(n−1)/2 + S_i (only the last block is cut by S_i)
        return blocks * step.cached + conv.query_block * blocks * (blocks - 1) / 2 + step.new
    return blocks * keys


def attention_kernel(arch: Arch, conv: Conventions, step: Step, *, layer: Layer | None = None) -> Cost:
    """Memory traffic of the attention kernel beyond the ideal one (see `Conventions.attention_kernel`).

    ``attention/kv``: K and V bytes the kernel reads beyond the one read of the
    cache counted in ``kv/read`` (``flash``: once per query block, per KV head,
    i.e. a GQA group shares its K/V loads; ``unfused``: one pass, which adds the
    new tokens' K and V). Naive MLA attends over up-projected K and V that are
    activations, not cache: written once and read by the kernel, at ``b_a``.
    ``attention/scores``: the unfused kernel's ``S_i × keys`` matrix per head,
    written, read by the softmax, written as probabilities and read by ``A·V``.
    """
    a = _attention(arch, layer)
    if a is None or conv.attention_kernel == "ideal" or conv.scores == "none":
        return Cost()
    B, keys = step.batch, key_count(conv, step, a)
    reads = _kernel_key_reads(conv, step, a)
    if a.is_mla and _mla.form(conv, step) == "naive":
        expanded = a.heads * (a.qk_nope_head_dim + a.qk_rope_head_dim + a.v_head_dim)
        kv = B * (reads + keys) * expanded * arch.act_bytes
    else:
        width = (a.kv_lora_rank + a.qk_rope_head_dim) if a.is_mla else 2 * a.cached_kv_width
        kv = _READ_SHARE[conv.kv_read] * B * (reads - cached_visible(conv, step, a)) * width * arch.kv_bytes
    out = {"attention/kv": kv}
    if conv.attention_kernel == "unfused":
        out["attention/scores"] = 4 * B * a.heads * step.new * keys * arch.act_bytes
    return Cost(bytes=out)


def embeddings(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """Token (and learned position) embeddings: a gather, no FLOPs. Their bytes under ``weights="all"``:
    the whole tables (``embedding_read="table"``), or the ``B·S_i`` rows the lookup gathers
    (``"rows"``); the final norm's weights."""
    if conv.weights != "all":
        return Cost()
    tables = _params.model_parameters(arch)
    out = {}
    for name in ("embedding", "positions"):
        if name in tables:
            count = tables[name] if conv.embedding_read == "table" else step.tokens * arch.hidden
            out[f"weights/{name}"] = count * arch.bytes_of(name)
    if "final_norm" in tables:
        out["weights/final_norm"] = tables["final_norm"] * arch.bytes_of("final_norm")
    return Cost(bytes=out)


def lm_head(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """The output projection (B·positions, H) @ (H, V), at every or the last position. Its weights under
    ``weights="all"``: an untied head's matrix; a tied one is the embedding table, counted there
    under ``embedding_read="table"`` and read here, once, under ``"rows"``."""
    positions = {"none": 0, "all": step.new, "last": 1}[conv.lm_head]
    flops = {"lm_head": 2 * step.batch * positions * arch.hidden * arch.vocab}
    weights = {}
    if conv.weights == "all":
        tables = _params.model_parameters(arch)
        if "lm_head" in tables:
            weights["weights/lm_head"] = tables["lm_head"] * arch.bytes_of("lm_head")
        elif conv.embedding_read == "rows" and conv.lm_head != "none":
            weights["weights/lm_head"] = tables["embedding"] * arch.bytes_of("embedding")
    return Cost(flops, weights)


def rope(arch: Arch, conv: Conventions, step: Step) -> Cost:
    """The rotary angle table under ``rope="matmul"``: ``(d_r/2, 1) @ (1, S_i)``, once per forward pass
    and not per sequence (transformers' default ``position_ids`` have batch 1), at the rotary width
    ``d_r`` of the model's layers (`Attention.rotary_width`); none without rotary layers."""
    if conv.rope == "none":
        return Cost()
    widths = {g.attention.rotary_width for _, g in arch.groups if g.attention is not None} - {0}
    return Cost({"rope": sum((2 * (w / 2) * step.new for w in widths), sympy.Integer(0))})


def layer(arch: Arch, conv: Conventions, step: Step, *, dense: bool = False, layer: Layer | None = None) -> Cost:
    """One decoder layer: attention, FFN, norms, activations, KV cache and attention-kernel traffic, and a
    state-space or linear-attention mixer's projections, conv, scan and state (`symroof.cost.statespace`).

    ``layer``: one of ``arch.groups``' layers (default: the last group's; ``dense=True``: a MoE
    model's dense layer).
    """
    lay = _layer(arch, layer, dense=dense)
    parts = (attention(arch, conv, step, layer=lay), ffn(arch, conv, step, layer=lay),
             norms(arch, conv, step, layer=lay), activations(arch, conv, step, layer=lay),
             kv_cache(arch, conv, step, layer=lay), attention_kernel(arch, conv, step, layer=lay),
             _statespace.mixer(arch, conv, step, layer=lay))     # a state-space mixer (none: no terms)
    return sum(parts, Cost())


_ = sym  # the symbols module documents the names used above (B, S_i, S_c)
