"""Named dtypes: bytes per element, group-quantisation overhead, and the matching peak FLOP/s.

``BYTES`` maps a dtype name to its storage size in bytes, exactly (int4 is
``1/2``). A group-quantised tensor also stores one scale (and optionally one
zero point) per ``group_size`` elements, so its bytes per element are
``BYTES[dtype] + (BYTES[scale] + BYTES[zero]) / group_size``: int4 with groups
of 128 and an fp16 scale costs ``1/2 + 2/128 = 33/64`` bytes per weight.

`Precision` names the dtypes of a deployment's weights, activations and KV
cache; ``apply(arch)`` sets the architecture's bytes per element and
``hardware(hw)`` picks the peak FLOP/s of the dtype the matmuls run in.

Examples
--------
>>> BYTES["int4"], BYTES["bf16"]
(1/2, 2)
>>> bytes_per_element("int4", group_size=128, scale="fp16")
33/64
>>> w4a16 = Precision(weights="int4", activations="bf16", kv="fp8", group_size=128)
>>> w4a16.weight_bytes, w4a16.kv_bytes, w4a16.compute_dtype
(33/64, 1, 'bf16')
>>> Precision(weights="fp8", activations="fp8").compute_dtype
'fp8'
>>> bytes_per_element("int3")
Traceback (most recent call last):
...
ValueError: dtype='int3' is not allowed; choose one of 'fp32', 'tf32', 'bf16', 'fp16', 'fp8', 'int8', 'int4', 'fp4'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sympy

from symroof._values import as_count, choice

if TYPE_CHECKING:
    from symroof.arch import Arch
    from symroof.hardware import Hardware

__all__ = ["BYTES", "DTYPES", "Precision", "bytes_per_element"]

# Storage size of one element. fp32/tf32: IEEE single (tf32 is a tensor-core compute mode over
# fp32 storage); bf16/fp16: 16 bits; fp8 (E4M3 / E5M2) and int8: 8 bits; int4 and fp4
# (E2M1, as in MXFP4/NVFP4) pack two elements per byte.
BYTES: dict[str, sympy.Rational] = {
    "fp32": sympy.Integer(4),
    "tf32": sympy.Integer(4),
    "bf16": sympy.Integer(2),
    "fp16": sympy.Integer(2),
    "fp8": sympy.Integer(1),
    "int8": sympy.Integer(1),
    "int4": sympy.Rational(1, 2),
    "fp4": sympy.Rational(1, 2),
}
DTYPES: tuple[str, ...] = tuple(BYTES)


def bytes_per_element(dtype: str, *, group_size: Any = None, scale: str = "fp16",
                      zero: str | None = None) -> sympy.Expr:
    """Bytes per element of ``dtype``, plus a ``scale`` (and ``zero`` point) per ``group_size`` elements.

    ``group_size=None`` means no per-group metadata (a per-tensor scale is negligible).
    GPTQ/AWQ-style int4: ``bytes_per_element("int4", group_size=128, scale="fp16", zero="int4")``
    = 1/2 + (2 + 1/2)/128 = 133/256.

    >>> bytes_per_element("int4", group_size=128, scale="fp16", zero="int4")
    133/256
    >>> bytes_per_element("fp8", group_size=128 * 128, scale="fp32")   # DeepSeek-V3 128x128 weight blocks
    4097/4096
    """
    size = BYTES[choice(dtype, "dtype", DTYPES)]
    if group_size is None:
        return size
    group = as_count(group_size, "group_size")
    meta = BYTES[choice(scale, "scale", DTYPES)]
    if zero is not None:
        meta += BYTES[choice(zero, "zero", DTYPES)]
    return size + meta / group


@dataclass(frozen=True)
class Precision:
    """The dtypes of a deployment: ``weights`` (optionally group-quantised), ``activations``, ``kv``.

    ``compute`` is the dtype the matmuls run in: by default the wider of the
    weights' and the activations' dtypes (weight-only quantisation, e.g. W4A16,
    dequantises to the activations' dtype and runs bf16 tensor cores; W8A8 in
    fp8 runs fp8 tensor cores). On a tie of width, the activations' dtype.
    """

    weights: str = "bf16"
    activations: str = "bf16"
    kv: str = "bf16"
    group_size: Any = None        # weights: elements per quantisation group (None: no per-group scales)
    scale: str = "fp16"           # dtype of one group's scale
    zero: str | None = None       # dtype of one group's zero point (asymmetric quantisation), or None
    compute: str | None = None    # override the dtype of the matmuls

    def __post_init__(self) -> None:
        for name in ("weights", "activations", "kv", "scale"):
            choice(getattr(self, name), name, DTYPES)
        if self.zero is not None:
            choice(self.zero, "zero", DTYPES)
        if self.compute is not None:
            choice(self.compute, "compute", DTYPES)
        if self.group_size is not None:
            object.__setattr__(self, "group_size", as_count(self.group_size, "group_size"))

    @property
    def weight_bytes(self) -> sympy.Expr:
        return bytes_per_element(self.weights, group_size=self.group_size, scale=self.scale, zero=self.zero)

    @property
    def act_bytes(self) -> sympy.Expr:
        return BYTES[self.activations]

    @property
    def kv_bytes(self) -> sympy.Expr:
        return BYTES[self.kv]

    @property
    def compute_dtype(self) -> str:
        """The dtype whose peak FLOP/s applies (see the class docstring)."""
        if self.compute is not None:
            return self.compute
        return self.weights if BYTES[self.weights] > BYTES[self.activations] else self.activations

    def apply(self, arch: Arch) -> Arch:
        """``arch`` with its bytes per element of weights, activations and KV cache set from these dtypes."""
        return arch.replace(weight_bytes=self.weight_bytes, act_bytes=self.act_bytes, kv_bytes=self.kv_bytes)

    def hardware(self, hw: Hardware | str) -> Hardware:
        """``hw`` at the peak of ``compute_dtype``; a clear ``ValueError`` if the part has no such peak."""
        from symroof import hardware as _hardware

        part = _hardware.get(hw) if isinstance(hw, str) else hw
        if self.compute_dtype not in part.peak_flops_per_s:
            known = ", ".join(part.peak_flops_per_s)
            raise ValueError(f"{part.name} has no peak FLOP/s for compute dtype {self.compute_dtype!r}; "
                             f"known: {known}")
        return part.with_dtype(self.compute_dtype)
