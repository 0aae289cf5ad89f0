"""symroof.compile of several outputs of a Cost in one pass (``compile(cost, ("flops", "bytes",
"intensity"))``): each output agrees with the Cost's own expression evaluated exactly by SymPy at
the same point, on scalars, arrays, call-time scalars, broadcast grids past one block and
through ``out=``; values well past int64.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import symroof
from symroof import evaluate
from symroof.symbols import B, H, S_c

GENERAL = symroof.step(symroof.Arch.symbolic(), "arithmetic-intensity")  # seed 000, all symbols free
SEED000 = symroof.decode(symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2), "000")
LLAMA = symroof.step(symroof.models.get("llama-3-8b"), "exact")
WHAT = ("flops", "bytes", "intensity")
BACKENDS = ["numpy", "numexpr"]


def exact_at(expr: sympy.Expr, values: dict[str, object]) -> sympy.Rational:
    table = {s: sympy.Rational(values[s.name]) for s in expr.free_symbols}
    return expr.xreplace(table)


def wanted(cost: symroof.Cost, what: tuple[str, ...], values: dict[str, object]) -> list[sympy.Rational]:
    exprs = {"flops": cost.flops, "bytes": cost.bytes, "intensity": cost.intensity}
    return [exact_at(exprs[w] if w in exprs else (cost.flop_terms | cost.byte_terms)[w], values) for w in what]


def assert_close(got: object, want: sympy.Rational, rel: float = 1e-12) -> None:
    got = np.asarray(got, dtype=np.float64).ravel()
    w = Fraction(int(want.p), int(want.q))
    for g in got:
        assert abs(Fraction(float(g)) - w) <= rel * abs(w), (float(g), float(w))


counts = st.integers(1, 10**7)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=25, deadline=None)
@given(
    point=st.fixed_dictionaries({
        "B": counts, "S_c": st.integers(0, 10**7), "S_i": st.integers(1, 4096),
        "H": st.integers(1, 10**5), "N": st.integers(1, 10**3),
        "Z": st.fractions(min_value=Fraction(1, 10), max_value=2000),
        "b_w": st.sampled_from([Fraction(1, 2), 1, 2, 4]), "b_a": st.sampled_from([1, 2, 4]),
        "b_kv": st.sampled_from([Fraction(1, 2), 1, 2]),
    }),
    arrays=st.sets(st.sampled_from(["B", "S_c", "H"]), max_size=3),
)
def test_three_outputs_match_exact(backend, point, arrays):
    # nine free symbols, some arrays and the rest call-time scalars: FLOPs past 2^63 (B·S_c·H·N)
    ev = symroof.compile(GENERAL, WHAT, backend=backend)
    want = wanted(GENERAL, WHAT, point)
    args = {k: (np.array([v, v]) if k in arrays else v) for k, v in point.items()}
    got = ev(**args)
    assert isinstance(got, tuple) and len(got) == 3
    for g, w in zip(got, want, strict=True):
        assert np.shape(g) == ((2,) if arrays else ())
        assert_close(g, w)
    assert ev.exact(**point) == tuple(Fraction(int(w.p), int(w.q)) for w in want)


@settings(max_examples=30, deadline=None)
@given(s_c=st.integers(0, 10**6), h=st.integers(1, 10**5), n=st.integers(1, 200), z=st.integers(1, 10**4),
       start=st.integers(1, 10**9))
def test_call_time_scalars_over_a_blocked_sweep(s_c, h, n, z, start):
    # more points than a block (the blocked kernel, threads), values past int64 in the FLOPs
    batch = np.arange(start, start + 3 * evaluate.BLOCK + 7)
    ev = symroof.compile(SEED000, WHAT)
    values = {"S_c": s_c, "H": h, "N": n, "Z": z}
    got = ev(B=batch, **values)
    for j in (0, 1, len(batch) // 2, len(batch) - 1):
        for g, w in zip(got, wanted(SEED000, WHAT, {"B": int(batch[j]), **values}), strict=True):
            assert_close(g[j], w)


@pytest.mark.parametrize("backend", BACKENDS)
def test_grid_past_one_block_and_out_buffers(backend):
    ev = symroof.compile(LLAMA, ("intensity", "kv/read", "flops", "bytes"), S_i=1, backend=backend)
    batch = np.arange(1, 301)[:, None]
    context = np.arange(0, 2000 * 7, 7)[None, :]
    bufs = tuple(np.empty((300, 2000)) for _ in range(4))
    assert ev(B=batch, S_c=context, out=bufs) is bufs
    fresh = ev(B=batch, S_c=context)
    for (i, j) in ((0, 0), (299, 1999), (17, 1234)):
        want = wanted(LLAMA, ev.outputs, {"B": int(batch[i, 0]), "S_c": int(context[0, j]), "S_i": 1})
        for buf, f, w in zip(bufs, fresh, want, strict=True):
            assert_close(buf[i, j], w)
            assert_close(f[i, j], w)


def test_intensity_is_one_division_of_the_other_outputs():
    # the program has no second copy of the FLOPs or bytes: its intensity node divides the two roots
    ev = symroof.compile(SEED000, WHAT, S_c=1024, H=4096, N=32, Z=8)
    program = ev._program
    flops, bytes_, intensity = program.roots
    assert program.ops[intensity - program.n_inputs] == ("div", (flops, bytes_))
    # by hand: FLOPs 2·B·(12·H²·N + 2·H·N·S_c)·... are linear in B at fixed S_c, H, N, Z
    f, b, i = ev.form
    assert sympy.degree(f, B) == 1 and sympy.degree(b, B) == 1 and i == f / b


def test_plain_expressions_and_shared_parts():
    e1 = B * H * (S_c + 1)
    e2 = B * H * (S_c + 1) + 3 * H
    ev = symroof.compile((e1, e2))
    got = ev(B=np.array([2, 3]), H=5, S_c=np.array([7, 9]))
    np.testing.assert_array_equal(got[0], [2 * 5 * 8, 3 * 5 * 10])
    np.testing.assert_array_equal(got[1], [2 * 5 * 8 + 15, 3 * 5 * 10 + 15])
    assert ev.exact(B=2, H=5, S_c=7) == (80, 95)


def test_refusals():
    ev = symroof.compile(LLAMA, ["flops", "intensity"], S_i=1)
    with pytest.raises(TypeError, match="tuple of 2"):
        ev(B=np.array([1, 2]), S_c=4, out=np.empty(2))
    buf = np.empty(2)
    with pytest.raises(ValueError, match="overlap"):
        ev(B=np.array([1, 2]), S_c=4, out=(buf, buf))
    with pytest.raises(ValueError, match="B=0"):
        ev(B=0, S_c=4)
    with pytest.raises(ValueError, match="names no output"):
        symroof.compile(LLAMA, ())
    with pytest.raises(ValueError, match="not 'intensity'"):
        symroof.compile(LLAMA, ("flops", "nonsense"))
    assert symroof.compile(LLAMA, ["flops", "intensity"], S_i=1) is ev
    # scalars only: a tuple of numpy float64 (FLOPs of Llama-3-8B at B=1, S_c=0, S_i=1 by the Cost)
    flops, intensity = ev(B=1, S_c=0)
    want_f, want_i = wanted(LLAMA, ("flops", "intensity"), {"B": 1, "S_c": 0, "S_i": 1})
    assert isinstance(flops, np.float64)
    assert_close(flops, want_f)
    assert_close(intensity, want_i)


def test_touched_experts_not_polynomial():
    # Mixtral's exact decode counts the experts a batch touches ((1 - k/E)^(B·S_i)): no polynomial,
    # the general program with the scalars as inputs
    cost = symroof.step(symroof.models.get("mixtral-8x7b"), "exact")
    ev = symroof.compile(cost, WHAT, S_i=1)
    batch = np.array([1, 3, 40])
    got = ev(B=batch, S_c=4096)
    for j, b in enumerate(batch):
        for g, w in zip(got, wanted(cost, WHAT, {"B": int(b), "S_c": 4096, "S_i": 1}), strict=True):
            assert abs(float(g[j]) / float(w) - 1) < 1e-12
