"""`Hardware`: an accelerator's peak FLOP/s, memory bandwidth and capacity, with sources.

The catalogue is data (``symroof/data/hardware.toml``); every row cites its source.

Examples
--------
>>> a100 = get("A100-80GB")
>>> a100.balance
312000/2039
>>> round(float(a100.balance))
153
>>> get("a100 sxm") is a100
True
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import sympy

from symroof._names import UnknownName, suggest
from symroof._values import as_amount

__all__ = ["Hardware", "catalogue", "get", "hardware_of", "names"]


@dataclass(frozen=True)
class Hardware:
    """An accelerator. Rates are exact rationals in FLOP/s and bytes/s, capacity in bytes."""

    name: str
    peak_flops_per_s: Mapping[str, sympy.Expr]
    bandwidth_bytes_per_s: sympy.Expr
    capacity_bytes: sympy.Expr | None = None
    interconnect_bytes_per_s: sympy.Expr | None = None
    dtype: str = "bf16"
    aliases: tuple[str, ...] = ()
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        put = lambda k, v: object.__setattr__(self, k, v)
        if not isinstance(self.peak_flops_per_s, Mapping) or not self.peak_flops_per_s:
            raise ValueError(f"{self.name}: peak_flops_per_s must map dtype names to FLOP/s")
        put("peak_flops_per_s", MappingProxyType(
            {d: as_amount(v, f"{self.name}: peak_flops_per_s[{d}]") for d, v in self.peak_flops_per_s.items()}))
        put("bandwidth_bytes_per_s", as_amount(self.bandwidth_bytes_per_s, f"{self.name}: bandwidth_bytes_per_s"))
        for opt in ("capacity_bytes", "interconnect_bytes_per_s"):
            if getattr(self, opt) is not None:
                put(opt, as_amount(getattr(self, opt), f"{self.name}: {opt}"))
        if self.dtype not in self.peak_flops_per_s:
            known = ", ".join(self.peak_flops_per_s)
            raise ValueError(f"{self.name}: dtype={self.dtype!r} has no peak; known: {known}")

    @property
    def peak_flops(self) -> sympy.Expr:
        """Peak FLOP/s of the selected ``dtype`` (default bf16)."""
        return self.peak_flops_per_s[self.dtype]

    @property
    def bandwidth(self) -> sympy.Expr:
        return self.bandwidth_bytes_per_s

    @property
    def capacity(self) -> sympy.Expr | None:
        return self.capacity_bytes

    @property
    def balance(self) -> sympy.Expr:
        """Machine balance, FLOPs per byte: peak FLOP/s over bandwidth, exact."""
        return self.peak_flops / self.bandwidth

    def with_dtype(self, dtype: str) -> Hardware:
        """The same part, evaluated at another dtype's peak."""
        from dataclasses import replace

        return replace(self, dtype=dtype)

    def __hash__(self) -> int:
        return hash((self.name, self.dtype))


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


@cache
def catalogue() -> dict[str, Hardware]:
    text = (resources.files("symroof") / "data" / "hardware.toml").read_text(encoding="utf-8")
    out: dict[str, Hardware] = {}
    for name, raw in tomllib.loads(text).items():
        row: dict[str, Any] = {**raw, "aliases": tuple(raw.get("aliases", ()))}
        out[name] = Hardware(name=name, **row)
    return out


def names() -> list[str]:
    return list(catalogue())


def get(name: str) -> Hardware:
    """A catalogue entry by name or alias, case- and punctuation-insensitive (``"a100 sxm"``)."""
    if isinstance(name, Hardware):
        return name
    if not isinstance(name, str):
        raise UnknownName(f"GPU name must be a string, not {type(name).__name__}")
    key = _norm(name)
    for hw in catalogue().values():
        if key in {_norm(hw.name), *map(_norm, hw.aliases)}:
            return hw
    raise UnknownName(f"unknown GPU {name!r}" + suggest(name, names()))


def hardware_of(hardware: Hardware | str, dtype: str | None = None) -> Hardware:
    """A `Hardware` from itself or a catalogue name, at ``dtype`` if given.

    >>> hardware_of("A100-80GB", "fp16").dtype
    'fp16'
    >>> hardware_of("A100-80GB", "fp4")
    Traceback (most recent call last):
    ...
    ValueError: dtype='fp4': A100-80GB has peaks for bf16, fp16, tf32, fp32, int8
    """
    hw = get(hardware) if isinstance(hardware, str) else hardware
    if not isinstance(hw, Hardware):
        raise ValueError(f"hardware={hardware!r} must be a Hardware or a GPU name from symroof.hardware.names()")
    if dtype is not None:
        if dtype not in hw.peak_flops_per_s:
            raise ValueError(f"dtype={dtype!r}: {hw.name} has peaks for {', '.join(hw.peak_flops_per_s)}")
        hw = hw.with_dtype(dtype)
    return hw
