"""Pipeline and tensor parallelism (symroof.parallel) against hand derivations and simulations.

Independent sources: a list-scheduling simulation of the GPipe and 1F1B schedules (the bubble),
a simulated ring all-reduce that moves real chunks between GPUs (the bytes per GPU), the
Llama-3-8B config's numbers by hand, and 003's own communication formula.
"""

from fractions import Fraction

import pytest
import sympy

import symroof
from symroof.analysis import parallel
from symroof.analysis.serving import decode_latency
from symroof.symbols import B, H, N, S_i, T, b_a

LLAMA = symroof.models.get("llama-3-8b")      # 002 / HF config: H = 4096, 32 layers, 8 KV heads
H100 = symroof.hardware.get("H100-SXM")       # 450e9 B/s NVLink each way (datasheet, hardware.toml)


# ---- pipeline bubble: a schedule simulation ------------------------------------------------------
def _schedule(stages, micro, order, t_f, t_b):
    """Makespan of a pipeline: each stage runs its tasks in ``order(p)``, each task starting when
    the stage is free and its dependency has finished (F(p,m) after F(p-1,m); B(p,m) after
    B(p+1,m), and after F(P-1,m) on the last stage)."""
    done = {}
    queues = {p: list(order(p)) for p in range(stages)}
    free = dict.fromkeys(range(stages), 0)
    while any(queues.values()):
        progressed = False
        for p in range(stages):
            if not queues[p]:
                continue
            kind, m = queues[p][0]
            if kind == "F":
                dep = ("F", p - 1, m) if p > 0 else None
            else:
                dep = ("B", p + 1, m) if p < stages - 1 else ("F", p, m)
            if dep is not None and dep not in done:
                continue
            start = max(free[p], done[dep] if dep else 0)
            free[p] = done[(kind, p, m)] = start + (t_f if kind == "F" else t_b)
            queues[p].pop(0)
            progressed = True
        assert progressed, "deadlock in the schedule"
    return max(done.values())


def _gpipe(stages, micro):
    return lambda p: [("F", m) for m in range(micro)] + [("B", m) for m in range(micro)]


def _one_f_one_b(stages, micro):
    def order(p):
        warm = min(stages - p - 1, micro)
        tasks = [("F", m) for m in range(warm)]
        for i in range(micro - warm):
            tasks += [("F", warm + i), ("B", i)]
        return tasks + [("B", m) for m in range(micro - warm, micro)]
    return order


@pytest.mark.parametrize("schedule", [_gpipe, _one_f_one_b])
@pytest.mark.parametrize(("stages", "micro"), [(1, 4), (2, 1), (4, 8), (4, 3), (8, 32), (3, 7)])
def test_bubble_fraction_matches_a_simulated_schedule(schedule, stages, micro):
    t_f, t_b = 1, 2                          # backward twice the forward, as for matmuls
    span = _schedule(stages, micro, schedule(stages, micro), t_f, t_b)
    work = micro * (t_f + t_b)               # each stage's busy time
    assert span == (micro + stages - 1) * (t_f + t_b)
    idle = Fraction(span - work, span)
    assert parallel.bubble_fraction(stages, micro) == sympy.Rational(idle.numerator, idle.denominator)
    ratio = Fraction(span - work, work)      # Megatron-LM 2021 §2.2.1: t_pb / t_id = (p − 1)/m
    assert parallel.bubble_ratio(stages, micro) == sympy.Rational(ratio.numerator, ratio.denominator)


def test_bubble_fraction_by_hand_and_symbolic():
    assert parallel.bubble_fraction(4, 8) == sympy.Rational(3, 11)     # (4 − 1)/(8 + 4 − 1)
    assert parallel.bubble_ratio(4, 8) == sympy.Rational(3, 8)
    P, M = sympy.symbols("P M", positive=True, integer=True)
    f = parallel.bubble_fraction(P, M)
    assert sympy.simplify(f - (P - 1) / (M + P - 1)) == 0
    assert sympy.limit(f, M, sympy.oo) == 0                             # many micro-batches: no bubble
    # bubble = 1 − M·t / ((M + P − 1)·t)
    t = sympy.Rational(3, 1000)
    assert parallel.pipeline_time(t, 4, 8) == 11 * t
    assert parallel.bubble_fraction(4, 8) == 1 - 8 * t / parallel.pipeline_time(t, 4, 8)


# ---- pipeline latency in inference ---------------------------------------------------------------
def test_pipeline_latency_adds_point_to_point_transfers():
    one = symroof.time_per_output_token(LLAMA, "roofline-notes", H100, B=8, S_c=2048)
    # by hand (002's accounting): memory-bound, the 32 layers' weight matrices 13,958,643,712 bytes, and per
    # sequence 32 · (3·4096·2 fused activations + 2·1024·2 K, V written + 2048 · 2·1024·2 K, V read)
    nbytes = 13_958_643_712 + 8 * 32 * (3 * 4096 * 2 + 2 * 1024 * 2 + 2048 * 2 * 1024 * 2)
    assert one.bound == "memory" and one.total_s == sympy.Rational(nbytes, 3350 * 10**9)
    for P in (1, 2, 4, 8):
        pp = parallel.pipeline_latency(LLAMA, "roofline-notes", H100, stages=P, B=8, S_c=2048)
        # each transfer: B·S_i·H·b_a = 8·1·4096·2 = 65,536 bytes at 450e9 B/s
        assert pp.transfer_bytes == 65_536
        send = Fraction(65_536, 450 * 10**9)
        assert pp.transfer_s == (sympy.Rational(send.numerator, send.denominator) if P > 1 else 0)
        # balanced stages under max(compute, memory): P stage times = the unsplit pass
        assert pp.total_s == one.total_s + (P - 1) * pp.transfer_s
        assert P * pp.stage_s == one.total_s


def test_pipeline_latency_with_tensor_parallel_stages_and_link_latency():
    tp2 = decode_latency(LLAMA, "roofline-notes", H100, B=4, S_c=512, tp=2)
    pp = parallel.pipeline_latency(LLAMA, "roofline-notes", H100, stages=4, B=4, S_c=512, tp=2,
                                   link_latency_s=sympy.Rational(1, 100_000))
    send = sympy.Rational(4 * 4096 * 2, 450 * 10**9) + sympy.Rational(1, 100_000)   # bytes/BW + 10 µs
    assert pp.transfer_s == send
    assert pp.total_s == tp2.total_s + 3 * send


# ---- ring all-reduce: a simulation that moves the chunks ------------------------------------------
def _ring_allreduce(data):
    """Ring reduce-scatter then all-gather over len(data) GPUs; returns the results and the
    elements each GPU sent."""
    T, n = len(data), len(data[0])
    assert n % T == 0
    c = n // T
    buf = [list(d) for d in data]
    sent = [0] * T
    for s in range(T - 1):                    # reduce-scatter: GPU g sends chunk (g − s) mod T to g + 1
        msgs = [((g + 1) % T, (g - s) % T, buf[g][((g - s) % T) * c:((g - s) % T + 1) * c]) for g in range(T)]
        for g, (dst, k, chunk) in enumerate(msgs):
            sent[g] += len(chunk)
            for i, v in enumerate(chunk):
                buf[dst][k * c + i] += v
    for s in range(T - 1):                    # all-gather: GPU g sends its reduced chunk (g + 1 − s) mod T
        msgs = [((g + 1) % T, (g + 1 - s) % T, buf[g][((g + 1 - s) % T) * c:((g + 1 - s) % T + 1) * c])
                for g in range(T)]
        for g, (dst, k, chunk) in enumerate(msgs):
            sent[g] += len(chunk)
            buf[dst][k * c:(k + 1) * c] = chunk
    return buf, sent


@pytest.mark.parametrize("T", [1, 2, 3, 4, 8])
def test_ring_allreduce_bytes_match_a_simulated_ring(T):
    n = 24                                     # elements, divisible by every T here
    data = [[(g + 1) * 100 + i for i in range(n)] for g in range(T)]
    out, sent = _ring_allreduce(data)
    total = [sum(d[i] for d in data) for i in range(n)]
    assert all(o == total for o in out)        # the simulation is a correct all-reduce
    b_elem = 2                                 # bf16
    for s in sent:
        assert parallel.ring_allreduce_bytes(n * b_elem, T) == s * b_elem
    assert parallel.ring_allreduce_steps(T) == 2 * (T - 1)


def test_llama_3_8b_allreduce_bytes_by_hand():
    # 2 all-reduces × 32 layers, each of B·S_i·H·b_a = 1·1·4096·2 = 8192 bytes;
    # a ring moves 2·(8 − 1)/8 = 7/4 of each message per GPU
    per_gpu = 2 * 32 * Fraction(4096 * 2) * Fraction(2 * 7, 8)
    assert per_gpu == 917_504
    ar = parallel.tp_allreduce(LLAMA, tp=8, B=1, S_i=1)
    assert (ar.all_reduces, ar.message_bytes, ar.bytes_per_gpu) == (64, 8192, 917_504)
    assert ar.steps == 64 * 14
    c = parallel.tp_allreduce_time(LLAMA, H100, tp=8, B=1, S_i=1, step_latency_s=sympy.Rational(1, 10**6),
                                   base_latency_s=0)
    assert c.throughput_s == sympy.Rational(917_504, 450 * 10**9)
    assert c.latency_s == sympy.Rational(64 * 14, 10**6)      # 896 ring steps of 1 µs
    # NCCL's latencies by default (tuning.cc, ring/LL over NVLink): 6.6 µs per all-reduce + 0.6 µs per
    # step, 64 · 6.6 + 896 · 0.6 = 422.4 + 537.6 = 960 µs
    default = parallel.tp_allreduce_time(LLAMA, H100, tp=8, B=1, S_i=1)
    assert default.latency_s == sympy.Rational(960, 10**6) and default.throughput_s == c.throughput_s


def test_allreduce_symbolic_form():
    ar = parallel.tp_allreduce(symroof.Arch.symbolic())
    assert sympy.simplify(ar.bytes_per_gpu - 4 * N * B * S_i * H * b_a * (T - 1) / T) == 0
    assert ar.bytes_per_gpu.subs(T, 1) == 0
    # large T: each GPU moves twice each message, 2 all-reduces per layer: 4·N·B·S_i·H·b_a
    assert sympy.limit(ar.bytes_per_gpu, T, sympy.oo) == 4 * N * B * S_i * H * b_a
    numeric = ar.bytes_per_gpu.subs({N: 32, B: 1, S_i: 1, H: 4096, b_a: 2, T: 8})
    assert numeric == 917_504


def test_compared_with_003_communication():
    # 003: comms = B · n_layers · 4 · d_model / A_c = 512 · 80 · 4 · 16384 / 300e9 ≈ 9 ms (elements)
    gopher = symroof.models.get("gopher-280b")
    a100 = symroof.Hardware("A100 (003)", {"bf16": 312e12}, 1.5e12, interconnect_bytes_per_s=300e9)
    seed = symroof.tp_communication(gopher, a100, tp=16, tokens=512)
    assert round(float(seed.throughput_s) * 1000) == 9
    ours = parallel.tp_allreduce_time(gopher, a100, tp=16, B=512, S_i=1)
    # ours / 003's = (2 · 2(T−1)/T · b_a) / 4 = (T − 1)/T · b_a = 15/16 · 2
    assert ours.throughput_s / seed.throughput_s == sympy.Rational(15, 8)
    # 003 in bytes (bytes_per_element = 2): still 4 messages and no ring factor: ours is (T − 1)/T of it
    in_bytes = symroof.tp_communication(gopher, a100, tp=16, tokens=512, bytes_per_element=2)
    assert ours.throughput_s / in_bytes.throughput_s == sympy.Rational(15, 16)


def test_bad_input():
    with pytest.raises(ValueError, match="stages=0"):
        parallel.bubble_fraction(0, 8)
    with pytest.raises(ValueError, match=r"microbatches=2\.5"):
        parallel.bubble_fraction(4, 2.5)
    with pytest.raises(ValueError, match="tp=0"):
        parallel.tp_allreduce(LLAMA, tp=0, B=1, S_i=1)
    no_link = symroof.Hardware("no link", {"bf16": 1e15}, 1e12)
    with pytest.raises(ValueError, match="no interconnect_bytes_per_s; tp=2"):
        parallel.tp_allreduce_time(LLAMA, no_link, tp=2, B=1, S_i=1)
    with pytest.raises(ValueError, match="no interconnect_bytes_per_s; stages=2"):
        parallel.pipeline_latency(LLAMA, "exact", no_link, stages=2, B=1, S_c=0)
    with pytest.raises(ValueError, match="link_latency_s=-1"):
        parallel.pipeline_latency(LLAMA, "exact", H100, stages=2, B=1, S_c=0, link_latency_s=-1)
