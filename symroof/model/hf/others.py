"""Phi-3, OLMo 2, Granite, Starcoder2, Falcon, GPT-J and Qwen2-MoE, as ``transformers`` 5.24 builds them.

Each family is the generic reading (`symroof.model.hf._read`) with its `Family` rules, and an
``adjust`` hook where a family has a detail of its own:

* ``phi3`` (``Phi3Attention``, ``Phi3MLP``): fused ``qkv_proj`` and ``gate_up_proj``, the same
  parameters and matmul FLOPs as separate q/k/v and gate/up; ``sliding_window`` on every layer when
  set; ``partial_rotary_factor`` (in ``rope_parameters`` or at the top) rotates
  ``int(head_dim·factor)`` of each head.
* ``olmo2``: no pre-norms, a post-attention and a post-feedforward RMSNorm (2 per layer); q and k
  RMSNorms over all heads (``n_h·d_h`` and ``n_kv·d_h``).
* ``granite``: Llama's layer; its multipliers (embedding, residual, attention, logits) scale
  elementwise and add no matmul.
* ``starcoder2``: LayerNorms with bias; a dense ``c_fc``/``c_proj`` MLP; ``use_bias`` (default
  true) on q, k, v, o and the MLP; ``sliding_window`` on every layer when set; tied head.
* ``falcon``: ``query_key_value`` of ``(n_h + 2·n_kv)·d_h`` with ``d_h = H / n_h``: ``num_kv_heads``
  under ``new_decoder_architecture``, else 1 (``multi_query``) or ``n_h``. Parallel attention and
  MLP under ``new_decoder_architecture`` or ``parallel_attn``, with two LayerNorms
  (``ln_attn``/``ln_mlp``, ``num_ln_in_parallel_attn = 2``, the new architecture's default) or
  one; sequential blocks have two. ``bias`` on every linear layer; ``alibi`` replaces rotary
  positions; a dense MLP of ``ffn_hidden_size`` (default ``4·H``); tied head. transformers'
  new-architecture attention broadcasts K and V to all ``n_h`` heads *before* it caches them, so
  its cache holds ``n_h`` heads, not ``n_kv``: symroof counts the cache as transformers holds it
  (`Attention.cached_heads`) and says so in the source.
* ``gptj``: a parallel block with one LayerNorm (with bias); q, k, v and out without bias; the MLP
  (``n_inner``, default ``4·H``) with biases; ``rotary_dim`` (default 64) rotated per head; an
  untied LM head with a bias.
* ``qwen2_moe``: MoE layers as ``decoder_sparse_step`` and ``mlp_only_layers`` say (the others a
  dense gated MLP of ``intermediate_size``), each with one shared expert of
  ``shared_expert_intermediate_size`` behind a ``(H, 1)`` sigmoid gate; ``qkv_bias`` (default
  true) on q, k, v, none on o; with ``use_sliding_window``, the layers ``i < max_window_layers``
  with even ``i`` slide (``Qwen2MoeConfig.layer_types``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from symroof.model.hf.config import Config
from symroof.model.hf.families import Family, Reading, register
from symroof.model.layers import Attention, Layer

__all__: list[str] = []


def _each_attention(reading: Reading, change: Callable[[Attention], Attention]) -> None:
    reading.layers = [layer.replace(attention=change(layer.attention)) if layer.attention is not None else layer
                      for layer in reading.layers]


def _rotary_factor(cfg: Config) -> Any:
    """``partial_rotary_factor`` from ``rope_parameters`` (transformers 5) or the top level (older files)."""
    rope = cfg.data.get("rope_parameters")
    if isinstance(rope, dict) and rope.get("partial_rotary_factor") is not None:
        key, value = "rope_parameters.partial_rotary_factor", rope["partial_rotary_factor"]
    else:
        key, value = cfg.get("partial_rotary_factor", default=1.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValueError(f"config.json: {key}={value!r} must be a number in (0, 1]")
    return value


def _phi3(cfg: Config, reading: Reading) -> None:
    factor = _rotary_factor(cfg)
    if factor != 1:
        _each_attention(reading, lambda a: a.replace(rotary_dim=int(a.head_dim * factor)))


def _starcoder2(cfg: Config, reading: Reading) -> None:
    bias = cfg.flag("use_bias", True)       # Starcoder2MLP: c_fc and c_proj with bias=config.use_bias
    reading.fields["mlp_bias"] = bias
    reading.layers = [layer.replace(ffn=layer.ffn.replace(bias=bias)) if layer.ffn is not None else layer
                      for layer in reading.layers]


def _falcon(cfg: Config, reading: Reading) -> None:
    fields = reading.fields
    hidden, heads = fields["hidden"], fields["heads"]
    if hidden % heads:
        raise ValueError(f"config.json: num_attention_heads={heads} must divide hidden_size={hidden}")
    head_dim = hidden // heads                          # FalconConfig.head_dim, whatever the file says
    new = cfg.flag("new_decoder_architecture", False)
    parallel_attn = cfg.flag("parallel_attn", True)
    if new:
        kv = cfg.count("num_kv_heads", default=heads)
        if heads % kv:
            raise ValueError(f"config.json: num_kv_heads={kv} must divide num_attention_heads={heads}")
    else:
        kv = 1 if cfg.flag("multi_query", True) else heads
    ln_default = 2 if new else None
    ln = cfg.count("num_ln_in_parallel_attn", default=ln_default)
    norms = 2 if (not parallel_attn or ln == 2) else 1
    rope = not cfg.flag("alibi", False)
    fields.update(kv_heads=kv, head_dim=head_dim)
    cached = heads if new and kv != heads else None
    reading.layers = [layer.replace(
        attention=_attention(layer).replace(kv_heads=kv, head_dim=head_dim, rope=rope, cached_heads=cached),
        norms=norms, parallel=new or parallel_attn) for layer in reading.layers]
    if cached is not None:
        reading.notes.append(f"transformers' Falcon caches K and V broadcast to all {heads} heads (counted so); "
                             f"a server that keeps the {kv} KV heads caches {kv}/{heads} of it")


def _gptj(cfg: Config, reading: Reading) -> None:
    reading.fields["head_bias"] = True                  # GPTJForCausalLM.lm_head: nn.Linear(n_embd, vocab)
    rotary = cfg.count("rotary_dim", default=64)        # None: the whole head
    if rotary is not None:
        _each_attention(reading, lambda a: a.replace(rotary_dim=min(rotary, a.head_dim)))


def _qwen2_moe(cfg: Config, reading: Reading) -> None:
    qkv_bias = cfg.flag("qkv_bias", True)
    shared = cfg.count("shared_expert_intermediate_size", default=5632)
    reading.fields["qkv_bias"] = qkv_bias
    window = cfg.count("sliding_window", default=4096, zero=True) or None
    slide = (cfg.data.get("layer_types") is None and cfg.flag("use_sliding_window", False) and window is not None)
    first = cfg.count("max_window_layers", default=28, zero=True)
    out = []
    for i, layer in enumerate(reading.layers):
        a = _attention(layer).replace(qkv_bias=qkv_bias)
        if slide and i % 2 == 0 and i < first:
            a = a.replace(window=window)
        f = layer.ffn
        if f is not None and f.is_moe:
            f = f.replace(shared_experts=1, shared_width=shared, shared_gate=True)
        out.append(layer.replace(attention=a, ffn=f))
    reading.layers = out


register("phi3", Family("gated", windows="all", adjust=_phi3), "Phi3ForCausalLM")
register("olmo2", Family("gated", attention_bias="attention_bias", qk_norm="full"), "Olmo2ForCausalLM")
register("granite", Family("gated", attention_bias="attention_bias", mlp_bias="mlp_bias", not_modelled=(
    "the embedding, residual, attention and logits multipliers (elementwise scalings, no matmul)",)),
         "GraniteForCausalLM")
register("starcoder2", Family("dense", norm="layernorm", tied=True, attention_bias="use_bias", bias_default=True,
                              windows="all", adjust=_starcoder2, kv_default=2), "Starcoder2ForCausalLM")
register("falcon", Family("dense", norm="layernorm", tied=True, attention_bias="bias", mlp_bias="bias",
                          ffn_keys=("ffn_hidden_size",), adjust=_falcon), "FalconForCausalLM")
register("gptj", Family("dense", norm="layernorm", mlp_bias=True, norms=1, parallel=True, ffn_keys=("n_inner",),
                        adjust=_gptj), "GPTJForCausalLM")
register("qwen2_moe", Family("gated", qkv_bias=True, experts="num_experts", expert_ffn="moe_intermediate_size",
                             adjust=_qwen2_moe, kv_default=16), "Qwen2MoeForCausalLM")


def _attention(layer: Layer) -> Attention:
    """The layer's attention (these families' layers all have one)."""
    if layer.attention is None:
        raise ValueError("config.json: a layer of this family has no attention")
    return layer.attention
