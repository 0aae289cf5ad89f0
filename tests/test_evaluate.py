"""symroof.compile: numeric evaluators agree with the exact symbolic value, never overflow,
refuse bad input by name, work lazily on dask arrays and are cached.

The reference value is always the symbolic expression itself, evaluated exactly by SymPy at
the same point (``expr.xreplace`` with Integers/Rationals), or a hand derivation written out.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import symroof
from symroof import _numba, evaluate
from symroof.symbols import B, H, N, S, S_c, S_i, Z, b_a, b_kv, b_w

BACKENDS = ["numpy", "numexpr"] + (["numba"] if _numba.available() else [])
LLAMA = symroof.step(symroof.models.get("llama-3-8b"), "exact")
GENERAL = symroof.step(symroof.Arch.symbolic(), "arithmetic-intensity")  # seed 000, all symbols free


def exact_at(expr: sympy.Expr, values: dict[str, object]) -> sympy.Rational:
    """The symbolic expression at one point, by SymPy alone (the independent reference)."""
    table = {}
    for s in expr.free_symbols:
        v = values[s.name]
        table[s] = sympy.Rational(repr(v)) if isinstance(v, float) else sympy.Rational(v)
    return expr.xreplace(table)


def assert_close(got: np.ndarray, want: list[sympy.Rational] | list[int] | list[Fraction], rel: float = 1e-12) -> None:
    got = np.asarray(got, dtype=np.float64).ravel()
    assert got.shape == (len(want),)
    for g, w in zip(got, want, strict=True):
        if isinstance(w, sympy.Float):        # the experts a large batch touches: a 60-digit Float (moe.Missed)
            exact = Fraction(str(w))
        else:
            exact = Fraction(int(w.p), int(w.q)) if isinstance(w, sympy.Rational) else Fraction(w)
        assert abs(Fraction(float(g)) - exact) <= rel * abs(exact)


@pytest.fixture(autouse=True)
def _numba_at_every_size(request, monkeypatch):
    """With backend="numba", small test arrays run the fused loop too (not numpy below MIN_POINTS)."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("backend") == "numba":
        monkeypatch.setattr(_numba, "MIN_POINTS", 1)


# ---- agreement with the exact value ----------------------------------------------------------
counts = st.integers(min_value=1, max_value=10**6)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=25, deadline=None)
@given(batch=st.lists(counts, min_size=1, max_size=5), s_c=st.integers(0, 10**6), s_i=st.integers(1, 64))
def test_llama_intensity_matches_exact_on_arrays(backend, batch, s_c, s_i):
    ev = symroof.compile(LLAMA, backend=backend)
    got = ev(B=np.array(batch), S_c=s_c, S_i=s_i)
    assert got.dtype == np.float64
    assert_close(got, [exact_at(LLAMA.intensity, {"B": b, "S_c": s_c, "S_i": s_i}) for b in batch])


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=25, deadline=None)
@given(
    point=st.fixed_dictionaries({
        "B": counts, "S_c": st.integers(0, 10**6), "S_i": st.integers(1, 4096),
        "H": st.integers(1, 10**5), "N": st.integers(1, 10**3),
        "Z": st.fractions(min_value=Fraction(1, 10), max_value=2000),
        "b_w": st.sampled_from([Fraction(1, 2), 1, 2, 4]), "b_a": st.sampled_from([1, 2, 4]),
        "b_kv": st.sampled_from([Fraction(1, 2), 1, 2]),
    }),
    as_array=st.booleans(),
)
def test_seed000_general_model_matches_exact(backend, point, as_array):
    # nine free symbols, at values where int64 products such as B·S_c·H·N would overflow
    ev = symroof.compile(GENERAL, backend=backend)
    want = exact_at(GENERAL.intensity, point)
    args = {k: (np.array([v, v]) if as_array and k in ("B", "H") else v) for k, v in point.items()}
    got = ev(**args)
    assert_close(got, [want] * np.size(got))


def _combine(op: str, a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
    return a + b if op == "+" else a * b if op == "*" else a / b


expressions = st.recursive(
    st.sampled_from([B, S_c, H]) | st.integers(1, 50).map(sympy.Integer),
    lambda inner: st.builds(_combine, st.sampled_from("+*/"), inner, inner),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(expr=expressions, point=st.tuples(counts, counts, counts))
def test_random_rational_functions_match_exact(expr, point):
    # any +, *, / of positive symbols and constants: whatever form compile() picks, the value
    # is the expression's own, at a scalar point and at the same point inside an array
    values = dict(zip(("B", "S_c", "H"), point, strict=True))
    ev = symroof.compile(expr)
    args = {name: values[name] for name in ev.names}
    want = exact_at(expr, values)
    assert_close(ev(**args), [want])
    if args:
        first = ev.names[0]
        assert_close(ev(**{**args, first: np.array([args[first]] * 3)}), [want] * 3)
    assert ev.exact(**args) == Fraction(int(want.p), int(want.q))


@settings(max_examples=40, deadline=None)
@given(expr=expressions, point=st.tuples(counts, counts, counts), backend=st.sampled_from(BACKENDS))
def test_random_rational_functions_match_exact_on_a_blocked_grid(expr, point, backend):
    # two inputs broadcast as a column and a row of more points than a block: the blocked path,
    # where the form may differ from ev.form (divided through by a power of one symbol)
    ev = symroof.compile(expr, backend=backend)
    if len(ev.names) < 2:
        return
    values = dict(zip(("B", "S_c", "H"), point, strict=True))
    side = math.isqrt(evaluate.BLOCK) + 40  # side² > BLOCK
    first, second = ev.names[:2]
    args: dict[str, object] = {name: values[name] for name in ev.names}
    args[first] = values[first] + np.arange(side)[:, None]
    args[second] = values[second] + np.arange(side)[None, :]
    grid = ev(**args)
    for i, j in ((0, 0), (side - 1, side - 1), (side // 3, side // 7)):
        at = {**values, first: values[first] + i, second: values[second] + j}
        assert_close(grid[i, j], [exact_at(expr, at)])


@pytest.mark.parametrize("model", symroof.models.names())
@pytest.mark.parametrize("conventions", ["exact", "arithmetic-intensity"])
def test_every_preset_matches_exact(model, conventions):
    cost = symroof.step(symroof.models.get(model), conventions)
    ev = symroof.compile(cost)
    point = {"B": np.array([1, 7, 512]), "S_c": np.array([[0], [1000], [131072]]), "S_i": 3}
    got = ev(**{k: v for k, v in point.items() if k in ev.names})
    want = [exact_at(cost.intensity, {"B": b, "S_c": s, "S_i": 3}) for s in (0, 1000, 131072) for b in (1, 7, 512)]
    assert_close(got, want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_int64_overflow_in_prefill_flops(backend):
    # 000: prefill FLOPs = N(24·B·S·H² + 4·B·S²·H). At B = S = 10^6, H = 10^5, N = 10^3:
    # 24·10^6·10^6·10^10·10^3 = 2.4·10^26 and 4·10^6·10^12·10^5·10^3 = 4·10^26, total 6.4·10^26.
    want = 24 * 10**6 * 10**6 * 10**10 * 10**3 + 4 * 10**6 * 10**12 * 10**5 * 10**3
    assert want == 640 * 10**24
    cost = symroof.prefill(symroof.Arch.symbolic(), "arithmetic-intensity")
    arrays = {"B": np.array([10**6]), "S": np.array([10**6]), "H": np.array([10**5]), "N": np.array([10**3])}
    with np.errstate(over="ignore"):  # the hazard is real: plain int64 arithmetic wraps around
        naive = arrays["B"] * arrays["S"] ** 2 * arrays["H"] * arrays["N"]
    assert int(naive[0]) != 10**6 * 10**12 * 10**5 * 10**3
    ev = symroof.compile(cost, "flops", backend=backend)
    assert abs(float(ev(**arrays)[0]) - want) <= 1e-12 * want
    assert ev.exact(B=10**6, S=10**6, H=10**5, N=10**3) == want  # exact Python int
    assert isinstance(ev.exact(B=10**6, S=10**6, H=10**5, N=10**3), int)


@pytest.mark.parametrize("backend", BACKENDS)
def test_broadcast_grid_matches_exact_pointwise(backend):
    # 600 x 400 = 240,000 points: more than one block, so the blocked path (with the
    # S_c-only subexpressions hoisted out of the loop) runs
    assert evaluate.BLOCK < 600 * 400
    ev = symroof.compile(LLAMA, backend=backend, S_i=1)
    batch, cached = np.arange(1, 601)[:, None], np.arange(0, 400 * 37, 37)[None, :]
    grid = ev(B=batch, S_c=cached)
    assert grid.shape == (600, 400)
    rng = np.random.default_rng(0)
    points = [(int(i), int(j)) for i, j in zip(rng.integers(0, 600, 12), rng.integers(0, 400, 12), strict=True)]
    want = [exact_at(LLAMA.intensity, {"B": i + 1, "S_c": 37 * j, "S_i": 1}) for i, j in points]
    assert_close(np.array([grid[i, j] for i, j in points]), want)


def test_a_grid_evaluates_the_form_with_least_work_per_point():
    ev = symroof.compile(LLAMA, S_i=1)
    column, row = np.arange(1, 601)[:, None], np.arange(400)[None, :]
    assert ev.form_for(B=np.arange(1, 601), S_c=np.arange(600)) == ev.form  # full arrays: the default
    grid_form = ev.form_for(B=column, S_c=row)
    assert sympy.simplify(grid_form - LLAMA.intensity.subs(S_i, 1)) == 0
    # B·f(S_c)/(B·g(S_c) + c) = f(S_c)/(g(S_c) + c/B): per point one add and one division remain,
    # the numerator and every other term are computed once on the row or the column
    top, bottom = sympy.fraction(grid_form)
    assert top.free_symbols == {S_c}
    assert [t for t in sympy.Add.make_args(bottom) if B in t.free_symbols] == [bottom.coeff(1 / B) / B]


def test_threads_and_blocks_give_identical_results():
    batch = np.arange(1, 3 * evaluate._MIN_PER_THREAD)
    one = symroof.compile(LLAMA, S_i=1, S_c=4096, threads=1)(B=batch)
    many = symroof.compile(LLAMA, S_i=1, S_c=4096, threads=3)(B=batch)
    small = np.concatenate([symroof.compile(LLAMA, S_i=1, S_c=4096)(B=part)
                            for part in np.array_split(batch, len(batch) // 1000)])  # unblocked path
    assert np.array_equal(one, many)
    np.testing.assert_allclose(one, small, rtol=1e-15)
    # the same sweep with S_c and S_i given at call time (hoisted as scalars, not folded)
    np.testing.assert_allclose(symroof.compile(LLAMA)(B=batch, S_c=4096, S_i=1), one, rtol=1e-14)


def test_decode_form_is_one_division_per_point():
    # Llama-3-8B decode intensity at S_i=1, S_c=4096 is a·B/(c + d·B): after cancelling,
    # one multiply, one add and one division per point (weights 1 + 1 + 4)
    ev = symroof.compile(LLAMA, S_i=1, S_c=4096)
    assert ev.names == ("B",)
    assert sympy.simplify(ev.form - LLAMA.intensity.subs({S_i: 1, S_c: 4096})) == 0
    assert ev._program.cost == 6
    assert ev.source.count("/") == 1


# ---- exact mode -------------------------------------------------------------------------------
def test_exact_mode_returns_exact_rationals():
    # 2·B·H²/(2·H² + 4·B·H) at H = 4096, B = 1: 2·4096/(2·4096 + 4) = 8192/8196 = 2048/2049
    ev = symroof.compile(2 * B * H**2 / (2 * H**2 + 4 * B * H), H=4096)
    assert ev.exact(B=1) == Fraction(2048, 2049)
    assert type(ev.exact(B=1)) is Fraction
    assert symroof.compile(2 * B * H**2 / (2 * H**2 + 4 * B * H), H=4096, exact=True)(B=1) == Fraction(2048, 2049)
    # a float input is read as the decimal it prints as
    assert ev.exact(B=2048.0) == Fraction(2048 * 2048, 4096)


def test_exact_mode_matches_symbolic_subs():
    ev = symroof.compile(LLAMA, exact=True)
    for b, s_c, s_i in [(1, 4096, 1), (64, 0, 7), (10**6, 10**6, 1)]:
        want = LLAMA.subs(B=b, S_c=s_c, S_i=s_i).intensity
        got = ev(B=b, S_c=s_c, S_i=s_i)
        assert isinstance(got, Fraction)
        assert got == Fraction(int(want.p), int(want.q))


def test_term_selection():
    # 002: KV cache read per layer = B·S_c·n_kv·d_h·2 (K and V)·2 bytes; at B=2, S_c=4096:
    # 2·4096·8·128·2·2 = 33,554,432 per layer, x32 layers = 1,073,741,824
    assert symroof.compile(LLAMA, "kv/read", S_i=1, S_c=4096).exact(B=2) == 1_073_741_824
    at = {"B": 3, "S_c": 100, "S_i": 2}
    assert symroof.compile(LLAMA, "attention").exact(**at) == LLAMA.subs(**at).flops_of("attention")
    assert symroof.compile(LLAMA, "flops").exact(**at) == LLAMA.subs(**at).flops
    assert symroof.compile(LLAMA, "bytes").exact(**at) == LLAMA.subs(**at).bytes


@pytest.mark.parametrize("shape", [
    (3 * evaluate.BLOCK + 11,),                # 1-D: slabs along the only axis, a short last one
    (2, evaluate.BLOCK + 3),                   # a row longer than a block: cut along the row
    (5, 3, evaluate.BLOCK // 4 + 1),           # whole rows per slab
])
@pytest.mark.parametrize("dtype", [np.int64, np.uint32, np.float32, ">f8"])
def test_blocked_path_over_shapes_and_dtypes_matches_exact(shape, dtype):
    # B fills the output (cast to float64 block by block); S_c broadcasts along the first axis
    ev = symroof.compile(LLAMA, S_i=1)
    size = int(np.prod(shape))
    batch = (np.arange(size) % 5000 + 1).reshape(shape).astype(dtype)
    cached = np.arange(shape[-1]).reshape((1,) * (len(shape) - 1) + (shape[-1],)) * 3
    got = ev(B=batch, S_c=cached)
    assert got.shape == shape and got.dtype == np.float64
    rng = np.random.default_rng(1)
    for flat in [0, size - 1, *rng.integers(0, size, 6)]:
        idx = np.unravel_index(int(flat), shape)
        column = (0,) * (len(shape) - 1) + (idx[-1],)
        want = exact_at(LLAMA.intensity, {"B": int(batch[idx]), "S_c": int(cached[column]), "S_i": 1})
        assert_close(got[idx], [want])


# ---- out= ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_out_receives_the_result_even_when_it_overlaps_an_input(backend):
    ev = symroof.compile(B * (S_c + 3) / (B + S_c + 1), backend=backend, S_c=7)  # = 10·B/(B + 8)
    n = 2 * evaluate.BLOCK + 5  # the blocked path, with a short last block
    x = np.arange(1, n + 1, dtype=np.float64)
    want = 10 * x / (x + 8)  # by hand: (S_c + 3)·B/(B + S_c + 1) at S_c = 7
    buffer = np.empty(n)
    assert ev(B=x, out=buffer) is buffer
    np.testing.assert_allclose(buffer, want, rtol=1e-15)
    same = x.copy()  # in place, element for element
    assert ev(B=same, out=same) is same
    np.testing.assert_allclose(same, want, rtol=1e-15)
    shifted = np.arange(0, n + 1, dtype=np.float64)  # out lags B by one element: B must be read first
    ev(B=shifted[1:], out=shifted[:-1])
    np.testing.assert_allclose(shifted[:-1], want, rtol=1e-15)
    shifted = np.arange(1, n + 2, dtype=np.float64)  # out leads B by one element
    ev(B=shifted[:-1], out=shifted[1:])
    np.testing.assert_allclose(shifted[1:], want, rtol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_on_a_grid_small_arrays_and_scalars(backend):
    ev = symroof.compile(LLAMA, backend=backend, S_i=1)
    batch, cached = np.arange(1, 601)[:, None], np.arange(0, 400 * 37, 37)[None, :]
    grid = np.full((600, 400), np.nan)
    assert ev(B=batch, S_c=cached, out=grid) is grid
    for i, j in ((0, 0), (599, 399), (17, 250)):
        assert_close(grid[i, j], [exact_at(LLAMA.intensity, {"B": i + 1, "S_c": 37 * j, "S_i": 1})])
    small = np.empty(3)
    assert ev(B=np.array([1, 2, 3]), S_c=5, out=small) is small  # the unblocked path
    assert_close(small, [exact_at(LLAMA.intensity, {"B": b, "S_c": 5, "S_i": 1}) for b in (1, 2, 3)])
    scalar = np.empty(())
    assert ev(B=4, S_c=5, out=scalar) is scalar
    assert_close(scalar, [exact_at(LLAMA.intensity, {"B": 4, "S_c": 5, "S_i": 1})])


def test_bad_out_is_refused():
    with pytest.raises(ValueError, match=r"out must be a float64 array of shape \(3,\), got float32 of shape \(3,\)"):
        EV(B=np.array([1, 2, 3]), S_c=1, out=np.empty(3, dtype=np.float32))
    with pytest.raises(ValueError, match=r"out must be a float64 array of shape \(3,\), got float64 of shape \(4,\)"):
        EV(B=np.array([1, 2, 3]), S_c=1, out=np.empty(4))
    with pytest.raises(TypeError, match="out must be a numpy array, not list"):
        EV(B=np.array([1, 2, 3]), S_c=1, out=[0.0, 0.0, 0.0])
    frozen = np.empty(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        EV(B=np.array([1, 2, 3]), S_c=1, out=frozen)
    with pytest.raises(TypeError, match="out= is for float evaluation"):
        symroof.compile(2 * B, exact=True)(B=1, out=np.empty(()))
    with pytest.raises(ValueError, match="symbol name 'out' is taken"):
        symroof.compile(2 * sympy.Symbol("out", positive=True))


# ---- dask ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_dask_stays_lazy_and_equals_numpy(backend):
    da = pytest.importorskip("dask.array")
    ev = symroof.compile(LLAMA, backend=backend, S_i=1)
    batch = np.arange(1, 101)
    lazy = ev(B=da.from_array(batch, chunks=25), S_c=np.array([0, 4096])[:, None])
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), ev(B=batch, S_c=np.array([0, 4096])[:, None]))
    bad = ev(B=da.from_array(np.array([1, 2, -3, 4]), chunks=2), S_c=1)  # checked chunk by chunk
    assert isinstance(bad, da.Array)
    with pytest.raises(ValueError, match=r"B\[0\]=-3 must be a positive integer"):
        bad.compute()


# ---- bad input ----------------------------------------------------------------------------------
EV = symroof.compile(B * H / (S_c + B), H=8)


@pytest.mark.parametrize(("args", "error", "message"), [
    ({"B": -1, "S_c": 2}, ValueError, "B=-1 must be a positive integer"),
    ({"B": 0, "S_c": 2}, ValueError, "B=0 must be a positive integer"),
    ({"B": 1.5, "S_c": 2}, ValueError, "B=1.5 must be a positive integer"),
    ({"B": float("nan"), "S_c": 2}, ValueError, "B=nan must be a positive integer"),
    ({"B": float("inf"), "S_c": 2}, ValueError, "B=inf must be a positive integer"),
    ({"B": 1, "S_c": -1}, ValueError, "S_c=-1 must be a non-negative integer"),
    ({"B": True, "S_c": 2}, TypeError, "B=True: a bool is not a number"),
    ({"B": "3", "S_c": 2}, TypeError, "B='3': expected a number or an array, not str"),
    ({"B": 10**400, "S_c": 2}, ValueError, "B=1.000e\\+400 .* too large for float64"),
    ({"B": np.array([1, 2, -3]), "S_c": 2}, ValueError, r"B\[2\]=-3 must be a positive integer"),
    ({"B": np.array([1.0, np.nan]), "S_c": 2}, ValueError, r"B\[1\]=nan must be a positive integer"),
    ({"B": np.array([1.0, 2.5]), "S_c": 2}, ValueError, r"B\[1\]=2.5 must be a positive integer"),
    ({"B": np.array([[1, 2]]), "S_c": np.array([[1], [-1]])}, ValueError, r"S_c\[1, 0\]=-1 must be a non-negative"),
    ({"B": np.array([1 + 1j]), "S_c": 2}, TypeError, "B: a complex array is not allowed"),
    ({"B": np.array([True]), "S_c": 2}, TypeError, "B: a boolean array is not allowed"),
    ({"B": 1}, TypeError, "missing argument 'S_c' \\(expected B, S_c\\)"),
    ({"B": 1, "S_c": 1, "X": 2}, TypeError, "unexpected argument 'X': expected B, S_c"),
    ({"B": 1, "S_c": 1, "H": 3}, TypeError, "unexpected argument 'H': it is fixed at 8 by compile"),
])
def test_bad_arguments_are_named(args, error, message):
    with pytest.raises(error, match=message):
        EV(**args)


def test_bad_value_deep_in_a_large_array_is_found_in_its_block():
    batch = np.arange(1, 3 * evaluate.BLOCK)  # the blocked path: three blocks
    bad = 2 * evaluate.BLOCK + 7  # in the third block
    batch[bad] = 0
    with pytest.raises(ValueError, match=rf"B\[{bad}\]=0 must be a positive integer"):
        symroof.compile(LLAMA, S_i=1, S_c=4096, threads=1)(B=batch)
    batch[bad] = -3  # the second thread's range
    with pytest.raises(ValueError, match=rf"B\[{bad}\]=-3 must be a positive integer"):
        symroof.compile(LLAMA, S_i=1, S_c=4096, threads=2)(B=batch)
    grid = np.ones((3, evaluate.BLOCK), dtype=np.int32)  # slabs of whole rows
    grid[2, 5] = 0
    with pytest.raises(ValueError, match=r"B\[2, 5\]=0 must be a positive integer"):
        symroof.compile(LLAMA, S_i=1)(B=grid, S_c=np.arange(evaluate.BLOCK))
    batch = np.linspace(1, 100, 3 * evaluate.BLOCK)  # not integers
    with pytest.raises(ValueError, match=rf"B\[1\]={re.escape(repr(batch[1].item()))} must be a positive integer"):
        symroof.compile(LLAMA, S_i=1, S_c=4096)(B=batch)


@pytest.mark.parametrize("backend", BACKENDS)
def test_division_by_zero_and_overflow_are_errors(backend):
    ev = symroof.compile(B / S_c, backend=backend)
    with pytest.raises(ValueError, match="B/S_c is not a finite float64 at B=1, S_c=0"):
        ev(B=1, S_c=0)
    with pytest.raises(ValueError, match="B/S_c is not a finite float64"):
        ev(B=np.ones(10, dtype=int), S_c=np.arange(10))
    with pytest.raises(ValueError, match=r"undefined at B=1, S_c=0 \(division by zero\)"):
        ev.exact(B=1, S_c=0)
    with pytest.raises(ValueError, match="not a finite float64"):
        symroof.compile(B**2, backend=backend)(B=np.array([1e200]))
    cached = np.ones(4 * evaluate._MIN_PER_THREAD, dtype=int)
    cached[-5] = 0  # in the last thread's last block
    with pytest.raises(ValueError, match="B/S_c is not a finite float64"):
        symroof.compile(B / S_c, backend=backend, threads=2)(B=np.ones_like(cached), S_c=cached)


def test_other_misuse():
    with pytest.raises(TypeError, match=r"pass arguments by name: B=\.\.\., S_c=\.\.\."):
        EV(1, 2)
    with pytest.raises(TypeError, match="exact mode takes scalars"):
        EV.exact(B=np.array([1, 2]), S_c=1)
    with pytest.raises(ValueError, match=r"fixed X is not a symbol of the expression \(its symbols: B\)"):
        symroof.compile(2 * B, X=1)
    with pytest.raises(ValueError, match="B=-1 must be a positive integer"):
        symroof.compile(2 * B, fixed={"B": -1})
    with pytest.raises(TypeError, match="never parses text"):
        symroof.compile("B*2")
    with pytest.raises(ValueError, match="backend='gpu' is not allowed"):
        symroof.compile(B, backend="gpu")
    with pytest.raises(ValueError, match="what='nope' is not 'intensity', 'flops', 'bytes' or a term"):
        symroof.compile(LLAMA, "nope")
    with pytest.raises(ValueError, match="applies to a Cost only"):
        symroof.compile(B, "flops")
    with pytest.raises(ValueError, match="threads=0 must be a positive integer"):
        symroof.compile(B, threads=0)
    with pytest.raises(TypeError, match="cannot compile"):
        symroof.compile(sympy.sin(B))


def test_numexpr_missing(monkeypatch):
    monkeypatch.setattr(evaluate, "_numexpr", lambda: None)
    with pytest.raises(ImportError, match=r"symroof\[fast\]"):
        symroof.compile(3 * B, backend="numexpr")
    assert symroof.compile(3 * B, backend="auto").backend == ("numba" if _numba.available() else "numpy")


def test_numba_missing(monkeypatch):
    """Without numba, backend="numba" names the extra to install, and "auto" is numpy."""
    monkeypatch.setattr(_numba, "available", lambda: False)
    with pytest.raises(ImportError, match=r"backend='numba' needs numba: pip install 'symroof\[fast\]'"):
        symroof.compile(5 * B, backend="numba")
    ev = symroof.compile(5 * B, backend="auto")
    assert ev.backend == "numpy"
    np.testing.assert_array_equal(ev(B=np.arange(1, 4)), [5.0, 10.0, 15.0])


# ---- shapes, types, other expressions ------------------------------------------------------------
def test_scalars_lists_and_empty_arrays():
    ev = symroof.compile(B**2 * S_c + 1)
    assert type(ev(B=3, S_c=2)) is np.float64 and ev(B=3, S_c=2) == 19.0
    np.testing.assert_array_equal(ev(B=[1, 2], S_c=1), [2.0, 5.0])
    assert ev(B=np.array([], dtype=int), S_c=1).shape == (0,)
    assert ev(B=np.int32(3), S_c=np.float64(2.0)) == 19.0
    assert ev(B=sympy.Integer(3), S_c=Fraction(2)) == 19.0
    assert symroof.compile(sympy.Integer(7))() == 7.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_max_min_and_powers(backend):
    # max(B, S_c) + sqrt(B) at B = 4, 9 and S_c = 5: 5 + 2 = 7, 9 + 3 = 12
    ev = symroof.compile(sympy.Max(B, S_c) + sympy.sqrt(B), backend=backend)
    np.testing.assert_array_equal(ev(B=np.array([4, 9]), S_c=5), [7.0, 12.0])
    # B^11 has no int64 overflow either: 10^2^11 = 10^22
    assert symroof.compile(B**11, backend=backend)(B=np.array([100]))[0] == pytest.approx(1e22, rel=1e-15)
    # min(B, 3)·S - S_i: a subtraction, 2·5 - 1 = 9
    assert symroof.compile(sympy.Min(B, 3) * S - S_i, backend=backend)(B=np.array([2]), S=5, S_i=1)[0] == 9.0


def test_general_symbols_and_bytes_per_element():
    # Z and the bytes per element are positive reals: non-integers are fine, zero is not
    ev = symroof.compile(GENERAL, "bytes", B=1, S_c=0, S_i=1, H=1, N=1, b_a=1, b_kv=1)
    # bytes = B·H·N·S_c·b_kv + 2·B·H·N·S_i·(b_a + b_kv) + 10^9·Z·b_w = 0 + 4 + 10^9·Z·b_w
    assert ev.exact(Z=Fraction(1, 2), b_w=Fraction(1, 2)) == 4 + 10**9 // 4
    assert ev(Z=0.5, b_w=0.5) == 4 + 10**9 / 4
    with pytest.raises(ValueError, match="b_w=0 must be a positive number"):
        ev(Z=1, b_w=0)
    assert {Z, b_w} == ev.expr.free_symbols and b_a not in ev.expr.free_symbols and b_kv not in ev.expr.free_symbols
    assert N not in ev.expr.free_symbols


# ---- cache --------------------------------------------------------------------------------------
def test_compiling_twice_returns_the_same_object():
    first = symroof.compile(LLAMA, S_i=1, S_c=4096)
    assert symroof.compile(LLAMA, S_i=1, S_c=4096) is first
    assert symroof.compile(LLAMA, fixed={"S_c": 4096, "S_i": 1}) is first
    assert symroof.compile(LLAMA, fixed={S_c: 4096.0}, S_i=1) is first  # the same exact value
    assert symroof.compile(LLAMA.intensity, S_i=1, S_c=4096) is first  # what="intensity" is the default
    assert symroof.compile(LLAMA, S_i=1, S_c=2048) is not first
    assert symroof.compile(LLAMA, S_i=1, S_c=4096, backend="numexpr") is not first


def test_star_import_keeps_the_builtin_compile():
    # symroof.compile shadows the builtin only inside the symroof namespace
    namespace: dict[str, object] = {}
    exec("from symroof import *", namespace)
    assert "compile" not in namespace and "Evaluator" in namespace
    assert symroof.compile is evaluate.compile


# ---- call-time scalars: the kernel specialised to which arguments are arrays ---------------------
SEED000 = symroof.decode(symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2), "000")
PREFILL = symroof.prefill(symroof.Arch.symbolic(), "arithmetic-intensity")


def specialised(ev: evaluate.Evaluator, *arrays: str) -> evaluate._Special:
    """The signature's plan, which must exist (the call did not fall back to the general form)."""
    plan = ev._kernels[("special", tuple(sorted(ev.names.index(a) for a in arrays)))]
    assert plan is not None
    return plan


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=30, deadline=None)
@given(
    batch=st.lists(counts, min_size=1, max_size=4),
    s_c=st.integers(0, 10**6), h=st.integers(1, 10**5), n=st.integers(1, 10**3),
    z=st.fractions(min_value=Fraction(1, 10), max_value=2000) | st.integers(1, 10**4),
    big=st.booleans(),
)
def test_call_time_scalars_match_exact(backend, batch, s_c, h, n, z, big):
    ev = symroof.compile(SEED000.intensity, backend=backend)
    values = np.array(batch * (evaluate.BLOCK // len(batch) + 3) if big else batch)  # blocked or not
    got = ev(B=values, S_c=s_c, H=h, N=n, Z=z)
    specialised(ev, "B")
    idx = range(len(batch))
    assert_close(got[list(idx)], [exact_at(SEED000.intensity, {"B": b, "S_c": s_c, "H": h, "N": n, "Z": z})
                                  for b in batch])
    if big:
        assert_close(got[-1:], [exact_at(SEED000.intensity, {"B": int(values[-1]), "S_c": s_c, "H": h, "N": n,
                                                             "Z": z})])


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=25, deadline=None)
@given(b=counts, s=counts, h=st.integers(1, 10**5), n=st.integers(1, 10**3))
def test_call_time_scalars_never_overflow(backend, b, s, h, n):
    # prefill FLOPs N(24·B·S·H² + 4·B·S²·H) reach 10^26 and more: far past int64 (9.2·10^18),
    # whether the large factors are arrays or the scalars whose coefficients are computed exactly
    ev = symroof.compile(PREFILL, "flops", backend=backend)
    want = exact_at(PREFILL.flops, {"B": b, "S": s, "H": h, "N": n})
    assert want == n * (24 * b * s * h * h + 4 * b * s * s * h)
    assert_close(ev(B=np.array([b, b]), S=s, H=h, N=n), [want] * 2)
    assert_close(ev(B=b, S=np.array([s]), H=np.array([h]), N=n), [want])
    specialised(ev, "B")
    specialised(ev, "S", "H")


def test_signature_cache_is_by_arrays_never_by_values():
    ev = symroof.compile(SEED000.intensity)
    batch = np.arange(1, 9)
    first = ev(B=batch, S_c=1024, H=4096, N=32, Z=8)
    plan = specialised(ev, "B")
    second = ev(B=batch, S_c=0, H=1000, N=3, Z=Fraction(1, 2))
    assert specialised(ev, "B") is plan  # the same kernel, other coefficients
    assert_close(first, [exact_at(SEED000.intensity, {"B": b, "S_c": 1024, "H": 4096, "N": 32, "Z": 8})
                         for b in range(1, 9)])
    assert_close(second, [exact_at(SEED000.intensity, {"B": b, "S_c": 0, "H": 1000, "N": 3, "Z": Fraction(1, 2)})
                          for b in range(1, 9)])
    assert not np.allclose(first, second)
    # the same values at compile time: the same form, evaluated to the same bits
    fixed = symroof.compile(SEED000.intensity, S_c=1024, H=4096, N=32, Z=8)
    assert ev.form_for(B=batch, S_c=1024, H=4096, N=32, Z=8) == fixed.form
    np.testing.assert_array_equal(first, fixed(B=batch))


def test_call_time_scalars_on_grids_match_exact():
    # B column x S_c row (broadcast, more points than a block), H, N, Z scalars
    ev = symroof.compile(SEED000.intensity)
    side = math.isqrt(evaluate.BLOCK) + 40
    column, row = np.arange(1, side + 1)[:, None], np.arange(0, 50 * side, 50)[None, :]
    grid = ev(B=column, S_c=row, H=8192, N=80, Z=70)
    specialised(ev, "B", "S_c")
    top, _ = sympy.fraction(ev.form_for(B=column, S_c=row, H=8192, N=80, Z=70))
    assert top.free_symbols == {S_c}  # divided through by B: the numerator is computed on the row
    assert grid.shape == (side, side)
    for i, j in ((0, 0), (side - 1, side - 1), (7, side // 2), (side // 3, 1)):
        at = {"B": i + 1, "S_c": 50 * j, "H": 8192, "N": 80, "Z": 70}
        assert_close(grid[i, j], [exact_at(SEED000.intensity, at)])
    # a grid whose scalars make int64 overflow: prefill FLOPs over B x S at H = 10^5, N = 10^3
    flops = symroof.compile(PREFILL, "flops")
    sizes = np.array([1, 10**3, 10**6])
    got = flops(B=sizes[:, None], S=sizes[None, :], H=10**5, N=10**3)
    assert_close(got, [10**3 * (24 * b * s * 10**10 + 4 * b * s * s * 10**5) for b in sizes.tolist()
                       for s in sizes.tolist()])


@pytest.mark.parametrize("k", [3, 4, 5, 6, 7])
@pytest.mark.parametrize("backend", BACKENDS)
def test_odd_and_even_powers_in_the_generated_kernel(k, backend):
    # B^k·H + S_c over B^(k-1) + H: the kernel multiplies B by itself (x², x·x², ...); its
    # numbers are checked against Fraction arithmetic, since ev.exact() evaluates the form
    expr = (B**k * H + S_c) / (B ** (k - 1) + H)
    batch = np.arange(1, 2 * evaluate.BLOCK + 2) % 997 + 1  # blocked, B up to 997: 997^7 ~ 10^21

    def want(b: int, h: int, s_c: int) -> Fraction:
        return Fraction(b**k * h + s_c, b ** (k - 1) + h)

    for ev, args in [
        (symroof.compile(expr, backend=backend, H=3, S_c=5), {}),  # compile-time values
        (symroof.compile(expr, backend=backend), {"H": 3, "S_c": 5}),  # call-time scalars
    ]:
        got = ev(B=batch, **args)
        for i in (0, 1, 500, 996, len(batch) - 1):
            w = want(int(batch[i]), 3, 5)
            assert abs(Fraction(float(got[i])) - w) <= 1e-12 * w
    assert "power" not in symroof.compile(expr, H=3, S_c=5).source  # multiplies, not pow
    both = symroof.compile(expr, backend=backend)(B=batch, H=np.full(len(batch), 3), S_c=5)  # two arrays
    assert abs(Fraction(float(both[996])) - want(int(batch[996]), 3, 5)) <= 1e-12 * want(int(batch[996]), 3, 5)


def test_call_time_fallbacks_stay_correct():
    # a zero divisor: B/S_c at S_c = 0 is an error, as in the general form
    with pytest.raises(ValueError, match="not a finite float64"):
        symroof.compile(B / S_c)(B=np.array([1, 2]), S_c=0)
    # coefficients of both signs (a subtraction): the general form, still exact enough
    ev = symroof.compile((B * H - S_c) / (B + H))
    got = ev(B=np.array([1, 10, 1000]), H=7, S_c=3)
    assert_close(got, [Fraction(7 * b - 3, b + 7) for b in (1, 10, 1000)])
    # Max/Min/sqrt: no rational template, the general form
    ev = symroof.compile(sympy.Max(B, S_c) + sympy.sqrt(B))
    np.testing.assert_array_equal(ev(B=np.array([4, 9]), S_c=5), [7.0, 12.0])
    assert ev._kernels[("special", (0,))] is None


def test_call_time_scalars_with_out_check_false_and_scalar_types():
    ev = symroof.compile(SEED000.intensity, check=False)
    batch = np.arange(1, 2 * evaluate.BLOCK + 2, dtype=np.float32)
    buffer = np.empty(len(batch))
    assert ev(B=batch, S_c=np.int64(1024), H=4096.0, N=sympy.Integer(32), Z=Fraction(15, 2), out=buffer) is buffer
    specialised(ev, "B")
    for i in (0, len(batch) - 1):
        at = {"B": int(batch[i]), "S_c": 1024, "H": 4096, "N": 32, "Z": Fraction(15, 2)}
        assert_close(buffer[i : i + 1], [exact_at(SEED000.intensity, at)])
    with pytest.raises(ValueError, match=r"B\[1\]=0 must be a positive integer"):  # arrays still checked
        symroof.compile(SEED000.intensity)(B=np.array([1, 0]), S_c=1, H=1, N=1, Z=1)
