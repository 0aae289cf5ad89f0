"""Model presets (declarative rows in ``symroof/data/models/*.toml``) and loaders.

Examples
--------
>>> get("llama-3-8b").kv_width
1024
>>> get("Llama-3-8B") == get("llama-3-8b")
True
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

from symroof._names import UnknownName, suggest
from symroof._names import normalize as _norm
from symroof.model.arch import Arch
from symroof.model.hf import from_hf_config

__all__ = ["UnknownName", "catalogue", "from_hf_config", "get", "names", "suggest"]


@cache
def catalogue() -> dict[str, Arch]:
    """Every preset, by canonical name (loaded once from the package data)."""
    rows: dict[str, Arch] = {}
    folder = resources.files("symroof") / "data" / "models"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        for name, row in tomllib.loads(entry.read_text(encoding="utf-8")).items():
            if name in rows:
                raise ValueError(f"model preset {name!r} is defined twice (again in {entry.name})")
            rows[name] = _from_row(name, row)
    return rows


def _from_row(name: str, row: dict[str, Any]) -> Arch:
    row = dict(row)
    row.pop("aliases", None)
    try:
        return Arch(name=name, **row)
    except TypeError as err:
        raise ValueError(f"model preset {name!r}: {err}") from None


def names() -> list[str]:
    return list(catalogue())


def get(name: str) -> Arch:
    """The preset called ``name`` (case-insensitive; ``_`` and spaces read as ``-``)."""
    if not isinstance(name, str):
        raise UnknownName(f"model name must be a string, not {type(name).__name__}")
    table = catalogue()
    key = _norm(name)
    for canonical, arch in table.items():
        if _norm(canonical) == key:
            return arch
    raise UnknownName(f"unknown model {name!r}" + suggest(name, list(table)))
