"""Crossovers, regimes and limits (`symroof.analysis.roofline`) against values derived by hand.

The intensities here are chosen so that the answer is known in closed form without symroof:
``log(B) = 43`` at ``B = e^43``, ``log(S_c + 2) = 2`` at ``S_c = e^2 − 2``; a linear ``B + Z = H``
at ``B = H − Z``; a quadratic's larger root by the formula. mpmath gives the reference digits.
"""

from __future__ import annotations

import dataclasses

import mpmath
import pytest
import sympy

import symroof
from symroof.analysis.roofline import Crossover, Limit, crossover, intensity_limit, regime
from symroof.symbols import B, H, S_c, Z, pi

log = sympy.log


def digits(x: sympy.Expr, n: int = 30) -> str:
    """The first ``n`` significant digits of a SymPy number, as mpmath prints them."""
    with mpmath.workdps(60):
        return mpmath.nstr(mpmath.mpf(str(x)), n)


# ---- the bracketed search: intensities that are not ratios of polynomials ---------------------------------


def test_a_root_between_2_62_and_2_63_is_found():
    # log(2^62) = 42.98 < 43 < log(2^63) = 43.67: the doubling must go one step past 2^62
    c = crossover(log(B), 43)
    assert c.exists and c.above == "compute"
    with mpmath.workdps(60):
        want = mpmath.exp(43)
        assert c.bracket == (int(mpmath.floor(want)), int(mpmath.floor(want)) + 1)
        assert digits(c.value) == mpmath.nstr(want, 30)


def test_thirty_digits_of_a_root_over_the_cache():
    # S_c starts at 0: the search goes 0, 1, 2, 4, 8 and brackets e^2 − 2 = 5.389... in [5, 6]
    c = crossover(log(S_c + 2), 2, S_c)
    with mpmath.workdps(60):
        want = mpmath.exp(2) - 2
        assert c.bracket == (5, 6) and c.above == "compute"
        assert digits(c.value) == mpmath.nstr(want, 30)
    assert c.value._prec == sympy.Float(1, 30)._prec              # 30 significant digits, as documented


def test_a_lower_bound_that_is_not_a_power_of_two_still_brackets_integers():
    # from B = 3: 3, 6, 12 brackets e^2 = 7.389 in [6, 12]; integer bisection narrows it to [7, 8]
    c = crossover(log(B), 2, lower=3)
    assert c.bracket == (7, 8)
    with mpmath.workdps(60):
        assert digits(c.value) == mpmath.nstr(mpmath.exp(2), 30)


def test_starting_compute_bound_turns_memory_bound():
    c = crossover(10 - log(B), 8)             # 10 − log(B) = 8 at B = e^2, falling
    assert c.above == "memory" and c.bracket == (7, 8)
    assert c.reason.startswith("compute-bound for B < 7.38905609893065")


def test_no_crossover_up_to_the_scan_top_names_the_regime():
    top = 2**62
    memory = crossover(log(B), 50)            # log(2^63) = 43.7 < 50: memory-bound all the way
    assert not memory.exists and memory.value is None and memory.ceiling is None
    assert memory.reason.startswith(f"no crossover: memory-bound for every B ≥ 1 up to {top} ")
    compute = crossover(100 - log(B), 50)
    assert compute.reason.startswith(f"no crossover: compute-bound for every B ≥ 1 up to {top} ")


def test_an_exact_root_on_the_last_exactly_evaluated_integer():
    # (1/2)^(B/4096) = 1/2 exactly at B = 4096 = 2^12, the largest value evaluated exactly
    c = crossover(1 - sympy.Rational(1, 2) ** (B / 4096), sympy.Rational(1, 2))
    assert c.value == 4096 and c.value.is_Integer


# ---- closed forms with symbols left --------------------------------------------------------------------


def test_linear_crossover_whose_constant_term_has_no_known_sign():
    # B + Z = H at B = H − Z, positive exactly when Z < H; the intensity grows without bound
    c = crossover(B + Z, H)
    assert c.value == H - Z and c.condition == (Z < H) and c.above == "compute"
    assert c.reason.endswith("(if B* < 1, the step is compute-bound already at B = 1; memory-bound below B*)")
    s = crossover(S_c + Z, H, S_c)            # S_c's lower bound is 0: no remark about values below it
    assert s.value == H - Z and s.reason == "intensity = H at S_c = H - Z; S_c* > 0 exactly when Z < H"


def test_linear_crossover_with_an_undecided_limit():
    # (B·H + Z)/(B + 1) = pi at B = (pi − Z)/(H − pi): positive when Z < pi < H or H ≤ pi ≤ Z;
    # the limit H may be above or below pi, so the regime beyond is unknown
    c = crossover((B * H + Z) / (B + 1), pi)
    assert sympy.simplify(c.value - (pi - Z) / (H - pi)) == 0
    assert c.above is None and "already" not in c.reason
    truth = {(1, 5, 3): True, (5, 1, 3): True, (1, 1, 3): False, (5, 5, 3): False}
    for (z, h, p), want in truth.items():
        assert bool(c.condition.subs({Z: z, H: h, pi: p})) is want


def test_quadratic_crossover_takes_the_larger_root():
    # (B^2 + Z)/(B + 1) = H: B^2 − H·B + Z − H = 0, larger root (H + sqrt(H^2 − 4(Z − H)))/2
    c = crossover((B**2 + Z) / (B + 1), H)
    assert sympy.simplify(c.value - (H + sympy.sqrt(H**2 - 4 * (Z - H))) / 2) == 0
    assert c.condition == (Z < H) and c.above == "compute"
    # Z = 0: the constant term −H is negative, so the root is positive for every H
    assert crossover(B**2 / (B + 1), H).condition is sympy.true


@pytest.mark.parametrize("expr,degree", [((Z * B + 1) / (B**2 + 1), 2), ((B**3 + Z * B**2 + 1) / (B + 1), 3)])
def test_no_closed_form_beyond_an_upward_quadratic(expr, degree):
    with pytest.raises(ValueError, match=f"intensity − balance has degree {degree} in B; substitute numbers for "
                                         r"\['Z', 'pi'\]$"):
        crossover(expr, pi)


def test_a_cache_crossover_below_zero_is_none():
    # S_c + 2 = 3/2 at S_c = −1/2, outside S_c ≥ 0: compute-bound from S_c = 0 on
    c = crossover(S_c + 2, sympy.Rational(3, 2), S_c)
    assert not c.exists
    assert c.reason.startswith("no crossover: compute-bound already at S_c = 0 ")


# ---- regimes, limits, value types ----------------------------------------------------------------------


def test_regime_on_both_sides_of_the_balance():
    cost = symroof.Cost(flops={"x": 100 * B}, bytes={"w": 10 + B})
    assert regime(cost, 50, B=2) == "memory"        # 200/12 < 50
    assert regime(cost, 50, B=1000) == "compute"    # 100000/1010 > 50
    assert regime(cost, 9, B=1) == "compute"        # 100/11 = 9.09 ≥ 9
    assert regime(cost, 10, B=1) == "memory"        # 9.09 < 10
    with pytest.raises(ValueError, match=r"^regime needs values for B "):
        regime(cost, 50)


def test_limit_of_a_ratio_of_polynomials():
    assert intensity_limit((3 * B**2 + 1) / (2 * B**2 + B), B).value == sympy.Rational(3, 2)
    assert intensity_limit((3 * B + 1) / (2 * B**2 + B), B).value == 0
    assert intensity_limit((3 * B**3) / (2 * B**2 + B), B).value == sympy.oo


def test_crossover_ceiling_is_the_first_integer_beyond():
    c = crossover(B, sympy.Rational(7, 2))
    assert c.value == sympy.Rational(7, 2) and c.ceiling == 4 and float(c) == 3.5


@pytest.mark.parametrize("make", [
    lambda: crossover(B, 3), lambda: intensity_limit(B / (B + 1), B),
])
def test_results_are_frozen(make):
    value = make()
    assert isinstance(value, (Crossover, Limit))
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.unknown = S_c


def test_latex_of_a_crossover_and_of_none():
    assert crossover(B, sympy.Rational(7, 2)).latex() == r"B^* = \frac{7}{2}"
    assert crossover(log(B), 50).latex() == r"B^* = \text{none}"
    assert crossover(B, 3)._repr_latex_() == "$B^* = 3$"


def test_a_real_unknown_is_bracketed_from_zero_without_bisection():
    # a non-integer unknown starts at 0 and doubles from 1: 0, 1, 2, 4, 8 brackets e^2 − 2 = 5.389
    # in [4, 8], which is not narrowed to integers
    x = sympy.Symbol("x", positive=True)
    c = crossover(log(x + 2), 2, x)
    assert c.bracket == (4, 8) and c.above == "compute"
    with mpmath.workdps(60):
        assert digits(c.value) == mpmath.nstr(mpmath.exp(2) - 2, 30)
