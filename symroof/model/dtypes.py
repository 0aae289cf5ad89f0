"""Dtypes: bytes per element of each named dtype, exactly, and of group-quantised storage.

>>> BYTES["int4"], bytes_per_element("int4", group_size=128, scale="fp16")
(1/2, 33/64)
"""

from __future__ import annotations

from typing import Any

import sympy

from symroof._values import as_count, choice

__all__ = ["BYTES", "DTYPES", "bytes_per_element"]

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
