"""The oracle stack is pinned: pyproject's ``oracle`` extra, ``constraints.txt`` and the README agree,
and the installed torch and transformers are the pinned ones.

The oracle tests compare symroof's ``matmul`` conventions with what a FLOP counter sees in
transformers' models; a new transformers release can change that (5.24 deprecated
``past_key_values``; 5.17-5.18 computed the rotary table as a matmul), so a moved pin must be
re-checked by running the suite, not picked up silently.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from tests import oracle_models as om

ROOT = Path(__file__).resolve().parent.parent
ORACLE = ("torch", "transformers")


def constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[name.lower().replace("_", "-")] = version
    return pins


def oracle_extra() -> dict[str, str]:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["oracle"]
    out = {}
    for requirement in extra:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([0-9][0-9A-Za-z.+]*)", requirement.strip())
        assert match, f"oracle extra {requirement!r} must be an exact pin (name==version)"
        out[match[1].lower()] = match[2]
    return out


def test_oracle_extra_pins_exactly_what_constraints_pin():
    extra, pins = oracle_extra(), constraints()
    assert set(extra) == set(ORACLE)
    for name in ORACLE:
        assert extra[name] == pins[name], f"{name}: pyproject pins {extra[name]}, constraints.txt {pins[name]}"


def test_readme_names_the_pinned_oracle_versions():
    readme = (ROOT / "README.md").read_text()
    for name, version in oracle_extra().items():
        assert f"{name} {version}" in readme, f"README must say the oracle is checked with {name} {version}"


@pytest.mark.parametrize("name", ORACLE)
def test_installed_oracle_is_the_pinned_one(name):
    om.require(name)
    installed = metadata.version(name).split("+")[0]       # torch's local label: 2.13.0+cpu
    assert installed == oracle_extra()[name], (
        f"{name} {installed} is installed but {oracle_extra()[name]} is pinned: install with "
        "'pip install -c constraints.txt -e .[dev,oracle]', or re-check and move the pin")
