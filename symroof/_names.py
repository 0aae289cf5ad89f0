"""Names: closest-name suggestions for unknown presets, GPUs and options (the bottom of the package)."""

from __future__ import annotations

__all__ = ["UnknownName", "normalize", "suggest"]


class UnknownName(ValueError):
    """An unknown preset name; the message suggests the closest known names."""


def normalize(name: str) -> str:
    """A name as looked up: lower case, ``_`` and spaces read as ``-``."""
    return name.strip().lower().replace("_", "-").replace(" ", "-")


def suggest(name: str, known: list[str]) -> str:
    """``"; did you mean a, b?"`` with the closest of ``known`` (or the whole list if none is close).

    >>> suggest("lama-3-8b", ["llama-3-8b", "gpt2"])
    '; did you mean llama-3-8b?'
    """
    import difflib  # here: only a wrong name needs it, not import symroof

    keys = {normalize(k): k for k in known}
    close = difflib.get_close_matches(normalize(name), list(keys), n=3, cutoff=0.4)
    return f"; did you mean {', '.join(keys[c] for c in close)}?" if close else f"; known: {', '.join(known)}"
