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
from pathlib import Path
from typing import Any, Literal

import sympy

from symroof.model.arch import Arch

# the family groups register themselves on import (each imports only config.py and families.py)
from symroof.model.hf import gemma_cohere, hybrid, llama4_gptoss, others  # noqa: F401
from symroof.model.hf.config import HF_DTYPES, dtype_bytes, dtype_name, read_config
from symroof.model.hf.config import Config as _Config
from symroof.model.hf.families import FAMILIES, Family, Reading, family_of, register
from symroof.model.hf.quant import QUANT_METHODS, quantization_from_config
from symroof.model.layers import FFN, Layer
from symroof.model.precision import BYTES

__all__ = ["FAMILIES", "HF_DTYPES", "QUANT_METHODS", "Family", "Reading", "dtype_bytes", "dtype_name",
           "from_hf_config", "quantization_from_config", "read_config", "register"]


def from_hf_config(config: str | os.PathLike[str] | Mapping[str, Any], *, name: str | None = None,
                   dtype: str | None = None, quantization: Literal["apply", "ignore"] = "apply",
                   family: str | None = None) -> Arch:
    """An `Arch` from a Hugging Face ``config.json`` (a path, a folder holding one, or its dict).

    ``name`` names the result (default: ``_name_or_path``, else the file's name);
    ``dtype`` overrides the file's ``torch_dtype`` for weights, activations and KV cache
    (for a quantised checkpoint: the compute dtype, i.e. everything but the quantised matrices).
    A ``quantization_config`` (`quantization_from_config`) gives each tensor its own bytes per
    element (`symroof.precision.Quantization.apply`); ``quantization="ignore"`` leaves it out
    (every weight at the dtype, and the config named in the ``source``). ``family`` reads a
    ``model_type`` symroof does not know as the layout of a known one (``family="llama"``).
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
        # multimodal wrappers (Gemma 3, Llava): the text model, of the wrapper's type when it names none
        outer = {k: data[k] for k in ("model_type", "architectures") if k in data}
        cfg = _Config({**outer, **data["text_config"]})
    if family is not None:
        if family not in FAMILIES:
            raise ValueError(f"family={family!r} is not a known layout; known: {', '.join(FAMILIES)}")
        model_type, fam = family, FAMILIES[family]
    else:
        model_type, fam = family_of(cfg)
    if fam.defaults:                                # the config class's defaults for keys left out
        cfg = _Config({**fam.defaults, **{k: v for k, v in cfg.data.items() if v is not None or k not in fam.defaults}})
    reading = (fam.read or _read)(cfg, model_type, fam)
    if fam.adjust is not None:
        fam.adjust(cfg, reading)

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

    notes = [*fam.not_modelled, *reading.notes]
    mtp = cfg.data.get("num_nextn_predict_layers")
    if mtp:
        notes.append(f"num_nextn_predict_layers={mtp} (the multi-token-prediction module)")
    if isinstance(quant, Mapping) and scheme is None:
        notes.append(f"quantization_config (quant_method={quant.get('quant_method')!r}, ignored): bytes per "
                     "weight from the dtype")
    source = f"Hugging Face config.json ({where})"
    if family is not None:
        source += f"; model_type {cfg.text('model_type')!r} read as {family!r}"
    if scheme is not None:
        source += f"; weights quantised: {scheme.describe()}"
    if notes:
        source += "; not modelled: " + "; ".join(notes)

    fields = dict(reading.fields, weight_bytes=nbytes, act_bytes=nbytes, kv_bytes=nbytes,
                  name=name if name is not None else _default_name(cfg, config), source=source)
    arch = Arch(**fields)
    stack = _run_length(reading.layers)
    if stack != arch.groups:
        arch = Arch(**fields, layout=stack)
    return arch if scheme is None else scheme.apply(arch)


def _run_length(layers: list[Layer]) -> tuple[tuple[sympy.Expr, Layer], ...]:
    out: list[list[Any]] = []
    for layer in layers:
        if out and out[-1][1] == layer:
            out[-1][0] += 1
        else:
            out.append([1, layer])
    return tuple((sympy.Integer(n), layer) for n, layer in out)


def _read(cfg: _Config, model_type: str, fam: Family) -> Reading:
    """The fields and the per-layer stack a family's config describes."""
    hidden_key, hidden = cfg.named_count("hidden_size", "n_embd", "d_model")
    heads_key, heads = cfg.named_count("num_attention_heads", "n_head")
    layers = cfg.count("num_hidden_layers", "n_layer")
    # left out: the config class's default (fam.kv_default, fam.head_dim_default); null: all heads, hidden/heads
    kv_absent = "num_key_value_heads" not in cfg.data and fam.kv_default is not None
    kv_heads = fam.kv_default if kv_absent else cfg.count("num_key_value_heads", default=heads)
    head_dim = cfg.count("head_dim", default=None)          # explicit head_dim wins over hidden/heads
    if "head_dim" not in cfg.data and fam.head_dim_default is not None:
        head_dim = fam.head_dim_default
    mla: dict[str, Any] = {}
    if fam.mla:
        # Arch derives the query/key head width, qk_nope_head_dim + qk_rope_head_dim (transformers 5
        # writes head_dim = qk_rope_head_dim, the RoPE part only)
        head_dim = None
        mla = {key: cfg.count(key) for key in ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
                                               "v_head_dim")}
        # DeepseekV2Config / DeepseekV3Config: q_lora_rank 1536 when left out; null: queries not compressed
        mla["q_lora_rank"] = 1536 if "q_lora_rank" not in cfg.data else cfg.count("q_lora_rank", default=None)
    elif head_dim is None and hidden % heads:
        raise ValueError(f"config.json: {heads_key}={heads} must divide {hidden_key}={hidden} "
                         "(or give head_dim)")
    if heads % kv_heads:
        raise ValueError(f"config.json: num_key_value_heads={kv_heads} must divide {heads_key}={heads}")
    if model_type == "gpt2":
        ffn_dim = cfg.count("n_inner", default=4 * hidden)   # GPT2MLP: n_inner None -> 4·n_embd
    elif fam.ffn_keys:
        ffn_dim = cfg.count(*fam.ffn_keys, default=4 * hidden)
    else:
        ffn_dim = cfg.count("intermediate_size")

    if fam.attention_bias:
        qkv_bias = out_bias = cfg.flag(fam.attention_bias, fam.bias_default)
    else:
        qkv_bias, out_bias = fam.qkv_bias, fam.out_bias
    mlp_bias = cfg.flag(fam.mlp_bias, False) if isinstance(fam.mlp_bias, str) else fam.mlp_bias
    max_positions = (cfg.count(fam.learned_positions, default=fam.positions_default)
                     if fam.learned_positions else 0)

    moe: dict[str, Any] = {}
    moe_at = [False] * layers
    if fam.experts:
        experts_key, experts = cfg.named_count(*((fam.experts,) if isinstance(fam.experts, str) else fam.experts))
        per_token = cfg.count("num_experts_per_tok")
        if per_token > experts:
            raise ValueError(f"config.json: num_experts_per_tok={per_token} must not exceed "
                             f"{experts_key}={experts}")
        moe = dict(experts=experts, experts_per_token=per_token, expert_ffn_dim=cfg.count(fam.expert_ffn))
        if fam.shared_experts:
            moe["shared_experts"] = cfg.count(fam.shared_experts, default=fam.shared_default, zero=True)
        first_dense = 0
        if fam.dense_layers:
            first_dense = moe["dense_layers"] = cfg.count(fam.dense_layers, default=fam.dense_default, zero=True)
        step = cfg.count("decoder_sparse_step", default=1)
        _, only_mlp = cfg.get("mlp_only_layers", default=[])
        if not (isinstance(only_mlp, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in only_mlp)):
            raise ValueError(f"config.json: mlp_only_layers={only_mlp!r} must be a list of layer indices")
        moe_at = [i >= first_dense and i not in only_mlp and (i + 1) % step == 0 for i in range(layers)]
        if cfg.data.get("moe_layer_freq") not in (None, 1):
            raise ValueError(f"config.json: moe_layer_freq={cfg.data['moe_layer_freq']!r} is not supported (only 1)")

    kinds, window = _attention_kinds(cfg, fam, layers)
    fields: dict[str, Any] = dict(
        hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads, head_dim=head_dim, ffn_dim=ffn_dim,
        ffn_kind=fam.ffn_kind, vocab=cfg.count("vocab_size"), tied_embeddings=cfg.flag("tie_word_embeddings", fam.tied),
        norm=fam.norm, qkv_bias=qkv_bias, out_bias=out_bias, mlp_bias=mlp_bias, max_positions=max_positions,
        **moe, **mla)
    if kinds and all(k == "sliding_attention" for k in kinds):
        fields["window"] = window
    base = Arch(**fields)        # validates the fields; its one layer is the template of every layer
    template = base.groups[-1][1]
    attention = template.attention
    assert attention is not None
    attention = attention.replace(qk_norm=fam.qk_norm, window=None)
    dense_ffn = FFN(ffn_dim, fam.ffn_kind == "gated", mlp_bias)
    out = []
    for i in range(layers):
        a = attention.replace(window=window) if kinds[i] == "sliding_attention" else attention
        if kinds[i] == "chunked_attention":         # Llama 4: the cache keeps a chunk as a window
            a = attention.replace(chunk=cfg.count("attention_chunk_size"))
        f = template.ffn if moe_at[i] else dense_ffn
        out.append(Layer(a, f, norms=fam.norms, norm=fam.norm, parallel=fam.parallel))
    return Reading(fields, out, [])


_KINDS = ("full_attention", "sliding_attention", "chunked_attention")


def _attention_kinds(cfg: _Config, fam: Family, layers: int) -> tuple[list[str], int | None]:
    """Each layer's attention kind as transformers resolves it, and the window of the sliding ones."""
    key, window = cfg.named_count("sliding_window", default=fam.window_default, zero=True)
    window = window or None                      # 0: none (Qwen2-MoE writes 0 without use_sliding_window)
    if key in cfg.data and cfg.data[key] is None:
        window = None                            # null: none, not the default (MistralConfig keeps None)
    given = cfg.data.get("layer_types")
    if fam.window_flag is not None and not cfg.flag(fam.window_flag, False):
        window = None                            # Qwen: sliding_window only with use_sliding_window
    if given is not None:
        if not (isinstance(given, list) and len(given) == layers and all(k in _KINDS for k in given)):
            raise ValueError(f"config.json: layer_types={given!r} must list {layers} of {', '.join(_KINDS)}")
        kinds = list(given)
    elif window is None or fam.windows == "none":
        kinds = ["full_attention"] * layers
    elif fam.windows == "all":
        kinds = ["sliding_attention"] * layers
    elif fam.windows == "qwen":
        first = cfg.count("max_window_layers", default=28, zero=True)
        kinds = ["sliding_attention" if i >= first else "full_attention" for i in range(layers)]
    else:
        period = cfg.count(fam.pattern_key, default=fam.pattern_default) if fam.pattern_key else fam.pattern_default
        kinds = ["sliding_attention" if (i + 1) % period else "full_attention" for i in range(layers)]
    if "sliding_attention" in kinds and window is None:
        raise ValueError(f"config.json: layer_types has sliding layers but {key} is null")
    return kinds, window


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
