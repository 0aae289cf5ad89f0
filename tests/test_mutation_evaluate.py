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
