"""Speed of symroof.compile against one numpy pass and plain sympy.lambdify, side by side.

Run: ``python benchmarks/evaluate.py [--points 10_000_000] [--repeats 9]``. All variants of a
case are timed in the same process, round-robin (one run of each per round, ``--repeats``
rounds, time.perf_counter), and each keeps its best round: on a shared, noisy machine the
minimum is the least disturbed estimate, and round-robin exposes every variant to the same
load. Ratios are relative to one allocating numpy pass over an array of the output's size
(``x * 2.0``): read the input, write a fresh float64 output. A fresh output costs page faults
(the kernel zeroes every new page: about half of that pass on this machine), so the ``out=``
variants, which write into one reused buffer as a sweep would, are also set beside one numpy
pass into a reused buffer (``np.multiply(x, 2.0, out=buffer)``).

Case 1 (issue 6): Llama-3-8B decode intensity, symroof.step(llama-3-8b, "exact") at S_i=1,
S_c=4096, over B = 1..10^7. Targets: within 1.5x of the numpy pass; >= 10x faster than plain
lambdify of the unsimplified intensity (lambdify over B, S_c, S_i, called with S_c=4096, S_i=1).
Case 2: the general model of seed 000 (H=4096, N=32, Z=7, fp16) over the same B.
Case 3: Llama-3-8B decode intensity over a broadcast B x S_c grid (a B column of 1000 x an S_c
row of 10^4 = 10^7 points). Target: within 2x of one numpy pass over the output.
Cases 4 and 5 (issue 19): seed 000's general decode intensity
(``symroof.decode(symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2), "000")``) at
S_c=1024, H=4096, N=32, Z=8 over 10^7 B, and over a B x S_c grid at H, N, Z.

Case 6 (issue 19): seed 000's decode FLOPs, bytes and intensity over 10^7 B at call-time scalars
S_c=1024, H=4096, N=32, Z=8: ``symroof.compile(cost, ("flops", "bytes", "intensity"))``, one pass
computing the three (common parts once, the intensity one division of the other two), against
three separate evaluators and against numpy (three allocating passes, and the three outputs as
plain numpy expressions of B), with fresh outputs and into reused buffers (``out=``).

With numba installed (the ``fast`` extra), ``"auto"`` is the numba backend: one fused parallel
loop (``symroof._numba``) for these 10^7-point arrays. The blocked numpy backend is then timed
beside it, with compile-time values (``backend='numpy'``) and with call-time scalars
(``call-time scalars, backend='numpy'``). The first call of a new kernel compiles it (about a
second, printed as "compile() and a first call"); later processes load it from the disk cache.

Every case (1-5) also times the natural call ``ev = symroof.compile(cost)`` then
``ev(B=array, S_c=1024, ...)``: the fixed values passed at call time ("call-time scalars"),
beside the same values given to compile() ("compile-time values"). Targets: call-time scalars
within 1.2x of the compile-time form, within 1.5x of one allocating numpy pass and 10x faster
than plain lambdify. The last lines time ``import symroof`` against ``import sympy`` alone (target
1.2x) and a first compile of a full model cost, each in fresh interpreters (the median of
``--interpreters``), both reading bytecode cached by a first untimed import, as an installed
package does (``--cases ''`` runs only these).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import sympy

import symroof
from symroof import evaluate


def race(variants: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Best time of each variant over ``rounds`` rounds, each round running every variant once."""
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(rounds):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def case(title: str, cost: symroof.Cost, fixed: dict[str, int], args: dict[str, np.ndarray],
         rounds: int, backends: bool = True) -> dict[str, float]:
    shape = np.broadcast_shapes(*(np.shape(a) for a in args.values()))
    big = max(args.values(), key=np.size)
    reference = big if big.size == np.prod(shape) else np.ones(shape)
    reused = np.empty(shape)  # one output buffer, reused by every out= variant (a sweep's pattern)
    symbols = sorted(cost.intensity.free_symbols, key=lambda s: s.name)
    plain = sympy.lambdify(symbols, cost.intensity, modules="numpy")
    plain_args = [{**fixed, **args}[s.name] for s in symbols]
    variants: dict[str, Callable[[], Any]] = {
        f"one numpy pass ({reference.dtype} array * 2.0)": lambda: reference * 2.0,
        "one numpy pass into a reused output (out=)": lambda: np.multiply(reference, 2.0, out=reused),
        "plain sympy.lambdify (unsimplified)": lambda: plain(*plain_args),
    }
    want = plain(*[np.asarray(v, dtype=np.float64) for v in plain_args])
    notes = []

    def error(got: np.ndarray) -> str:
        return f"max relative difference from lambdify {float(np.max(np.abs(got / want - 1))):.1e}"

    # the natural call: compile the cost alone, pass the values at call time
    start = time.perf_counter()
    late = symroof.compile(cost)
    first = late(**args, **fixed)  # the signature's form search, then the evaluation
    notes.append(f"call-time scalars: compile() and a first call in {(time.perf_counter() - start) * 1e3:.0f} ms; "
                 f"{error(first)}")
    variants["symroof, call-time scalars"] = lambda: late(**args, **fixed)
    variants["symroof, call-time scalars, out="] = lambda: late(**args, **fixed, out=reused)
    if late.backend != "numpy":
        blocked = symroof.compile(cost, backend="numpy")
        blocked(**args, **fixed)
        variants["symroof, call-time scalars, backend='numpy'"] = lambda: blocked(**args, **fixed)
    kinds = [("numpy", None), ("numpy", 1), ("numexpr", None)] if backends else [("numpy", None)]
    if late.backend == "numba":
        kinds.append(("numba", None))
    for backend, threads in kinds:
        start = time.perf_counter()
        ev = symroof.compile(cost, backend=backend, fixed=fixed, threads=threads)
        compile_s = time.perf_counter() - start
        label = f"symroof.compile(backend={backend!r}, threads={ev.threads})"
        variants[label] = lambda ev=ev: ev(**args)
        variants[label + ", out="] = lambda ev=ev: ev(**args, out=reused)
        unchecked = symroof.compile(cost, backend=backend, fixed=fixed, threads=threads, check=False)
        variants[label + ", check=False"] = lambda ev=unchecked: ev(**args)
        start = time.perf_counter()
        again = symroof.compile(cost, backend=backend, fixed=fixed, threads=threads)
        notes.append(f"{label}: compiled in {compile_s * 1e3:.0f} ms (forms searched on the first call), "
                     f"again (cached, same object: "
                     f"{again is ev}) in {(time.perf_counter() - start) * 1e6:.0f} us; {error(ev(**args))}")
    times = race(variants, rounds)
    names = list(times)
    base, base_out, lam = (times[names[0]], times[names[1]], times[names[2]])
    print(f"\n{title}: {np.prod(shape):,} points, fixed {fixed}")
    print(f"  evaluated form (compile-time values): {symroof.compile(cost, fixed=fixed).form_for(**args)}")
    print(f"  evaluated form (call-time scalars):   {late.form_for(**args, **fixed)}")
    for name, seconds in times.items():
        print(f"  {name:<62s} {seconds * 1e3:8.2f} ms  {seconds / base:6.2f}x numpy pass")
    for note in notes:
        print(f"  {note}")
    auto = symroof.compile(cost, fixed=fixed)
    label = f"symroof.compile(backend={auto.backend!r}, threads={auto.threads})"
    ours, ours_out = times[label], times[label + ", out="]
    calls, calls_out = times["symroof, call-time scalars"], times["symroof, call-time scalars, out="]
    print(f"  => plain lambdify is {lam / base:.1f}x one numpy pass here, so 10x faster than lambdify "
          f"needs {lam / base / 10:.2f}x the pass")
    print(f"  => symroof, compile-time values (auto: backend={auto.backend!r}, threads={auto.threads}): "
          f"{ours / base:.2f}x the numpy pass, {lam / ours:.1f}x faster than plain lambdify")
    print(f"  => symroof into a reused output (out=): {ours_out / base_out:.2f}x the numpy pass into a reused "
          f"output, {ours_out / base:.2f}x the allocating pass, {lam / ours_out:.1f}x faster than plain lambdify")
    print(f"  => symroof, call-time scalars: {calls / ours:.2f}x the compile-time form (target 1.2x), "
          f"{calls / base:.2f}x the numpy pass (target 1.5x), {lam / calls:.1f}x faster than plain lambdify "
          f"(target 10x); with out=: {calls_out / ours_out:.2f}x the compile-time form's out=, "
          f"{calls_out / base_out:.2f}x the numpy pass into a reused output")
    return times


def many(title: str, cost: symroof.Cost, scalars: dict[str, int], batch: np.ndarray, rounds: int) -> None:
    what = ("flops", "bytes", "intensity")
    one = symroof.compile(cost, what)
    apart = [(ev, {k: v for k, v in scalars.items() if k in ev.names})  # the bytes have Z, the FLOPs do not
             for ev in (symroof.compile(cost, w) for w in what)]
    reused = tuple(np.empty(batch.shape) for _ in what)
    # the three by hand in numpy (seed 000's decode at these values: linear in B)
    flops_ev, bytes_ev = one.form_for(B=batch, **scalars)[:2]
    f1, b1 = (float(e.coeff(sympy.Symbol("B", positive=True, integer=True))) for e in (flops_ev, bytes_ev))
    b0 = float(bytes_ev.subs(sympy.Symbol("B", positive=True, integer=True), 0))

    def by_hand() -> tuple[np.ndarray, ...]:
        flops = batch * f1
        bytes_ = batch * b1 + b0
        return flops, bytes_, flops / bytes_

    variants: dict[str, Callable[[], Any]] = {
        "three numpy passes (int64 array * 2.0, three times)": lambda: [batch * 2.0 for _ in what],
        "numpy by hand: flops = B*f, bytes = B*b + c, flops/bytes": by_hand,
        "three separate symroof evaluators": lambda: [ev(B=batch, **kw) for ev, kw in apart],
        "three separate symroof evaluators, out=": lambda: [ev(B=batch, **kw, out=o)
                                                            for (ev, kw), o in zip(apart, reused, strict=True)],
        "symroof, three outputs in one pass": lambda: one(B=batch, **scalars),
        "symroof, three outputs in one pass, out=": lambda: one(B=batch, **scalars, out=reused),
    }
    got = one(B=batch, **scalars)
    checks = [batch[0], batch[len(batch) // 2], batch[-1]]
    worst = 0.0
    for b in checks:
        exact = one.exact(B=int(b), **scalars)
        for g, x in zip(got, exact, strict=True):
            worst = max(worst, abs(float(g[int(b) - int(batch[0])]) / float(x) - 1))
    times = race(variants, rounds)
    base = times[next(iter(times))]
    print(f"\n{title}: {batch.size:,} points, call-time scalars {scalars}")
    print(f"  evaluated forms: {one.form_for(B=batch, **scalars)[:2]}; intensity = flops/bytes")
    for name, seconds in times.items():
        print(f"  {name:<62s} {seconds * 1e3:8.2f} ms  {seconds / base:6.2f}x three numpy passes")
    sep, sep_out = times["three separate symroof evaluators"], times["three separate symroof evaluators, out="]
    ours, ours_out = times["symroof, three outputs in one pass"], times["symroof, three outputs in one pass, out="]
    print(f"  => one pass: {sep / ours:.2f}x faster than three evaluators ({sep_out / ours_out:.2f}x with out=), "
          f"{ours / times['numpy by hand: flops = B*f, bytes = B*b + c, flops/bytes']:.2f}x numpy by hand; "
          f"max relative difference from exact {worst:.1e}")


# Fresh interpreters read bytecode from a cache of their own (PYTHONPYCACHEPREFIX), written by a first,
# untimed import: as an installed package, whose .pyc pip writes. Without it, a machine that sets
# PYTHONDONTWRITEBYTECODE (this project's does) compiles symroof's ~50 modules from source at every
# import (~40 ms), while sympy's come precompiled from site-packages.
_CACHE = tempfile.mkdtemp(prefix="symroof-bench-pycache-")
_ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "PYTHONPYCACHEPREFIX": _CACHE}


def fresh(code: str, runs: int) -> list[float]:
    """Seconds that ``code`` reports (it prints one float), each run in a fresh interpreter."""
    out = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_ENV)
        out.append(float(done.stdout.strip()))
    return out


def startup(runs: int) -> None:
    timed = "import time; t = time.perf_counter(); import {0}; print(time.perf_counter() - t)"
    subprocess.run([sys.executable, "-c", "import sympy, symroof"], check=True, env=_ENV)  # writes the cache
    sympy_s: list[float] = []
    symroof_s: list[float] = []
    for _ in range(runs):  # interleaved, one of each per round
        sympy_s += fresh(timed.format("sympy"), 1)
        symroof_s += fresh(timed.format("symroof"), 1)
    a, b = statistics.median(sympy_s), statistics.median(symroof_s)
    print(f"\nimport time (median of {runs} fresh interpreters each, interleaved): import sympy {a * 1e3:.0f} ms, "
          f"import symroof {b * 1e3:.0f} ms (sympy included): {b / a:.2f}x sympy alone (target 1.2x)")
    # symroof.compile is imported on first use (with numpy): that import is timed on its own
    loads = fresh("import time, symroof; t = time.perf_counter(); symroof.compile; print(time.perf_counter() - t)",
                  runs)
    first = fresh("import time, symroof; cost = symroof.step(symroof.models.get('llama-3-8b'), 'exact'); "
                  "compile = symroof.compile; "
                  "t = time.perf_counter(); compile(cost); print(time.perf_counter() - t)", runs)
    print(f"first use of symroof.compile (imports symroof.evaluate and numpy): median "
          f"{statistics.median(loads) * 1e3:.0f} ms")
    print(f"first compile of symroof.step(llama-3-8b, 'exact') in a fresh interpreter: median "
          f"{statistics.median(first) * 1e3:.1f} ms (min {min(first) * 1e3:.1f}; target 20 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--points", type=int, default=10**7)
    parser.add_argument("--repeats", type=int, default=9, help="rounds; each variant keeps its best")
    parser.add_argument("--interpreters", type=int, default=7, help="fresh interpreters for the import time")
    parser.add_argument("--cases", default="123456", help="which cases to run (digits)")
    parser.add_argument("--block", type=int, default=None,
                        help=f"elements per block of the numpy backend (default {evaluate.BLOCK})")
    opts = parser.parse_args()
    if opts.block is not None:
        evaluate.BLOCK = opts.block
    n, rounds = opts.points, opts.repeats
    batch = np.arange(1, n + 1)  # int64, as a user would write it
    rows = max(1, n // 10**4)
    grid = {"B": np.arange(1, rows + 1)[:, None], "S_c": np.arange(1, 10**4 + 1)[None, :]}

    llama = symroof.step(symroof.models.get("llama-3-8b"), "exact")
    if "1" in opts.cases:
        case("Case 1: Llama-3-8B decode intensity over B", llama, {"S_i": 1, "S_c": 4096}, {"B": batch}, rounds)
    if "2" in opts.cases:
        # seed 000's general model with Llama-2-7B-like numbers (H=4096, N=32, Z=7, fp16)
        fp16 = symroof.Arch.symbolic(hidden=4096, layers=32, params_b=7, weight_bytes=2, act_bytes=2, kv_bytes=2)
        general = symroof.step(fp16, "arithmetic-intensity")
        case("Case 2: seed 000 general model (H=4096, N=32, Z=7, fp16), decode intensity over B",
             general, {"S_i": 1, "S_c": 4096}, {"B": batch}, rounds)
    if "3" in opts.cases:
        case("Case 3: Llama-3-8B decode intensity over a B x S_c grid", llama, {"S_i": 1}, grid, rounds)
    seed000 = symroof.decode(symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2), "000")
    if "4" in opts.cases:
        case("Case 4 (issue 19): seed 000 general decode intensity over B", seed000,
             {"S_c": 1024, "H": 4096, "N": 32, "Z": 8}, {"B": batch}, rounds, backends=False)
    if "5" in opts.cases:
        case("Case 5 (issue 19): seed 000 general decode intensity over a B x S_c grid", seed000,
             {"H": 4096, "N": 32, "Z": 8}, grid, rounds, backends=False)
    if "6" in opts.cases:
        many("Case 6 (issue 19): seed 000 decode flops, bytes and intensity, three outputs in one pass",
             seed000, {"S_c": 1024, "H": 4096, "N": 32, "Z": 8}, batch, rounds)
    startup(opts.interpreters)


if __name__ == "__main__":
    main()
