"""Multi-head latent attention (MLA; DeepSeek-V2 arXiv 2405.04434 §2.1, DeepSeek-V3 arXiv 2412.19437 §2.1).

Keys and values are compressed into a latent ``c_KV`` of ``d_c = kv_lora_rank``
elements per token, plus one RoPE key ``k_R`` of ``d_R = qk_rope_head_dim``
shared by all heads; only these ``d_c + d_R`` elements are cached per token and
layer. Queries go through a bottleneck of ``d_q = q_lora_rank`` (if given).
Each of the ``n_h`` heads scores with ``d_nope + d_R`` elements
(``qk_nope_head_dim + qk_rope_head_dim``) and has values of ``d_v = v_head_dim``.

Matrices (Hugging Face ``DeepseekV3Attention`` names in brackets), per layer:

==================== ========================== =================================
``attention/q_down``  [q_a_proj]                 ``(H, d_q)``
``attention/q_up``    [q_b_proj]                 ``(d_q, n_h·(d_nope + d_R))``
``attention/q``       [q_proj, when d_q is None] ``(H, n_h·(d_nope + d_R))``
``attention/kv_down`` [kv_a_proj_with_mqa]       ``(H, d_c + d_R)``
``attention/kv_up``   [kv_b_proj]                ``(d_c, n_h·(d_nope + d_v))``: W_UK and W_UV
``attention/out``     [o_proj]                   ``(n_h·d_v, H)``
==================== ========================== =================================

plus two RMSNorms of widths ``d_q`` and ``d_c`` (q_a_layernorm, kv_a_layernorm).

Two ways to compute it (`Conventions.mla`; ``mla_prefill`` may choose the other for a pass over an
empty cache, as serving engines prefill naive and decode absorbed):

* ``naive``: the cached latents of every key are up-projected by ``kv_up`` in
  each pass (``(B·keys, d_c) @ (d_c, n_h·(d_nope + d_v))``), then ordinary
  attention runs with score width ``d_nope + d_R`` and value width ``d_v``.
  This is what Hugging Face transformers 5.x does (it caches the latent and
  calls ``expand_kv`` on the whole cache each step).
* ``absorbed``: W_UK is absorbed into the query and W_UV into the output
  (DeepSeek-V2 §2.1.2; DeepSeek-V3's reference ``inference/model.py`` with
  ``attn_impl = "absorb"``): per head, ``q_nope (S_i, d_nope) @ W_UK_h (d_nope, d_c)``
  gives a latent query; scores are taken against the cached latent and RoPE key
  (width ``d_c + d_R``); the probabilities weight the latents (width ``d_c``);
  ``(S_i, d_c) @ W_UV_h (d_c, d_v)`` recovers each head's output. ``kv_up`` is
  never applied to cached tokens.

Examples
--------
>>> from symroof.model.arch import Arch
>>> from symroof.cost.step import Step
>>> from symroof.cost.conventions import Conventions
>>> tiny = Arch(hidden=8, layers=1, heads=2, q_lora_rank=3, kv_lora_rank=4,
...             qk_nope_head_dim=2, qk_rope_head_dim=1, v_head_dim=2)
>>> parameters(tiny)["attention/kv_up"]          # 4 x 2·(2 + 2)
32
>>> a = tiny.groups[0][1].attention
>>> naive = attention(tiny, a, Conventions(mla="naive"), Step(1, 1, 5))
>>> naive.flop_terms["attention/kv_up"]          # 2 · (6 keys) · 4 · 2·(2 + 2)
384
>>> absorbed = attention(tiny, a, Conventions(mla="absorbed"), Step(1, 1, 5))
>>> "attention/kv_up" in absorbed.flop_terms, absorbed.flop_terms["attention/scores"]   # 2·2 heads·6·(4 + 1)
(False, 120)
"""

from __future__ import annotations

import sympy

from symroof.cost.base import Cost
from symroof.cost.conventions import Conventions
from symroof.cost.step import Step, key_count, query_key_pairs
from symroof.model.arch import Arch
from symroof.model.layers import Attention, Layer, matrices

__all__ = ["attention", "form", "head_widths", "parameters"]


def parameters(arch: Arch, *, biases: bool = True) -> dict[str, sympy.Expr]:
    """The attention matrices of an MLA model's layer, by name (from its matrix table; biases on the
    down-projections with ``qkv_bias`` and on the output with ``out_bias``)."""
    layer = next(g for _, g in arch.groups if g.attention is not None and g.attention.is_mla)
    return {m.name: m.rows * m.cols + (m.cols if biases and m.bias else 0)
            for m in matrices(Layer(layer.attention, None), arch.hidden)}


def form(conv: Conventions, step: Step) -> str:
    """``naive`` or ``absorbed``: ``conv.mla``, or ``conv.mla_prefill`` for a pass over an empty cache."""
    if step.empty_cache and conv.mla_prefill != "same":
        return conv.mla_prefill
    return conv.mla


def head_widths(a: Attention, conv: Conventions, step: Step | None = None) -> tuple[sympy.Expr, sympy.Expr]:
    """Per-head widths of one query-key score and of one value: naive ``(d_nope + d_R, d_v)``;
    absorbed ``(d_c + d_R, d_c)``."""
    if (conv.mla if step is None else form(conv, step)) == "absorbed":
        return a.kv_lora_rank + a.qk_rope_head_dim, a.kv_lora_rank
    return a.qk_nope_head_dim + a.qk_rope_head_dim, a.v_head_dim


def attention(arch: Arch, a: Attention, conv: Conventions, step: Step) -> Cost:
    """One MLA layer's attention FLOPs: projections, scores and values (see the module docstring)."""
    t, B, H, n_h = step.tokens, step.batch, arch.hidden, a.heads
    d_c, d_q, d_r = a.kv_lora_rank, a.q_lora_rank, a.qk_rope_head_dim
    d_nope, d_v = a.qk_nope_head_dim, a.v_head_dim
    absorbed = form(conv, step) == "absorbed"
    flops: dict[str, sympy.Expr] = {}
    if d_q is None:
        flops["attention/q"] = 2 * t * H * n_h * (d_nope + d_r)       # (B·S_i, H) @ (H, n_h·(d_nope+d_R))
    else:
        flops["attention/q_down"] = 2 * t * H * d_q                   # (B·S_i, H) @ (H, d_q)
        flops["attention/q_up"] = 2 * t * d_q * n_h * (d_nope + d_r)  # (B·S_i, d_q) @ (d_q, n_h·(d_nope+d_R))
    flops["attention/kv_down"] = 2 * t * H * (d_c + d_r)              # (B·S_i, H) @ (H, d_c + d_R)
    if absorbed:
        flops["attention/q_absorb"] = 2 * t * n_h * d_nope * d_c      # per head (B·S_i, d_nope) @ (d_nope, d_c)
    else:
        keys = key_count(conv, step, a)
        flops["attention/kv_up"] = 2 * B * keys * d_c * n_h * (d_nope + d_v)   # (B·keys, d_c) @ (d_c, n_h·(..))
    score_width, value_width = head_widths(a, conv, step)
    pairs = query_key_pairs(conv, step, a)
    flops["attention/scores"] = 2 * B * n_h * pairs * score_width     # per head (S_i, w) @ (w, keys)
    flops["attention/values"] = 2 * B * n_h * pairs * value_width     # per head (S_i, keys) @ (keys, w)
    if absorbed:
        flops["attention/v_absorb"] = 2 * t * n_h * d_c * d_v         # per head (B·S_i, d_c) @ (d_c, d_v)
    flops["attention/out"] = 2 * t * n_h * d_v * H                    # (B·S_i, n_h·d_v) @ (n_h·d_v, H)
    return Cost(flops)
