"""Analysis: balance, limits, crossover, latency and capacity, against independent numbers.

Expected values come from the seeds (000, 003, with their rounding), from hand
derivations written here, and from float64 root finding on a lambdified intensity.
"""

import math

import pytest
import sympy

import symroof
from symroof.analysis import crossover, crossover_batch, intensity_limit, regime
from symroof.symbols import B, H, N, S_c, S_i, Z, beta, pi

LLAMA = symroof.models.get("llama-3-8b")
A100_003 = symroof.Hardware("A100 (003)", {"bf16": 312e12}, 1.5e12, interconnect_bytes_per_s=300e9)


# ---- balance -----------------------------------------------------------------------------------
def test_balance_of_seed_gpus():
    # 000: 312e12 / 2039e9 ≈ 153 FLOPs/Byte
    assert symroof.balance("A100-80GB") == sympy.Rational(312_000, 2039)
    assert round(float(symroof.balance("A100-80GB"))) == 153
    # 003: 312e12 / 1.5e12 = 208 exactly
    assert symroof.balance(A100_003) == 208
    assert symroof.balance("A100-80GB", dtype="int8") == sympy.Rational(624_000, 2039)
    with pytest.raises(ValueError, match="dtype='fp4'"):
        symroof.balance("A100-80GB", dtype="fp4")


# ---- crossover batch of Llama-3-8B decode on every catalogued GPU --------------------------------
def _bisect(f, lo, hi, steps=200):
    flo = f(lo)
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if (f(mid) >= 0) == (flo >= 0):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@pytest.mark.parametrize("cached", [0, 1024, 4096, 8192, 32768])
def test_llama_decode_crossover_batch_on_every_gpu(cached):
    cost = symroof.decode(LLAMA, "exact", S_c=cached)
    intensity = sympy.lambdify(B, cost.intensity, "numpy")   # float64 evaluation
    for name, gpu in symroof.hardware.catalogue().items():
        bal = float(gpu.balance)
        f = lambda b, bal=bal: float(intensity(float(b))) - bal
        c = crossover_batch(cost, gpu)
        big = 1e15
        if f(1) >= 0:
            assert not c.exists and "already" in c.reason, name
        elif f(big) < 0:
            assert not c.exists and "memory-bound for every B" in c.reason, name
        else:
            root = _bisect(f, 1.0, big)
            assert c.exists and c.above == "compute", name
            assert math.isclose(float(c), root, rel_tol=1e-9), (name, float(c), root)
            # the first compute-bound batch: just below is memory-bound, at it compute-bound
            assert f(int(c.ceiling)) >= 0 and f(int(c.ceiling) - 1) < 0, name


def test_llama_long_cache_has_no_crossover_proved_by_hand():
    # Hand derivation of the B → ∞ limit under the exact conventions, S_i = 1, S_c = 32768.
    # FLOPs per sequence: every weight matrix once, 2 FLOPs per multiply-add:
    #   per layer q, out: 4096·4096 each; k, v: 4096·1024 each; gate, up, down: 4096·14336 each
    layer = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336
    assert layer == 218_103_808
    matmul = 2 * (32 * layer + 4096 * 128256)          # + LM head at the last position
    # scores and values, causal: S_c + 1 keys, 2·2·n_h·d_h FLOPs per key per layer
    attention = 32 * 4 * 32 * 128 * (32768 + 1)
    flops = matmul + attention
    # bytes per sequence (the weights do not grow with B): KV read 2·N·n_kv·d_h·2 per cached
    # token, KV write the same for the new token, fused activations 3·H·2 per layer
    per_seq_bytes = 2 * 32 * 1024 * 2 * 32768 + 2 * 32 * 1024 * 2 + 32 * 3 * 4096 * 2
    limit = sympy.Rational(flops, per_seq_bytes)
    assert 7 < limit < 8
    cost = symroof.decode(LLAMA, "exact", S_c=32768)
    assert intensity_limit(cost, B).value == limit
    for gpu in symroof.hardware.catalogue().values():
        assert limit < gpu.balance
        c = crossover_batch(cost, gpu)
        assert not c.exists and c.value is None and c.limit == limit
        assert "memory-bound for every B" in c.reason
        with pytest.raises(ValueError, match="no numeric crossover"):
            float(c)


# ---- the general symbolic crossover of 000 --------------------------------------------------------
def test_symbolic_crossover_of_seed000_decode():
    arch = symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2)
    cost = symroof.step(arch, "arithmetic-intensity")
    c = crossover_batch(cost, pi / beta)
    # 000: I = N(24·B·S_i·H² + 4·B·S_i·S_c·H) / (2Z·10⁹ + 8·N·B·S_i·H + 2·N·B·S_c·H) = π/β
    # ⇔ β·N·B(24·S_i·H² + 4·S_i·S_c·H) = π(2Z·10⁹ + N·B(8·S_i·H + 2·S_c·H))     (linear in B)
    # ⇔ B = 2·10⁹·Z·π / (N(β(24·S_i·H² + 4·S_i·S_c·H) − π(8·S_i·H + 2·S_c·H)))
    hand = 2 * 10**9 * Z * pi / (N * (beta * (24 * S_i * H**2 + 4 * S_i * S_c * H) - pi * (8 * S_i * H + 2 * S_c * H)))
    assert sympy.simplify(c.value - hand) == 0
    seed = (N * (24 * B * S_i * H**2 + 4 * B * S_i * S_c * H)
            / (2 * Z * 10**9 + 8 * N * B * S_i * H + 2 * N * B * S_c * H))
    assert sympy.simplify(seed.subs(B, c.value) - pi / beta) == 0
    # exists exactly when the B → ∞ limit N(24·S_i·H² + 4·S_i·S_c·H)/(N(8·S_i·H + 2·S_c·H)) exceeds π/β
    limit = (24 * S_i * H**2 + 4 * S_i * S_c * H) / (8 * S_i * H + 2 * S_c * H)
    assert sympy.simplify(c.limit - limit) == 0
    assert isinstance(c.condition, sympy.StrictGreaterThan)
    assert sympy.simplify(c.condition.lhs - c.condition.rhs - (limit - pi / beta)) == 0
    assert c.latex().startswith("B^* = ")
    # numbers in: 000's A100-80GB, decode at S_i = 1, a 13B model with H = 5120, N = 40
    a100 = {pi: 312 * 10**12, beta: 2039 * 10**9, S_i: 1, Z: 13, H: 5120, N: 40}
    num = crossover_batch(cost, "A100-80GB", S_i=1, S_c=0, Z=13, H=5120, N=40)
    assert num.exists and num.value == hand.subs({**a100, S_c: 0}) > 0
    # at S_c = 1024 the limit (12·5120 + 2·1024)/(4 + 1024) = 63488/1028 ≈ 61.8 < 153: the hand
    # formula's root is negative, and the answer is "no crossover", not that root
    assert hand.subs({**a100, S_c: 1024}) < 0
    late = crossover_batch(cost, "A100-80GB", S_i=1, S_c=1024, Z=13, H=5120, N=40)
    assert not late.exists and late.value is None and late.limit == sympy.Rational(63488, 1028)


# ---- other unknowns ------------------------------------------------------------------------------
def test_cache_length_that_turns_a_batch_memory_bound():
    cost = symroof.step(LLAMA, "exact")
    c = crossover(cost, "A100-80GB", S_c, B=256, S_i=1)
    assert c.exists and c.above == "memory"
    f = sympy.lambdify(S_c, cost.subs(B=256, S_i=1).intensity - symroof.balance("A100-80GB"))
    assert math.isclose(float(c), _bisect(lambda s: float(f(s)), 0.0, 1e6), rel_tol=1e-9)
    assert regime(cost, "A100-80GB", B=256, S_i=1, S_c=int(c.value)) == "compute"
    assert regime(cost, "A100-80GB", B=256, S_i=1, S_c=int(c.value) + 1) == "memory"
    # a batch too small to be compute-bound even with an empty cache: no S_c helps
    small = crossover(cost, "A100-80GB", S_c, B=4, S_i=1)
    assert not small.exists and "memory-bound for every S_c" in small.reason


def test_draft_length_of_a_compute_bound_speculative_step():
    cost = symroof.step(LLAMA, "exact")
    c = crossover(cost, "A100-80GB", S_i, B=1, S_c=4096)
    assert c.exists and c.above == "compute"
    f = sympy.lambdify(S_i, cost.subs(B=1, S_c=4096).intensity - symroof.balance("A100-80GB"))
    assert math.isclose(float(c), _bisect(lambda s: float(f(s)), 1.0, 1e6), rel_tol=1e-9)


def test_already_compute_bound_at_the_smallest_batch():
    # prefill of 4096 tokens is compute-bound from B = 1 on
    c = crossover_batch(symroof.prefill(LLAMA, "exact", S=4096), "A100-80GB")
    assert not c.exists and "compute-bound already at B = 1" in c.reason


# ---- limits ----------------------------------------------------------------------------------------
def test_limits_of_seed000_intensity():
    arch = symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2)
    decode = symroof.decode(arch, "arithmetic-intensity")
    # B → ∞, S_i = 1: N(24H² + 4S_cH) / (N(8H + 2S_cH)) = (12H + 2S_c)/(4 + S_c): a constant in B
    lim = intensity_limit(decode, B)
    assert sympy.simplify(lim.value - (12 * H + 2 * S_c) / (4 + S_c)) == 0
    assert "tends to the constant" in lim.explanation and "no B" in lim.explanation
    # S_c → ∞: 4BS_cHN / (2NBS_cH) = 2
    assert intensity_limit(decode, S_c).value == 2
    # prefill, S → ∞: 4BS²HN over 4NBSH grows without bound
    assert intensity_limit(symroof.prefill(arch, "arithmetic-intensity"), "S").value is sympy.oo
    # H → ∞ with Z fixed (000 keeps the weights at 2Z·10⁹): FLOPs ~ H², bytes ~ H
    assert intensity_limit(decode, H).value is sympy.oo
