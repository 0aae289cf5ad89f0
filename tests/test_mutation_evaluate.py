"""Tests that kill surviving mutants of symroof/evaluate.py (benchmarks/mutation.py).

Every expected value is computed here from the expression's definition with Python ints and
Fractions; floats are compared within 1e-12 relative (the evaluator's promise).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy

import symroof
from symroof import _numba, evaluate
from symroof.symbols import B, S, S_c

BACKENDS = ["numpy", "numexpr"] + (["numba"] if _numba.available() else [])
REL = 1e-12


def close(got, want) -> None:
    got = np.asarray(got, dtype=np.float64).ravel().tolist()
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        w = Fraction(w)
        assert abs(Fraction(g) - w) <= REL * abs(w), (g, w)


@pytest.fixture(params=["functional", "blocked"])
def path(request, monkeypatch):
    """Small arrays run the functional program; with BLOCK = 2 the same arrays run the blocked one."""
    monkeypatch.setattr(_numba, "MIN_POINTS", 1)
    if request.param == "blocked":
        monkeypatch.setattr(evaluate, "BLOCK", 2)
        monkeypatch.setattr(evaluate, "_MIN_PER_THREAD", 1)
    return request.param


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n", range(2, 11))
def test_powers_through_the_generated_program(n, backend, path):
    # B**n * S + 3 over two full arrays (no call-time scalar): the program's own x**n
    b = [1, 2, 3, 7, 10, 31]
    s = [5, 1, 4, 2, 9, 3]
    ev = symroof.compile(B**n * S + 3, backend=backend)
    got = ev(B=np.array(b), S=np.array(s))
    close(got, [bi**n * si + 3 for bi, si in zip(b, s, strict=True)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_odd_powers_with_a_call_time_scalar_equal_fixed(backend, path):
    b = [1, 2, 3, 7, 10, 31]
    expr = B**5 * S_c + 3 * B**3 + B**7
    want = [bi**5 * 1024 + 3 * bi**3 + bi**7 for bi in b]
    close(symroof.compile(expr, backend=backend)(B=np.array(b), S_c=1024), want)
    close(symroof.compile(expr, backend=backend, S_c=1024)(B=np.array(b)), want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_several_outputs_with_fractional_call_time_coefficients(backend, path):
    # flops = B**2*S/3 + 2*B, bytes = B*S/2 + S**3: the coefficients of B carry 1/3 and 1/2
    ev = symroof.compile((B**2 * S / 3 + 2 * B, B * S / 2 + S**3), backend=backend)
    b = [1, 2, 5, 11]
    for s in (1, 3, 10):
        f, y = ev(B=np.array(b), S=s)
        close(f, [Fraction(bi**2 * s, 3) + 2 * bi for bi in b])
        close(y, [Fraction(bi * s, 2) + s**3 for bi in b])


# ---- argument checks: every path names the first bad element and the rule ----------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("values", "message"), [
    ([1.0, 2.0, 2.5, 4.0, 5.0, 6.0], "B[2]=2.5 must be a positive integer"),   # a fraction
    ([1, 2, 3, 0, 5, 6], "B[3]=0 must be a positive integer"),                   # zero, int array
    ([1, 2, 3, 4, -5, 6], "B[4]=-5 must be a positive integer"),                 # negative
    ([1.0, float("nan"), 3.0, 4.0, 5.0, 6.0], "B[1]=nan must be a positive integer"),
])
def test_a_bad_element_of_a_full_array_is_named(values, message, backend, path):
    ev = symroof.compile(B * S + 1, backend=backend)
    with pytest.raises(ValueError) as err:
        ev(B=np.array(values), S=np.arange(1, 7))
    assert str(err.value) == message


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_cache_allowed_negative_refused(backend, path):
    ev = symroof.compile(B * S_c + B, backend=backend)
    close(ev(B=np.arange(1, 7), S_c=np.array([0, 1, 0, 2, 0, 3])), [1, 4, 3, 12, 5, 24])
    with pytest.raises(ValueError) as err:
        ev(B=np.arange(1, 7), S_c=np.array([0, 1, 0, -2, 0, 3]))
    assert str(err.value) == "S_c[3]=-2 must be a non-negative integer"


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_input_the_chosen_form_cancels_is_still_checked(backend, path):
    # (B·S + B)/(S + 1) = B: the evaluated form never reads S, but S must still be a count
    ev = symroof.compile((B * S + B) / (S + 1), backend=backend)
    b = [1, 2, 3, 4, 5, 6]
    close(ev(B=np.array(b), S=np.array([3, 1, 4, 1, 5, 9])), b)
    with pytest.raises(ValueError) as err:
        ev(B=np.array(b), S=np.array([3, 1, 4, 0, 5, 9]))
    assert str(err.value) == "S[3]=0 must be a positive integer"


def test_scalar_messages():
    ev = symroof.compile(B * S + 1, backend="numpy")
    with pytest.raises(ValueError) as err:
        ev(B=sympy.Rational(3, 2), S=1)
    assert str(err.value) == "B=3/2 must be a positive integer"
    # a long repr is cut to 37 characters and "...": "Fraction(-" (10) and 27 of the 31 digits
    with pytest.raises(ValueError) as err:
        ev(B=Fraction(-10**30, 7), S=1)
    assert str(err.value) == f"B=Fraction(-1{'0' * 26}... must be a positive integer"
    with pytest.raises(TypeError) as err:
        ev(B=np.array([1, 2], dtype=object), S=1)
    assert str(err.value) == "B: an object array is not allowed; pass integers or floats"
    # a 0-d array is a scalar: named without an index
    with pytest.raises(ValueError, match=r"^B=(np\.float64\()?2\.5\)? must be a positive integer$"):
        ev(B=np.array(2.5), S=np.array([1, 2]))


def test_exact_takes_sympy_rationals_and_fractions():
    x = sympy.Symbol("x", positive=True)
    ev = symroof.compile(2 * x + B, backend="numpy")
    assert ev.exact(x=sympy.Rational(3, 2), B=1) == 4             # 2·3/2 + 1
    assert ev.exact(x=Fraction(5, 4), B=sympy.Integer(2)) == Fraction(9, 2)  # 5/2 + 2
    assert ev.exact(x=0.1, B=1) == Fraction(6, 5)               # 0.1 read as the decimal 1/10


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_from_underflow_is_an_error_not_a_result(backend, path):
    # x²/(x² + y²) = 1/2 exactly, but x² underflows to 0 at 1e-200: 0/0 must raise, not give NaN
    x, y = sympy.symbols("x y", positive=True)
    ev = symroof.compile(x**2 / (x**2 + y**2), backend=backend)
    with pytest.raises(ValueError, match="is not a finite float64"):
        ev(x=1e-200, y=1e-200)
    with pytest.raises(ValueError, match="is not a finite float64"):
        ev(x=np.full(6, 1e-200), y=np.full(6, 1e-200))


# ---- forms ------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_factored_form_keeps_the_constant(backend, path):
    # (B² + 3B + 2)/(2S + 4) = (B + 1)(B + 2)/(2(S + 2)): the factored form folds 1/2 into S + 2
    ev = symroof.compile((B**2 + 3 * B + 2) / (2 * S + 4), backend=backend)
    b, s = [1, 2, 3, 7, 10, 31], [5, 1, 4, 2, 9, 3]
    close(ev(B=np.array(b), S=np.array(s)), [Fraction((bi + 1) * (bi + 2), 2 * (si + 2))
                                             for bi, si in zip(b, s, strict=True)])
    assert ev.exact(B=3, S=2) == Fraction(20, 8)


def test_form_for_a_grid_divides_through_by_B():
    # B(S_c + 7)/(B(S_c + 2) + 5): numerator and denominator divided by B leave S_c + 7, S_c + 2
    # and 5/B, each on a row or a column of B[:, None] × S_c[None, :]
    ev = symroof.compile(B * (S_c + 7) / (B * (S_c + 2) + 5), backend="numpy")
    assert ev.form_for(B=np.ones((50, 1)), S_c=np.ones(40)) == (S_c + 7) / (S_c + 2 + 5 / B)


def test_form_for_call_time_scalars_on_a_fresh_evaluator():
    # an expression compiled nowhere else: form_for is the first use of its kernel
    ev = symroof.compile(B * (S_c + 11) / (B * (S_c + 3) + 13), backend="numpy")
    form = ev.form_for(B=np.ones(1000), S_c=5)   # 16B/(8B + 13)
    assert form.free_symbols == {B}
    for b in (1, 2, 9):
        assert form.xreplace({B: b}) == sympy.Rational(16 * b, 8 * b + 13)


def test_form_for_where_the_normalising_coefficient_is_zero():
    # B·S_c/(B·S_c + B + 1), normalised by the coefficient S_c of the numerator: at S_c = 0 it
    # vanishes and the general form is shown; its value at S_c = 0 is 0
    ev = symroof.compile(B * S_c / (B * S_c + B + 1), backend="numpy")
    at2 = ev.form_for(B=np.ones(5), S_c=2)      # 2B/(3B + 1)
    assert [at2.xreplace({B: b}) for b in (1, 4)] == [sympy.Rational(2, 4), sympy.Rational(8, 13)]
    at0 = ev.form_for(B=np.ones(5), S_c=0)
    assert at0.xreplace({B: 4, S_c: 0}) == 0
    assert at0.xreplace({B: 4, S_c: 2}) == sympy.Rational(8, 13)
    close(ev(B=np.array([1, 4]), S_c=0), [0, 0])


def test_several_outputs_form_for_call_time_scalars():
    ev = symroof.compile((B * S_c + 2 * B, B * S_c**2 + 3), backend="numpy")
    forms = ev.form_for(B=np.ones(1000), S_c=5)   # 7B and 25B + 3
    assert all(f.free_symbols == {B} for f in forms)
    assert [f.xreplace({B: 4}) for f in forms] == [28, 103]


# ---- call-time scalars of a real (non-count) symbol ------------------------------------------
X = sympy.Symbol("x", positive=True)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("x", [0.5, 3.5, Fraction(1, 3), Fraction(7, 2), 2.25])
def test_fractional_call_time_scalar(x, backend, path):
    # x·B/(x·B + 1): the coefficients x and 1 over the normaliser x are 1 and 1/x (a float is
    # read as the decimal it prints as: 3.5 is 7/2)
    ev = symroof.compile(X * B / (X * B + 1), backend=backend)
    b = [1, 2, 3, 7, 10, 31]
    xf = Fraction(repr(x)) if isinstance(x, float) else x
    close(ev(B=np.array(b), x=x), [xf * bi / (xf * bi + 1) for bi in b])
    close(ev(B=np.array(b), x=x, out=np.empty(6)), [xf * bi / (xf * bi + 1) for bi in b])


# ---- repr, hashing, defaults ----------------------------------------------------------------
def test_reprs():
    from symroof.symbols import H
    ev = symroof.compile(2 * B * H**2 / (2 * H**2 + 4 * B * H), H=4096, backend="numpy")
    assert repr(ev) == "Evaluator((B) -> 2048*B/(B + 2048), fixed {H=4096}, backend='numpy')"
    assert repr(symroof.compile(B * S + 1, backend="numpy")) == "Evaluator((B, S) -> B*S + 1, backend='numpy')"
    many = symroof.compile((B * S_c + 2 * B, B + S_c), backend="numpy")
    assert repr(many) == "MultiEvaluator((B, S_c) -> (B*S_c + 2*B, B + S_c), backend='numpy')"
    many = symroof.compile((B * S_c + 2 * B, B + S_c), backend="numpy", S_c=3)
    assert repr(many) == "MultiEvaluator((B) -> (B*S_c + 2*B, B + S_c), fixed {S_c=3}, backend='numpy')"


def test_evaluators_are_dict_keys():
    ev = symroof.compile(B * S + 1, backend="numpy")
    many = symroof.compile((B * S, B + S), backend="numpy")
    table = {ev: "one", many: "two"}
    assert (table[ev], table[many]) == ("one", "two")


def test_default_threads_without_sched_getaffinity(monkeypatch):
    import os
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert symroof.compile(B * S + 1, backend="numpy").threads == 3
    monkeypatch.setattr(os, "cpu_count", lambda: None)   # unknown: one thread
    assert symroof.compile(B * S + 1, backend="numpy").threads == 1


# ---- duck arrays other than dask ---------------------------------------------------------------
class Duck(np.lib.mixins.NDArrayOperatorsMixin):
    """A minimal array that implements ``__array_ufunc__`` (as xarray or pint would)."""

    def __init__(self, data):
        self.data = np.asarray(data)

    @property
    def dtype(self):
        return self.data.dtype

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def astype(self, dtype):
        return Duck(self.data.astype(dtype))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raw = [x.data if isinstance(x, Duck) else x for x in inputs]
        return Duck(getattr(ufunc, method)(*raw, **kwargs))


def test_a_duck_array_goes_through_the_program():
    ev = symroof.compile(B**2 * S + 3, backend="numpy")
    got = ev(B=Duck([1, 2, 5]), S=4)
    assert isinstance(got, Duck)
    close(got.data, [4 * b * b + 3 for b in (1, 2, 5)])
    with pytest.raises(ValueError) as err:
        ev(B=Duck([1, 0, 5]), S=4)
    assert str(err.value) == "B[1]=0 must be a positive integer"
    with pytest.raises(ValueError) as err:
        ev(B=Duck([1.0, 2.5]), S=4)
    assert str(err.value) == "B[1]=2.5 must be a positive integer"


# ---- out= ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_out_overlapping_an_input_row(backend, path):
    # B is the first row of the buffer the grid B[None, :] × S[:, None] is written into: the
    # result is as if B had been read before any of it was written (numpy's out= semantics)
    ev = symroof.compile(B * S + 3, backend=backend)
    buffer = np.zeros((4, 5))
    buffer[0] = [1, 2, 3, 4, 5]
    s = [1, 2, 3, 4]
    got = ev(B=buffer[:1], S=np.array(s)[:, None], out=buffer)
    assert got is buffer
    close(buffer, [bj * si + 3 for si in s for bj in (1, 2, 3, 4, 5)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_is_the_input_itself(backend, path):
    ev = symroof.compile(B**2 + 2 * B, backend=backend)
    buffer = np.array([1.0, 2, 3, 4, 5, 6])
    ev(B=buffer, out=buffer)
    close(buffer, [b * b + 2 * b for b in range(1, 7)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_of_the_wrong_shape_or_dtype_is_refused(backend, path):
    ev = symroof.compile(B * S + 3, backend=backend)
    with pytest.raises(ValueError) as err:
        ev(B=np.arange(1, 7), S=2, out=np.empty(5))
    assert str(err.value) == "out must be a float64 array of shape (6,), got float64 of shape (5,)"
    with pytest.raises(ValueError) as err:
        ev(B=np.arange(1, 7), S=2, out=np.empty(6, dtype=np.float32))
    assert str(err.value) == "out must be a float64 array of shape (6,), got float32 of shape (6,)"


# ---- grids and big integers ---------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_broadcast_grid(backend, path):
    # B as a column, S_c as a row: B(S_c + 5)/(B(S_c + 1) + 3) at every pair
    ev = symroof.compile(B * (S_c + 5) / (B * (S_c + 1) + 3), backend=backend)
    b, s = [1, 2, 7], [0, 1, 4, 100]
    got = ev(B=np.array(b)[:, None], S_c=np.array(s)[None, :])
    assert got.shape == (3, 4)
    close(got, [Fraction(bi * (si + 5), bi * (si + 1) + 3) for bi in b for si in s])


@pytest.mark.parametrize("backend", BACKENDS)
def test_huge_integer_arrays_do_not_overflow_int64(backend, path):
    # B·S²·H at 10^6 each is 10^24, far beyond int64 (9.2·10^18)
    from symroof.symbols import H
    ev = symroof.compile(B * S**2 * H + B, backend=backend)
    b = [10**6, 3 * 10**6, 999_999, 2**31 + 1]
    s = [10**6, 7, 2**31 - 1, 10**6]
    h = [10**6, 10**6, 5, 12345]
    got = ev(B=np.array(b, dtype=np.int64), S=np.array(s, dtype=np.int64), H=np.array(h, dtype=np.int64))
    close(got, [bi * si**2 * hi + bi for bi, si, hi in zip(b, s, h, strict=True)])


# ---- several outputs: constants and negative coefficients with a call-time scalar -----------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_several_outputs_a_negative_constant_output(backend, path):
    ev = symroof.compile((B * S, -sympy.Integer(1)), backend=backend)
    product, minus_one = ev(B=np.array([1, 2, 3]), S=3)
    close(product, [3, 6, 9])
    close(minus_one, [-1, -1, -1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_several_outputs_all_negative(backend, path):
    ev = symroof.compile((-B * S - 2 * B, -3 * B), backend=backend)
    f, g = ev(B=np.array([1, 2, 5]), S=3)
    close(f, [-5, -10, -25])
    close(g, [-3, -6, -15])


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_column_grid_of_a_strided_table(backend, path):
    # S is a column cut from a 2-D table (not contiguous), B a 1-D array as a column (stride 0
    # across): a result of one column, read column by column by numba's 2-D loop
    ev = symroof.compile(B * S + 3, backend=backend)
    table = np.array([[1, 10], [2, 20], [3, 30], [4, 40]])
    b = [5, 6, 7, 8]
    got = ev(B=np.array(b)[:, None], S=table[:, :1])
    assert got.shape == (4, 1)
    close(got, [bi * si + 3 for bi, si in zip(b, [1, 2, 3, 4], strict=True)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_row_grid_of_a_strided_table(backend, path):
    # the transpose of the case above: a result of one row, S every other element of a table's row
    ev = symroof.compile(B * S + 3, backend=backend)
    table = np.array([[1, 10, 2, 20, 3, 30, 4, 40]])
    b = [5, 6, 7, 8]
    got = ev(B=np.array(b)[None, :], S=table[:, ::2])
    assert got.shape == (1, 4)
    close(got, [bi * si + 3 for bi, si in zip(b, [1, 2, 3, 4], strict=True)])
