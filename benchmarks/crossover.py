"""Time the symbolic crossover batch of the general 000 decode model, against a 1 s target
and, side by side in the same run, against ``sympy.solve`` on the same equation.

Run: ``python benchmarks/crossover.py [repeats]``. Prints best-of-``repeats`` times (SymPy's cache cleared before each)
and ratios; checks only that both give the same root.
"""

from __future__ import annotations

import sys
import time

import sympy
from sympy.core.cache import clear_cache

import symroof
from symroof.symbols import B, beta, pi

TARGET_S = 1.0


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        clear_cache()   # SymPy memoises; each run starts cold, as a user's first call does
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(repeats: int = 3) -> None:
    arch = symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2)

    def ours():
        # build the cost too: the whole path from architecture to closed form
        return symroof.crossover_batch(symroof.step(arch, "arithmetic-intensity"), pi / beta)

    def general():
        return symroof.crossover_batch(symroof.step(symroof.Arch.symbolic(), "exact"), pi / beta)

    def with_solve():
        cost = symroof.step(arch, "arithmetic-intensity")
        roots = sympy.solve(sympy.Eq(cost.intensity, pi / beta), B)
        return roots[0]

    t_ours, c = best_of(ours, repeats)
    t_general, _ = best_of(general, repeats)
    t_solve, root = best_of(with_solve, repeats)
    assert sympy.simplify(root - c.value) == 0, "sympy.solve and symroof disagree"
    print(f"crossover_batch, 000 decode (b=2):   {t_ours * 1e3:8.1f} ms   ratio to 1 s target: {t_ours / TARGET_S:.3f}")
    print(f"crossover_batch, exact, all symbols: {t_general * 1e3:8.1f} ms   ratio to 1 s target: "
          f"{t_general / TARGET_S:.3f}")
    print(f"sympy.solve on the same equation:    {t_solve * 1e3:8.1f} ms   solve / crossover_batch: "
          f"{t_solve / t_ours:.1f}x")
    print(f"B* = {c.value}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
