"""`Hardware`: an accelerator's peak FLOP/s, memory bandwidth and capacity, with sources.

The catalogue is data (``symroof/data/hardware.toml``); every row cites its source.
Capacities are the bytes the device has: the makers' "80 GB" of HBM or GDDR is 80 GiB
(2^30 bytes), since memory is built from power-of-two DRAM dies (``nvidia-smi`` reports an
A100 80GB as 81,920 MiB). Three fractions describe what a run gets of the datasheet:

* ``usable_fraction`` (default 9/10): the share of the capacity the serving runtime may
  fill with weights, KV cache and activations; the rest is its reserve (CUDA context,
  allocator, other processes). 9/10 is vLLM's default ``gpu_memory_utilization``.
* ``flops_efficiency`` and ``bandwidth_efficiency`` (default 1, as the seeds assume): the
  achieved fractions of the peak FLOP/s and of the bandwidth. ``peak_flops``,
  ``bandwidth`` and ``balance`` are the achieved rates, which the analysis uses; the
  datasheet's are ``datasheet_peak_flops`` and ``datasheet_bandwidth``.

Custom parts: `custom` from keyword values, `load` from a TOML file with rows as in the
catalogue, ``hw.replace(...)`` for a changed copy (``hw.replace(flops_efficiency=0.7)``).

Examples
--------
>>> a100 = get("A100-80GB")
>>> a100.balance
312000/2039
>>> round(float(a100.balance))
153
>>> get("a100 sxm") is a100
True
>>> a100.capacity == 80 * 2**30
True
>>> resolve("h100")[0].name, resolve("h100")[1]
('H100-SXM', True)
>>> print(a100.replace(flops_efficiency=0.7))
A100-80GB (bf16): 312 TFLOP/s, 2.039 TB/s, 80 GiB (90% usable), balance 107 FLOP/byte; achieved 70% of peak FLOP/s
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import sympy

from symroof._files import read_text
from symroof._names import UnknownName, suggest
from symroof._values import as_amount

__all__ = ["DEFAULT_USABLE_FRACTION", "Hardware", "catalogue", "custom", "get", "hardware_of", "load", "names",
           "resolve"]

# vLLM's default gpu_memory_utilization ("the fraction of GPU memory to be used for the model executor",
# default 0.9, vllm/config CacheConfig and `vllm serve --help`): what a serving runtime fills by default.
DEFAULT_USABLE_FRACTION = sympy.Rational(9, 10)

# A hardware file larger than this is refused (the whole catalogue is about 30 kB).
MAX_FILE_BYTES = 1 << 20

_FIELDS = ("peak_flops_per_s", "bandwidth_bytes_per_s", "capacity_bytes", "interconnect_bytes_per_s", "dtype",
           "aliases", "usable_fraction", "flops_efficiency", "bandwidth_efficiency", "source", "board_power_w")


def _fraction(value: Any, what: str) -> sympy.Expr:
    """A number in (0, 1], exact (``0.9`` is 9/10)."""
    if isinstance(value, str):
        raise ValueError(f"{what}={value!r} must be a number in (0, 1], not a string")
    x = as_amount(value, what)
    if not x.is_number or not x <= 1:
        raise ValueError(f"{what}={value!r} must be a number in (0, 1]")
    return x


def _text(value: Any, what: str, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what}={value!r} must be a string, not {type(value).__name__}")
    if not empty and not value.strip():
        raise ValueError(f"{what} must not be empty")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError(f"{what}={value!r} must not contain control characters")
    return value


def _rate(value: Any, what: str) -> sympy.Expr:
    return as_amount(value, what)    # refuses strings (never parsed), bools, NaN, zero and negatives


@dataclass(frozen=True)
class Hardware:
    """An accelerator. Rates are exact rationals in FLOP/s and bytes/s, capacity in bytes.

    ``peak_flops_per_s`` maps dtype names to the datasheet's dense peak; ``dtype`` selects
    the one used. Every number must be positive (a bool, a string, NaN, zero or a negative
    number is refused with one line); fractions are in (0, 1].
    """

    name: str
    peak_flops_per_s: Mapping[str, sympy.Expr]
    bandwidth_bytes_per_s: sympy.Expr
    capacity_bytes: sympy.Expr | None = None
    interconnect_bytes_per_s: sympy.Expr | None = None
    dtype: str = "bf16"
    aliases: tuple[str, ...] = ()
    source: str = field(default="", compare=False)
    usable_fraction: sympy.Expr = DEFAULT_USABLE_FRACTION
    flops_efficiency: Any = 1
    bandwidth_efficiency: Any = 1
    board_power_w: sympy.Expr | None = field(default=None, compare=False)   # the datasheet's TDP (optional)

    def __post_init__(self) -> None:
        put = lambda k, v: object.__setattr__(self, k, v)
        name = _text(self.name, "Hardware name", empty=False)
        if not isinstance(self.peak_flops_per_s, Mapping) or not self.peak_flops_per_s:
            raise ValueError(f"{name}: peak_flops_per_s must map dtype names to FLOP/s")
        peaks = {}
        for d, v in self.peak_flops_per_s.items():
            _text(d, f"{name}: a peak_flops_per_s dtype", empty=False)
            peaks[d] = _rate(v, f"{name}: peak_flops_per_s[{d}]")
        put("peak_flops_per_s", MappingProxyType(peaks))
        put("bandwidth_bytes_per_s", _rate(self.bandwidth_bytes_per_s, f"{name}: bandwidth_bytes_per_s"))
        for opt in ("capacity_bytes", "interconnect_bytes_per_s", "board_power_w"):
            if getattr(self, opt) is not None:
                put(opt, _rate(getattr(self, opt), f"{name}: {opt}"))
        for frac in ("usable_fraction", "flops_efficiency", "bandwidth_efficiency"):
            put(frac, _fraction(getattr(self, frac), f"{name}: {frac}"))
        _text(self.dtype, f"{name}: dtype", empty=False)
        if isinstance(self.aliases, str) or not isinstance(self.aliases, (tuple, list)):
            raise ValueError(f"{name}: aliases={self.aliases!r} must be a list of names")
        put("aliases", tuple(_text(a, f"{name}: alias", empty=False) for a in self.aliases))
        _text(self.source, f"{name}: source")
        if self.dtype not in self.peak_flops_per_s:
            known = ", ".join(self.peak_flops_per_s)
            raise ValueError(f"{name}: dtype={self.dtype!r} has no peak; known: {known}")

    # ---- the datasheet, and what a run achieves ------------------------------------------------
    @property
    def datasheet_peak_flops(self) -> sympy.Expr:
        """The datasheet's dense peak FLOP/s of the selected ``dtype``."""
        return self.peak_flops_per_s[self.dtype]

    @property
    def datasheet_bandwidth(self) -> sympy.Expr:
        """The datasheet's memory bandwidth, bytes/s."""
        return self.bandwidth_bytes_per_s

    @property
    def peak_flops(self) -> sympy.Expr:
        """The compute roof: datasheet peak of ``dtype`` × ``flops_efficiency`` (the peak when 1)."""
        return self.datasheet_peak_flops * self.flops_efficiency

    @property
    def bandwidth(self) -> sympy.Expr:
        """The memory roof: datasheet bandwidth × ``bandwidth_efficiency`` (the datasheet's when 1)."""
        return self.bandwidth_bytes_per_s * self.bandwidth_efficiency

    @property
    def capacity(self) -> sympy.Expr | None:
        """The bytes of device memory (the datasheet's; see ``usable_bytes``)."""
        return self.capacity_bytes

    @property
    def usable_bytes(self) -> sympy.Expr | None:
        """Capacity × ``usable_fraction``: what the runtime may fill with weights, KV and activations."""
        return None if self.capacity_bytes is None else self.capacity_bytes * self.usable_fraction

    @property
    def balance(self) -> sympy.Expr:
        """Machine balance, FLOPs per byte: ``peak_flops / bandwidth``, exact (achieved rates)."""
        return self.peak_flops / self.bandwidth

    @property
    def efficient(self) -> bool:
        """True when both efficiencies are 1 (the datasheet's roofline)."""
        return self.flops_efficiency == 1 and self.bandwidth_efficiency == 1

    # ---- copies -----------------------------------------------------------------------------------
    def replace(self, **changes: Any) -> Hardware:
        """A copy with fields changed, validated as the constructor does.

        >>> get("H100").replace(bandwidth_efficiency=0.8).bandwidth == 3350 * 10**9 * 4 // 5
        True
        >>> get("H100").replace(usable_fraction=0)
        Traceback (most recent call last):
        ...
        ValueError: H100-SXM: usable_fraction=0 must be a positive number
        """
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown Hardware field {unknown[0]!r}"
                             + suggest(unknown[0], [f.name for f in dataclasses.fields(self)]))
        return dataclasses.replace(self, **changes)

    def with_dtype(self, dtype: str) -> Hardware:
        """The same part, evaluated at another dtype's peak."""
        return self.replace(dtype=dtype)

    def with_efficiency(self, flops: Any = None, bandwidth: Any = None) -> Hardware:
        """The same part at achieved fractions of its peak FLOP/s and bandwidth (None keeps one)."""
        changes = {k: v for k, v in (("flops_efficiency", flops), ("bandwidth_efficiency", bandwidth))
                   if v is not None}
        return self.replace(**changes)

    # ---- text -------------------------------------------------------------------------------------
    def describe(self) -> str:
        """One line: peak, bandwidth, capacity, balance, and the efficiencies when not 1."""
        parts = [f"{self.name} ({self.dtype}): {_si(self.datasheet_peak_flops, 'FLOP/s')}",
                 _si(self.datasheet_bandwidth, "B/s")]
        if self.capacity_bytes is not None:
            usable = "" if self.usable_fraction == 1 else f" ({_percent(self.usable_fraction)} usable)"
            parts.append(_binary(self.capacity_bytes) + usable)
        parts.append(f"balance {_num(self.balance)} FLOP/byte")
        text = ", ".join(parts)
        achieved = []
        if self.flops_efficiency != 1:
            achieved.append(f"{_percent(self.flops_efficiency)} of peak FLOP/s")
        if self.bandwidth_efficiency != 1:
            achieved.append(f"{_percent(self.bandwidth_efficiency)} of bandwidth")
        return text + ("; achieved " + " and ".join(achieved) if achieved else "")

    def __str__(self) -> str:
        return self.describe()

    def __hash__(self) -> int:
        return hash((self.name, self.dtype, self.flops_efficiency, self.bandwidth_efficiency))


def _num(x: sympy.Expr) -> str:
    if not x.is_number:
        return str(x)
    v = float(x)
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _si(x: sympy.Expr, unit: str) -> str:
    if not x.is_number:
        return f"{x} {unit}"
    v = float(x)
    for scale, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:.4g} {prefix}{unit}"
    return f"{v:.4g} {unit}"


def _binary(x: sympy.Expr) -> str:
    """Bytes as GiB (``80 GiB``) when whole, else with 4 significant digits."""
    if not x.is_number:
        return f"{x} bytes"
    gib = x / 2**30
    return f"{int(gib)} GiB" if gib.is_integer else f"{float(gib):.4g} GiB"


def _percent(x: sympy.Expr) -> str:
    return f"{float(x) * 100:.4g}%"


# ---- the catalogue and lookups ------------------------------------------------------------------
def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _rows(data: Mapping[str, Any], where: str) -> dict[str, Hardware]:
    """`Hardware` rows from parsed TOML tables, each field checked; errors name the field and ``where``."""
    out: dict[str, Hardware] = {}
    if not data:
        raise ValueError(f"{where}: no hardware rows (a row is a table: [\"name\"] with peak_flops_per_s, ...)")
    for name, raw in data.items():
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where}: {name!r} must be a table of fields ([\"{name}\"] ...), "
                             f"not {type(raw).__name__}")
        unknown = [k for k in raw if k not in _FIELDS]
        if unknown:
            raise ValueError(f"{where}: row {name!r}: unknown field {unknown[0]!r}"
                             + suggest(unknown[0], list(_FIELDS)))
        for required in ("peak_flops_per_s", "bandwidth_bytes_per_s"):
            if required not in raw:
                raise ValueError(f"{where}: row {name!r}: missing field {required!r}")
        row: dict[str, Any] = dict(raw)
        if isinstance(row.get("peak_flops_per_s"), (int, float)) and not isinstance(row["peak_flops_per_s"], bool):
            row["peak_flops_per_s"] = {row.get("dtype", "bf16"): row["peak_flops_per_s"]}
        if "aliases" in row and isinstance(row["aliases"], list):
            row["aliases"] = tuple(row["aliases"])
        try:
            out[name] = Hardware(name=name, **row)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{where}: row {name!r}: {err}") from None
    return out


@cache
def catalogue() -> dict[str, Hardware]:
    text = (resources.files("symroof") / "data" / "hardware.toml").read_text(encoding="utf-8")
    return _rows(tomllib.loads(text), "symroof/data/hardware.toml")


def names() -> list[str]:
    return list(catalogue())


def resolve(name: str | Hardware) -> tuple[Hardware, bool]:
    """A catalogue entry by name or alias, and whether an alias (not its own name) was used.

    The CLI prints the resolved name when ``alias_used`` (``--gpu H100`` means H100-SXM).

    >>> hw, alias = resolve("H100")
    >>> hw.name, alias
    ('H100-SXM', True)
    >>> resolve("h100 sxm")[1]
    False
    """
    if isinstance(name, Hardware):
        return name, False
    if not isinstance(name, str):
        raise UnknownName(f"GPU name must be a string, not {type(name).__name__}")
    key = _norm(name)
    if not key:
        raise UnknownName(f"GPU name {name!r} is empty; known: {', '.join(names())}")
    for hw in catalogue().values():
        if key == _norm(hw.name):
            return hw, False
    for hw in catalogue().values():
        if key in map(_norm, hw.aliases):
            return hw, True
    raise UnknownName(f"unknown GPU {name!r}" + suggest(name, names()))


def get(name: str | Hardware) -> Hardware:
    """A catalogue entry by name or alias, case- and punctuation-insensitive (``"a100 sxm"``)."""
    return resolve(name)[0]


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


# ---- custom hardware ------------------------------------------------------------------------------
def custom(name: str, peak_flops_per_s: Any, bandwidth_bytes_per_s: Any, memory_bytes: Any = None, *,
           capacity_bytes: Any = None, **fields: Any) -> Hardware:
    """A `Hardware` from keyword values (what ``--gpu-peak``-style options give).

    ``peak_flops_per_s`` is a mapping of dtype to FLOP/s, or one number (the peak of
    ``dtype``, default bf16); ``memory_bytes`` (or ``capacity_bytes``) is the device memory.
    The other fields are those of `Hardware` (``interconnect_bytes_per_s``, ``dtype``,
    ``usable_fraction``, ``flops_efficiency``, ``bandwidth_efficiency``, ``source``).

    >>> v5e = custom("v5e (scaling-book)", 1.97e14, 8.2e11, 16 * 2**30, source="scaling-book Part 7")
    >>> v5e.balance
    9850/41
    >>> custom("x", {"bf16": -1}, 1e12)
    Traceback (most recent call last):
    ...
    ValueError: x: peak_flops_per_s[bf16]=-1 must be a positive number
    """
    if memory_bytes is not None and capacity_bytes is not None:
        raise ValueError("give memory_bytes or capacity_bytes, not both (they are the same field)")
    unknown = sorted(set(fields) - set(_FIELDS))
    if unknown:
        raise ValueError(f"unknown Hardware field {unknown[0]!r}" + suggest(unknown[0], list(_FIELDS)))
    if not isinstance(peak_flops_per_s, Mapping):
        peak_flops_per_s = {fields.get("dtype", "bf16"): peak_flops_per_s}
    aliases = fields.pop("aliases", ())
    return Hardware(name=name, peak_flops_per_s=peak_flops_per_s, bandwidth_bytes_per_s=bandwidth_bytes_per_s,
                    capacity_bytes=memory_bytes if memory_bytes is not None else capacity_bytes,
                    aliases=tuple(aliases) if isinstance(aliases, list) else aliases, **fields)


def load(path: str | os.PathLike[str]) -> dict[str, Hardware]:
    """Hardware rows from a TOML file laid out as ``symroof/data/hardware.toml``, by name.

    The file must be a regular file of at most `MAX_FILE_BYTES`; each row is validated
    and any error is one ``ValueError`` naming the file, the row and the field.
    """
    where = os.fspath(path)
    text = read_text(path, "hardware file", MAX_FILE_BYTES)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{where}: not valid TOML ({err})") from None
    except RecursionError:
        raise ValueError(f"{where}: nested too deeply for a hardware file") from None
    return _rows(data, where)
