"""The serving view (symroof.serving) against hand derivations, seed 000's and 003's formulas,
exact evaluation, and a brute-force Pareto dominance check."""

from fractions import Fraction
from itertools import pairwise

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import symroof
from symroof.analysis import serving
from symroof.symbols import B, H, N, S_c, Z, beta, pi

LLAMA = symroof.models.get("llama-3-8b")
H100 = symroof.hardware.get("H100-SXM")      # 989e12 FLOP/s bf16, 3.35e12 B/s, 80e9 B (datasheet)

# Llama-3-8B parameters from its config (hidden 4096, 32 layers, 32/8 heads of 128, FFN 14336,
# vocab 128256, untied): embeddings + LM head 2·128256·4096; per layer q, o 4096² each, k, v
# 4096·1024 each, gate/up/down 3·4096·14336, two RMSNorms 2·4096; one final norm 4096
LLAMA_PARAMS = 2 * 128256 * 4096 + 32 * (2 * 4096**2 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 2 * 4096) + 4096
KV_PER_TOKEN = 2 * 32 * 8 * 128 * 2           # K and V, 32 layers, 8 KV heads of 128, 2 bytes
# the H100 SXM has 80 GiB (80·2^30 bytes); 9/10 of it usable (vLLM gpu_memory_utilization 0.9)
USABLE_80GIB = 80 * 2**30 * 9 // 10


def test_llama_parameter_count_by_hand():
    assert LLAMA_PARAMS == 8_030_261_248
    assert symroof.total_parameters(LLAMA) == LLAMA_PARAMS


# ---- symbolic: seed 000's formulas --------------------------------------------------------------
def test_symbolic_decode_time_is_000s_formulas_over_pi_and_beta():
    hw = symroof.Hardware("symbolic", {"bf16": pi}, beta)
    arch = symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2)
    t = serving.decode_latency(arch, "arithmetic-intensity", hw)
    # 000 at S_i = 1: FLOPs N(24·B·H² + 4·B·S_c·H), bytes 2·Z·10⁹ + 8·N·B·H + 2·N·B·S_c·H
    flops = N * (24 * B * H**2 + 4 * B * S_c * H)
    nbytes = 2 * Z * 10**9 + 8 * N * B * H + 2 * N * B * S_c * H
    assert sympy.expand(t.compute_s * pi - flops) == 0
    assert sympy.expand(t.memory_s * beta - nbytes) == 0
    tput = serving.throughput(arch, "arithmetic-intensity", hw)
    assert tput == B / sympy.Max(t.compute_s, t.memory_s)
    # memory-bound limit: throughput → B·β/bytes; at B = 1 and S_c = 0: β/(2Z·10⁹ + 8NH)
    small = tput.subs({B: 1, S_c: 0, pi: 10**30, beta: 1, Z: 1, N: 2, H: 8})
    assert small == Fraction(1, 2 * 10**9 + 8 * 2 * 8)


# ---- numeric: 003's conventions by hand ----------------------------------------------------------
BATCHES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]


def test_serving_curve_003_by_hand():
    curve = serving.serving_curve(LLAMA, "inference-arithmetic", H100, S_c=1024, batches=BATCHES)
    # 003: 2·P FLOPs per token and 2·P bytes of weights per step
    memory = Fraction(2 * LLAMA_PARAMS, 3350 * 10**9)
    for i, b in enumerate(BATCHES):
        compute = Fraction(2 * LLAMA_PARAMS * b, 989 * 10**12)
        assert curve.tpot_s[i] == pytest.approx(float(max(compute, memory)), rel=1e-13)
        assert curve.throughput[i] == pytest.approx(float(b / max(compute, memory)), rel=1e-13)
        assert curve.compute_bound[i] == (compute >= memory)
    # crossover at B* = 989e12 / 3.35e12 ≈ 295.2: B ≤ 256 share TPOT 2P/β, so the largest of them
    # has the most throughput; B = 512 has more throughput (π/2P > 256·β/2P since 989 > 857.6)
    # at a larger TPOT; B = 1024 has the same throughput π/2P as 512 at twice its TPOT
    assert curve.batch[curve.frontier(fits_only=False)].tolist() == [256, 512]
    # KV at S_c = 1024: after the step 1025 tokens of 131,072 bytes each per sequence, in the
    # H100's 80 GiB of which 9/10 is usable (vLLM's gpu_memory_utilization default)
    fit = (USABLE_80GIB - 2 * LLAMA_PARAMS) // (KV_PER_TOKEN * 1025)
    assert fit == 455
    assert curve.max_batch == fit
    assert curve.batch[curve.frontier()].tolist() == [256]
    # the best batch under a TPOT budget of B = 512's step time
    budget = float(Fraction(2 * LLAMA_PARAMS * 512, 989 * 10**12))
    assert curve.batch[curve.best(tpot_s=budget)] == 256
    assert curve.batch[curve.best(tpot_s=budget, fits_only=False)] == 512
    assert curve.best(tpot_s=float(memory) / 2) is None


def test_serving_curve_equals_exact_latency():
    batches = [1, 3, 17, 64, 200, 333, 1000]
    for conv, tp in (("exact", 1), ("roofline-notes", 1), ("exact", 4)):
        curve = serving.serving_curve(LLAMA, conv, H100, S_c=4096, batches=batches, tp=tp)
        for i, b in enumerate(batches):
            exact = serving.decode_latency(LLAMA, conv, H100, B=b, S_c=4096, tp=tp)
            assert curve.tpot_s[i] == pytest.approx(float(exact.total_s), rel=1e-12)
            assert curve.comm_s[i] == pytest.approx(float(exact.comm_s), rel=1e-12, abs=0)
        assert np.allclose(curve.throughput_per_gpu * tp, curve.throughput, rtol=0, atol=0)
        assert np.all(np.diff(curve.tpot_s) > 0)         # KV reads grow with B under these conventions


def test_sum_model_adds_the_parts():
    curve = serving.serving_curve(LLAMA, "exact", H100, S_c=0, batches=[1, 512], model="sum")
    assert np.array_equal(curve.tpot_s, curve.compute_s + curve.memory_s + curve.comm_s)


def test_003s_52b_exercise_and_allreduce_comms():
    # 003's exercise: 52B on 4 GPUs, batch 256: about 21 ms of compute, about 2 ms of comms
    a100 = symroof.Hardware("A100 (003)", {"bf16": 312e12}, 1.5e12, interconnect_bytes_per_s=300e9)
    kipply = symroof.models.get("kipply-52b")                       # 64 layers, d_model 8192
    t = serving.decode_latency(kipply, "inference-arithmetic", a100, B=256, S_c=0, tp=4, comm="003")
    assert round(float(t.compute_s) * 1000) == 21                   # 2·52e9·256 / (4·312e12)
    seed = Fraction(256 * 64 * 4 * 8192, 300 * 10**9)              # 003's throughput term ≈ 1.8 ms
    assert round(float(seed) * 1000) == 2
    assert t.comm_s == sympy.Rational(64 * 4, 100_000) + sympy.Rational(seed.numerator, seed.denominator)
    # the 003 preset's default is 003's own model
    default = serving.decode_latency(kipply, "inference-arithmetic", a100, B=256, S_c=0, tp=4)
    assert default.comm_s == t.comm_s
    # physically (Megatron): 2 all-reduces × 64 layers × 2·3/4 of 256·8192·2 bytes per GPU, plus NCCL's
    # 6.6 µs per all-reduce and 0.6 µs per ring step, 2·(4 − 1) = 6 steps: 128 · (6.6 + 3.6) µs = 1305.6 µs
    ours = serving.decode_latency(kipply, "inference-arithmetic", a100, B=256, S_c=0, tp=4, comm="allreduce")
    assert ours.comm_s == (sympy.Rational(2 * 64 * 256 * 8192 * 2 * 3, 2 * 300 * 10**9)
                           + sympy.Rational(128 * 102, 10**7))
    assert ours.comm_s == serving.decode_latency(kipply, "roofline-notes", a100, B=256, S_c=0, tp=4).comm_s
    none = serving.decode_latency(kipply, "inference-arithmetic", a100, B=256, S_c=0, tp=4, comm="none")
    assert none.comm_s == 0
    # comm="003" is what symroof.timing reproduces of 003
    tpot = symroof.time_per_output_token(kipply, "inference-arithmetic", a100, B=256, S_c=0, tp=4)
    assert tpot.total_s == t.total_s


# ---- largest batch -------------------------------------------------------------------------------
def test_max_batch_by_hand():
    assert serving.max_batch(LLAMA, H100, S_c=1024) == (USABLE_80GIB - 2 * LLAMA_PARAMS) // (KV_PER_TOKEN * 1025)
    # T = 8: each GPU holds one of the 8 KV heads, no copies
    assert serving.max_batch(LLAMA, H100, S_c=8191, tp=8) == (8 * USABLE_80GIB - 2 * LLAMA_PARAMS) // (
        KV_PER_TOKEN * 8192)
    # T = 16 > 8 KV heads: every head is held twice
    assert serving.max_batch(LLAMA, H100, S_c=8191, tp=16) == (16 * USABLE_80GIB - 2 * LLAMA_PARAMS) // (
        2 * KV_PER_TOKEN * 8192)
    # an MLA latent is on every GPU of the group
    assert serving.kv_replication(symroof.models.get("deepseek-v3"), 8) == 8
    # 003: 52B on 3 A100-40GB counted as 40e9 bytes each, 16 GB free, 2,097,152 bytes per token,
    # 200 tokens each → 38; with the parts' 40 GiB, 9/10 usable: (0.9·3·40·2^30 − 104e9) // (2,097,152·200) = 28
    a100_003 = symroof.hardware.get("A100-40GB").replace(capacity_bytes=40 * 10**9, usable_fraction=1)
    assert serving.max_batch(symroof.models.get("kipply-52b"), a100_003, S_c=199, tp=3) == 38
    assert serving.max_batch(symroof.models.get("kipply-52b"), "A100-40GB", S_c=199, tp=3) == (
        3 * 40 * 2**30 * 9 // 10 - 104 * 10**9) // (2_097_152 * 200) == 28
    with pytest.raises(ValueError, match="do not fit"):
        serving.max_batch(symroof.models.get("kipply-52b"), "A100-40GB", S_c=199, tp=1)


# ---- Pareto frontier against brute force ---------------------------------------------------------
def _brute_front(t, h):
    n = len(t)
    dominated = lambda i: any(t[j] <= t[i] and h[j] >= h[i] and (t[j] < t[i] or h[j] > h[i]) for j in range(n))
    return {i for i in range(n) if not dominated(i)}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=0, max_size=25))
def test_pareto_front_matches_brute_force_with_ties(points):
    t = [float(p[0]) for p in points]
    h = [float(p[1]) for p in points]
    front = serving.pareto_front(t, h)
    assert set(front.tolist()) == _brute_front(t, h)
    assert all(t[a] <= t[b] for a, b in pairwise(front))   # in increasing TPOT


def test_pareto_front_of_a_serving_curve_matches_brute_force():
    batches = list(range(1, 600, 7))
    for conv in ("exact", "inference-arithmetic", "roofline-notes"):
        c = serving.serving_curve(LLAMA, conv, H100, S_c=2048, batches=batches)
        assert set(c.frontier(fits_only=False).tolist()) == _brute_front(c.tpot_s.tolist(), c.throughput.tolist())
        keep = np.flatnonzero(c.fits)
        brute = {int(keep[i]) for i in _brute_front(c.tpot_s[keep].tolist(), c.throughput[keep].tolist())}
        assert set(c.frontier().tolist()) == brute


# ---- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("batches", "match"), [
    ([0, 1], r"batches\[0\]=0 must be a positive integer"),
    ([1, 2.5], r"batches\[1\]=2.5 must be a positive integer"),
    ([], "non-empty"),
    ("abc", "must be positive integers"),
    ([[1, 2]], "1-D"),
])
def test_bad_batches(batches, match):
    with pytest.raises(ValueError, match=match):
        serving.serving_curve(LLAMA, "exact", H100, S_c=0, batches=batches)


def test_bad_options():
    with pytest.raises(ValueError, match="comm='nccl' is not allowed"):
        serving.decode_latency(LLAMA, "exact", H100, B=1, S_c=0, tp=2, comm="nccl")
    with pytest.raises(ValueError, match="depends on S_c"):
        serving.serving_curve(LLAMA, "exact", H100, S_c=S_c, batches=[1])
    with pytest.raises(ValueError, match="same length"):
        serving.pareto_front([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="finite"):
        serving.pareto_front([1.0, float("nan")], [1.0, 2.0])


# ---- one latency model: timing and serving agree, under every preset -----------------------------
@pytest.mark.parametrize("conv", sorted(symroof.conventions.PRESETS))
def test_timing_tpot_equals_serving_decode_latency_for_every_preset(conv):
    # the same arch, hardware, B, S_c and T through both front doors, communication included
    for b, context, tp in ((8, 1024, 8), (1, 0, 1), (64, 4096, 2)):
        t = symroof.time_per_output_token(LLAMA, conv, H100, B=b, S_c=context, tp=tp)
        s = serving.decode_latency(LLAMA, conv, H100, B=b, S_c=context, tp=tp)
        assert (t.compute_s, t.memory_s, t.comm_s, t.total_s) == (s.compute_s, s.memory_s, s.comm_s, s.total_s)
        assert t.comm_s == symroof.timing.communication(LLAMA, H100, conv, tp=tp, tokens=b).total_s
    # symbolic B too: the same expression
    t = symroof.time_per_output_token(LLAMA, conv, H100, B=B, S_c=1024, tp=8)
    assert t.total_s == serving.decode_latency(LLAMA, conv, H100, S_c=1024, tp=8).total_s


def test_default_tensor_parallel_comms_by_hand():
    # Llama-3-8B (config: hidden 4096, 32 layers, bf16 activations) decoding B = 8 sequences on
    # T = 8 H100 SXM (NVLink 450e9 B/s one way, hardware.toml), conventions "exact": Megatron's
    # 2 ring all-reduces per layer, 64 in all, each of B·H·b_a = 8·4096·2 = 65,536 bytes.
    # Bytes each GPU sends: 64 · 2·(8 − 1)/8 · 65,536 = 64 · 114,688 = 7,340,032 B
    # throughput: 7,340,032 / 450e9 s = 16.31 µs
    # latency (NCCL tuning.cc, ring/LL over NVLink): per all-reduce 6.6 µs + 2·(8 − 1) steps · 0.6 µs
    #   = 6.6 + 8.4 = 15 µs; 64 all-reduces: 960 µs
    throughput = sympy.Rational(7_340_032, 450 * 10**9)
    latency = 64 * sympy.Rational(15, 10**6)
    t = symroof.time_per_output_token(LLAMA, "exact", H100, B=8, S_c=1024, tp=8)
    assert t.comm_s == throughput + latency
    assert round(float(t.comm_s) * 1e6, 2) == 976.31
    # memory-bound (0.64 ms of bytes against 0.016 ms of FLOPs): TPOT = memory + comms ≈ 1.62 ms
    assert t.bound == "memory" and t.total_s == t.memory_s + t.comm_s
    # 003's model, the inference-arithmetic preset's choice: 32 layers · 4 messages · 10 µs = 1280 µs,
    # plus 8 · 32 · 4 · 4096 values / 450e9; asked for under correct conventions it counts bytes,
    # 2 per bf16 value (18.64 µs), as printed by the preset it counts elements (9.32 µs: 003's slip)
    seed = symroof.time_per_output_token(LLAMA, "exact", H100, B=8, S_c=1024, tp=8, comm="003")
    assert seed.comm_s == sympy.Rational(32 * 4, 100_000) + sympy.Rational(2 * 8 * 32 * 4 * 4096, 450 * 10**9)
    printed = symroof.time_per_output_token(LLAMA, "003", H100, B=8, S_c=1024, tp=8)
    assert printed.comm_s == sympy.Rational(32 * 4, 100_000) + sympy.Rational(8 * 32 * 4 * 4096, 450 * 10**9)
    assert symroof.conventions.get("003").comms == "003" and symroof.conventions.get("exact").comms == "allreduce"
