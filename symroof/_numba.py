"""The ``numba`` backend of `symroof.evaluate`: one fused, parallel loop per program.

The numpy backend runs one ufunc per operation over cache-sized blocks, so each point costs a
pass of Python-level calls per operation and, single-threaded, about twice one numpy pass. A
loop compiled by numba reads each input once, computes every operation in registers and writes
each output once: it runs at the memory's speed (``benchmarks/evaluate.py`` prints both).

Only the code generation and loading live here; the evaluator decides what is a loop operand
(an array of the output's shape, possibly a broadcast view with zero strides), what is a scalar
and which inputs the loop checks (`symroof.evaluate.Evaluator._numba_call`).

The loop also counts, in integer reductions (exact, so LLVM may vectorise them without any
fast-math flag; the arithmetic itself is compiled without fast-math, in the program's order):

* per checked input, the points that break its rule (finite, the lower bound, an integer), so
  that a bad argument gets the same one-line error as with numpy;
* the points where any operation gives a non-finite value (numba, like C, does not raise on a
  division by zero or an overflow), after which the evaluator reruns the numpy backend, which
  raises the error naming the point.

Loops run on numba's OpenMP or TBB threads (its thread-safe layers: a kernel may be called from
several Python threads at once); where neither loads, `usable` is False and the numpy backend
runs instead.

Compiled kernels are cached on disk (numba's ``cache=True``, which needs a source file): each
generated module is written once to ``SYMROOF_CACHE_DIR`` (default: ``$XDG_CACHE_HOME/symroof``
or ``~/.cache/symroof``), named by the hash of its text, so a later process loads the machine
code instead of compiling it again. If that directory cannot be written, kernels are compiled in
memory for this process only.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

__all__ = ["MIN_POINTS", "available", "kernel", "set_threads", "supports", "usable"]

# Below this many points the numpy backend runs instead: starting the parallel loop costs more
# than it saves, and a first call would pay numba's compilation for an array numpy does at once.
MIN_POINTS = 1 << 18

_OPS = {"add": "{} + {}", "sub": "{} - {}", "mul": "{} * {}", "div": "{} / {}", "pow": "{} ** {}",
        "max": "max({}, {})", "min": "min({}, {})", "neg": "-{}"}

Check = tuple[int, Literal["positive", "nonnegative", "none"], bool, bool]  # position, lower, integer, floating
Read = Literal["flat", "full", "col", "row"]
_INDEX = {"flat": "i0", "full": "i0, i1", "row": "i1"}  # a "col" value is read once per row


@functools.cache
def available() -> bool:
    """numba can be imported (it is not imported here: that takes a quarter of a second)."""
    return importlib.util.find_spec("numba") is not None


@functools.cache
def _numba() -> ModuleType:
    import numba  # optional, and slow to import: only on first use

    if not os.environ.get("NUMBA_THREADING_LAYER"):
        # OpenMP or TBB: kernels may then be called from several Python threads at once (numba's
        # own fallback, workqueue, aborts on that); without either, `usable` is False
        numba.config.THREADING_LAYER = "threadsafe"  # type: ignore[attr-defined]
    return numba


@functools.cache
def usable() -> bool:
    """numba is installed and a thread-safe threading layer (OpenMP or TBB) loads for its loops."""
    if not available():
        return False
    _numba()
    for layer in ("omppool", "tbbpool"):  # what numba itself tries for "threadsafe"
        try:
            importlib.import_module(f"numba.np.ufunc.{layer}")
        except ImportError:
            continue
        return True
    return False


def supports(dtype: Any) -> bool:
    """numba compiles loops over this array dtype (native byte order; not float16 or longdouble)."""
    return bool(dtype.isnative) and (dtype.kind in "iu" or (dtype.kind == "f" and dtype.itemsize in (4, 8)))


def set_threads(n: int) -> None:
    """Run the next kernels in this thread on at most ``n`` of numba's threads."""
    numba = _numba()
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))


def _good(var: str, lower: str, integer: bool, floating: bool) -> str | None:
    """A condition that holds where an input's value is allowed (None: every value is)."""
    parts = []
    zero = "0.0" if floating else "0"
    if floating:
        parts.append(f"math.isfinite({var})")
    if lower == "positive":
        parts.append(f"{var} > {zero}")
    elif lower == "nonnegative":
        parts.append(f"{var} >= {zero}")
    if integer and floating:
        parts.append(f"{var} == math.floor({var})")
    return " and ".join(parts) or None


def source(n_inputs: int, ops: Sequence[tuple[str, tuple[int | float, ...]]], needed: Sequence[int],
           roots: Sequence[int | float], iterated: Sequence[int], scalar: Sequence[int],
           checks: Sequence[Check], ndim: int, reads: Sequence[Read], cache: bool) -> str:
    """The module text of one kernel ``_kernel(l0.., s0.., out0..) -> (bad, count0, ..)``.

    ``ops``: the program's operations (node ``n_inputs + k`` is ``ops[k]``); ``needed``: the
    nodes to compute, in order; ``iterated``: the nodes read from the loop's arrays (``l*``),
    ``scalar``: those passed as floats (``s*``); ``roots``: the node (or a constant) written to
    each output; ``checks``: which ``l*`` are checked, and how; ``reads``: how each ``l*`` is
    indexed: over ``ndim`` = 1, ``"flat"`` (arrays of the outputs' length); over 2-D outputs
    ``"full"`` (an array of their shape), ``"col"`` (one value per row, read once per row) or
    ``"row"`` (one value per column).
    """
    if ndim not in (1, 2):
        raise ValueError(f"a numba kernel loops over 1 or 2 dimensions, not {ndim}")
    allowed = ("flat",) if ndim == 1 else ("full", "col", "row")
    if len(reads) != len(iterated) or any(r not in allowed for r in reads):
        raise ValueError(f"reads={tuple(reads)!r}: over {ndim} dimension{'s' * (ndim > 1)}, one of "
                         f"{', '.join(map(repr, allowed))} for each of the {len(iterated)} arrays")
    two = ndim == 2
    names: dict[int, str] = {leaf: f"x{j}" for j, leaf in enumerate(iterated)}
    names.update({leaf: f"s{j}" for j, leaf in enumerate(scalar)})
    index = "i0, i1" if two else "i0"
    params = ([f"l{j}" for j in range(len(iterated))] + [f"s{j}" for j in range(len(scalar))]
              + [f"out{j}" for j in range(len(roots))])
    lines = ["import math", "", "import numba", "", "",
             f"@numba.njit(parallel=True, nogil=True, error_model='numpy', cache={cache})",
             f"def _kernel({', '.join(params)}):",
             "    bad = 0"]
    lines += [f"    c{k} = 0" for k in range(len(checks))]
    lines.append("    for i0 in numba.prange(out0.shape[0]):")
    outer = "        "
    inner = outer
    if two:
        for j, read in enumerate(reads):
            if read == "col":  # once per row, before the loop along it
                lines.append(f"{outer}x{j} = float(l{j}[i0])")
        lines.append(f"{outer}for i1 in range(out0.shape[1]):")
        inner = outer + "    "
    body = []
    checked = {pos: k for k, (pos, *_) in enumerate(checks)}
    for j, read in enumerate(reads):
        if read == "col":
            continue
        at = f"l{j}[{_INDEX[read]}]"
        if j in checked:
            _, lower, integer, floating = checks[checked[j]]
            body.append(f"v{j} = {at}")
            good = _good(f"v{j}", lower, integer, floating)
            if good is not None:
                body.append(f"c{checked[j]} += 0 if {good} else 1")
            body.append(f"x{j} = float(v{j})")
        else:
            body.append(f"x{j} = float({at})")
    computed = []
    for n in needed:
        kind, args = ops[n - n_inputs]
        refs = [repr(a) if isinstance(a, float) else names[a] for a in args]
        names[n] = f"t{n}"
        computed.append(names[n])
        body.append(f"t{n} = {_OPS[kind].format(*refs)}")
    if computed:
        body.append(f"bad += 0 if {' and '.join(f'math.isfinite({t})' for t in computed)} else 1")
    for j, r in enumerate(roots):
        body.append(f"out{j}[{index}] = {repr(r) if isinstance(r, float) else names[r]}")
    counts = "".join(f", c{k}" for k in range(len(checks)))
    return "\n".join(lines + [inner + line for line in body] + [f"    return (bad{counts},)", ""])


def _cache_dir() -> Path | None:
    """Where generated kernels are written (created if missing), or None if it cannot be."""
    given = os.environ.get("SYMROOF_CACHE_DIR")
    if given:
        base = Path(given)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "symroof"
    where = base / f"kernels-numba-{_numba().__version__}"
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return where if os.access(where, os.W_OK) else None


@functools.lru_cache(maxsize=256)
def _load(text: str) -> Callable[..., Any]:
    """The kernel of a module text: from the disk cache, else compiled in memory."""
    import hashlib  # here, with tempfile: 12 ms of the evaluator's import otherwise
    import tempfile

    digest = hashlib.sha256(text.encode()).hexdigest()[:24]
    where = _cache_dir()
    if where is None:
        scope: dict[str, Any] = {}
        exec(compile(text.replace("cache=True", "cache=False"), f"<symroof kernel {digest}>", "exec"), scope)
        return scope["_kernel"]  # type: ignore[no-any-return]
    path = where / f"k_{digest}.py"
    try:
        same = path.read_text() == text
    except OSError:
        same = False
    if not same:  # written whole (another process may be loading it); one that differs is replaced
        fd, tmp = tempfile.mkstemp(dir=where, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(f"_symroof_kernel_{digest}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # numba's cache finds the module's globals by its name
    spec.loader.exec_module(module)
    return module._kernel  # type: ignore[no-any-return]


def kernel(n_inputs: int, ops: Sequence[tuple[str, tuple[int | float, ...]]], needed: Sequence[int],
           roots: Sequence[int | float], iterated: Sequence[int], scalar: Sequence[int],
           checks: Sequence[Check], ndim: int, reads: Sequence[Read]) -> Callable[..., Any]:
    """The compiled kernel of `source` (same arguments), cached on disk where it can be."""
    _numba()
    return _load(source(n_inputs, ops, needed, roots, iterated, scalar, checks, ndim, reads, cache=True))
