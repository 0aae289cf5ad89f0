"""Reading a ``config.json``: the file (parsed by :mod:`json`, never evaluated), typed key access that
names the key in every error, and Hugging Face's dtype names."""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sympy

from symroof._files import os_error, read_text
from symroof.model.precision import BYTES

__all__ = ["HF_DTYPES", "MAX_BYTES", "MAX_DEPTH", "Config", "ConfigDict", "dtype_bytes", "dtype_name", "parse_config",
           "read_config"]

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


_MISSING = object()

# A config.json is a few kilobytes (a large one, with a tokenizer's added tokens, under a megabyte)
# and nests a handful of levels; anything far beyond is refused before it is parsed.
MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64



class ConfigDict(dict):  # type: ignore[type-arg]
    """A JSON object read from a file: a ``dict`` that knows the file (``source``), so that
    `Config` names it in every error."""

    source: str = "config.json"


def read_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``config.json`` (or a folder holding one) into a dict, or raise one clear ``ValueError``.

    Only a regular file is read (a FIFO, a device or a socket is refused without being opened
    for reading, so nothing blocks), of at most `MAX_BYTES`, nesting at most `MAX_DEPTH` arrays
    and objects; numbers must be finite. Parsed by :mod:`json`, never evaluated.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"config path {path!r} must be a path, not {type(path).__name__}")
    file = Path(path)
    if str(path) == "":
        raise ValueError("config path '' is empty")
    shown = repr(str(file))
    try:
        info = file.stat()
        if stat.S_ISDIR(info.st_mode):
            file = file / "config.json"
            shown = repr(str(file))
            info = file.stat()
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read config file {shown}: {os_error(err)}") from None
    text = read_text(file, "config file", MAX_BYTES)
    return parse_config(text, str(file))


def parse_config(text: str, source: str = "config.json") -> dict[str, Any]:
    """Parse the text of a ``config.json`` (see `read_config`: nesting, numbers), naming ``source``."""
    shown = repr(source)
    depth = _depth(text)
    if depth > MAX_DEPTH:
        raise ValueError(f"config file {shown} nests {depth} arrays or objects deep; at most {MAX_DEPTH} are read")

    def obj(pairs: list[tuple[str, Any]]) -> ConfigDict:
        out = ConfigDict(pairs)
        out.source = source
        return out

    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float,
                          object_pairs_hook=obj)
    except json.JSONDecodeError as err:
        raise ValueError(f"config file {shown} is not valid JSON: {err}") from None
    except (ValueError, RecursionError) as err:   # a non-finite number, an integer beyond Python's digit limit
        message = " ".join(str(err).split()) or type(err).__name__
        raise ValueError(f"config file {shown} is not valid JSON: {message}") from None
    if not isinstance(data, dict):
        raise ValueError(f"config file {shown} must hold a JSON object, not {_json_type(data)}")
    return data


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)     # one JSON string (linear: its branches are disjoint)


def _depth(text: str) -> int:
    """How deep arrays and objects nest in JSON ``text`` (brackets inside strings not counted)."""
    import numpy as np  # here: import symroof does not load numpy

    bare = _STRING.sub("", text) if '"' in text else text
    opened = np.frombuffer(bare.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    if opened.size == 0:
        return 0
    step = (np.isin(opened, (0x5B, 0x7B)).astype(np.int64) - np.isin(opened, (0x5D, 0x7D)).astype(np.int64))
    return int(np.cumsum(step).max(initial=0))


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]}{'...' if len(text) > 40 else ''} is too large for a float")
    return value


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _json_type(value: object) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a float", dict: "an object", ConfigDict: "an object"}.get(
                type(value), type(value).__name__)


def shown(value: object, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters (a config value may be megabytes long)."""
    try:
        text = repr(value)
    except ValueError:                    # an integer beyond Python's digit limit for str()
        text = f"<an integer of {value.bit_length()} bits>" if isinstance(value, int) else type(value).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


class Config:
    """Typed, key-naming access to a config dict: every error names the key and the file (a dict
    from `read_config` knows its file; any other dict is called ``config.json``)."""

    def __init__(self, data: Mapping[str, Any]):
        if not isinstance(data, Mapping):
            raise ValueError(f"config {shown(data)} must be a JSON object, not {type(data).__name__}")
        self.data = data
        source = getattr(data, "source", None)
        self.where = f"config file {source!r}" if isinstance(source, str) else "config.json"

    def get(self, *keys: str, default: Any = _MISSING) -> tuple[str, Any]:
        """The first of ``keys`` present and not null, with its name."""
        for key in keys:
            if self.data.get(key) is not None:
                return key, self.data[key]
        if default is _MISSING:
            also = f" (nor {', '.join(keys[1:])})" if len(keys) > 1 else ""
            raise ValueError(f"{self.where} has no {keys[0]}{also}")
        return keys[0], default

    def count(self, *keys: str, default: Any = _MISSING, zero: bool = False) -> Any:
        """A positive (or with ``zero``, non-negative) integer, or ``default`` (which may be None)."""
        return self.named_count(*keys, default=default, zero=zero)[1]

    def named_count(self, *keys: str, default: Any = _MISSING, zero: bool = False) -> tuple[str, Any]:
        """`count` with the key it came from. A bool, a float (even ``64.0``) or a string is refused."""
        key, value = self.get(*keys, default=default)
        if value is None:
            return key, value
        lower = "non-negative" if zero else "positive"
        if isinstance(value, bool):
            raise ValueError(f"{self.where}: {key}={value!r} must be a {lower} integer, not a boolean")
        if not isinstance(value, int):
            raise ValueError(f"{self.where}: {key}={shown(value)} must be a {lower} integer, "
                             f"not {_json_type(value)}")
        if value < (0 if zero else 1):
            raise ValueError(f"{self.where}: {key}={shown(value)} must be a {lower} integer")
        return key, value

    def flag(self, key: str, default: bool) -> bool:
        _, value = self.get(key, default=default)
        if not isinstance(value, bool):
            raise ValueError(f"{self.where}: {key}={shown(value)} must be true or false")
        return value

    def text(self, key: str) -> str | None:
        _, value = self.get(key, default=None)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{self.where}: {key}={shown(value)} must be a string")
        return value
