"""The families symroof reads: how each ``model_type`` of ``transformers`` lays out its layers
(`Family`), the registry (`FAMILIES`, `register`), and what a reading holds before it becomes an
`Arch` (`Reading`). A module per family group (``symroof.model.hf.<group>``) registers its own."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from symroof.model.hf.config import Config as _Config
from symroof.model.layers import Layer

__all__ = ["FAMILIES", "Family", "Reading", "family_of", "register"]


@dataclass(frozen=True)
class Family:
    """How one ``model_type`` of ``transformers`` lays out its decoder layers.

    Defaults are those of the family's ``transformers`` config class, which ``save_pretrained``
    leaves out of the file when a value equals them. ``attention_bias``: the key that switches
    the biases of q, k, v and o together (None: fixed by ``qkv_bias`` / ``out_bias``).

    Which layers slide (``windows``): ``none``; ``all`` (every layer, when ``sliding_window`` is
    set: Mistral, Mixtral, Phi-3, Starcoder2, Qwen3-MoE's ``use_sliding_window``); ``qwen``
    (``use_sliding_window`` and layer index ``>= max_window_layers``, Qwen2/Qwen3); ``pattern``
    (one full layer in every ``pattern`` layers, the rest sliding: Gemma 2, gpt-oss, Gemma 3,
    Cohere 2). A config's own ``layer_types`` list wins over the rule, as in transformers.

    MoE layers (with ``experts``): every layer but the first ``dense_layers`` (DeepSeek), those in
    ``mlp_only_layers``, and those off the ``decoder_sparse_step`` (Qwen-MoE). ``adjust``: a hook
    that edits the `Reading` (per-layer details a family of its own needs); ``read``: a reader that
replaces the generic one (the state-space and hybrid families, `symroof.model.hf.hybrid`).
    """

    ffn_kind: Literal["dense", "gated"]        # "gated": gate/up/down; "dense": up/down
    norm: Literal["layernorm", "rmsnorm", "layernorm-nobias"] = "rmsnorm"
    tied: bool = False                 # default of tie_word_embeddings
    attention_bias: str | None = None  # key for q, k, v, o biases together
    bias_default: bool = False         # its default
    qkv_bias: bool = False             # fixed biases when attention_bias is None
    out_bias: bool = False
    mlp_bias: str | bool = False       # a key (default False), or fixed
    learned_positions: str | None = None   # key of the learned position table's size
    positions_default: int = 0             # its default
    experts: str | tuple[str, ...] | None = None   # key(s) of the routed-expert count (MoE), first present wins
    expert_ffn: str = "intermediate_size"  # key of each expert's width
    shared_experts: str | None = None  # key of the always-active experts' count (DeepSeek)
    shared_default: int = 0
    dense_layers: str | None = None    # key of the number of leading dense-FFN layers (DeepSeek)
    dense_default: int = 0
    mla: bool = False                  # multi-head latent attention (kv_lora_rank, ...)
    windows: Literal["none", "all", "qwen", "pattern"] = "none"
    window_default: int | None = None  # default of sliding_window
    window_flag: str | None = None     # a key that must be true for the window to apply (use_sliding_window)
    pattern_default: int = 2           # "pattern": one full layer in this many
    norms: int = 2                     # norm vectors of width H per layer
    qk_norm: Literal["none", "head", "full"] = "none"
    parallel: bool = False             # attention and FFN side by side on one input
    not_modelled: tuple[str, ...] = ()     # what this family has that symroof does not count
    adjust: Callable[[_Config, Reading], None] | None = field(default=None, compare=False)
    # the config class's defaults of keys a saved file may leave out (save_pretrained drops values equal
    # to them; Gemma 3's text_config often holds only a few keys), used where a key is absent or null
    defaults: Mapping[str, Any] = field(default_factory=dict, compare=False)
    pattern_key: str | None = "sliding_window_pattern"   # "pattern": the key of the period (None: fixed)
    # a reader of its own in place of the generic one (families without attention keys: Mamba)
    read: Callable[[_Config, str, Family], Reading] | None = field(default=None, compare=False)
    # keys of the FFN width, absent or null: 4·hidden (GPT-J's n_inner, Falcon's ffn_hidden_size)
    ffn_keys: tuple[str, ...] = ()
    # the config class's num_key_value_heads and head_dim when the key is left out (None: all heads,
    # hidden / heads); an explicit null is all heads, hidden / heads
    kv_default: int | None = None
    head_dim_default: int | None = None


@dataclass
class Reading:
    """What `from_hf_config` read, before it becomes an `Arch`: the model-level fields (``fields``),
    one `Layer` per layer in model order (``layers``) and the notes for the source. A family's
    ``adjust`` hook may edit any of it."""

    fields: dict[str, Any]
    layers: list[Layer]
    notes: list[str]


FAMILIES: dict[str, Family] = {
    "llama": Family("gated", attention_bias="attention_bias", mlp_bias="mlp_bias"),
    # MistralConfig, MixtralConfig: num_key_value_heads 8; Qwen2Config, Qwen3Config 32 (Qwen3: head_dim 128);
    # Qwen3MoeConfig 4
    "mistral": Family("gated", windows="all", window_default=4096, kv_default=8),
    "mixtral": Family("gated", experts="num_local_experts", windows="all", kv_default=8),
    # Qwen2Attention: q/k/v bias=True, o bias=False
    "qwen2": Family("gated", qkv_bias=True, windows="qwen", window_default=4096, window_flag="use_sliding_window",
                    kv_default=32),
    "qwen3": Family("gated", attention_bias="attention_bias", qk_norm="head", windows="qwen", window_default=4096,
                    window_flag="use_sliding_window", kv_default=32, head_dim_default=128),
    "qwen3_moe": Family("gated", attention_bias="attention_bias", experts=("num_experts", "num_local_experts"),
                        expert_ffn="moe_intermediate_size", qk_norm="head", windows="all",
                        window_default=4096, window_flag="use_sliding_window", kv_default=4),
    "gemma": Family("gated", tied=True, attention_bias="attention_bias",
                    defaults=dict(vocab_size=256000, hidden_size=3072, intermediate_size=24576, num_hidden_layers=28,
                                  num_attention_heads=16, num_key_value_heads=16, head_dim=256)),
    # Gemma2Config: layer_types from a fixed period of 2 (a sliding_window_pattern key is ignored)
    "gemma2": Family("gated", tied=True, attention_bias="attention_bias", windows="pattern", window_default=4096,
                     pattern_default=2, norms=4, not_modelled=("attention and final logit soft-capping",),
                     defaults=dict(vocab_size=256000, hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
                                   num_attention_heads=8, num_key_value_heads=4, head_dim=256),
                     pattern_key=None),
    "gpt2": Family("dense", norm="layernorm", tied=True, qkv_bias=True, out_bias=True, mlp_bias=True,
                   learned_positions="n_positions", positions_default=1024),
    "gpt_neox": Family("dense", norm="layernorm", attention_bias="attention_bias", bias_default=True,
                       mlp_bias=True, not_modelled=("parallel residual (no change to FLOPs or bytes)",)),
    # DeepSeek-V2/V3: MLA attention; the first first_k_dense_replace layers dense, the others MoE with
    # n_routed_experts of width moe_intermediate_size and n_shared_experts always active.
    "deepseek_v2": Family("gated", attention_bias="attention_bias", experts="n_routed_experts",
                          expert_ffn="moe_intermediate_size", shared_experts="n_shared_experts",
                          shared_default=2, dense_layers="first_k_dense_replace", mla=True),
    "deepseek_v3": Family("gated", attention_bias="attention_bias", experts="n_routed_experts",
                          expert_ffn="moe_intermediate_size", shared_experts="n_shared_experts",
                          shared_default=1, dense_layers="first_k_dense_replace", dense_default=3, mla=True),
}

# ``architectures[0]`` -> model_type, for configs written without ``model_type``.
_ARCHITECTURES = {
    "LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral", "MixtralForCausalLM": "mixtral",
    "Qwen2ForCausalLM": "qwen2", "Qwen3ForCausalLM": "qwen3", "Qwen3MoeForCausalLM": "qwen3_moe",
    "GemmaForCausalLM": "gemma", "Gemma2ForCausalLM": "gemma2", "GPT2LMHeadModel": "gpt2",
    "GPTNeoXForCausalLM": "gpt_neox", "DeepseekV2ForCausalLM": "deepseek_v2",
    "DeepseekV3ForCausalLM": "deepseek_v3",
}


def register(model_type: str, family: Family, *architectures: str) -> None:
    """Add a family (a module per family group calls this at import), with its ``architectures`` names."""
    if model_type in FAMILIES:
        raise ValueError(f"model_type {model_type!r} is registered twice")
    FAMILIES[model_type] = family
    for name in architectures:
        _ARCHITECTURES[name] = model_type


def family_of(cfg: _Config) -> tuple[str, Family]:
    model_type = cfg.text("model_type")
    if model_type is None:
        _, archs = cfg.get("architectures", default=[])
        first = archs[0] if isinstance(archs, list) and archs else None
        model_type = _ARCHITECTURES.get(first) if isinstance(first, str) else None
        if model_type is None:
            raise ValueError(f"config.json has no model_type and architectures={archs!r} is not one of "
                             f"{', '.join(_ARCHITECTURES)}")
    if model_type not in FAMILIES:
        raise ValueError(f"config.json: model_type={model_type!r} is not supported; supported: "
                         f"{', '.join(FAMILIES)}")
    return model_type, FAMILIES[model_type]


