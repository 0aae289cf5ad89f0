"""Build an `Arch` from a Hugging Face ``config.json``, without ``transformers``.

The file is parsed with :mod:`json` (never evaluated) and mapped key by key:

==========================  =========================================================
``Arch`` field              ``config.json`` keys (first one present wins)
==========================  =========================================================
``hidden``                  ``hidden_size``, ``n_embd``, ``d_model``
``layers``                  ``num_hidden_layers``, ``n_layer``
``heads``                   ``num_attention_heads``, ``n_head``
``kv_heads``                ``num_key_value_heads`` (absent or null: ``heads``, MHA)
``head_dim``                ``head_dim`` (absent or null: ``hidden / heads``)
``ffn_dim``                 ``intermediate_size``, ``n_inner`` (GPT-2: null is ``4·n_embd``)
``ffn_kind``                the family: gated (Llama, Mistral, Mixtral, Qwen2/3, Gemma)
                            or dense (GPT-2, GPT-NeoX); ``hidden_act`` changes no matmul
``vocab``                   ``vocab_size``
``tied_embeddings``         ``tie_word_embeddings``, else the family's default in
                            ``transformers`` (GPT-2 and Gemma tie; the others do not)
``*_bytes``                 ``torch_dtype`` or ``dtype`` (absent: 2 bytes, fp16/bf16)
``tensor_bytes``            ``quantization_config`` (`quantization_from_config`): each
                            quantised matrix its own bytes, ``weight_bytes`` the average
``qkv_bias``, ``out_bias``  ``attention_bias`` (Llama, Qwen3, Gemma, GPT-NeoX), or fixed
                            by the family (Qwen2: q/k/v only; GPT-2: all)
``mlp_bias``                ``mlp_bias`` (Llama), or fixed (GPT-2, GPT-NeoX: biased)
``max_positions``           ``n_positions`` (GPT-2's learned positions; 0 for RoPE)
``experts``, ...            ``num_local_experts`` / ``num_experts`` / ``n_routed_experts``,
                            ``num_experts_per_tok``, ``moe_intermediate_size``
``shared_experts``          ``n_shared_experts`` (DeepSeek)
``dense_layers``            ``first_k_dense_replace`` (DeepSeek's leading dense layers)
``kv_lora_rank``, ...       MLA (DeepSeek-V2/V3): ``kv_lora_rank``, ``q_lora_rank``,
                            ``qk_nope_head_dim``, ``qk_rope_head_dim``, ``v_head_dim``
==========================  =========================================================

The family comes from ``model_type`` (or, if absent, ``architectures``). What the
`Arch` cannot express and symroof therefore leaves out (a sliding attention window,
Qwen3's per-head q/k norms, Gemma-2's extra norms, DeepSeek's multi-token-prediction
module, an ignored ``quantization_config``) is listed in the `Arch`'s ``source``, never
dropped silently. A bad file raises one ``ValueError`` naming the key.

Examples
--------
>>> arch = from_hf_config({"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32,
...                        "num_attention_heads": 32, "num_key_value_heads": 8,
...                        "intermediate_size": 14336, "vocab_size": 128256})
>>> arch.kv_width, arch.ffn_kind, arch.tied_embeddings
(1024, 'gated', False)
>>> from_hf_config({"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12,
...                 "vocab_size": 50257}).ffn_dim
3072
>>> from_hf_config({"model_type": "llama", "hidden_size": -1})
Traceback (most recent call last):
...
ValueError: config.json: hidden_size=-1 must be a positive integer
"""


from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from symroof.model.arch import Arch
from symroof.model.hf.config import HF_DTYPES, dtype_bytes, dtype_name, read_config
from symroof.model.hf.config import Config as _Config
from symroof.model.hf.quant import QUANT_METHODS, quantization_from_config
from symroof.model.precision import BYTES

__all__ = ["FAMILIES", "HF_DTYPES", "QUANT_METHODS", "Family", "dtype_bytes", "dtype_name", "from_hf_config",
           "quantization_from_config", "read_config"]


@dataclass(frozen=True)
class Family:
    """How one ``model_type`` of ``transformers`` lays out its decoder layer.

    ``attention_bias``: the key that switches the biases of q, k, v and o together
    (None: fixed by ``qkv_bias`` / ``out_bias``). Defaults are those of the family's
    ``transformers`` config class, which ``save_pretrained`` leaves out of the file
    when a value equals them.
    """

    ffn_kind: Literal["dense", "gated"]        # "gated": gate/up/down; "dense": up/down
    norm: Literal["layernorm", "rmsnorm"] = "rmsnorm"
    tied: bool = False                 # default of tie_word_embeddings
    attention_bias: str | None = None  # key for q, k, v, o biases together
    bias_default: bool = False         # its default
    qkv_bias: bool = False             # fixed biases when attention_bias is None
    out_bias: bool = False
    mlp_bias: str | bool = False       # a key (default False), or fixed
    learned_positions: str | None = None   # key of the learned position table's size
    positions_default: int = 0             # its default
    experts: str | None = None         # key of the routed-expert count (MoE)
    expert_ffn: str = "intermediate_size"  # key of each expert's width
    shared_experts: str | None = None  # key of the always-active experts' count (DeepSeek)
    shared_default: int = 0
    dense_layers: str | None = None    # key of the number of leading dense-FFN layers (DeepSeek)
    dense_default: int = 0
    mla: bool = False                  # multi-head latent attention (kv_lora_rank, ...)
    not_modelled: tuple[str, ...] = ()     # what this family has that Arch does not count


FAMILIES: dict[str, Family] = {
    "llama": Family("gated", attention_bias="attention_bias", mlp_bias="mlp_bias"),
    "mistral": Family("gated"),
    "mixtral": Family("gated", experts="num_local_experts"),
    "qwen2": Family("gated", qkv_bias=True),         # Qwen2Attention: q/k/v bias=True, o bias=False
    "qwen3": Family("gated", attention_bias="attention_bias",
                    not_modelled=("q_norm/k_norm (2·head_dim parameters per layer)",)),
    "qwen3_moe": Family("gated", attention_bias="attention_bias", experts="num_experts",
                        expert_ffn="moe_intermediate_size",
                        not_modelled=("q_norm/k_norm (2·head_dim parameters per layer)",)),
    "gemma": Family("gated", tied=True, attention_bias="attention_bias"),
    "gemma2": Family("gated", tied=True, attention_bias="attention_bias",
                     not_modelled=("pre/post-feedforward norms (2·hidden parameters per layer)",
                                   "attention and final logit soft-capping")),
    "gpt2": Family("dense", norm="layernorm", tied=True, qkv_bias=True, out_bias=True, mlp_bias=True,
                   learned_positions="n_positions", positions_default=1024),
    "gpt_neox": Family("dense", norm="layernorm", attention_bias="attention_bias", bias_default=True,
                       mlp_bias=True, not_modelled=("parallel residual (no change to FLOPs or bytes)",)),
    # DeepSeek-V2/V3: MLA attention; the first first_k_dense_replace layers dense, the others MoE with
    # n_routed_experts of width moe_intermediate_size and n_shared_experts always active.
    "deepseek_v2": Family("gated", attention_bias="attention_bias", experts="n_routed_experts",
                          expert_ffn="moe_intermediate_size", shared_experts="n_shared_experts",
                          dense_layers="first_k_dense_replace", mla=True),
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

def _family(cfg: _Config) -> tuple[str, Family]:
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


def from_hf_config(config: str | os.PathLike[str] | Mapping[str, Any], *, name: str | None = None,
                   dtype: str | None = None, quantization: Literal["apply", "ignore"] = "apply") -> Arch:
    """An `Arch` from a Hugging Face ``config.json`` (a path, a folder holding one, or its dict).

    ``name`` names the result (default: ``_name_or_path``, else the file's name);
    ``dtype`` overrides the file's ``torch_dtype`` for weights, activations and KV cache
    (for a quantised checkpoint: the compute dtype, i.e. everything but the quantised matrices).
    A ``quantization_config`` (`quantization_from_config`) gives each tensor its own bytes per
    element (`symroof.precision.Quantization.apply`); ``quantization="ignore"`` leaves it out
    (every weight at the dtype, and the config named in the ``source``).
    """
    if quantization not in ("apply", "ignore"):
        raise ValueError(f"quantization={quantization!r} must be 'apply' or 'ignore'")
    if isinstance(config, Mapping):
        data, where = config, "a config dict"
    elif isinstance(config, (str, os.PathLike)):
        data, where = read_config(config), str(config)
    else:
        raise ValueError(f"config must be a path or a dict, not {type(config).__name__}")
    cfg = _Config(data)
    if "text_config" in data and "hidden_size" not in data and isinstance(data["text_config"], Mapping):
        cfg = _Config(data["text_config"])          # multimodal wrappers (Gemma 3, Llava): the text model
    model_type, fam = _family(cfg)

    hidden_key, hidden = cfg.named_count("hidden_size", "n_embd", "d_model")
    heads_key, heads = cfg.named_count("num_attention_heads", "n_head")
    kv_heads = cfg.count("num_key_value_heads", default=heads)
    head_dim = cfg.count("head_dim", default=None)          # explicit head_dim wins over hidden/heads
    mla: dict[str, Any] = {}
    if fam.mla:
        # Arch derives the query/key head width, qk_nope_head_dim + qk_rope_head_dim (transformers 5
        # writes head_dim = qk_rope_head_dim, the RoPE part only)
        head_dim = None
        mla = {key: cfg.count(key) for key in ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
                                               "v_head_dim")}
        mla["q_lora_rank"] = cfg.count("q_lora_rank", default=None)     # null: queries not compressed
    elif head_dim is None and hidden % heads:
        raise ValueError(f"config.json: {heads_key}={heads} must divide {hidden_key}={hidden} "
                         "(or give head_dim)")
    if heads % kv_heads:
        raise ValueError(f"config.json: num_key_value_heads={kv_heads} must divide {heads_key}={heads}")
    if model_type == "gpt2":
        ffn_dim = cfg.count("n_inner", default=4 * hidden)   # GPT2MLP: n_inner None -> 4·n_embd
    else:
        ffn_dim = cfg.count("intermediate_size")

    if fam.attention_bias:
        qkv_bias = out_bias = cfg.flag(fam.attention_bias, fam.bias_default)
    else:
        qkv_bias, out_bias = fam.qkv_bias, fam.out_bias
    mlp_bias = cfg.flag(fam.mlp_bias, False) if isinstance(fam.mlp_bias, str) else fam.mlp_bias

    moe: dict[str, Any] = {}
    if fam.experts:
        experts = cfg.count(fam.experts)
        per_token = cfg.count("num_experts_per_tok")
        if per_token > experts:
            raise ValueError(f"config.json: num_experts_per_tok={per_token} must not exceed "
                             f"{fam.experts}={experts}")
        moe = dict(experts=experts, experts_per_token=per_token, expert_ffn_dim=cfg.count(fam.expert_ffn))
        if fam.shared_experts:
            moe["shared_experts"] = cfg.count(fam.shared_experts, default=fam.shared_default, zero=True)
        if fam.dense_layers:
            moe["dense_layers"] = cfg.count(fam.dense_layers, default=fam.dense_default, zero=True)
        _uniform_moe(cfg)

    byte_key, byte_name = cfg.get("torch_dtype", "dtype", default=None)
    if dtype is not None:
        compute = dtype_name(dtype)
    elif byte_name is not None:
        compute = dtype_name(byte_name, byte_key)
    else:
        compute = "fp16"                            # absent: 2 bytes, fp16/bf16
    nbytes = BYTES[compute]
    quant = data.get("quantization_config", cfg.data.get("quantization_config"))
    scheme = None
    if quant is not None and quantization == "apply":
        scheme = quantization_from_config(quant, compute)

    notes = list(fam.not_modelled)
    window = cfg.data.get("sliding_window")
    if window is not None and cfg.data.get("use_sliding_window", True):
        notes.append(f"sliding_window={window} (full attention assumed)")
    mtp = cfg.data.get("num_nextn_predict_layers")
    if mtp:
        notes.append(f"num_nextn_predict_layers={mtp} (the multi-token-prediction module)")
    if isinstance(quant, Mapping) and scheme is None:
        notes.append(f"quantization_config (quant_method={quant.get('quant_method')!r}, ignored): bytes per "
                     "weight from the dtype")
    source = f"Hugging Face config.json ({where})"
    if scheme is not None:
        source += f"; weights quantised: {scheme.describe()}"
    if notes:
        source += "; not modelled: " + "; ".join(notes)

    arch = Arch(
        hidden=hidden, layers=cfg.count("num_hidden_layers", "n_layer"), heads=heads, kv_heads=kv_heads,
        head_dim=head_dim, ffn_dim=ffn_dim, ffn_kind=fam.ffn_kind, vocab=cfg.count("vocab_size"),
        tied_embeddings=cfg.flag("tie_word_embeddings", fam.tied),
        weight_bytes=nbytes, act_bytes=nbytes, kv_bytes=nbytes, norm=fam.norm,
        qkv_bias=qkv_bias, out_bias=out_bias, mlp_bias=mlp_bias,
        max_positions=cfg.count(fam.learned_positions, default=fam.positions_default) if fam.learned_positions else 0,
        name=name if name is not None else _default_name(cfg, config), source=source, **moe, **mla,
    )
    return arch if scheme is None else scheme.apply(arch)


def _uniform_moe(cfg: _Config) -> None:
    """MoE in every layer (after DeepSeek's leading dense ones): `Arch` has no other pattern."""
    for key, uniform in (("decoder_sparse_step", 1), ("moe_layer_freq", 1), ("mlp_only_layers", [])):
        value = cfg.data.get(key)
        if value is not None and value != uniform:
            raise ValueError(f"config.json: {key}={value!r}: MoE layers interleaved with dense ones are not "
                             f"supported (only {key}={uniform!r})")


def _default_name(cfg: _Config, config: object) -> str:
    given = cfg.data.get("_name_or_path")
    if isinstance(given, str) and given:
        return given
    if isinstance(config, (str, os.PathLike)):
        path = Path(config)
        if path.is_dir():
            return path.resolve().name
        return path.resolve().parent.name if path.stem == "config" else path.stem
    return cfg.text("model_type") or "hf-config"
