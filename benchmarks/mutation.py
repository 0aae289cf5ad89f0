#!/usr/bin/env python
"""Mutation testing for symroof: plant one plausible bug at a time and see whether the tests notice.

Not part of CI. Run it before closing an issue that changes formulas and give its score in the
closing note::

    python benchmarks/mutation.py --core --jobs 1 --report /tmp/mutation.json     # all of the core
    python benchmarks/mutation.py --module symroof/cost/components.py --max 80
    python benchmarks/mutation.py --only /tmp/mutation.json       # again, the ones not killed last time
    python benchmarks/mutation.py --module symroof/model/params.py --list      # the mutants only

How it works. Each ``--module`` is parsed (``ast``) and every mutable place becomes one mutant:

* arithmetic: ``+``↔``-``, ``*``↔``/``, ``//``→``/``, ``**``→``*``, ``%``→``//``; a removed term
  or factor (``a + b`` → ``a`` and → ``b``, the same for ``-``, ``*``, ``/``);
* integer constants ±1 and ×2, float constants ×2 (0 → 1);
* comparisons ``<``↔``<=``, ``>``↔``>=``, ``==``↔``!=``, ``in``↔``not in``, ``is``↔``is not``;
  ``and``↔``or``; a dropped unary ``-`` or ``not``; ``True``↔``False``;
* calls: the first two positional arguments swapped, a keyword argument dropped,
  ``max``↔``min`` (also ``Max``/``Min``), ``ceiling``↔``floor`` (also ``ceil``),
  ``Rational(p, q)`` and ``S.Half`` → ``1``;
* string choices: a string compared with ``==``/``!=``/``in``, passed as a keyword argument, a
  parameter's default or a dict key gets a prefix (``"gelu"`` → ``"mut_gelu"``).

Docstrings, annotations, f-strings, ``raise`` statements (messages), ``warnings.warn`` calls and
``__all__`` are left alone. Nothing here knows symroof's internals: the modules are arguments.

Each worker copies the repository (without ``.git``) to a temporary directory, with a ``shared``
link beside it (the seed documents, ``tests/scripts.py``), and mutates *that copy*: the working
tree is never written, and an interrupt (Ctrl-C) only removes the temporary copies.

Which tests run. First the suite (every test file but the notebooks, symroof's doctests, the
README's; or ``--tests``) runs once, unmutated, under ``coverage`` with one context per test: that
gives, for each line of symroof, the tests that execute it, and each test's time. The map is
cached in the temporary folder under a hash of ``symroof/``, ``tests/``, the README and
pyproject.toml, so a second run on the same tree starts at once (``--no-cache`` maps again). A
mutant then runs only the tests that execute its statement (for a compound statement its header;
for a ``def``'s defaults the function's body; for a constant at import time, the tests that
execute a line of a function naming it; for other code outside any function, every test that
executes a line of the module), cheapest first (the test's time and its file's import, divided by
1 + the number of the module's earlier mutants it killed), in runs of growing cost with a timeout
each, stopping after ``--budget`` seconds of test time. A mutant on a line no test executes is
not run: it survives, "not covered". Only tests that passed unmutated are selected; a
subprocess's execution (the CLI run as a program) is not seen.

How they run. Each workspace has a server process that imports the tests' third-party modules
(sympy, numpy, pytest, hypothesis, torch...) once, but neither symroof nor the tests; for each run
it forks, and the child runs ``pytest -x`` on the selected node ids, importing the mutated copy
afresh, so that a run costs a quarter of a second rather than an interpreter start. A failure, an
error (collection too) or a timeout kills the mutant, a pass means it survived; at the end each
killing test is run alone on the unmutated code, and a kill by a test that fails there too is an
error. Bytecode is not written (``PYTHONDONTWRITEBYTECODE``: a same-size mutant within the same
second could otherwise load a stale ``.pyc``) and Hypothesis runs derandomized (``CI=1``), so a run
is reproducible. The score is killed / (killed + survived + not covered); those not killed are
printed as ``file:line: mutation``. ``--report X.json`` keeps every result, and ``--only X.json``
runs again only those it lists as not killed (after new tests, to show they now die).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pytest import hookimpl as pytest_hookimpl

ROOT = Path(__file__).resolve().parent.parent

CORE = [
    "symroof/model/params.py",
    "symroof/cost/components.py",
    "symroof/cost/phases.py",
    "symroof/cost/mla.py",
    "symroof/cost/moe.py",
    "symroof/analysis/roofline.py",
    "symroof/analysis/timing.py",
    "symroof/model/precision.py",
    "symroof/model/layers.py",
    "symroof/model/arch.py",
    "symroof/cost/step.py",
    "symroof/analysis/capacity.py",
]

# What the coverage map runs: the test suite but the notebooks (they re-run the whole pipeline, slowly),
# the package's doctests and the README's.
SLOW = {"test_notebooks"}


def suite(root: Path = ROOT) -> list[str]:
    """The paths the coverage map runs by default: every test file but ``SLOW``, ``symroof``, ``README.md``."""
    files = sorted(p.relative_to(root).as_posix() for p in (root / "tests").glob("test_*.py") if p.stem not in SLOW)
    return [*files, "symroof", "README.md"]


# ---- mutants ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mutant:
    path: str              # relative to the repository
    line: int
    col: int               # character offsets (not ast's UTF-8 byte offsets)
    end_line: int
    end_col: int
    replacement: str
    description: str

    def apply(self, source: str) -> str:
        lines = source.splitlines(keepends=True)
        start = sum(len(x) for x in lines[: self.line - 1]) + self.col
        end = sum(len(x) for x in lines[: self.end_line - 1]) + self.end_col
        return source[:start] + self.replacement + source[end:]


_BINOP_SWAP: dict[type, list[type]] = {
    ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div], ast.Div: [ast.Mult],
    ast.FloorDiv: [ast.Div], ast.Pow: [ast.Mult], ast.Mod: [ast.FloorDiv],
}
_CMP_SWAP: dict[type, type] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}
_NAME_SWAP = {"max": "min", "min": "max", "Max": "Min", "Min": "Max", "ceiling": "floor", "floor": "ceiling",
              "ceil": "floor"}
_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Pow: "**",
            ast.Mod: "%", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
            ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}


def _callee(node: ast.Call) -> str:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


class _Finder(ast.NodeVisitor):
    def __init__(self, path: str, source: str):
        self.path, self.source = path, source
        self.lines = source.splitlines(keepends=True)
        self.found: list[Mutant] = []
        self.choice_strings: set[int] = set()   # id() of string constants used as a choice

    # -- helpers
    def _char(self, line: int, col: int) -> int:
        return len(self.lines[line - 1].encode()[:col].decode(errors="replace"))

    def add(self, node: ast.AST, replacement: str, description: str, *, paren: bool = True) -> None:
        seg = ast.get_source_segment(self.source, node)
        if seg is None or replacement == seg:
            return
        self.found.append(Mutant(
            self.path, node.lineno, self._char(node.lineno, node.col_offset),
            end := node.end_lineno or node.lineno, self._char(end, node.end_col_offset or 0),
            f"({replacement})" if paren else replacement, f"{description}: {_short(seg)} -> {_short(replacement)}"))

    def body(self, stmts: list[ast.stmt]) -> None:
        for i, s in enumerate(stmts):
            if i == 0 and isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) \
                    and isinstance(s.value.value, str):
                continue                                               # docstring
            self.visit(s)

    # -- skipped contexts
    def visit_Module(self, node: ast.Module) -> None:
        self.body(node.body)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for d in node.decorator_list:
            self.visit(d)
        self.body(node.body)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        a = node.args
        defaults = [*a.defaults, *(d for d in a.kw_defaults if d is not None)]
        for d in defaults:
            if isinstance(d, ast.Constant) and isinstance(d.value, str):
                self.choice_strings.add(id(d))
            self.visit(d)
        for d in node.decorator_list:
            self.visit(d)
        self.body(node.body)                                           # annotations are skipped

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)

    def visit_Raise(self, node: ast.Raise) -> None:
        pass

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        pass

    def visit_Assign(self, node: ast.Assign) -> None:
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return
        self.generic_visit(node)

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            self.body(node.orelse)
            return
        self.generic_visit(node)

    # -- mutations
    def visit_BinOp(self, node: ast.BinOp) -> None:
        for op in _BINOP_SWAP.get(type(node.op), []):
            self.add(node, ast.unparse(ast.BinOp(node.left, op(), node.right)),
                     f"operator {_SYMBOLS[type(node.op)]} -> {_SYMBOLS[op]}")
        if isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
            self.add(node, ast.unparse(node.left), "removed right operand")
            if isinstance(node.op, ast.Add | ast.Mult):
                self.add(node, ast.unparse(node.right), "removed left operand")
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.USub | ast.Not):
            what = "-" if isinstance(node.op, ast.USub) else "not"
            self.add(node, ast.unparse(node.operand), f"removed unary {what}")
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        self.add(node, ast.unparse(ast.BoolOp(other, node.values)), "and <-> or")
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        for i, op in enumerate(node.ops):
            ops = list(node.ops)
            ops[i] = _CMP_SWAP[type(op)]()
            self.add(node, ast.unparse(ast.Compare(node.left, ops, node.comparators)),
                     f"comparison {_SYMBOLS[type(op)]} -> {_SYMBOLS[type(ops[i])]}")
            if isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn):
                for side in (node.left, node.comparators[i]):
                    for c in ([side] if not isinstance(side, ast.Tuple | ast.List | ast.Set) else side.elts):
                        if isinstance(c, ast.Constant) and isinstance(c.value, str):
                            self.choice_strings.add(id(c))
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        for k in node.keys:
            if isinstance(k, ast.Constant) and isinstance(k.value, str):
                self.choice_strings.add(id(k))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _callee(node)
        if name == "warn":
            return
        if name in _NAME_SWAP:
            f = node.func
            new = ast.Name(_NAME_SWAP[name]) if isinstance(f, ast.Name) else ast.Attribute(f.value, _NAME_SWAP[name])
            self.add(f, ast.unparse(new), f"{name} -> {_NAME_SWAP[name]}", paren=False)
        if name == "Rational" and len(node.args) == 2:
            self.add(node, "1", "Rational -> 1")
        pos = [a for a in node.args if not isinstance(a, ast.Starred)]
        if len(pos) >= 2 and len(pos) == len(node.args):
            a0, a1 = ast.unparse(pos[0]), ast.unparse(pos[1])
            if a0 != a1 and not any(isinstance(a, ast.Constant) for a in pos[:2]):   # f(x, "x"): no
                args = [pos[1], pos[0], *pos[2:]]
                self.add(node, ast.unparse(ast.Call(node.func, args, node.keywords)), "swapped arguments")
        for i, kw in enumerate(node.keywords):
            if kw.arg is None:
                continue
            if isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                self.choice_strings.add(id(kw.value))
            kws = node.keywords[:i] + node.keywords[i + 1:]
            self.add(node, ast.unparse(ast.Call(node.func, node.args, kws)), f"dropped keyword {kw.arg}=")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "Half" and isinstance(node.value, ast.Attribute | ast.Name):
            self.add(node, "1", "S.Half -> 1")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        v = node.value
        if isinstance(v, bool):
            self.add(node, repr(not v), "boolean flipped", paren=False)
        elif isinstance(v, int):
            for new, what in ((v + 1, "+1"), (v - 1, "-1"), (2 * v, "x2")):
                if new != v and not any(m.line == node.lineno and m.replacement == f"({new})"
                                        and m.col == self._char(node.lineno, node.col_offset) for m in self.found):
                    self.add(node, repr(new), f"constant {what}")
        elif isinstance(v, float):
            self.add(node, repr(v * 2 if v else 1.0), "constant x2" if v else "constant 0 -> 1")
        elif isinstance(v, str) and id(node) in self.choice_strings:
            self.add(node, repr("mut_" + v), "string choice", paren=False)


def _short(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def mutants(path: str, root: Path = ROOT) -> list[Mutant]:
    """Every mutant of ``path`` (relative to ``root``), in source order."""
    source = (root / path).read_text()
    finder = _Finder(path, source)
    # A string is a "choice" when its parent (a comparison, a keyword, a default, a dict) marks it,
    # which the visitor always does before it visits the string.
    finder.visit(ast.parse(source))
    found = sorted(set(finder.found), key=lambda m: (m.line, m.col, m.description))
    out = []
    for m in found:                      # a mutant must still compile
        try:
            compile(m.apply(source), path, "exec")
        except SyntaxError:
            continue
        out.append(m)
    return out


# ---- the coverage map: which tests execute which line --------------------------------------------------------

MAP_FORMAT = 1


@dataclass
class TestMap:                                # (a change of these fields or of their meaning: MAP_FORMAT + 1)
    tests: list[str]                          # node ids of the tests that pass unmutated
    seconds: list[float]                      # each one's run time (setup + call + teardown), unmutated
    collect: dict[str, float]                 # a test file's collection (import) time
    lines: dict[str, dict[int, list[int]]]    # module (relative path) -> line -> indices into ``tests``
    preload: list[str]                        # third-party modules the tests imported (the server imports them)

    def __post_init__(self) -> None:
        # JSON keys are strings: a map read back from the cache must look lines up by number, as a new one does
        self.lines = {mod: {int(n): ids for n, ids in by_line.items()} for mod, by_line in self.lines.items()}

    def file(self, i: int) -> str:
        return self.tests[i].split("::")[0]


class _Recorder:
    """pytest plugin for the map run: one coverage context per test (its node id), its time and outcome."""

    def __init__(self, cov: Any):
        self.cov = cov
        self.seconds: dict[str, float] = {}
        self.ok: dict[str, bool] = {}
        self.collect: dict[str, float] = {}

    @pytest_hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> Any:
        self.cov.switch_context(item.nodeid)
        yield
        self.cov.switch_context("")

    @pytest_hookimpl(hookwrapper=True)
    def pytest_make_collect_report(self, collector: Any) -> Any:
        t0 = time.perf_counter()
        yield
        if "::" not in collector.nodeid and "." in collector.nodeid.rsplit("/", 1)[-1]:     # a file
            # a test file is collected twice (its tests, its doctests): the first imports it
            self.collect[collector.nodeid] = self.collect.get(collector.nodeid, 0.0) + time.perf_counter() - t0

    def pytest_runtest_logreport(self, report: Any) -> None:
        self.seconds[report.nodeid] = self.seconds.get(report.nodeid, 0.0) + report.duration
        if report.failed or report.skipped or hasattr(report, "wasxfail"):
            self.ok[report.nodeid] = False
        elif report.when == "call":
            self.ok.setdefault(report.nodeid, True)


def _map_worker(out: Path, args: list[str]) -> int:
    """``--_map OUT ARGS``: run pytest on ARGS under coverage (in a workspace) and write the map as JSON."""
    import coverage
    import pytest

    root = Path.cwd()
    cov = coverage.Coverage(data_file=None, source=[str(root / "symroof")], config_file=False)
    rec = _Recorder(cov)
    cov.start()
    try:
        rc = pytest.main(["-q", "--no-header", *args], plugins=[rec])
    finally:
        cov.stop()
    data = cov.get_data()
    tests = sorted(n for n, ok in rec.ok.items() if ok)
    index = {n: i for i, n in enumerate(tests)}
    lines: dict[str, dict[int, list[int]]] = {}
    for f in data.measured_files():
        rel = Path(f).resolve().relative_to(root.resolve()).as_posix()
        by_line = data.contexts_by_lineno(f)
        lines[rel] = {n: sorted({index[c] for c in cs if c in index}) for n, cs in by_line.items()}
    preload = sorted(name for name, mod in list(sys.modules.items())
                     if (path := getattr(mod, "__file__", None)) and not Path(path).resolve().is_relative_to(root)
                     and name != "__main__")
    out.write_text(json.dumps({"rc": int(rc), "tests": tests, "seconds": [rec.seconds[n] for n in tests],
                               "collect": rec.collect, "lines": lines, "preload": preload}))
    return 0


def _shards(root: Path, paths: list[str], n: int) -> list[list[str]]:
    """``paths`` in ``n`` groups of about equal size (test files by bytes; a folder counts as a large file)."""
    def size(p: str) -> int:
        q = root / p
        return sum(f.stat().st_size for f in q.rglob("*.py")) if q.is_dir() else q.stat().st_size
    groups: list[list[str]] = [[] for _ in range(n)]
    load = [0] * n
    for p in sorted(paths, key=size, reverse=True):
        k = load.index(min(load))
        groups[k].append(p)
        load[k] += size(p)
    return [g for g in groups if g]


def map_key(root: Path, paths: list[str]) -> str:
    """A hash of everything the map depends on: the code, the tests, the configuration, the paths mapped."""
    h = hashlib.sha256(json.dumps([MAP_FORMAT, sys.version, paths]).encode())
    files = [*sorted((root / "symroof").rglob("*")), *sorted((root / "tests").rglob("*")),
             root / "README.md", root / "pyproject.toml"]
    for f in files:
        if f.is_file() and "__pycache__" not in f.parts and ".hypothesis" not in f.parts:
            h.update(f.relative_to(root).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:20]


def build_map(spaces: list[Workspace], paths: list[str], cache: Path | None) -> TestMap:
    """Run ``paths`` once, unmutated, under coverage (one shard per workspace), or read the cached map."""
    if cache is not None and cache.is_file():
        print(f"coverage map: {cache} (cached)", flush=True)
        return TestMap(**json.loads(cache.read_text()))     # TestMap turns the JSON's line keys back into ints
    t0 = time.monotonic()
    shards = _shards(spaces[0].root, paths, len(spaces))
    procs = []
    for ws, shard in zip(spaces, shards, strict=False):
        out = ws.base / "map.json"
        cmd = [sys.executable, str(ws.root / "benchmarks" / "mutation.py"), "--_map", str(out), "--", *shard]
        log = (ws.base / "map.log").open("w")
        procs.append((subprocess.Popen(cmd, cwd=ws.root, env=ws.env(), stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True), out, ws, log))
    merged: dict[str, Any] = {"tests": [], "seconds": [], "collect": {}, "lines": {}, "preload": set()}
    for proc, out, ws, log in procs:
        with _LOCK:
            _PROCS.add(proc)
        rc = proc.wait()
        log.close()
        with _LOCK:
            _PROCS.discard(proc)
        if rc != 0 or not out.is_file():
            raise SystemExit(f"the coverage map run failed (rc {rc}):\n" + (ws.base / "map.log").read_text()[-3000:])
        part = json.loads(out.read_text())
        tail = (ws.base / "map.log").read_text().strip().splitlines()[-1:]
        if part["rc"] != 0:
            print(f"warning: unmutated tests fail ({' '.join(tail)}); the failing ones are left out", flush=True)
        base = len(merged["tests"])
        merged["tests"] += part["tests"]
        merged["seconds"] += part["seconds"]
        merged["collect"].update(part["collect"])
        merged["preload"] |= set(part["preload"])
        for mod, by_line in part["lines"].items():
            mine = merged["lines"].setdefault(mod, {})
            for n, ids in by_line.items():
                mine.setdefault(int(n), []).extend(base + i for i in ids)
    merged["preload"] = sorted(merged["preload"])
    tmap = TestMap(**merged)
    print(f"coverage map: {len(tmap.tests)} passing tests mapped in {time.monotonic() - t0:.0f} s", flush=True)
    if cache is not None:
        cache.write_text(json.dumps(asdict(tmap)))
    return tmap


# ---- which tests a mutant runs ------------------------------------------------------------------------------

def _scope(tree: ast.Module, line: int) -> tuple[range, bool]:
    """The lines whose execution runs the code at ``line``, and whether that is import time.

    The innermost statement holding ``line``: a simple statement is all its lines; a compound one
    (``if``, ``for``, ``with``...) only its header, since the mutant is not in its body; a ``def``'s
    header (defaults, decorators) is the function's body, which runs whenever the defaults matter.
    Code outside any function (module and class bodies) runs at import time."""
    path: list[ast.AST] = []
    node: ast.AST = tree
    while True:
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.stmt | ast.excepthandler | ast.match_case):
                continue
            body = [child] if hasattr(child, "lineno") else getattr(child, "body", [])
            if any(s.lineno <= line <= (s.end_lineno or s.lineno) for s in body):
                if hasattr(child, "lineno"):
                    path.append(child)
                node = child
                break
        else:
            break
    if not path:
        return range(line, line + 1), True
    inner = path[-1]
    in_function = any(isinstance(p, ast.FunctionDef | ast.AsyncFunctionDef) for p in path[:-1])
    if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
        return range(inner.body[0].lineno, (inner.end_lineno or inner.lineno) + 1), False
    end = inner.end_lineno or inner.lineno
    kids = [c for c in ast.iter_child_nodes(inner) if isinstance(c, ast.stmt | ast.excepthandler)]
    if kids:
        end = max(inner.lineno, min(c.lineno for c in kids) - 1)
    return range(inner.lineno, end + 1), not in_function


def _readers(tree: ast.Module, lines: range) -> set[int]:
    """The lines inside functions that name (``x`` or ``.x``) what an assignment in ``lines`` binds."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and node.lineno in lines:
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                names |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
    out: set[int] = set()
    if not names:
        return out
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for n in ast.walk(fn):
                if (isinstance(n, ast.Name) and n.id in names) or (isinstance(n, ast.Attribute) and n.attr in names):
                    out.update(range(n.lineno, (n.end_lineno or n.lineno) + 1))
    return out


class Selector:
    """For a mutant, the tests that execute its line, fastest first (``None``: no test does)."""

    def __init__(self, tmap: TestMap, root: Path):
        self.tmap, self.root = tmap, root
        self.trees: dict[str, ast.Module] = {}
        self.module_tests: dict[str, set[int]] = {}
        self.kills: dict[str, dict[int, int]] = {}
        self.index = {n: i for i, n in enumerate(tmap.tests)}

    def __call__(self, m: Mutant) -> list[int] | None:
        by_line = self.tmap.lines.get(m.path, {})
        if m.path not in self.trees:
            self.trees[m.path] = ast.parse((self.root / m.path).read_text())
            self.module_tests[m.path] = {i for ids in by_line.values() for i in ids}
        tree = self.trees[m.path]
        lines, import_time = _scope(tree, m.line)
        if import_time:
            # a module or class constant: the tests that execute a line naming it in a function, else
            # (a name only other modules read, a class header...) every test that runs the module
            used = _readers(tree, lines)
            chosen = {i for n in used for i in by_line.get(n, ())} or self.module_tests[m.path]
        else:
            chosen = {i for n in lines for i in by_line.get(n, ())}
        if not chosen:
            return None
        # Fastest first, counting a test file's import; a test that killed this module's earlier mutants
        # counts as that much faster (its cost over 1 + its kills): a bug near one it caught is likely
        # caught too, but a slow killer does not go before a cheap test.
        kills = self.kills.get(m.path, {})
        collect = self.tmap.collect
        return sorted(chosen, key=lambda i: ((self.tmap.seconds[i] + collect.get(self.tmap.file(i), 0.5))
                                             / (1 + kills.get(i, 0)), self.tmap.tests[i]))

    def killed(self, m: Mutant, test: str) -> None:
        """Note that ``test`` killed ``m`` (it moves to the front for the module's next mutants)."""
        i = self.index.get(test)
        if i is not None:
            with _LOCK:
                counts = self.kills.setdefault(m.path, {})
                counts[i] = counts.get(i, 0) + 1

    def stages(self, ids: list[int], budget: float = 0.0,
               steps: tuple[float, ...] = (1.0, 10.0)) -> tuple[list[tuple[list[int], float]], int]:
        """``ids`` cut into runs of growing cost (test time plus each file's collection): most mutants
        die in the first, short one. With a ``budget`` (seconds, 0: none), the tests past it are left
        out; also returns how many."""
        out: list[tuple[list[int], float]] = []
        cur: list[int] = []
        cost, total, seen, left = 0.0, 0.0, set(), list(steps)
        for n, i in enumerate(ids):
            f = self.tmap.file(i)
            c = self.tmap.seconds[i] + (0.0 if f in seen else self.tmap.collect.get(f, 0.5))
            if budget and total + c > budget and (cur or out):
                if cur:
                    out.append((cur, cost))
                return out, len(ids) - n
            if cur and left and cost + c > left[0]:
                out.append((cur, cost))
                cur, cost, seen = [], 0.0, set()
                left.pop(0)
                c = self.tmap.seconds[i] + self.tmap.collect.get(f, 0.5)
            cur.append(i)
            cost += c
            total += c
            seen.add(f)
        if cur:
            out.append((cur, cost))
        return out, 0


# ---- running: a fork server per workspace -------------------------------------------------------------------

@dataclass
class Result:
    mutant: Mutant
    status: str            # "killed" | "timeout" | "survived" | "uncovered" | "error"
    seconds: float
    detail: str = ""       # the killing test, or what went wrong
    tests: int = 0         # tests run


class Workspace:
    """A copy of the repository in a temporary directory, with ``shared/`` linked beside it."""

    def __init__(self, base: Path):
        self.base = base
        self.root = base / ROOT.name
        shutil.copytree(ROOT, self.root, ignore=shutil.ignore_patterns(
            ".git", "__pycache__", "*.pyc", ".hypothesis", ".mypy_cache", ".ruff_cache", ".pytest_cache", "*.egg-info"))
        shared = ROOT.parent / "shared"
        if shared.exists():
            (base / "shared").symlink_to(shared)
        self.server: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(PYTHONPATH=str(self.root), PYTHONDONTWRITEBYTECODE="1", CI="1", MPLBACKEND="Agg")
        for k in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "COVERAGE_PROCESS_START"):
            env.pop(k, None)
        return env

    def start(self, preload: list[str]) -> None:
        (self.base / "preload.json").write_text(json.dumps(preload))
        cmd = [sys.executable, str(self.root / "benchmarks" / "mutation.py"), "--_serve", str(self.base)]
        self.server = subprocess.Popen(cmd, cwd=self.root, env=self.env(), stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True, start_new_session=True)
        with _LOCK:
            _PROCS.add(self.server)
        hello = self.server.stdout.readline()            # type: ignore[union-attr]
        if not hello.startswith("ready"):
            raise SystemExit(f"the test server in {self.root} did not start")

    def run(self, ids: list[str], timeout: float) -> dict[str, Any]:
        """Run the tests ``ids`` (node ids, in this order, stopping at the first failure) in a fresh fork."""
        assert self.server is not None and self.server.stdin and self.server.stdout
        if _STOP.is_set():
            return {"rc": 2, "seconds": 0.0, "failed": "stopped", "ran": 0, "missing": 0}
        self.server.stdin.write(json.dumps({"ids": ids, "timeout": timeout}) + "\n")
        self.server.stdin.flush()
        reply = self.server.stdout.readline()
        if not reply:
            if _STOP.is_set():
                return {"rc": 2, "seconds": 0.0, "failed": "stopped", "ran": 0, "missing": 0}
            raise SystemExit(f"the test server in {self.root} died")
        return json.loads(reply)


_PROCS: set[subprocess.Popen] = set()
_LOCK = threading.Lock()
_STOP = threading.Event()


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)     # the process group this run started (start_new_session)


class _Select:
    """pytest plugin in a forked run: keep only the requested node ids, in the requested order."""

    def __init__(self, ids: list[str]):
        self.order = {n: i for i, n in enumerate(ids)}
        self.missing = 0
        self.failed = ""
        self.ran = 0

    def pytest_collection_modifyitems(self, session: Any, config: Any, items: list[Any]) -> None:
        keep = sorted((it for it in items if it.nodeid in self.order), key=lambda it: self.order[it.nodeid])
        self.missing = len(self.order) - len(keep)
        config.hook.pytest_deselected(items=[it for it in items if it.nodeid not in self.order])
        items[:] = keep

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed and not self.failed:
            self.failed = report.nodeid
        if report.when == "call":
            self.ran += 1

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed and not self.failed:
            self.failed = f"collecting {report.nodeid}"


def _serve(base: Path) -> int:
    """``--_serve BASE``: import the tests' third-party modules once, then for each request on stdin
    (JSON: node ids, timeout) fork, run pytest on those tests in the child and answer on stdout.
    symroof and the tests are never imported here, so each child imports the (mutated) files afresh."""
    import gc
    import importlib
    import warnings

    import pytest
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in json.loads((base / "preload.json").read_text()):
            with contextlib.suppress(BaseException):
                importlib.import_module(name)
    gc.collect()
    gc.freeze()          # the preloaded heap is never collected again: pytest's gc.collect() at exit stays fast
    out = sys.stdout
    print("ready", file=out, flush=True)
    log, result = base / "run.log", base / "run.json"
    for line in sys.stdin:
        req = json.loads(line)
        ids: list[str] = req["ids"]
        files = list(dict.fromkeys(n.split("::")[0] for n in ids))
        result.unlink(missing_ok=True)
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:                                                     # the child
            rc = 3
            try:
                os.setpgid(0, 0)
                fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                sel = _Select(ids)
                # the preloaded pytest plugins cannot be rewritten any more: pytest warns, and the
                # configuration's filterwarnings = error would make that warning an error
                quiet = ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
                rc = int(pytest.main(["-x", "-q", "--no-header", *quiet, *files], plugins=[sel]))
                result.write_text(json.dumps({"failed": sel.failed, "ran": sel.ran, "missing": sel.missing}))
            except BaseException:
                import traceback
                with contextlib.suppress(BaseException):
                    log.write_text(traceback.format_exc())
            finally:
                with contextlib.suppress(BaseException):
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(rc)
        rc_out: int | None = None
        deadline = t0 + req["timeout"]
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                rc_out = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.005)
        info = json.loads(result.read_text()) if result.is_file() else {"failed": "", "ran": 0, "missing": 0}
        if rc_out not in (0, None) and not info["failed"]:
            info["failed"] = " ".join(log.read_text(errors="replace").strip().splitlines()[-1:])[:200]
        print(json.dumps({"rc": rc_out, "seconds": time.monotonic() - t0, **info}), file=out, flush=True)
    return 0


def run_mutant(ws: Workspace, m: Mutant, ids: list[int] | None, sel: Selector, timeout: float | None,
               budget: float = 0.0) -> Result:
    if ids is None:
        return Result(m, "uncovered", 0.0, "no test executes this line")
    target = ws.root / m.path
    original = target.read_text()
    target.write_text(m.apply(original))
    secs, ran = 0.0, 0
    try:
        stages, left = sel.stages(ids, budget)
        for stage, cost in stages:
            names = [sel.tmap.tests[i] for i in stage]
            r = ws.run(names, timeout or 30 + 5 * cost)
            secs += r["seconds"]
            ran += r["ran"]
            if r["rc"] is None:
                return Result(m, "timeout", secs, f"after {secs:.0f} s", ran)
            if r["rc"] != 0:
                if r["failed"] == "stopped":
                    return Result(m, "error", secs, "stopped", ran)
                sel.killed(m, r["failed"])
                return Result(m, "killed", secs, r["failed"], ran)
            if r["missing"]:
                return Result(m, "error", secs, f"{r['missing']} of the selected tests were not collected", ran)
    finally:
        target.write_text(original)
    return Result(m, "survived", secs, f"{ran} of {len(ids)} covering tests (the budget)" if left else "", ran)


def verify_killers(spaces: list[Workspace], results: list[Result]) -> None:
    """Each test that killed a mutant must pass alone on the unmutated code; else its kills are errors."""
    killers = sorted({r.detail for r in results if r.status == "killed" and "::" in r.detail
                      and not r.detail.startswith("collecting")})
    bad = set()
    for name in killers:
        if spaces[0].run([name], 600)["rc"] != 0:
            bad.add(name)
    for r in results:
        if r.status == "killed" and r.detail in bad:
            r.status, r.detail = "error", f"{r.detail} fails unmutated too"
    print(f"checked {len(killers)} killing tests on the unmutated code: {len(bad)} fail", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--module", action="append", default=[], help="a module to mutate (repeatable), e.g. "
                   "symroof/cost/components.py")
    p.add_argument("--core", action="store_true", help="mutate the core modules: " + ", ".join(CORE))
    p.add_argument("--tests", nargs="+", help="test paths to map and select from instead of the suite "
                   "(default: every test file but the notebooks, symroof's doctests, README.md)")
    p.add_argument("--max", type=int, help="at most N mutants per module (a deterministic sample, --seed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lines", help="only mutants starting in these lines, e.g. 40-90")
    p.add_argument("--only", type=Path, help="only the mutants a JSON report (--report X.json) lists as not killed")
    p.add_argument("--jobs", type=int, default=1, help="mutants run in parallel (one copy of the tree each)")
    p.add_argument("--timeout", type=float, help="seconds per run of a mutant's tests (default: 30 + 5x their "
                   "unmutated time)")
    p.add_argument("--budget", type=float, default=20.0, help="seconds of (unmutated) test time at most per "
                   "mutant, then it is called a survivor with the tests it ran (default 20; 0: all covering tests)")
    p.add_argument("--no-cache", action="store_true", help="map the tests again even if a map of this tree exists")
    p.add_argument("--list", action="store_true", help="list the mutants and exit")
    p.add_argument("--report", type=Path, help="write the results here (.json, else Markdown)")
    p.add_argument("--_map", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--_serve", type=Path, help=argparse.SUPPRESS)
    args, rest = p.parse_known_args(argv)
    if args._map:
        return _map_worker(args._map, [a for a in rest if a != "--"])
    if args._serve:
        return _serve(args._serve)
    if rest:
        p.error(f"unrecognized arguments: {' '.join(rest)}")

    modules = [*(CORE if args.core else []), *args.module]
    only: set[tuple] | None = None
    if args.only:
        prev = [r for r in json.loads(args.only.read_text()) if r["status"] not in ("killed", "timeout")]
        only = {(r["path"], r["line"], r["col"], r["end_line"], r["end_col"], r["replacement"]) for r in prev}
        modules = modules or list(dict.fromkeys(r["path"] for r in prev))
    if not modules:
        p.error("give --module PATH (repeatable), --core or --only REPORT.json")
    plan: list[Mutant] = []
    for mod in modules:
        if not (ROOT / mod).is_file():
            p.error(f"no such module: {mod}")
        ms = mutants(mod)
        if only is not None:
            ms = [m for m in ms if (m.path, m.line, m.col, m.end_line, m.end_col, m.replacement) in only]
        if args.lines:
            lo, _, hi = args.lines.partition("-")
            ms = [m for m in ms if int(lo) <= m.line <= int(hi or lo)]
        total = len(ms)
        if args.max is not None and len(ms) > args.max:
            ms = sorted(random.Random(f"{args.seed}:{mod}").sample(ms, args.max), key=lambda m: (m.line, m.col))
        plan += ms
        print(f"{mod}: {len(ms)} of {total} mutants", flush=True)
    if args.list:
        for m in plan:
            print(f"{m.path}:{m.line}: {m.description}")
        return 0

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Ctrl-C and kill (SIGTERM) both stop cleanly, even where the shell started us with SIGINT ignored.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    paths = args.tests or suite()
    cache = None if args.no_cache else Path(tempfile.gettempdir()) / f"symroof-mutation-map-{map_key(ROOT, paths)}.json"
    results: list[Result] = []
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="symroof-mutation-") as tmp:
        pool = ThreadPoolExecutor(max(1, args.jobs))
        try:
            spaces = [Workspace(Path(tmp) / f"w{i}") for i in range(max(1, args.jobs))]
            tmap = build_map(spaces, paths, cache)
            sel = Selector(tmap, ROOT)
            for ws in spaces:
                ws.start(tmap.preload)
            free: queue.Queue[Workspace] = queue.Queue()
            for ws in spaces:
                free.put(ws)

            def work(m: Mutant) -> Result:
                ws = free.get()
                try:
                    return run_mutant(ws, m, sel(m), sel, args.timeout, args.budget)
                finally:
                    free.put(ws)

            for i, r in enumerate(pool.map(work, plan), 1):
                results.append(r)
                mark = {"killed": ".", "timeout": "T", "survived": "S", "uncovered": "U", "error": "E"}[r.status]
                line = (f"[{i}/{len(plan)}] {mark} {r.seconds:5.1f}s {r.tests:4d}t {r.mutant.path}:{r.mutant.line}: "
                        f"{r.mutant.description}")
                print(line if r.status != "killed" else line[:160], flush=True)
            verify_killers(spaces, results)
        except KeyboardInterrupt:
            print("\ninterrupted: the temporary copies are removed; the working tree was never written",
                  file=sys.stderr)
        finally:
            _STOP.set()                              # no new run starts; the running ones are killed
            with _LOCK:
                for proc in list(_PROCS):
                    _kill(proc)
            pool.shutdown(wait=True, cancel_futures=True)
    report(results, args.report, time.monotonic() - t_start, argv if argv is not None else sys.argv[1:])
    return 0


def report(results: list[Result], path: Path | None, seconds: float = 0.0, argv: list[str] | None = None) -> None:
    by_mod: dict[str, list[Result]] = {}
    for r in results:
        by_mod.setdefault(r.mutant.path, []).append(r)
    lines = [f"`python benchmarks/mutation.py {' '.join(argv or [])}`, {time.strftime('%Y-%m-%d')}, "
             f"{seconds / 60:.1f} min", "",
             "| module | mutants | killed | survived | not covered | error | score |", "|---|---|---|---|---|---|---|"]
    k_all = s_all = u_all = e_all = 0
    for mod, rs in by_mod.items():
        k = sum(r.status in ("killed", "timeout") for r in rs)
        s = sum(r.status == "survived" for r in rs)
        u = sum(r.status == "uncovered" for r in rs)
        e = sum(r.status == "error" for r in rs)
        k_all, s_all, u_all, e_all = k_all + k, s_all + s, u_all + u, e_all + e
        lines.append(f"| {mod} | {len(rs)} | {k} | {s} | {u} | {e} | {100 * k / max(1, k + s + u):.1f}% |")
    lines.append(f"| **all** | {len(results)} | {k_all} | {s_all} | {u_all} | {e_all} | "
                 f"{100 * k_all / max(1, k_all + s_all + u_all):.1f}% |")
    survivors = [r for r in results if r.status in ("survived", "uncovered", "error")]
    lines += ["", f"Not killed ({len(survivors)}):", ""]
    lines += [f"- {r.mutant.path}:{r.mutant.line}: {r.mutant.description}"
              + ("" if r.status == "survived" else f" [{r.status}: {r.detail}]")
              + (f" ({r.detail or f'all {r.tests} covering tests'})" if r.status == "survived" else "")
              for r in survivors]
    text = "\n".join(lines)
    print("\n" + text)
    if path is not None:
        if path.suffix == ".json":
            path.write_text(json.dumps([{**asdict(r.mutant), "status": r.status, "seconds": round(r.seconds, 3),
                                         "detail": r.detail, "tests": r.tests} for r in results], indent=1))
        else:
            path.write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
