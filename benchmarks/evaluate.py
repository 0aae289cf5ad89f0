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
"""

from __future__ import annotations

import argparse
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
         rounds: int) -> dict[str, float]:
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
    notes = []
    for backend, threads in (("numpy", None), ("numpy", 1), ("numexpr", None)):
        start = time.perf_counter()
        ev = symroof.compile(cost, backend=backend, fixed=fixed, threads=threads)
        compile_s = time.perf_counter() - start
        got = ev(**args)
        want = plain(*[np.asarray(v, dtype=np.float64) for v in plain_args])
        error = float(np.max(np.abs(got / want - 1)))
        label = f"symroof.compile(backend={backend!r}, threads={ev.threads})"
        variants[label] = lambda ev=ev: ev(**args)
        variants[label + ", out="] = lambda ev=ev: ev(**args, out=reused)
        unchecked = symroof.compile(cost, backend=backend, fixed=fixed, threads=threads, check=False)
        variants[label + ", check=False"] = lambda ev=unchecked: ev(**args)
        start = time.perf_counter()
        again = symroof.compile(cost, backend=backend, fixed=fixed, threads=threads)
        notes.append(f"{label}: compiled in {compile_s * 1e3:.0f} ms, again (cached, same object: "
                     f"{again is ev}) in {(time.perf_counter() - start) * 1e6:.0f} us; "
                     f"max relative difference from lambdify {error:.1e}")
    times = race(variants, rounds)
    names = list(times)
    base, base_out, lam = (times[names[0]], times[names[1]], times[names[2]])
    print(f"\n{title}: {np.prod(shape):,} points, fixed {fixed}")
    print(f"  evaluated form: {symroof.compile(cost, fixed=fixed).form_for(**args)}")
    for name, seconds in times.items():
        print(f"  {name:<62s} {seconds * 1e3:8.2f} ms  {seconds / base:6.2f}x numpy pass")
    for note in notes:
        print(f"  {note}")
    auto = symroof.compile(cost, fixed=fixed)
    label = f"symroof.compile(backend='numpy', threads={auto.threads})"
    ours, ours_out = times[label], times[label + ", out="]
    print(f"  => plain lambdify is {lam / base:.1f}x one numpy pass here, so 10x faster than lambdify "
          f"needs {lam / base / 10:.2f}x the pass")
    print(f"  => symroof (auto: backend={auto.backend!r}, threads={auto.threads}): {ours / base:.2f}x the numpy "
          f"pass, {lam / ours:.1f}x faster than plain lambdify")
    print(f"  => symroof into a reused output (out=): {ours_out / base_out:.2f}x the numpy pass into a reused "
          f"output, {ours_out / base:.2f}x the allocating pass, {lam / ours_out:.1f}x faster than plain lambdify")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--points", type=int, default=10**7)
    parser.add_argument("--repeats", type=int, default=9, help="rounds; each variant keeps its best")
    parser.add_argument("--block", type=int, default=None,
                        help=f"elements per block of the numpy backend (default {evaluate.BLOCK})")
    opts = parser.parse_args()
    if opts.block is not None:
        evaluate.BLOCK = opts.block
    n, rounds = opts.points, opts.repeats
    batch = np.arange(1, n + 1)  # int64, as a user would write it

    llama = symroof.step(symroof.models.get("llama-3-8b"), "exact")
    case("Case 1: Llama-3-8B decode intensity over B", llama, {"S_i": 1, "S_c": 4096}, {"B": batch}, rounds)

    # seed 000's general model with Llama-2-7B-like numbers (H=4096, N=32, Z=7, fp16)
    fp16 = symroof.Arch.symbolic(hidden=4096, layers=32, params_b=7, weight_bytes=2, act_bytes=2, kv_bytes=2)
    general = symroof.step(fp16, "arithmetic-intensity")
    case("Case 2: seed 000 general model (H=4096, N=32, Z=7, fp16), decode intensity over B",
         general, {"S_i": 1, "S_c": 4096}, {"B": batch}, rounds)

    rows = max(1, n // 10**4)
    case("Case 3: Llama-3-8B decode intensity over a B x S_c grid", llama, {"S_i": 1},
         {"B": np.arange(1, rows + 1)[:, None], "S_c": np.arange(1, 10**4 + 1)[None, :]}, rounds)


if __name__ == "__main__":
    main()
