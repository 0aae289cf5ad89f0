"""Analysis: balance, limits, crossover, latency and capacity, against independent numbers.

Expected values come from the seeds (000, 003, with their rounding), from hand
derivations written here, and from float64 root finding on a lambdified intensity.
"""

import math

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

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
    # token, KV write the same for the new token, fused activations 3·H·2 per layer, and the
    # embedding row the lookup gathers, H·2
    per_seq_bytes = 2 * 32 * 1024 * 2 * 32768 + 2 * 32 * 1024 * 2 + 32 * 3 * 4096 * 2 + 4096 * 2
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


def test_symbolic_crossover_in_draft_length_is_a_quadratic_root():
    # exact conventions: causal scores make FLOPs quadratic in S_i (S_i·S_c + S_i(S_i+1)/2 pairs)
    cost = symroof.step(symroof.Arch.symbolic(), "exact")
    c = crossover(cost, pi / beta, S_i)
    assert c.exists and c.above == "compute"
    # back-substitution at numbers where the condition holds (Llama-like sizes, A100-80GB)
    at = {B: 1, S_c: 4096, H: 4096, N: 32, symroof.symbols.V: 128256, symroof.symbols.n_h: 32,
          symroof.symbols.b_w: 2, symroof.symbols.b_a: 2, symroof.symbols.b_kv: 2,
          pi: 312 * 10**12, beta: 2039 * 10**9}
    assert c.condition.subs(at) is sympy.true
    root = c.value.subs(at)
    assert sympy.simplify(cost.intensity.subs(at).subs(S_i, root) - sympy.Rational(312_000, 2039)) == 0
    numeric = crossover(cost.subs(at), sympy.Rational(312_000, 2039), S_i)
    assert sympy.simplify(numeric.value - root) == 0


# ---- 003: latency and capacity, with the document's rounding ------------------------------------
GOPHER = symroof.models.get("gopher-280b").replace(params_b=260)   # 003: "drop 20B ... for 260B"
KIPPLY = symroof.models.get("kipply-52b")


def test_003_kv_cache_intensity_crosses_at_208():
    # 003: decode under 2·P FLOPs per token and 2·P weight bytes: intensity = B, so the
    # "min batch size for memory bandwidth bound" is the balance, 208
    c = crossover_batch(symroof.decode(KIPPLY, "inference-arithmetic"), A100_003)
    assert c.exists and c.value == 208 and c.ceiling == 208
    assert intensity_limit(symroof.decode(KIPPLY, "inference-arithmetic"), B).value is sympy.oo
    # 003: the KV of one token for 52B: 11.4 ms
    # reading the K, V weights, 2·2·n_layers·d_model² bytes, at 1.5e12 B/s
    kv = symroof.Cost(flops={"kv": B * 2 * 2 * 64 * 8192**2}, bytes={"weights": 2 * 2 * 64 * 8192**2})
    assert crossover_batch(kv, A100_003).value == 208
    t = symroof.latency(kv.subs(B=1), A100_003)
    assert math.floor(float(t.memory_s) * 1e4) / 10 == 11.4   # 11.45 ms, printed 11.4


def test_003_gopher_small_batch():
    t = symroof.time_per_output_token(GOPHER, "inference-arithmetic", A100_003, B=1, S_c=0, tp=16)
    # 003: compute = 2·P/(N·A_bm) = 2·260e9/(16·1.5e12) ≈ 0.0217 ≈ 22 ms (a memory time)
    assert t.memory_s == sympy.Rational(2 * 260 * 10**9, 16 * 15 * 10**11)
    assert round(float(t.memory_s), 4) == 0.0217 and round(float(t.memory_s) * 1e3) == 22
    assert t.bound == "memory"
    comm = symroof.tp_communication(GOPHER, A100_003, tp=16, tokens=1)
    # comms = n_layers·4·10 µs = 80·4·10 µs = 3.2 ms. 003 writes "128·4·10µs = 5120µs ≈ 5 ms"
    # with n_layers = 128 (an erratum: it gives n_layers = 80 a few lines above), and its
    # "total of 27 ms" is 22 + 5 from that slip
    assert comm.latency_s == sympy.Rational(80 * 4, 100_000)
    doc = symroof.tp_communication(GOPHER.replace(layers=128), A100_003, tp=16, tokens=1)
    assert doc.latency_s * 10**6 == 5120 and round(float(t.memory_s + doc.latency_s) * 1e3) == 27


def test_003_gopher_large_batch():
    t = symroof.time_per_output_token(GOPHER, "inference-arithmetic", A100_003, B=512, S_c=0, tp=16)
    # 003: compute = B·2·P/(N·A_f) = 512·2·260e9/(16·312e12) ≈ 0.053 ≈ 53 ms
    assert t.compute_s == sympy.Rational(512 * 2 * 260 * 10**9, 16 * 312 * 10**12)
    assert round(float(t.compute_s), 3) == 0.053 and round(float(t.compute_s) * 1e3) == 53
    assert t.bound == "compute"
    # comms = B·n_layers·4·d_model/A_c = 512·80·4·16384/300e9 ≈ 9 ms (elements over bytes/s)
    comm = symroof.tp_communication(GOPHER, A100_003, tp=16, tokens=512)
    assert comm.throughput_s == sympy.Rational(512 * 80 * 4 * 16384, 300 * 10**9)
    assert round(float(comm.throughput_s) * 1e3) == 9
    # 003's total, 62 ms, is compute + throughput comms: max(compute, memory) + comms, not a sum of
    # compute and memory (that would be 53 + 22 + 9 ≈ 84 ms)
    assert round(float(t.compute_s + comm.throughput_s) * 1e3) == 62
    assert t.comm_s == comm.total_s
    assert t.total_s == t.compute_s + comm.total_s   # the preset: max(compute, memory) + comms (+3.2 ms latency)
    summed = symroof.time_per_output_token(GOPHER, "inference-arithmetic", A100_003, B=512, S_c=0, tp=16,
                                           model="sum")
    assert summed.total_s == t.compute_s + t.memory_s + comm.total_s
    # in bytes (2 per bf16 element) the throughput part doubles: ≈ 18 ms
    as_bytes = symroof.tp_communication(GOPHER, A100_003, tp=16, tokens=512, bytes_per_element=2)
    assert as_bytes.throughput_s == 2 * comm.throughput_s


def test_003_exercise_52b_on_4_gpus_at_batch_256():
    t = symroof.time_per_output_token(KIPPLY, "inference-arithmetic", "A100-40GB", B=256, S_c=0, tp=4,
                                      model="max")
    # 003's figures: compute about 21 ms, comms about 2 ms
    # 256·2·52e9/(4·312e12) = 0.02133 s;  256·64·4·8192/300e9 = 0.00179 s
    assert t.compute_s == sympy.Rational(256 * 2 * 52 * 10**9, 4 * 312 * 10**12)
    assert round(float(t.compute_s) * 1e3) == 21
    comm = symroof.tp_communication(KIPPLY, "A100-40GB", tp=4, tokens=256)
    assert round(float(comm.throughput_s) * 1e3) == 2


def test_time_to_first_token_by_hand():
    # 003 conventions, 52B on 4 × A100 (003's figures), one prompt of 2048 tokens:
    # compute 2·52e9·2048/(4·312e12), memory 2·52e9/(4·1.5e12), comms 64·4·10 µs + 2048·64·4·8192/300e9
    t = symroof.time_to_first_token(KIPPLY, "inference-arithmetic", A100_003, B=1, S=2048, tp=4, model="max")
    compute = sympy.Rational(2 * 52 * 10**9 * 2048, 4 * 312 * 10**12)
    comms = sympy.Rational(64 * 4, 100_000) + sympy.Rational(2048 * 64 * 4 * 8192, 300 * 10**9)
    assert t.compute_s == compute and t.memory_s == sympy.Rational(2 * 52 * 10**9, 4 * 15 * 10**11)
    assert t.comm_s == comms and t.total_s == compute + comms and t.bound == "compute"
    default = symroof.time_to_first_token(KIPPLY, "inference-arithmetic", A100_003, B=1, S=2048, tp=4)
    assert default.total_s == t.total_s                         # the preset's latency = "max"
    summed = symroof.time_to_first_token(KIPPLY, "inference-arithmetic", A100_003, B=1, S=2048, tp=4,
                                         model="sum")
    assert summed.total_s == compute + t.memory_s + comms


def test_latency_with_symbols():
    hw = symroof.Hardware("symbolic", {"bf16": pi}, beta)
    t = symroof.latency(symroof.decode(symroof.Arch.symbolic(), "inference-arithmetic"), hw, tp=symroof.symbols.T)
    T, b_w = symroof.symbols.T, symroof.symbols.b_w
    assert t.compute_s == 2 * 10**9 * Z * B / (T * pi)
    assert t.memory_s == 10**9 * Z * b_w / (T * beta)
    assert t.total_s == sympy.Max(t.compute_s, t.memory_s) and t.bound == "undetermined"


def test_combine_is_the_one_max_or_sum_rule():
    from symroof.analysis.timing import combine

    np = pytest.importorskip("numpy")
    # by hand: max(3 ms, 5 ms) + 1 ms = 6 ms; 3 + 5 + 1 = 9 ms
    ms = sympy.Rational(1, 1000)
    assert combine(3 * ms, 5 * ms, ms) == 6 * ms and combine(3 * ms, 5 * ms, ms, model="sum") == 9 * ms
    assert combine(B, 2 * B) == sympy.Max(B, 2 * B)
    # float64 arrays, elementwise: max(1, 2) + 0.5 = 2.5, max(4, 3) + 0.5 = 4.5; sums 3.5 and 7.5
    compute, memory = np.array([1.0, 4.0]), np.array([2.0, 3.0])
    assert combine(compute, memory, 0.5).tolist() == [2.5, 4.5]
    assert combine(compute, memory, 0.5, model="sum").tolist() == [3.5, 7.5]
    with pytest.raises(ValueError, match="model='avg'"):
        combine(1, 2, model="avg")


# 003 counts the A100's "40GB" as 40e9 bytes, all of them usable (120 − 104 = 16 GB)
A100_40_003 = symroof.hardware.get("A100-40GB").replace(capacity_bytes=40 * 10**9, usable_fraction=1)


def test_003_kv_capacity():
    cap = symroof.kv_capacity(KIPPLY, A100_40_003, gpus=3, context=200)
    # 003: 120 − 104 = 16 GB left; 2·n_layers·n_heads·d_head·2 = 2·64·8192·2 = 2,097,152 bytes ≈ 0.002 GB
    assert cap.free_bytes == 16 * 10**9
    assert cap.kv_bytes_per_token == 2 * 64 * 8192 * 2 == 2_097_152
    assert round(float(cap.kv_bytes_per_token) / 10**9, 3) == 0.002
    # 16e9 / 2,097,152 = 7629.39…: 7629 tokens; 003 rounds the per-token size to 0.002 GB: 16/0.002 = 8000
    assert cap.tokens == 16 * 10**9 // 2_097_152 == 7629
    assert sympy.Rational(16, 1) / sympy.Rational(2, 1000) == 8000
    # 003: batch 40 of 200-token items (8000/200); exactly, 7629 // 200 = 38
    assert cap.batch == 38
    # four GPUs: 160 − 104 = 56 GB; 003 prints "56/0.002 ≈ 23000", but 56/0.002 = 28000 (an erratum);
    # exactly 56e9 // 2,097,152 = 26702
    four = symroof.kv_capacity(KIPPLY, A100_40_003, gpus=4)
    assert four.free_bytes == 56 * 10**9 and four.tokens == 56 * 10**9 // 2_097_152 == 26702
    assert sympy.Rational(56) / sympy.Rational(2, 1000) == 28000


def test_kv_capacity_uses_the_usable_bytes_of_the_catalogue():
    # the A100 40GB has 40 GiB (nvidia-smi: 40,960 MiB); a runtime fills 9/10 of it (vLLM's default
    # gpu_memory_utilization 0.9): 3 GPUs offer 0.9 · 3 · 40 · 2^30 = 115,964,116,992 bytes, less the
    # 104e9 bytes of kipply's weights: 11,964,116,992 bytes, 5,704 tokens of 2,097,152 bytes
    cap = symroof.kv_capacity(KIPPLY, "A100-40GB", gpus=3, context=200)
    assert cap.free_bytes == 11_964_116_992 and cap.tokens == 5704 and cap.batch == 28
    full = symroof.kv_capacity(KIPPLY, symroof.hardware.get("A100-40GB").replace(usable_fraction=1), gpus=3)
    assert full.free_bytes == 3 * 42_949_672_960 - 104 * 10**9


def test_kv_capacity_with_symbols():
    arch = symroof.Arch.symbolic()
    cap = symroof.kv_capacity(arch, "A100-80GB", gpus=symroof.symbols.T)
    # K and V of every layer per token: 2·N·H·b_kv (MHA), held max(1, T/n_h) times over T GPUs;
    # weights b_w·Z·10⁹
    T, n_h = symroof.symbols.T, symroof.symbols.n_h
    assert cap.kv_bytes_per_token == 2 * N * H * symroof.symbols.b_kv * sympy.Max(1, T / n_h)
    # 80 GiB, 9/10 of it usable
    assert cap.free_bytes == sympy.Rational(9, 10) * 80 * 2**30 * symroof.symbols.T - 10**9 * Z * symroof.symbols.b_w


# ---- bad input ---------------------------------------------------------------------------------
def test_bad_input_is_one_clear_value_error():
    cost = symroof.decode(LLAMA, "exact")
    with pytest.raises(ValueError, match="B is the unknown"):
        crossover_batch(cost, "A100-80GB", B=4)
    with pytest.raises(ValueError, match="unknown symbol 'Q'"):
        crossover_batch(cost, "A100-80GB", Q=4)
    with pytest.raises(ValueError, match="S_c=-1"):
        crossover_batch(cost, "A100-80GB", S_c=-1)
    with pytest.raises(ValueError, match="regime needs values for B, S_c"):
        regime(cost, "A100-80GB")
    with pytest.raises(ValueError, match="model='avg'"):
        symroof.latency(cost.subs(B=1, S_c=0), "A100-80GB", model="avg")
    with pytest.raises(ValueError, match="tp=0"):
        symroof.latency(cost.subs(B=1, S_c=0), "A100-80GB", tp=0)
    with pytest.raises(ValueError, match="do not fit"):
        symroof.kv_capacity(KIPPLY, "A100-40GB", gpus=2)
    with pytest.raises(ValueError, match="no interconnect"):
        symroof.tp_communication(KIPPLY, symroof.Hardware("x", {"bf16": 1e12}, 1e9), tp=2, tokens=1)
    with pytest.raises(ValueError, match="no limit of the intensity as B → ∞ found"):
        crossover_batch(sympy.Max(B, 3) / (B + 1), 2)
    with pytest.raises(ValueError, match="not a ratio of polynomials in B; give numbers for"):
        crossover_batch(sympy.Max(B, 3) / (B + symroof.symbols.H), 2)
    with pytest.raises(ValueError, match=r"hardware=3\.5"):
        symroof.balance(3.5)


def test_precision_enters_through_the_arch_and_the_dtype():
    # fp8 KV cache halves the KV bytes: with S_c = 32768 the B → ∞ limit becomes (by hand, as above)
    # flops / (KV read 2·32·1024·1·32768 + KV write 2·32·1024·1 + activations 32·3·4096·2
    #          + the bf16 embedding row 4096·2)
    flops = 2 * (32 * 218_103_808 + 4096 * 128256) + 32 * 4 * 32 * 128 * 32769
    fp8 = LLAMA.replace(kv_bytes=1)
    c = crossover_batch(symroof.decode(fp8, "exact", S_c=32768), "H100-SXM", dtype="fp8")
    assert c.limit == sympy.Rational(flops, 2 * 32 * 1024 * 32768 + 2 * 32 * 1024 + 32 * 3 * 4096 * 2 + 4096 * 2)
    assert c.balance == sympy.Rational(1979 * 10**12, 3350 * 10**9) and not c.exists
    # and a symbolic precision is a value like any other
    sym_arch = symroof.Arch.symbolic(weight_bytes=2, act_bytes=2)
    kv = symroof.symbols.b_kv
    one = crossover_batch(symroof.decode(sym_arch, "000"), "A100-80GB", S_c=0, Z=8, H=4096, N=32, b_kv=1)
    two = crossover_batch(symroof.decode(sym_arch, "000"), "A100-80GB", S_c=0, Z=8, H=4096, N=32, b_kv=2)
    assert kv in symroof.decode(sym_arch, "000").free_symbols
    assert one.value < two.value       # the new tokens' K, V writes are cheaper in fp8
    # by hand, 000's decode at S_c = 0 (S_i = 1): FLOPs 24·N·B·H², bytes 2·Z·10⁹ + N·B·H·(2·2 + 2·b_kv) (the
    # layer's input read and output written in fp16, the new K and V written):
    # B* = b·2Z·10⁹ / (24NH² − b·NH(4 + 2·b_kv))
    bal = sympy.Rational(312_000, 2039)
    for got, b_kv in ((one, 1), (two, 2)):
        assert got.value == bal * 2 * 8 * 10**9 / (24 * 32 * 4096**2 - bal * 32 * 4096 * (4 + 2 * b_kv))


@settings(max_examples=25, deadline=None)
@given(
    heads=st.sampled_from([4, 8, 16, 32, 64]),
    group=st.sampled_from([1, 2, 4, 8]),
    head_dim=st.sampled_from([32, 64, 128]),
    layers=st.integers(1, 48),
    ffn_mult=st.integers(2, 4),
    cached=st.integers(0, 100_000),
    gpu=st.sampled_from(sorted(symroof.hardware.catalogue())),
    conv=st.sampled_from(["exact", "roofline-notes", "matmul"]),
)
def test_crossover_matches_bisection_on_random_models(heads, group, head_dim, layers, ffn_mult, cached, gpu, conv):
    kv_heads = max(1, heads // group)
    arch = symroof.Arch(hidden=heads * head_dim, layers=layers, heads=heads, kv_heads=kv_heads,
                        ffn_dim=ffn_mult * heads * head_dim, ffn_kind="gated", vocab=32000, tied_embeddings=False)
    cost = symroof.decode(arch, conv, S_c=cached)
    hw = symroof.hardware.get(gpu)
    bal = float(hw.balance)
    intensity = sympy.lambdify(B, cost.intensity, "numpy")
    f = lambda b: float(intensity(float(b))) - bal
    c = crossover_batch(cost, hw)
    # the limit bounds the intensity from above at every batch (it increases with B)
    lim = float(c.limit)
    assert all(float(intensity(float(b))) <= lim * (1 + 1e-12) for b in (1, 64, 4096, 2**20))
    if f(1) >= 0:
        assert not c.exists
    elif lim <= bal:
        assert not c.exists and c.value is None
    else:
        assert c.exists and math.isclose(float(c), _bisect(f, 1.0, 1e18), rel_tol=1e-9)


def test_kv_capacity_counts_replicated_kv_heads():
    """Llama-3-8B has 8 KV heads; over 16 GPUs each KV head lives on 2 of them (vLLM's rule), so a
    token costs twice its 2·32·8·128·2 = 131,072 bytes. By hand, with 2·8,030,261,248 bytes of bf16
    weights (Llama-3-8B's published parameter count) in 16 × 80 GiB of H100s, 9/10 of each usable:"""
    llama = symroof.models.get("llama-3-8b")
    free = 16 * 80 * 2**30 * 9 // 10 - 2 * 8_030_261_248
    cap = symroof.kv_capacity(llama, "H100-SXM", gpus=16)
    assert cap.kv_bytes_per_token == 2 * 131_072
    assert cap.tokens == free // (2 * 131_072)
    eight = symroof.kv_capacity(llama, "H100-SXM", gpus=8)          # 8 GPUs, 8 KV heads: no copies
    assert eight.kv_bytes_per_token == 131_072
