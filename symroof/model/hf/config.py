"""Reading a ``config.json``: the file (parsed by :mod:`json`, never evaluated), typed key access that
names the key in every error, and Hugging Face's dtype names."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sympy

from symroof.model.precision import BYTES

__all__ = ["HF_DTYPES", "Config", "dtype_bytes", "dtype_name", "read_config"]

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


class Config:
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


