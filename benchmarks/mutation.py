#!/usr/bin/env python
"""Mutation testing for symroof: plant one plausible bug at a time and see whether the tests notice.

Not part of CI (slow). Run it before closing an issue that changes formulas and give its score
in the closing note::

    python benchmarks/mutation.py --module symroof/cost/components.py --max 80 --jobs 2
    python benchmarks/mutation.py --core --max 60 --jobs 2 --report /tmp/mutation.md
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
tree is never written, and an interrupt (Ctrl-C) only removes the temporary copies. For each
mutant it runs ``pytest -x -q -p no:cacheprovider`` on the module's own doctests and its test
files (``TESTS`` below, or ``--tests``), fastest first, in two stages with a timeout; a failure, an error or
a timeout kills the mutant, a pass means it survived. Bytecode is not written
(``PYTHONDONTWRITEBYTECODE``: a same-size mutant within the same second could otherwise load a
stale ``.pyc``) and Hypothesis runs derandomized (``CI=1``), so a run is reproducible.
The score is killed / (killed + survived); the survivors are printed as ``file:line: mutation``.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
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

# Test files run for a module, fastest and most direct first (pytest -x stops at the first failure).
_MODEL = ["test_arch", "test_kernels", "test_capacity", "test_families",
          "test_contract", "test_seed000", "test_seed003", "test_membytes",
          "test_precision", "test_moe", "test_mla", "test_gaps", "test_bad_input", "test_properties",
          "test_bruteforce", "test_analysis", "test_hf", "test_cli", "test_oracle"]
_ANALYSIS = ["test_capacity",
             "test_contract", "test_seed000", "test_seed002", "test_seed003", "test_parallel", "test_membytes",
             "test_precision", "test_moe", "test_gaps", "test_speculative", "test_serving", "test_hardware",
             "test_bad_input", "test_analysis", "test_cli", "test_derivations"]
TESTS: dict[str, list[str]] = {
    "symroof/model/": _MODEL,
    "symroof/cost/": _MODEL,
    "symroof/analysis/": _ANALYSIS,
    "symroof/model/precision.py": ["test_precision", "test_seed003", "test_membytes", "test_gaps", "test_bad_input",
                                   "test_analysis", "test_hf", "test_cli"],
    "symroof/model/hf/": ["test_hf", "test_gaps", "test_precision", "test_bad_input", "test_cli"],
}
# Everything but the notebooks (they re-run the whole pipeline, slowly), for modules not listed above.
SLOW = {"test_notebooks"}
STAGE = 4   # test files in the first stage of a mutant's run


def tests_for(module: str, root: Path = ROOT) -> list[str]:
    """The test files for ``module``: the longest matching prefix in ``TESTS``, else the suite but ``SLOW``."""
    keys = [k for k in TESTS if module == k or (k.endswith("/") and module.startswith(k))]
    if keys:
        names = TESTS[max(keys, key=len)]
    else:
        names = sorted(p.stem for p in (root / "tests").glob("test_*.py") if p.stem not in SLOW)
    return [f"tests/{n}.py" for n in names if (root / "tests" / f"{n}.py").exists()]


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


# ---- running ------------------------------------------------------------------------------------------------

@dataclass
class Result:
    mutant: Mutant
    status: str            # "killed" | "timeout" | "survived" | "error"
    seconds: float
    detail: str = ""


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

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(PYTHONPATH=str(self.root), PYTHONDONTWRITEBYTECODE="1", CI="1")
        env.pop("PYTEST_ADDOPTS", None)
        env.pop("PYTEST_XDIST_WORKER", None)
        return env


_PROCS: set[subprocess.Popen] = set()
_LOCK = threading.Lock()
_STOP = threading.Event()


def run_tests(ws: Workspace, tests: list[str], timeout: float) -> tuple[int | None, float, str]:
    """(pytest's return code or None on timeout, seconds, the last lines of its output)."""
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header", "-o", "addopts=",
           "--doctest-modules", *tests]
    if _STOP.is_set():
        return 2, 0.0, "stopped"
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ws.root, env=ws.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    with _LOCK:
        _PROCS.add(proc)
    try:
        out, _ = proc.communicate(timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        _kill(proc)
        out, _ = proc.communicate()
        rc = None
    finally:
        with _LOCK:
            _PROCS.discard(proc)
    tail = "\n".join((out or "").strip().splitlines()[-3:])
    return rc, time.monotonic() - t0, tail


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)     # the process group this run started (start_new_session)


def run_mutant(ws: Workspace, m: Mutant, tests: list[str], timeout: float) -> Result:
    target = ws.root / m.path
    original = target.read_text()
    target.write_text(m.apply(original))
    # Two stages: the module's doctests and its first few (fast, direct) test files, then the rest;
    # most mutants die in the first, which spares them collecting the whole list.
    stages = [[m.path, *tests[:STAGE]], tests[STAGE:]]
    secs = 0.0
    try:
        for stage in filter(None, stages):
            rc, t, tail = run_tests(ws, stage, timeout)
            secs += t
            if rc != 0:
                break
    finally:
        target.write_text(original)
    if rc is None:
        return Result(m, "timeout", secs)
    if rc == 0:
        return Result(m, "survived", secs)
    if rc == 5:
        return Result(m, "error", secs, "no tests collected")
    return Result(m, "killed", secs, tail.splitlines()[-1] if tail else "")


def run_module(mod: str, ms: list[Mutant], tests: list[str], spaces: queue.Queue[Workspace],
               pool: ThreadPoolExecutor, timeout: float | None, results: list[Result]) -> None:
    """Run ``ms`` and append their results to ``results`` as they come (an interrupt keeps those)."""
    ws = spaces.get()
    try:                                             # the unmutated code must pass first
        rc, secs, tail = run_tests(ws, [mod, *tests], timeout=3600)
    finally:
        spaces.put(ws)
    if rc != 0:
        raise SystemExit(f"unmutated tests fail for {mod} (rc {rc}):\n{tail}")
    print(f"baseline {mod}: {secs:.1f} s", flush=True)
    timeout = timeout or max(60.0, 3 * secs)

    def work(m: Mutant) -> Result:
        ws = spaces.get()
        try:
            return run_mutant(ws, m, tests, timeout)
        finally:
            spaces.put(ws)

    for i, r in enumerate(pool.map(work, ms), 1):
        results.append(r)
        mark = {"killed": ".", "timeout": "T", "survived": "S", "error": "E"}[r.status]
        line = f"[{i}/{len(ms)}] {mark} {r.seconds:5.1f}s {r.mutant.path}:{r.mutant.line}: {r.mutant.description}"
        print(line if r.status != "killed" else line[:160], flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--module", action="append", default=[], help="a module to mutate (repeatable), e.g. "
                   "symroof/cost/components.py")
    p.add_argument("--core", action="store_true", help="mutate the core modules: " + ", ".join(CORE))
    p.add_argument("--tests", nargs="+", help="test files to run instead of the module's own list")
    p.add_argument("--max", type=int, help="at most N mutants per module (a deterministic sample, --seed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lines", help="only mutants starting in these lines, e.g. 40-90")
    p.add_argument("--jobs", type=int, default=1, help="mutants run in parallel (one copy of the tree each)")
    p.add_argument("--timeout", type=float, help="seconds per mutant (default: 3x the unmutated run, at least 60)")
    p.add_argument("--list", action="store_true", help="list the mutants and exit")
    p.add_argument("--report", type=Path, help="write the results here (.json, else Markdown)")
    args = p.parse_args(argv)

    modules = [*(CORE if args.core else []), *args.module]
    if not modules:
        p.error("give --module PATH (repeatable) or --core")
    plan: list[tuple[str, list[Mutant], list[str]]] = []
    for mod in modules:
        if not (ROOT / mod).is_file():
            p.error(f"no such module: {mod}")
        ms = mutants(mod)
        if args.lines:
            lo, _, hi = args.lines.partition("-")
            ms = [m for m in ms if int(lo) <= m.line <= int(hi or lo)]
        total = len(ms)
        if args.max is not None and len(ms) > args.max:
            ms = sorted(random.Random(f"{args.seed}:{mod}").sample(ms, args.max), key=lambda m: (m.line, m.col))
        plan.append((mod, ms, args.tests or tests_for(mod)))
        print(f"{mod}: {len(ms)} of {total} mutants; tests: {' '.join(args.tests or tests_for(mod))}", flush=True)
    if args.list:
        for _, ms, _ in plan:
            for m in ms:
                print(f"{m.path}:{m.line}: {m.description}")
        return 0

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Ctrl-C and kill (SIGTERM) both stop cleanly, even where the shell started us with SIGINT ignored.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="symroof-mutation-") as tmp:
        spaces: queue.Queue[Workspace] = queue.Queue()
        pool = ThreadPoolExecutor(max(1, args.jobs))
        try:
            for i in range(max(1, args.jobs)):
                spaces.put(Workspace(Path(tmp) / f"w{i}"))
            for mod, ms, tests in plan:
                run_module(mod, ms, tests, spaces, pool, args.timeout, results)
        except KeyboardInterrupt:
            print("\ninterrupted: the temporary copies are removed; the working tree was never written",
                  file=sys.stderr)
        finally:
            _STOP.set()                              # no new pytest run starts; the running ones are killed
            with _LOCK:
                for proc in list(_PROCS):
                    _kill(proc)
            pool.shutdown(wait=True, cancel_futures=True)
    report(results, args.report)
    return 0


def report(results: list[Result], path: Path | None) -> None:
    by_mod: dict[str, list[Result]] = {}
    for r in results:
        by_mod.setdefault(r.mutant.path, []).append(r)
    lines = ["| module | mutants | killed | survived | score |", "|---|---|---|---|---|"]
    k_all = s_all = 0
    for mod, rs in by_mod.items():
        k = sum(r.status in ("killed", "timeout") for r in rs)
        s = sum(r.status == "survived" for r in rs)
        k_all, s_all = k_all + k, s_all + s
        lines.append(f"| {mod} | {len(rs)} | {k} | {s} | {100 * k / max(1, k + s):.1f}% |")
    lines.append(f"| **all** | {len(results)} | {k_all} | {s_all} | {100 * k_all / max(1, k_all + s_all):.1f}% |")
    survivors = [r for r in results if r.status in ("survived", "error")]
    lines += ["", f"Survivors ({len(survivors)}):", ""]
    lines += [f"- {r.mutant.path}:{r.mutant.line}: {r.mutant.description}"
              + (f" [{r.status}: {r.detail}]" if r.status == "error" else "") for r in survivors]
    text = "\n".join(lines)
    print("\n" + text)
    if path is not None:
        if path.suffix == ".json":
            path.write_text(json.dumps([{**asdict(r.mutant), "status": r.status, "seconds": r.seconds}
                                        for r in results], indent=1))
        else:
            path.write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
