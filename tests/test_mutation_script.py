"""benchmarks/mutation.py's own bookkeeping (the script itself is not run by the suite: too slow)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys

from tests.scripts import ROOT


def _mutation():
    name = "symroof_mutation"
    if name not in sys.modules:      # registered before it runs: its dataclasses look their module up
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "mutation.py")
        assert spec is not None and spec.loader is not None
        module = sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_a_cached_coverage_map_looks_lines_up_by_number():
    """The map is cached as JSON, whose keys are strings; read back, line 132 must still find its tests
    (it found none, so every mutant inside a function of a cached map was reported "not covered")."""
    mutation = _mutation()
    tmap = mutation.TestMap(tests=["tests/test_a.py::test_x"], seconds=[0.1], collect={"tests/test_a.py": 0.2},
                            lines={"symroof/model/arch.py": {132: [0]}}, preload=[])
    again = mutation.TestMap(**json.loads(json.dumps(dataclasses.asdict(tmap))))
    assert again.lines == {"symroof/model/arch.py": {132: [0]}}
    assert again == tmap
