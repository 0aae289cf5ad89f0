"""Speculative decoding (symroof.speculative) against brute-force enumeration of accept/reject
sequences, Leviathan et al.'s closed forms, and roofline step times derived by hand."""

from fractions import Fraction
from itertools import product

import numpy as np
import pytest
import sympy

import symroof
from symroof.analysis import speculative as spec
from symroof.analysis.speculative import ALPHA, K

LLAMA = symroof.models.get("llama-3-8b")
H100 = symroof.hardware.get("H100-SXM")       # 989e12 FLOP/s bf16, 3.35e12 B/s (datasheet)
P = 8_030_261_248                             # Llama-3-8B parameters (counted by hand in test_serving)


def _frac(x):
    return sympy.Rational(x.numerator, x.denominator)


# ---- expected tokens per step ---------------------------------------------------------------------
def _enumerate(alpha: Fraction, k: int) -> Fraction:
    """E[tokens] by enumerating every accept (1) / reject (0) outcome of the k drafts: a step yields
    the drafts accepted before the first rejection, plus one token from the target."""
    total = Fraction(0)
    for outcome in product((0, 1), repeat=k):
        prob = Fraction(1)
        for accepted in outcome:
            prob *= alpha if accepted else 1 - alpha
        run = next((i for i, a in enumerate(outcome) if not a), k)
        total += prob * (run + 1)
    return total


@pytest.mark.parametrize("k", [0, 1, 2, 3, 5, 8])
@pytest.mark.parametrize("alpha", [Fraction(0), Fraction(1, 3), Fraction(1, 2), Fraction(4, 5), Fraction(1)])
def test_expected_tokens_equals_enumeration(alpha, k):
    assert spec.expected_tokens(_frac(alpha), k) == _frac(_enumerate(alpha, k))


def test_expected_tokens_by_hand():
    # α = 0.8, k = 4: (1 − 0.8⁵)/(1 − 0.8) = (1 − 1024/3125)·5 = 2101/625 = 3.3616
    hand = (1 - Fraction(4, 5) ** 5) / (1 - Fraction(4, 5))
    assert hand == Fraction(2101, 625)
    assert spec.expected_tokens(0.8, 4) == _frac(hand)
    assert float(spec.expected_tokens(0.8, 4)) == 3.3616


def test_expected_tokens_limits_and_symbolic_form():
    e = spec.expected_tokens(ALPHA, K)
    assert sympy.simplify(e - (1 - ALPHA ** (K + 1)) / (1 - ALPHA)) == 0
    assert sympy.limit(e, ALPHA, 0) == 1                 # every draft rejected: the target's token only
    assert sympy.limit(e, ALPHA, 1) == K + 1             # every draft accepted, plus the bonus token
    for k in range(6):                                   # the closed form is the geometric sum
        assert sympy.cancel(spec.expected_tokens(ALPHA, k)) == sum(ALPHA**i for i in range(k + 1))


# ---- speed-up ----------------------------------------------------------------------------------------
def test_memory_bound_003_speedup_is_leviathan_theorem_3_8():
    # 003 counts 2P bytes of weights only: decode and verification (k + 1 ≤ 295 tokens) both take 2P/β
    for alpha, k, c in ((0.8, 4, 0), (0.6, 3, 0.05), (0.9, 8, Fraction(1, 20))):
        s = spec.speculative_decoding(LLAMA, "inference-arithmetic", H100, alpha=alpha, k=k, c=c, S_c=512)
        assert s.verify.total_s == s.decode.total_s == sympy.Rational(2 * P, 3350 * 10**9)
        a, cc = Fraction(str(alpha)), Fraction(str(c))
        hand = (1 - a ** (k + 1)) / ((1 - a) * (cc * k + 1))          # Leviathan et al. 2023, Thm 3.8
        assert s.speedup == _frac(hand) == spec.leviathan_speedup(alpha, k, c)
    # α = 0.8, k = 4, c = 0.05: 3.3616 / 1.2
    s = spec.speculative_decoding(LLAMA, "inference-arithmetic", H100, alpha=0.8, k=4, c=0.05, S_c=0)
    assert s.speedup == _frac(Fraction(2101, 625) / Fraction(6, 5))


def test_compute_bound_verification_by_hand():
    # 003: FLOPs 2P per token. B = 100, k = 4: decode is memory-bound (100 < 989/3.35 ≈ 295),
    # verification of 100·5 = 500 tokens is compute-bound: t_ver = 2P·500/π, t_dec = 2P/β,
    # speed-up = E · (2P/β) / (2P·500/π) = E · π / (500·β)
    s = spec.speculative_decoding(LLAMA, "inference-arithmetic", H100, alpha=0.8, k=4, B=100, S_c=0)
    assert s.decode.bound == "memory" and s.verify.bound == "compute"
    assert s.speedup == _frac(Fraction(2101, 625) * Fraction(989 * 10**12, 500 * 3350 * 10**9))
    # B = 1024: both compute-bound: speed-up = E/(k + 1), below 1
    s = spec.speculative_decoding(LLAMA, "inference-arithmetic", H100, alpha=0.8, k=4, B=1024, S_c=0)
    assert s.speedup == _frac(Fraction(2101, 625) / 5)
    # per-token time of each sequence: step time / E
    assert s.time_per_token_s == s.verify.total_s / s.expected_tokens


def test_speedup_limits_on_the_exact_roofline():
    s = spec.speculative_decoding(LLAMA, "exact", H100, k=4, B=8, S_c=4096)
    ratio = s.decode.total_s / s.verify.total_s                      # t_dec / t_ver ≤ 1
    assert 0 < ratio < 1
    # by hand: both steps are memory-bound (40 tokens against the H100's balance of 295), so the ratio is one of
    # bytes. A step of S_i tokens per sequence reads the bf16 weights but the embedding table (of which B·S_i rows
    # are gathered), the K and V of 4096 cached tokens (131,072 bytes per token), writes S_i new ones and moves
    # the fused activations 3·32·4096·2 per token
    def step_bytes(new):
        return (2 * (P - 128256 * 4096) + 8 * new * 4096 * 2 + 8 * 4096 * 131_072 + 8 * new * 131_072
                + 8 * new * 3 * 32 * 4096 * 2)
    assert s.decode.bound == s.verify.bound == "memory"
    assert s.decode.total_s == sympy.Rational(step_bytes(1), 3350 * 10**9)
    assert ratio == sympy.Rational(step_bytes(1), step_bytes(5))
    assert sympy.limit(s.speedup, ALPHA, 0) == ratio                 # 1 token per (longer) step
    assert sympy.limit(s.speedup, ALPHA, 1) == 5 * ratio             # k + 1 tokens per step
    # symbolic in α and k: substituting numbers agrees with the numeric call
    sym_k = spec.speculative_decoding(LLAMA, "exact", H100, alpha=ALPHA, k=K, B=8, S_c=4096)
    num = spec.speculative_decoding(LLAMA, "exact", H100, alpha=0.7, k=3, B=8, S_c=4096)
    assert sym_k.speedup.subs({ALPHA: sympy.Rational(7, 10), K: 3}) == num.speedup


def test_symbolic_model_speedup():
    hw = symroof.Hardware("symbolic", {"bf16": symroof.symbols.pi}, symroof.symbols.beta)
    arch = symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2)
    s = spec.speculative_decoding(arch, "arithmetic-intensity", hw, alpha=ALPHA, k=K, B=symroof.symbols.B)
    assert {ALPHA, K, symroof.symbols.pi, symroof.symbols.beta, symroof.symbols.H} <= s.speedup.free_symbols
    # 000's verification FLOPs at S_i = k + 1: N(24·B·S_i·H² + 4·B·S_i·S_c·H)
    from symroof.symbols import B, H, S_c
    from symroof.symbols import N as n_layers
    flops = n_layers * (24 * B * (K + 1) * H**2 + 4 * B * (K + 1) * S_c * H)
    assert sympy.expand(s.verify.compute_s * symroof.symbols.pi - flops) == 0


def test_speedup_grid_matches_exact():
    alphas = np.array([0.0, 0.5, 0.8, 1.0])[:, None]
    ks = np.array([1, 2, 4, 7])[None, :]
    for conv, B in (("exact", 1), ("roofline-notes", 64)):
        grid = spec.speedup_grid(LLAMA, conv, H100, alpha=alphas, k=ks, c=0.1, B=B, S_c=2048)
        assert grid.shape == (4, 4)
        for i, a in enumerate(alphas[:, 0]):
            for j, k in enumerate(ks[0]):
                exact = spec.speculative_decoding(LLAMA, conv, H100, alpha=float(a), k=int(k), c=0.1, B=B, S_c=2048)
                assert grid[i, j] == pytest.approx(float(exact.speedup), rel=1e-12)


def test_speedup_grid_is_the_exact_formula_at_exact_points(monkeypatch):
    # exact rationals through speculative_decoding (SymPy, no float) against the compiled grid,
    # with tensor parallelism (comms in the step times) and a draft cost per point
    points = [(sympy.Rational(0), 1, sympy.Rational(0)), (sympy.Rational(1, 2), 3, sympy.Rational(1, 20)),
              (sympy.Rational(9, 10), 6, sympy.Rational(1, 5)), (sympy.Rational(1), 4, sympy.Rational(1, 10))]
    a, k, c = (np.array([float(p[i]) for p in points]) for i in range(3))
    grid = spec.speedup_grid(LLAMA, "exact", H100, alpha=a, k=k, c=c, B=16, S_c=4096, tp=2)
    for value, (alpha, draft, cost) in zip(grid, points, strict=True):
        exact = spec.speculative_decoding(LLAMA, "exact", H100, alpha=alpha, k=draft, c=cost, B=16, S_c=4096, tp=2)
        assert exact.verify.comm_s > 0 and exact.speedup.is_Rational
        assert value == pytest.approx(float(exact.speedup), rel=1e-12)
    # α = 0: one token per step at the cost of drafting and verifying, below 1;
    # α = 1 (k = 4): k + 1 = 5 tokens, the limit of the closed form
    assert grid[0] < 1 and grid[3] == pytest.approx(5 * float(exact.decode.total_s / exact.step_s), rel=1e-12)
    # the grid holds no copy of E[tokens]: change the one formula and the grid follows. Under 003
    # (memory-bound, verification = one decode step, c = 0) the speed-up is E[tokens] itself.
    monkeypatch.setattr(spec, "expected_tokens", lambda alpha=ALPHA, k=K: 1 + alpha * k)
    changed = spec.speedup_grid(LLAMA, "inference-arithmetic", H100, alpha=[0.5, 0.25], k=[4, 8], S_c=1024)
    assert changed.tolist() == [3.0, 3.0]                   # 1 + 0.5·4, 1 + 0.25·8


def test_draft_cost_ratio():
    # 003, memory-bound: a decode step reads 2·params_b·10⁹ bytes, so c = 1/70
    small, big = LLAMA.replace(params_b=1), LLAMA.replace(params_b=70)
    c = spec.draft_cost_ratio(small, big, "inference-arithmetic", H100, S_c=0)
    assert c == sympy.Rational(1, 70)
    s = spec.speculative_decoding(big, "inference-arithmetic", H100, alpha=0.8, k=4, c=c, S_c=0)
    assert s.draft_s == 4 * c * s.decode.total_s
    assert s.speedup == _frac(Fraction(2101, 625) / (1 + Fraction(4, 70)))


# ---- bad input --------------------------------------------------------------------------------------
def test_bad_input():
    with pytest.raises(ValueError, match=r"alpha=1\.5 must be an acceptance rate"):
        spec.expected_tokens(1.5, 3)
    with pytest.raises(ValueError, match=r"alpha=-0\.1"):
        spec.expected_tokens(-0.1, 3)
    with pytest.raises(ValueError, match="k=0"):
        spec.speculative_decoding(LLAMA, "exact", H100, alpha=0.5, k=0, S_c=0)
    with pytest.raises(ValueError, match=r"k=2\.5"):
        spec.expected_tokens(0.5, 2.5)
    with pytest.raises(ValueError, match=r"^alpha must be acceptance rates between 0 and 1; alpha=1\.2 is not$"):
        spec.speedup_grid(LLAMA, "exact", H100, alpha=[0.5, 1.2], k=[1], S_c=0)
    with pytest.raises(ValueError, match=r"^k must be positive integers; k=0 is not$"):
        spec.speedup_grid(LLAMA, "exact", H100, alpha=[0.5], k=[0, 1], S_c=0)
    with pytest.raises(ValueError, match="depends on S_c"):
        spec.speedup_grid(LLAMA, "exact", H100, alpha=[0.5], k=[1], S_c=symroof.symbols.S_c)
    with pytest.raises(ValueError, match=r"alpha, k and c must broadcast together.*\(2,\), \(3,\) and \(\)"):
        spec.speedup_grid(LLAMA, "exact", H100, alpha=[0.5, 0.8], k=[1, 2, 4], S_c=0)
