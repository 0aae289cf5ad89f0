"""``quantization_config`` -> `symroof.precision.Quantization`: each method's tensor layout, with its source."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sympy

from symroof.model.hf.config import Config as _Config
from symroof.model.precision import BYTES, Layout, Quantization

__all__ = ["QUANT_METHODS", "quantization_from_config"]

QUANT_METHODS = ("gptq", "awq", "fp8", "bitsandbytes", "compressed-tensors", "mxfp4")


def quantization_from_config(quant: object, compute: str = "bf16") -> Quantization:
    """The `symroof.precision.Quantization` a ``quantization_config`` describes.

    Layouts, tensor by tensor (``in -> out`` features; scales per group of input features):

    * ``gptq`` (AutoGPTQ ``QuantLinear``, ``auto_gptq/nn_modules/qlinear``): ``qweight`` int32
      ``[in·bits/32, out]``, ``qzeros`` int32 ``[ceil(in/g), out·bits/32]``, ``scales`` fp16
      ``[ceil(in/g), out]``, ``g_idx`` int32 ``[in]``; ``group_size=-1``: one group per row.
      ``modules_in_block_to_quantize`` (if given) lists the converted ones; ``lm_head: true``
      (GPTQModel) quantises the LM head too.
    * ``awq`` (AutoAWQ ``WQLinear_GEMM``): ``qweight`` int32 ``[in, out/8]``, ``qzeros`` int32
      ``[in/g, out/8]`` (with ``zero_point``), ``scales`` fp16 ``[in/g, out]``; ``exllama`` stores
      the same; ``gemv`` (``WQLinear_GEMV``) ``qweight`` int32 ``[out, in/8]``, ``qzeros`` int32
      ``[out, w]`` and ``scales`` fp16 ``[out, 8w]``, ``w`` = ``calculate_zeros_width``: the
      ``in/g`` groups in whole words of 8, rounded up to a multiple of 2 for ``g = 64``, of 4 for
      ``g = 32``.
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
    padded = None
    if version == "gemv":  # AutoAWQ's calculate_zeros_width: whole int32 words of 32/bits zeros
        multiples = {32: 4, 64: 2}
        if group < 128 and group not in multiples:
            raise ValueError(f"quantization_config: AWQ version 'gemv' takes group_size 32, 64 or >= 128, not {group}")
        padded = (32 // bits, 1 if group >= 128 else multiples[group])
    layout = Layout("awq", bits=bits, group_size=group, scale_bytes=2,
                    zero_bytes=sympy.Rational(bits, 8) if zero else 0, padded_groups=padded)
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


def _mxfp4(q: _Config, compute: str) -> Quantization:
    """gpt-oss (``transformers.integrations.mxfp4``): only the MoE experts are converted, each
    ``*_blocks`` uint8 ``[.., out, in/32, 16]`` (FP4 E2M1, two per byte) and ``*_scales`` uint8
    ``[.., out, in/32]`` (one E8M0 exponent per 32 input features); the rest (attention, router,
    embeddings, LM head: ``modules_to_not_convert``) and the experts' biases at the compute dtype."""
    layout = Layout("mxfp4", bits=4, group_size=32, scale_bytes=1)
    return Quantization("mxfp4", layout, compute, _names(q, "modules_to_not_convert"), False,
                        "fp4 e2m1 expert weights, one e8m0 scale per 32", (r"re:.*mlp\.experts",))


_QUANT_PARSERS = {"gptq": _gptq, "awq": _awq, "fp8": _fp8, "bitsandbytes": _bitsandbytes,
                  "compressed-tensors": _compressed_tensors, "mxfp4": _mxfp4}
