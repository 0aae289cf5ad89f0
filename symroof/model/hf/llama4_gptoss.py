"""Llama 4 (``llama4``, ``llama4_text``) and gpt-oss (``gpt_oss``), read as transformers 5 builds them.

Llama 4 (``models/llama4/configuration_llama4.py``, ``modeling_llama4.py``):

* ``no_rope_layers[i]`` is 1 for a RoPE layer and 0 for a NoPE one (absent or empty: a NoPE layer
  every ``no_rope_layer_interval`` layers, default 4, the last of each period);
* ``layer_types`` (absent: ``chunked_attention`` on the RoPE layers when ``attention_chunk_size``
  is set, default 8192, else ``full_attention``): a chunked layer's cache keeps ``C - 1`` tokens
  (``DynamicSlidingWindowLayer`` with ``sliding_window = attention_chunk_size``);
* MoE on ``moe_layers`` (absent: every ``interleave_moe_layer_step``-th layer, the last of each
  period): ``num_local_experts`` routed experts of ``intermediate_size``, ``num_experts_per_tok``
  per token, one shared expert of ``intermediate_size``, a router without bias; the other layers a
  dense gated FFN of ``intermediate_size_mlp`` (default 16384);
* ``use_qk_norm``: an L2 norm without parameters on the RoPE layers' q and k, and
  ``attn_temperature_tuning``: a per-position scale of the NoPE layers' queries. Neither holds a
  parameter or a matmul; both are elementwise work symroof does not count.

``Llama4TextExperts`` multiplies **every** expert by **every** token (the router's unchosen scores
are 0 after the sigmoid): an eager transformers forward does ``E/k`` times the routed FLOPs a
grouped kernel does. symroof counts the ``k`` routed experts (what vLLM and SGLang compute).

gpt-oss (``models/gpt_oss/``): ``layer_types`` alternates sliding (``sliding_window``, default
128) and full attention, starting sliding; q, k, v and o biases (``attention_bias``, default
true); one learned sink logit per head; MoE in every layer with a biased router and biased
experts (``gate_up_proj_bias``, ``down_proj_bias``); ``head_dim`` default 64. Its clamped SwiGLU
is elementwise. The published checkpoints' ``quantization_config`` (``quant_method: "mxfp4"``)
is read by `symroof.model.hf.quant`.
"""

from __future__ import annotations

from symroof.model.hf.config import Config as _Config
from symroof.model.hf.families import Family, Reading, register
from symroof.model.layers import FFN, Layer

__all__: list[str] = []


def _index_list(cfg: _Config, key: str, layers: int, values: tuple[int, ...] | None = None) -> list[int] | None:
    """``key`` as a list of ints (layer indices, or with ``values`` one flag per layer), None if absent."""
    given = cfg.data.get(key)
    if given is None:
        return None
    ok = isinstance(given, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in given)
    if ok and values is not None:
        ok = (not given or len(given) >= layers) and all(v in values for v in given)   # []: the default
    elif ok:
        ok = all(0 <= v < layers for v in given)
    if not ok:
        what = f"at least {layers} of 0 or 1" if values is not None else f"layer indices below {layers}"
        raise ValueError(f"config.json: {key}={given!r} must list {what}")
    return list(given)


def _head_dim(cfg: _Config, reading: Reading, default: int) -> None:
    """The config class's ``head_dim`` default when the key is absent (an explicit null is
    ``hidden_size // num_attention_heads``, as the generic reader has it)."""
    fields = reading.fields
    if "head_dim" not in cfg.data:
        fields["head_dim"] = default
    elif cfg.data["head_dim"] is None:
        fields["head_dim"] = fields["hidden"] // fields["heads"]


def _llama4(cfg: _Config, reading: Reading) -> None:
    fields = reading.fields
    layers = fields["layers"]
    _head_dim(cfg, reading, 128)                     # Llama4TextConfig: head_dim 128
    rope = _index_list(cfg, "no_rope_layers", layers, (0, 1))
    if not rope:                                     # absent or [] (as Scout writes it): the interval
        interval = cfg.count("no_rope_layer_interval", default=4)
        rope = [int((i + 1) % interval != 0) for i in range(layers)]
    # attention_chunk_size: default 8192; an explicit null turns chunking off
    chunk = None if cfg.data.get("attention_chunk_size", 0) is None else cfg.count("attention_chunk_size",
                                                                                    default=8192)
    given = cfg.data.get("layer_types")
    if given is not None:
        kinds = list(given)                          # validated by the generic reader
    else:
        kinds = ["chunked_attention" if r and chunk is not None else "full_attention" for r in rope[:layers]]
    if "chunked_attention" in kinds and chunk is None:
        raise ValueError("config.json: layer_types has chunked layers but attention_chunk_size is null")
    moe_at = _index_list(cfg, "moe_layers", layers)
    if moe_at is None:
        step = cfg.count("interleave_moe_layer_step", default=1)
        moe_at = list(range(step - 1, layers, step))
    experts = cfg.count("num_local_experts", default=16)
    per_token = cfg.count("num_experts_per_tok", default=1)
    if per_token > experts:
        raise ValueError(f"config.json: num_experts_per_tok={per_token} must not exceed num_local_experts={experts}")
    width = fields["ffn_dim"]                        # intermediate_size: each expert and the shared one
    dense_width = cfg.count("intermediate_size_mlp", default=16384)
    bias = fields["qkv_bias"]
    template = reading.layers[0].attention
    assert template is not None
    base = template.replace(head_dim=fields["head_dim"], window=None, chunk=None, qkv_bias=bias, out_bias=bias,
                            qk_norm="none")
    moe = FFN(width, experts=experts, experts_per_token=per_token, shared_experts=1, shared_width=width)
    dense = FFN(dense_width)
    out = []
    for i in range(layers):
        a = base.replace(rope=bool(rope[i]))
        if kinds[i] == "chunked_attention":
            a = a.replace(chunk=chunk)
        out.append(Layer(a, moe if i in moe_at else dense))
    reading.layers[:] = out
    if moe_at:
        fields.update(experts=experts, experts_per_token=per_token, expert_ffn_dim=width, shared_experts=1)
    if len(moe_at) < layers:
        fields["ffn_dim"] = dense_width
    if experts > per_token and moe_at:
        reading.notes.append("Llama4TextExperts (eager transformers) multiplies every expert by every token; "
                             "symroof counts the routed experts_per_token")


def _gpt_oss(cfg: _Config, reading: Reading) -> None:
    _head_dim(cfg, reading, 64)                      # GptOssConfig: head_dim 64
    for i, layer in enumerate(reading.layers):
        assert layer.attention is not None and layer.ffn is not None
        attention = layer.attention.replace(head_dim=reading.fields["head_dim"], sinks=True)
        reading.layers[i] = layer.replace(attention=attention,
                                          ffn=layer.ffn.replace(router_bias=True, bias=True))
    reading.fields["mlp_bias"] = True


_LLAMA4 = Family("gated", attention_bias="attention_bias", adjust=_llama4, kv_default=8,
                 not_modelled=("Llama 4's L2 q/k norm and attention temperature tuning (elementwise)",))
register("llama4_text", _LLAMA4, "Llama4ForCausalLM")
register("llama4", _LLAMA4, "Llama4ForConditionalGeneration")

# GptOssConfig: attention_bias default true, head_dim 64, sliding_window 128, layer_types alternating
# from a sliding layer (the "pattern" rule with a period of 2), MoE in every layer
register("gpt_oss", Family("gated", attention_bias="attention_bias", bias_default=True,
                           experts=("num_local_experts", "num_experts"), windows="pattern", window_default=128,
                           pattern_default=2, adjust=_gpt_oss, kv_default=8,
                           not_modelled=("gpt-oss's clamped SwiGLU (elementwise)",)),
         "GptOssForCausalLM")
