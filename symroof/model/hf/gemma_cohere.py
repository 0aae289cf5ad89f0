"""Gemma 3 (``gemma3_text``, and the text part of ``gemma3``'s multimodal wrapper), Cohere (Command R)
and Cohere 2 (Command R7B, Command A), read as ``transformers`` 5.24 builds them.

Gemma 3 (``Gemma3TextConfig``, ``modeling_gemma3.py``): gated GeGLU FFN, four RMSNorms of H per layer,
per-head q/k RMSNorms of ``head_dim``, a tied head, an explicit ``head_dim``; ``layer_types`` by default
one full layer in ``sliding_window_pattern`` (6), the others sliding over ``sliding_window`` (4096)
keys. With ``use_bidirectional_attention`` the config keeps ``sliding_window // 2 + 1`` (its
``__post_init__``; ``to_dict`` writes back ``2·(w - 1)``) and that is the window the cache and the
masks use, so it is the window read here. ``query_pre_attn_scalar`` and the ``sqrt(H)`` embedding
scale are scalars (no matmul, no parameter).

Cohere (``CohereConfig``, ``modeling_cohere.py``): one bias-free LayerNorm per layer feeding attention
and the gated FFN side by side (a parallel block), a tied head scaled by ``logit_scale``; with
``use_qk_norm`` bias-free LayerNorms of weight ``(heads, head_dim)`` on q and ``(kv_heads, head_dim)``
on k, ``(n_h + n_kv)·d_h`` parameters, counted as a ``full`` q/k norm.

Cohere 2 (``Cohere2Config``): Cohere's block without q/k norms; ``layer_types`` by default one full
layer in ``sliding_window_pattern`` (4); rotary positions only on the sliding layers (the full ones
are NoPE). Its ``__post_init__`` sets ``head_dim = hidden_size // num_attention_heads``, but a
``head_dim`` key is applied after it and wins (transformers 5.24), as in the generic reading.
"""

from __future__ import annotations

from symroof.model.hf.config import Config
from symroof.model.hf.families import Family, Reading, register


def _needs_window(cfg: Config, reading: Reading, period: int) -> None:
    """transformers builds sliding layers from the pattern even when ``sliding_window`` is null (and then
    cannot build their cache): refuse such a file in one line rather than read it as full attention."""
    given = cfg.data.get("layer_types")
    slides = "sliding_attention" in given if isinstance(given, list) else period > 1
    if "sliding_window" in cfg.data and cfg.data["sliding_window"] is None and slides:
        raise ValueError("config.json: sliding_window=null but the layer pattern has sliding layers")


def _period(cfg: Config, default: int) -> int:
    return cfg.count("sliding_window_pattern", default=default)


def _gemma3(cfg: Config, reading: Reading) -> None:
    hidden, heads = reading.fields["hidden"], reading.fields["heads"]
    if hidden % heads:       # Gemma3TextConfig.validate_architecture, though head_dim is explicit
        raise ValueError(f"config.json: num_attention_heads={heads} must divide hidden_size={hidden} "
                         "(Gemma3TextConfig requires it)")
    _needs_window(cfg, reading, _period(cfg, 6))
    if cfg.flag("use_bidirectional_attention", False):
        window = cfg.count("sliding_window", default=4096) // 2 + 1     # Gemma3TextConfig.__post_init__
        reading.layers = [layer.replace(attention=layer.attention.replace(window=window))
                          if layer.attention is not None and layer.attention.window is not None else layer
                          for layer in reading.layers]
        if reading.fields.get("window") is not None:
            reading.fields["window"] = window
        reading.notes.append(f"use_bidirectional_attention: each token also sees the {window - 1} after it "
                             f"(window sliding_window // 2 + 1 = {window}, as transformers keeps it)")


def _cohere(cfg: Config, reading: Reading) -> None:
    if cfg.flag("use_qk_norm", False):
        reading.layers = [layer.replace(attention=layer.attention.replace(qk_norm="full"))
                          if layer.attention is not None else layer for layer in reading.layers]


def _cohere2(cfg: Config, reading: Reading) -> None:
    _needs_window(cfg, reading, _period(cfg, 4))
    out = []
    for layer in reading.layers:
        a = layer.attention
        assert a is not None
        out.append(layer.replace(attention=a.replace(rope=a.window is not None)))     # full layers are NoPE
    reading.layers = out


SOFTCAP = "attention and final logit soft-capping when set (elementwise, no matmul)"

GEMMA3 = Family(
    "gated", tied=True, attention_bias="attention_bias", windows="pattern", window_default=4096,
    pattern_default=6, norms=4, qk_norm="head",
    not_modelled=(SOFTCAP, "query_pre_attn_scalar and the sqrt(H) embedding scale (scalars, no matmul)"),
    adjust=_gemma3,
    defaults=dict(vocab_size=262208, hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
                  num_attention_heads=8, num_key_value_heads=4, head_dim=256),
)

_COHERE_DEFAULTS = dict(vocab_size=256000, hidden_size=8192, intermediate_size=22528, num_hidden_layers=40,
                        num_attention_heads=64)

COHERE = Family(
    "gated", norm="layernorm-nobias", tied=True, attention_bias="attention_bias", norms=1, parallel=True,
    not_modelled=("logit_scale (a scalar on the logits, no matmul)",),
    adjust=_cohere, defaults=_COHERE_DEFAULTS,
)

COHERE2 = Family(
    "gated", norm="layernorm-nobias", tied=True, attention_bias="attention_bias", norms=1, parallel=True,
    windows="pattern", window_default=4096, pattern_default=4,
    not_modelled=("logit_scale (a scalar on the logits, no matmul)",),
    adjust=_cohere2, defaults=_COHERE_DEFAULTS,
)

# gemma3: the multimodal wrapper (Gemma3Config); from_hf_config reads its text_config, whose
# model_type is gemma3_text (or, when absent, the wrapper's): the same layout
register("gemma3_text", GEMMA3, "Gemma3ForCausalLM")
register("gemma3", GEMMA3, "Gemma3ForConditionalGeneration")
register("cohere", COHERE, "CohereForCausalLM")
register("cohere2", COHERE2, "Cohere2ForCausalLM")
