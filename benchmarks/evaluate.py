"""Speed of symroof.compile against one numpy pass and plain sympy.lambdify, side by side.

Run: ``python benchmarks/evaluate.py [--points 10_000_000] [--repeats 7]``. Every timing is
the best of ``--repeats`` runs (time.perf_counter) on the same arrays in this one process;
the machine is shared, so the minimum is the least noisy estimate. Ratios are printed
relative to one allocating numpy pass over an array of the output's size (``x * 2.0``):
reading the input, writing a fresh float64 output.

Case 1 (issue 6): Llama-3-8B decode intensity, symroof.step(llama-3-8b, "exact") at S_i=1,
S_c=4096, over B = 1..10^7. Targets: within 1.5x of the numpy pass; >= 10x faster than plain
lambdify of the unsimplified intensity (lambdify over B, S_i, S_c, called with S_i=1, S_c=4096).
Case 2: the general model of seed 000 (Llama-2-7B-like numbers: H=4096, N=32, Z=7, fp16)
over the same B. Case 3: Llama-3-8B decode intensity over a broadcast B x S_c grid
(B column of 1000 x S_c row of 10^4 = 10^7 points). Target: within 2x of one numpy pass over
the output.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import sympy

import symroof


def best(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def row(label: str, seconds: float, base: float) -> None:
    print(f"  {label:<52s} {seconds * 1e3:9.2f} ms   {seconds / base:7.2f}x numpy pass")


def case(title: str, cost: symroof.Cost, fixed: dict[str, int], args: dict[str, np.ndarray],
         repeats: int) -> dict[str, float]:
    shape = np.broadcast_shapes(*(np.shape(a) for a in args.values()))
    full = np.ones(shape)  # a float64 array of the output's size, for the reference pass
    big = max(args.values(), key=np.size)
    print(f"\n{title}: {np.prod(shape):,} points, fixed {fixed}")
    reference = full if big.size < full.size else big
    base = best(lambda: reference * 2.0, repeats)
    row(f"one numpy pass ({reference.dtype} array * 2.0)", base, base)
    out = {"numpy pass": base}
    symbols = sorted(cost.intensity.free_symbols, key=lambda s: s.name)
    plain = sympy.lambdify(symbols, cost.intensity, modules="numpy")
    values = {**fixed, **args}
    plain_args = [values[s.name] for s in symbols]
    out["lambdify"] = best(lambda: plain(*plain_args), max(2, repeats // 2))
    row("plain sympy.lambdify (unsimplified)", out["lambdify"], base)
    for backend in ("numpy", "numexpr"):
        start = time.perf_counter()
        ev = symroof.compile(cost, backend=backend, fixed=fixed)
        compile_s = time.perf_counter() - start
        got = ev(**args)
        want = plain(*[np.asarray(v, dtype=np.float64) for v in plain_args])
        error = float(np.max(np.abs(got / want - 1)))
        out[backend] = best(lambda ev=ev: ev(**args), repeats)
        row(f"symroof.compile backend={backend!r}", out[backend], base)
        unchecked = symroof.compile(cost, backend=backend, fixed=fixed, check=False)
        out[backend + " unchecked"] = best(lambda ev=unchecked: ev(**args), repeats)
        row("  ... with check=False", out[backend + " unchecked"], base)
        print(f"    compiled in {compile_s * 1e3:.0f} ms, cached re-compile "
              f"{best(lambda b=backend: symroof.compile(cost, backend=b, fixed=fixed), 3) * 1e6:.1f} us; "
              f"max relative difference from lambdify {error:.1e}; form {ev.form}")
    print(f"  => symroof (auto = {symroof.compile(cost, fixed=fixed).backend}): "
          f"{out['numpy'] / base:.2f}x the numpy pass, {out['lambdify'] / out['numpy']:.1f}x faster than lambdify")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10**7)
    parser.add_argument("--repeats", type=int, default=7)
    opts = parser.parse_args()
    n, r = opts.points, opts.repeats
    batch = np.arange(1, n + 1)  # int64, as a user would write it

    llama = symroof.step(symroof.models.get("llama-3-8b"), "exact")
    case("Case 1: Llama-3-8B decode intensity over B", llama, {"S_i": 1, "S_c": 4096}, {"B": batch}, r)

    # seed 000's general model with Llama-2-7B-like numbers (H=4096, N=32, Z=7, fp16)
    fp16 = symroof.Arch.symbolic(hidden=4096, layers=32, params_b=7, weight_bytes=2, act_bytes=2, kv_bytes=2)
    general = symroof.step(fp16, "arithmetic-intensity")
    case("Case 2: seed 000 general model (H=4096, N=32, Z=7, fp16), decode intensity over B",
         general, {"S_i": 1, "S_c": 4096}, {"B": batch}, r)

    rows = max(1, n // 10**4)
    case("Case 3: Llama-3-8B decode intensity over a B x S_c grid", llama, {"S_i": 1},
         {"B": np.arange(1, rows + 1)[:, None], "S_c": np.arange(1, 10**4 + 1)[None, :]}, r)


if __name__ == "__main__":
    main()
