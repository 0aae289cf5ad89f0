"""Write derivations/ERRATA.md from the derivation scripts (every claim that symroof contradicts).

    python derivations/make_errata.py           # (re)write ERRATA.md
    python derivations/make_errata.py --check   # exit 1 if ERRATA.md is out of date
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from symroof.output.derivation import Derivation, errata_markdown

HERE = Path(__file__).resolve().parent
SCRIPTS = ("seed_000", "seed_002", "seed_003")
OUTPUT = HERE / "ERRATA.md"


def load(name: str) -> ModuleType:
    """A derivation script of this folder, imported by path (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"symroof_derivations_{name}", HERE / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ValueError(f"no derivation script {name}.py in {HERE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def derivations() -> list[Derivation]:
    return [load(name).build() for name in SCRIPTS]


def render() -> str:
    return errata_markdown(derivations(), generator="python derivations/make_errata.py")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if ERRATA.md is not what the scripts give")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.name} is out of date: run python derivations/make_errata.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
