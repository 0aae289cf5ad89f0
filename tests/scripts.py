"""Load a script of the repository (a derivation, the notebook builder) as a module, by path;
and where the seed documents are, if anywhere."""

import importlib.util
import os
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent

#: The seed documents the derivations reproduce: an optional input. The folder comes from
#: $SYMROOF_SEEDS (default ``../shared/seeds`` beside the repository); without it, the tests that
#: read the documents skip and every other test runs.
SEEDS = Path(os.environ.get("SYMROOF_SEEDS") or ROOT.parent / "shared" / "seeds")
SEEDS_MISSING = f"seed documents not found at {SEEDS}; set SYMROOF_SEEDS to the folder that holds them"


def seed_file(name: str) -> Path | None:
    """The seed document ``name`` (a file name such as ``002_ed6ee44c15ea390d.txt``), or None."""
    path = SEEDS / name
    return path if path.is_file() else None


def load_script(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
