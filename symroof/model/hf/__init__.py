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

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sympy

from symroof.model.arch import Arch
from symroof.model.precision import BYTES, Layout, Quantization

__all__ = ["FAMILIES", "HF_DTYPES", "QUANT_METHODS", "Family", "dtype_bytes", "dtype_name", "from_hf_config",
           "quantization_from_config", "read_config"]

# The dtype names Hugging Face writes (``torch_dtype`` / ``dtype``) -> symroof's short names
# (`symroof.precision.DTYPES`, also the keys of the hardware catalogue's peaks).
HF_DTYPES: dict[str, str] = {
    "float32": "fp32", "float": "fp32", "bfloat16": "bf16", "float16": "fp16", "half": "fp16",
    "float8_e4m3fn": "fp8", "float8_e5m2": "fp8", "int8": "int8",
}


def dtype_name(name: object, key: str = "dtype") -> str:
    """symroof's short name of a dtype (``"torch.bfloat16"`` -> ``"bf16"``; short names pass).

    >>> dtype_name("torch.bfloat16"), dtype_name("float8_e4m3fn"), dtype_name("int4")
    ('bf16', 'fp8', 'int4')
    """
    if not isinstance(name, str):
        raise ValueError(f"{key}={name!r} must be a dtype name such as 'bfloat16'")
    short = name.strip().lower().removeprefix("torch.")
    short = HF_DTYPES.get(short, short)
    if short not in BYTES:
        known = ", ".join([*BYTES, *HF_DTYPES])
        raise ValueError(f"{key}={name!r} is not a known dtype; known: {known}")
    return short


def dtype_bytes(name: object, key: str = "dtype") -> sympy.Expr:
    """Bytes per element of a dtype name, exact.

    >>> dtype_bytes("bfloat16"), dtype_bytes("int4")
    (2, 1/2)
    """
    return BYTES[dtype_name(name, key)]


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

_MISSING = object()


def read_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``config.json`` (or a folder holding one) into a dict, or raise one clear ``ValueError``."""
    file = Path(path)
    if file.is_dir():
        file = file / "config.json"
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read config file {str(file)!r}: {err}") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise ValueError(f"config file {str(file)!r} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"config file {str(file)!r} must hold a JSON object, not {_json_type(data)}")
    return data


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _json_type(value: object) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


class _Config:
    """Typed, key-naming access to a config dict."""

    def __init__(self, data: Mapping[str, Any]):
        self.data = data

    def get(self, *keys: str, default: Any = _MISSING) -> tuple[str, Any]:
        """The first of ``keys`` present and not null, with its name."""
        for key in keys:
            if self.data.get(key) is not None:
                return key, self.data[key]
        if default is _MISSING:
            also = f" (nor {', '.join(keys[1:])})" if len(keys) > 1 else ""
            raise ValueError(f"config.json has no {keys[0]}{also}")
        return keys[0], default

    def count(self, *keys: str, default: Any = _MISSING, zero: bool = False) -> Any:
        """A positive (or with ``zero``, non-negative) integer, or ``default`` (which may be None)."""
        return self.named_count(*keys, default=default, zero=zero)[1]

    def named_count(self, *keys: str, default: Any = _MISSING, zero: bool = False) -> tuple[str, Any]:
        key, value = self.get(*keys, default=default)
        if value is None:
            return key, value
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if zero else 1):
            raise ValueError(f"config.json: {key}={value!r} must be a {'non-negative' if zero else 'positive'} "
                             "integer")
        return key, value

    def flag(self, key: str, default: bool) -> bool:
        _, value = self.get(key, default=default)
        if not isinstance(value, bool):
            raise ValueError(f"config.json: {key}={value!r} must be true or false")
        return value

    def text(self, key: str) -> str | None:
        _, value = self.get(key, default=None)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"config.json: {key}={value!r} must be a string")
        return value


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


# ---- quantization_config -------------------------------------------------------------------

QUANT_METHODS = ("gptq", "awq", "fp8", "bitsandbytes", "compressed-tensors")


def quantization_from_config(quant: object, compute: str = "bf16") -> Quantization:
    """The `symroof.precision.Quantization` a ``quantization_config`` describes.

    Layouts, tensor by tensor (``in -> out`` features; scales per group of input features):

    * ``gptq`` (AutoGPTQ ``QuantLinear``, ``auto_gptq/nn_modules/qlinear``): ``qweight`` int32
      ``[in·bits/32, out]``, ``qzeros`` int32 ``[ceil(in/g), out·bits/32]``, ``scales`` fp16
      ``[ceil(in/g), out]``, ``g_idx`` int32 ``[in]``; ``group_size=-1``: one group per row.
      ``modules_in_block_to_quantize`` (if given) lists the converted ones; ``lm_head: true``
      (GPTQModel) quantises the LM head too.
    * ``awq`` (AutoAWQ ``WQLinear_GEMM``): ``qweight`` int32 ``[in, out/8]``, ``qzeros`` int32
      ``[in/g, out/8]`` (with ``zero_point``), ``scales`` fp16 ``[in/g, out]``.
    * ``fp8`` (``transformers.integrations.finegrained_fp8.FP8Linear``; DeepSeek-V3's
      ``README_WEIGHTS.md``): ``weight`` float8_e4m3fn ``[out, in]``, ``weight_scale_inv`` fp32
      ``[ceil(out/b0), ceil(in/b1)]`` for ``weight_block_size [b0, b1]`` (UE8M0, one byte, with
      ``scale_fmt: "ue8m0"``), or one fp32 scale per tensor; ``activation_scheme: "static"``
      adds one fp32 ``activation_scale`` per matrix.
    * ``bitsandbytes`` (``bitsandbytes.functional.quantize_4bit``, ``Int8Params``): 4-bit packs
      two weights per byte with one fp32 absmax per 64 (``bnb_4bit_use_double_quant``: one
      uint8 per 64 and one fp32 per 64·256, plus the 256-entry fp32 code; its offset is a float
      in the JSON quant state),
      and the 16-entry fp32 quant map; 8-bit stores int8 and one fp32 scale (``SCB``) per
      output row. ``llm_int8_skip_modules`` are not converted.
    * ``compressed-tensors`` (llm-compressor): one weight scheme for the ``Linear`` targets,
      ``num_bits`` per weight and, by ``strategy``, a scale in the compute dtype per tensor,
      output channel, group of ``group_size`` or ``block_structure`` block (NVFP4's
      ``tensor_group``: an fp8 scale per 16 and an fp32 global scale); an int8 zero point per
      scale when not ``symmetric``. The LM head is converted unless ``ignore`` names it.

    Every method leaves embeddings, norms, biases and the MoE router at the compute dtype,
    and (but ``compressed-tensors``) the LM head; ``modules_to_not_convert`` / ``ignore``
    names more. Not counted: safetensors headers, bitsandbytes' per-tensor JSON quant state.

    >>> q = quantization_from_config({"quant_method": "gptq", "bits": 4, "group_size": 128}, "fp16")
    >>> q.layout.bytes_per_element(4096, 4096)     # 1/2 + (2 + 1/2)/128 + 4/4096
    533/1024
    >>> quantization_from_config({"quant_method": "hqq"})
    Traceback (most recent call last):
    ...
    ValueError: quantization_config: quant_method='hqq' is not supported; supported: gptq, awq, fp8, ...
    """
    if not isinstance(quant, Mapping):
        raise ValueError(f"quantization_config={quant!r} must be a JSON object")
    q = _Config(quant)
    method = q.text("quant_method")
    if method is None and (q.data.get("load_in_4bit") or q.data.get("load_in_8bit")):
        method = "bitsandbytes"                     # older configs carry only the flags
    if method not in _QUANT_PARSERS:
        raise ValueError(f"quantization_config: quant_method={method!r} is not supported; supported: "
                         f"{', '.join(QUANT_METHODS)} (or from_hf_config(..., quantization='ignore'))")
    return _QUANT_PARSERS[method](q, compute)


def _names(q: _Config, key: str) -> tuple[str, ...]:
    _, value = q.get(key, default=[])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"quantization_config: {key}={value!r} must be a list of module names")
    return tuple(value)


def _bits(q: _Config, allowed: tuple[int, ...], *keys: str) -> int:
    key, bits = q.named_count(*keys)
    if bits not in allowed:
        raise ValueError(f"quantization_config: {key}={bits} is not supported; choose one of "
                         f"{', '.join(map(str, allowed))}")
    return bits


def _group(q: _Config, *keys: str) -> int:
    key, group = q.get(*keys, default=128)
    if isinstance(group, bool) or not isinstance(group, int) or (group < 1 and group != -1):
        raise ValueError(f"quantization_config: {key}={group!r} must be a positive integer or -1")
    return group


def _gptq(q: _Config, compute: str) -> Quantization:
    bits = _bits(q, (2, 3, 4, 8), "bits")
    group = _group(q, "group_size")
    fmt = q.text("checkpoint_format") or "gptq"
    if fmt not in ("gptq", "gptq_v2"):
        raise ValueError(f"quantization_config: checkpoint_format={fmt!r} is not supported (gptq, gptq_v2)")
    layout = Layout("gptq", bits=bits, group_size=group, scale_bytes=2, zero_bytes=sympy.Rational(bits, 8),
                    per_input=4)
    _, listed = q.get("modules_in_block_to_quantize", default=None)
    only = None
    if listed is not None:
        rows: list[Any] = listed if isinstance(listed, list) else [None]   # names, or lists of names
        only = tuple(m for row in rows for m in (row if isinstance(row, list) else [row]))
        if not all(isinstance(m, str) for m in only):
            raise ValueError(f"quantization_config: modules_in_block_to_quantize={listed!r} must list module names")
    lm_head = q.flag("lm_head", False)
    detail = (f"int{bits} weights, {'one group per row' if group == -1 else f'groups of {group}'}: fp16 scales, "
              f"int{bits} zeros, int32 g_idx")
    return Quantization("gptq", layout, compute, _names(q, "modules_to_not_convert"), lm_head, detail, only)


def _awq(q: _Config, compute: str) -> Quantization:
    bits = _bits(q, (4,), "bits", "w_bit")
    group = _group(q, "group_size", "q_group_size")
    if group == -1:
        raise ValueError("quantization_config: AWQ group_size=-1 is not supported")
    version = (q.text("version") or "gemm").lower()
    if version not in ("gemm", "gemv", "exllama"):
        raise ValueError(f"quantization_config: AWQ version={version!r} is not supported (gemm, gemv, exllama)")
    zero = q.flag("zero_point", True)
    layout = Layout("awq", bits=bits, group_size=group, scale_bytes=2,
                    zero_bytes=sympy.Rational(bits, 8) if zero else 0)
    detail = f"int{bits} weights, groups of {group}: fp16 scales" + (f", int{bits} zeros" if zero else "")
    return Quantization("awq", layout, compute, _names(q, "modules_to_not_convert"), False, detail)


def _fp8(q: _Config, compute: str) -> Quantization:
    _, block = q.get("weight_block_size", default=None)
    scale = 1 if q.text("scale_fmt") == "ue8m0" else 4
    static = q.text("activation_scheme") == "static"
    if block is None:
        layout = Layout("fp8", bits=8, per_tensor=4 + (4 if static else 0))
        detail = "fp8 weights, one fp32 scale per tensor"
    else:
        if not (isinstance(block, list) and len(block) == 2
                and all(isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in block)):
            raise ValueError(f"quantization_config: weight_block_size={block!r} must be two positive integers")
        layout = Layout("fp8", bits=8, block=(block[0], block[1]), scale_bytes=scale,
                        per_tensor=4 if static else 0)
        detail = f"fp8 weights, one {'ue8m0' if scale == 1 else 'fp32'} scale per {block[0]}x{block[1]} block"
    return Quantization("fp8", layout, compute, _names(q, "modules_to_not_convert"), False, detail)


def _bitsandbytes(q: _Config, compute: str) -> Quantization:
    four, eight = q.flag("load_in_4bit", False), q.flag("load_in_8bit", False)
    if four == eight:
        raise ValueError("quantization_config: bitsandbytes needs exactly one of load_in_4bit, load_in_8bit")
    skip = _names(q, "llm_int8_skip_modules")
    if eight:
        layout = Layout("bnb-int8", bits=8, per_output=4, per_tensor=1)
        return Quantization("bitsandbytes", layout, compute, skip, False,
                            "int8 weights, one fp32 scale per output row")
    storage = q.text("bnb_4bit_quant_storage") or "uint8"
    if storage != "uint8":
        raise ValueError(f"quantization_config: bnb_4bit_quant_storage={storage!r} is not supported (uint8)")
    if q.flag("bnb_4bit_use_double_quant", False):
        layout = Layout("bnb-4bit", bits=4, flat=((64, 1), (64 * 256, 4)), per_tensor=16 * 4 + 256 * 4)
        detail = "4-bit weights, a uint8 absmax per 64 and an fp32 one per 16384 (double quant)"
    else:
        layout = Layout("bnb-4bit", bits=4, flat=((64, 4),), per_tensor=16 * 4)
        detail = "4-bit weights, an fp32 absmax per 64"
    return Quantization("bitsandbytes", layout, compute, skip, False, detail)


def _compressed_tensors(q: _Config, compute: str) -> Quantization:
    _, groups = q.get("config_groups", default={})
    if not isinstance(groups, Mapping) or not groups:
        raise ValueError("quantization_config: compressed-tensors needs config_groups")
    schemes = []
    for key, group in groups.items():
        weights = group.get("weights") if isinstance(group, Mapping) else None
        targets = group.get("targets") if isinstance(group, Mapping) else None
        if not isinstance(weights, Mapping) or targets != ["Linear"]:
            raise ValueError(f"quantization_config: config_groups.{key} must quantise weights of targets "
                             f"['Linear'] (got targets={targets!r})")
        schemes.append(dict(weights))
    if any(s != schemes[0] for s in schemes):
        raise ValueError("quantization_config: config_groups with different weight schemes are not supported")
    w = _Config(schemes[0])
    bits = _bits(w, (4, 8), "num_bits")
    kind = w.text("type") or "int"
    strategy = w.text("strategy") or "tensor"
    scale = BYTES[compute]
    zero = 0 if w.flag("symmetric", True) else 1
    fields: dict[str, Any] = {}
    if strategy == "tensor":
        fields = dict(per_tensor=scale + zero)
    elif strategy == "channel":
        fields = dict(per_output=scale + zero)
    elif strategy in ("group", "tensor_group"):
        group = w.count("group_size")
        fields = dict(group_size=group, scale_bytes=scale, zero_bytes=zero)
        if strategy == "tensor_group":              # NVFP4: fp8 scale per group, one fp32 global scale
            fields.update(scale_bytes=1, per_tensor=4)
    elif strategy == "block":
        _, block = w.get("block_structure")
        if not (isinstance(block, list) and len(block) == 2 and all(isinstance(b, int) and b > 0 for b in block)):
            raise ValueError(f"quantization_config: block_structure={block!r} must be two positive integers")
        fields = dict(block=(block[0], block[1]), scale_bytes=scale + zero)
    else:
        raise ValueError(f"quantization_config: strategy={strategy!r} is not supported "
                         "(tensor, channel, group, tensor_group, block)")
    layout = Layout("compressed-tensors", bits=bits, **fields)
    detail = f"{kind}{bits} weights, {strategy} scales at {'fp8' if strategy == 'tensor_group' else compute}"
    return Quantization("compressed-tensors", layout, compute, _names(q, "ignore"), True, detail)


_QUANT_PARSERS = {"gptq": _gptq, "awq": _awq, "fp8": _fp8, "bitsandbytes": _bitsandbytes,
                  "compressed-tensors": _compressed_tensors}
