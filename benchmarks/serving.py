"""Time `symroof.serving.serving_curve` over a batch grid against, side by side in the same run,
the exact path a user would otherwise write: one `decode_latency(..., B=b)` per batch size.

Run: ``python benchmarks/serving.py [batches] [repeats]``. Prints best-of-``repeats`` times and
their ratio; checks only that both give the same TPOT (to float64 rounding).
"""

from __future__ import annotations

import sys
import time

import numpy as np

import symroof
from symroof.analysis import serving


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(n: int = 64, repeats: int = 3) -> None:
    llama = symroof.models.get("llama-3-8b")
    batches = np.unique(np.geomspace(1, 1024, n).round()).astype(int)

    def curve():
        return serving.serving_curve(llama, "exact", "H100-SXM", S_c=4096, batches=batches).tpot_s

    def loop():
        return np.array([float(serving.decode_latency(llama, "exact", "H100-SXM", B=int(b), S_c=4096).total_s)
                         for b in batches])

    t_curve, a = best_of(curve, repeats)
    t_loop, b = best_of(loop, repeats)
    assert np.allclose(a, b, rtol=1e-12, atol=0)
    print(f"{len(batches)} batch sizes, Llama-3-8B decode at S_c = 4096 on H100-SXM")
    print(f"  (best of {repeats}; compile and SymPy caches are warm after the first run)")
    print(f"  serving_curve (symbolic once, compiled): {t_curve * 1000:9.1f} ms")
    print(f"  exact decode_latency per batch size:     {t_loop * 1000:9.1f} ms")
    print(f"  ratio loop / curve:                      {t_loop / t_curve:9.1f}x")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
