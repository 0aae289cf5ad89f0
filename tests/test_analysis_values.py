"""symroof.serving, symroof.speculative, symroof.parallel and symroof.hardware on made-up parts
with round numbers, every expected value derived by hand in the test.

The model is a tiny dense transformer, ``Arch(hidden=64, layers=2, heads=4, vocab=128,
params_b=1)``: H = 64, N = 2, 4 heads of 16 (as many KV heads), FFN 4H = 256, 2 bytes per
weight, activation and KV element, nominal P = 10^9 parameters. Its per-token KV cache is
2 (K and V) · N · n_kv · d_h · b_kv = 2·2·4·16·2 = 512 bytes.

Under 003's conventions (``inference-arithmetic``) a step of B sequences of S_i tokens costs
2·P·B·S_i FLOPs and reads the 2·P bytes of weights, nothing else. Under 000's
(``arithmetic-intensity``) a decode step costs N·(24·B·H² + 4·B·S_c·H) FLOPs
= 196,608·B + 512·B·S_c and moves 2·P + 8·N·B·H + 2·N·B·S_c·H bytes
= 2·10^9 + 1024·B + 256·B·S_c (weights, layer in/out activations, KV read).
"""

import dataclasses
from fractions import Fraction

import numpy as np
import pytest
import sympy
from sympy import Rational as R

import symroof
from symroof.analysis import serving
from symroof.symbols import S_c


def _tiny(**changes):
    return symroof.Arch(hidden=64, layers=2, heads=4, vocab=128, params_b=1, **changes)


def _gpu(**changes):
    """A made-up GPU: 10^12 FLOP/s at bf16, 2·10^12 at fp8, 10^12 B/s, 10^10 bytes (9/10 usable),
    a 10^11 B/s link."""
    fields = dict(capacity_bytes=10**10, interconnect_bytes_per_s=10**11)
    fields.update(changes)
    return symroof.Hardware("G", {"bf16": 10**12, "fp8": 2 * 10**12}, 10**12, **fields)


# ---- serving: the options of a step reach the model ---------------------------------------------
def test_step_latency_options_by_hand():
    arch, g = _tiny(), _gpu()
    # 000 at B = 1, S_c = 1000: FLOPs 196,608 + 512,000 = 708,608; bytes 2e9 + 1024 + 256,000
    t = serving.step_latency(arch, "000", g, B=1, S_c=1000)
    assert (t.compute_s, t.memory_s) == (R(708_608, 10**12), R(2_000_257_024, 10**12))
    assert t.total_s == R(2_000_257_024, 10**12)                   # max: memory-bound
    # fp8's peak is twice bf16's: half the compute time, the same bytes
    t8 = serving.step_latency(arch, "000", g, B=1, S_c=1000, dtype="fp8")
    assert (t8.compute_s, t8.memory_s) == (R(708_608, 2 * 10**12), R(2_000_257_024, 10**12))
    # the sum model adds the two
    ts = serving.step_latency(arch, "000", g, B=1, S_c=1000, model="sum")
    assert ts.total_s == R(708_608 + 2_000_257_024, 10**12)
    # decode_latency is the step at S_i = 1, with the same options
    assert serving.decode_latency(arch, "000", g, B=1, S_c=1000, model="sum").total_s == ts.total_s


def test_step_latency_communication_options_by_hand():
    arch, g = _tiny(), _gpu()
    # T = 2, Megatron all-reduces: 2 per layer, 4 in all, each of B·H·b_a bytes; each GPU sends
    # 2(T − 1)/T = 1 of every message; 4 · 2(T − 1) = 8 ring steps. Link 10^11 B/s.
    # defaults: b_a = 2: 4·128 = 512 B; latency 4·6.6 µs + 8·0.6 µs = 31.2 µs
    t = serving.step_latency(arch, "000", g, B=1, S_c=0, tp=2, comm="allreduce")
    assert t.comm_s == R(512, 10**11) + R(312, 10**7)
    # one byte per element and 1 µs per ring step: 4·64 = 256 B; 4·6.6 µs + 8·1 µs = 34.4 µs
    t1 = serving.step_latency(arch, "000", g, B=1, S_c=0, tp=2, comm="allreduce", bytes_per_element=1,
                              step_latency_s=R(1, 10**6))
    assert t1.comm_s == R(256, 10**11) + R(344, 10**7)
    # 003's model under 000's conventions: 4 messages per layer, 8 in all, of B·H values in bytes
    # (2 each): 8·64·2 = 1024 B; 10 µs per message by default, 5 µs given: 40 µs
    t3 = serving.step_latency(arch, "000", g, B=1, S_c=0, tp=2, comm="003", step_latency_s=R(5, 10**6))
    assert t3.comm_s == R(1024, 10**11) + R(40, 10**6)


def test_throughput_at_given_batch_and_context_by_hand():
    arch, g = _tiny(), _gpu()
    # 000, B = 1, S_c = 1000: memory-bound, 2,000,257,024 bytes at 10^12 B/s
    assert serving.throughput(arch, "000", g, B=1, S_c=1000) == R(10**12, 2_000_257_024)
    # B = 4, S_c = 10: bytes 2e9 + 4096 + 10,240; FLOPs 4·196,608 + 4·5120 (memory-bound)
    assert serving.throughput(arch, "000", g, B=4, S_c=10) == R(4 * 10**12, 2_000_014_336)
    # S_c left symbolic when not given
    assert serving.throughput(arch, "000", g, B=1).free_symbols == {S_c}


# ---- serving curves ------------------------------------------------------------------------------
def test_serving_curve_options_by_hand():
    arch, g = _tiny(), _gpu()
    # 003: compute 2e9·B / π, memory 2e9 / 10^12 = 2 ms
    curve = serving.serving_curve(arch, "003", g, S_c=0, batches=[1, 250, 1000], dtype="fp8")
    # fp8 (2·10^12 FLOP/s): compute B ms against 2 ms of memory: TPOT 2 ms, then B ms
    assert curve.compute_s.tolist() == pytest.approx([0.001, 0.25, 1.0], rel=1e-15)
    assert curve.tpot_s.tolist() == pytest.approx([0.002, 0.25, 1.0], rel=1e-15)
    s = serving.serving_curve(arch, "003", g, S_c=0, batches=[1, 250], model="sum")
    assert s.tpot_s.tolist() == pytest.approx([0.004, 0.502], rel=1e-15)   # 2B ms + 2 ms
    # T = 2 over the link, 000 conventions with all-reduces (one byte per element, 1 µs a step):
    # 256·B bytes / 10^11 + 34.4 µs, as in test_step_latency_communication_options_by_hand
    c = serving.serving_curve(arch, "000", g, S_c=0, batches=[1, 2], tp=2, comm="allreduce",
                              bytes_per_element=1, step_latency_s=R(1, 10**6))
    assert c.comm_s.tolist() == pytest.approx([256e-11 + 34.4e-6, 512e-11 + 34.4e-6], rel=1e-13)


def test_serving_curve_batch_limit_by_hand():
    arch, g = _tiny(), _gpu()
    # S_c = 999: after the step 1000 tokens of 512 bytes, 512,000 bytes per sequence.
    # T = 2: 2 · 9/10 · 10^10 − 2·10^9 weights = 1.6·10^10 free → exactly 31,250 sequences
    c = serving.serving_curve(arch, "003", g, S_c=999, batches=[31_249, 31_250, 31_251], tp=2, comm="none")
    assert c.max_batch == 31_250
    assert c.fits.tolist() == [True, True, False]            # the limit itself fits
    # T = 1 with 10^9 bytes of weights given: 9·10^9 − 10^9 = 8·10^9 free → 15,625
    c1 = serving.serving_curve(arch, "003", g, S_c=999, batches=[15_625, 15_626], weight_bytes=10**9)
    assert c1.max_batch == 15_625 and c1.fits.tolist() == [True, False]
    # the default: 7·10^9 free → floor(13,671.875)
    assert serving.serving_curve(arch, "003", g, S_c=999, batches=[1]).max_batch == 13_671


def test_serving_curve_without_capacity_fits_everything():
    g = symroof.Hardware("g", {"bf16": 10**15}, 10**12)          # no capacity given
    c = serving.serving_curve(_tiny(), "003", g, S_c=0, batches=[1, 500, 1000, 2000])
    assert c.max_batch is None
    assert c.fits.dtype == np.bool_ and c.fits.tolist() == [True] * 4
    # 003: TPOT max(2·10^9 / 10^12, 2·10^9·B / 10^15) = max(2 ms, 2B µs): 2, 2, 2, 4 ms, throughput
    # 500, 250,000, 500,000, 500,000 tokens/s: within 3 ms the best is B = 1000, within 1 ms none
    assert c.batch[c.best(tpot_s=0.003)] == 1000
    assert c.best(tpot_s=0.001) is None
    assert c.batch[c.frontier()].tolist() == [1000]


def test_compute_bound_includes_the_tie():
    arch, g = _tiny(), _gpu()
    # 003 at bf16: compute 2·10^9·B / 10^12 = 2B ms, memory 2 ms: equal at B = 1
    c = serving.serving_curve(arch, "003", g, S_c=0, batches=[1, 2])
    assert c.compute_s.tolist() == [0.002, 0.004] and c.memory_s.tolist() == [0.002, 0.002]
    assert c.compute_bound.tolist() == [True, True]
    assert c.throughput_per_gpu.tolist() == pytest.approx([500.0, 500.0], rel=1e-15)


def test_serving_curve_is_frozen_and_compared_by_identity():
    c = serving.serving_curve(_tiny(), "003", _gpu(), S_c=0, batches=[1, 2])
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.tp = 2
    d = serving.serving_curve(_tiny(), "003", _gpu(), S_c=0, batches=[1, 2])
    assert c == c and c != d and len({c, d}) == 2         # arrays: identity, hashable


# ---- speculative decoding -----------------------------------------------------------------------
def test_speculative_step_by_hand():
    from symroof.analysis import speculative as spec
    g = symroof.Hardware("g", {"bf16": 10**13}, 10**12)
    # 003, B = 4: plain step max(2e9·4 / 10^13, 2e9 / 10^12) = max(0.8, 2) ms = 2 ms; verifying
    # k = 4 drafts is S_i = 5: max(2e9·4·5 / 10^13, 2 ms) = 4 ms (compute-bound)
    s = spec.speculative_decoding(_tiny(), "003", g, alpha=R(1, 2), k=4, c=R(1, 10), B=4, S_c=0)
    assert (s.decode.total_s, s.verify.total_s) == (R(2, 1000), R(4, 1000))
    assert s.verify.compute_s == R(4, 1000) and s.decode.compute_s == R(8, 10_000)
    # E[tokens] = 1 + 1/2 + 1/4 + 1/8 + 1/16 = 31/16; drafts c·k·t = 1/10 · 4 · 2 ms = 0.8 ms
    assert s.expected_tokens == R(31, 16)
    assert s.draft_s == R(8, 10_000) and s.step_s == R(48, 10_000)
    assert s.time_per_token_s == R(48, 10_000) / R(31, 16) == R(48, 19_375)
    # speed-up 31/16 · 2 ms / 4.8 ms = 155/192
    assert s.speedup == R(155, 192) and float(s) == 155 / 192
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.k = 5


def test_speculative_decoding_holds_the_cache_fixed_at_s_c():
    from symroof.analysis import speculative as spec
    # 000 at B = 1, S_c = 1000 (this file's docstring): the plain step reads 2,000,257,024 bytes
    s = spec.speculative_decoding(_tiny(), "000", _gpu(), alpha=R(1, 2), k=2, S_c=1000)
    assert s.decode.total_s == R(2_000_257_024, 10**12)
    assert not s.verify.total_s.free_symbols                 # S_c given to the verification too


def test_leviathan_speedup_without_drafts_and_by_hand():
    from symroof.analysis import speculative as spec
    # k = 0: one token per step, nothing drafted: speed-up 1 whatever α and c
    assert spec.leviathan_speedup(R(1, 2), 0, 3) == 1
    assert spec.expected_tokens(R(1, 2), 0) == 1
    # Theorem 3.8 at α = 1/2, k = 2, c = 1/4: (1 − 1/8)/(1/2) / (1/2 + 1) = (7/4)/(3/2) = 7/6
    assert spec.leviathan_speedup(R(1, 2), 2, R(1, 4)) == R(7, 6)


def test_draft_cost_ratio_at_a_given_context_by_hand():
    from symroof.analysis import speculative as spec
    # 000, B = 1, S_c = 1000, memory-bound: draft 2·10^9 + 257,024 bytes, target (P = 4·10^9)
    # 8·10^9 + 257,024 bytes, at the same bandwidth
    ratio = spec.draft_cost_ratio(_tiny(), _tiny().replace(params_b=4), "000", _gpu(), S_c=1000)
    assert ratio == R(2_000_257_024, 8_000_257_024)


def test_speedup_grid_default_batch_and_exact_inputs_by_hand():
    from symroof.analysis import speculative as spec
    g = symroof.Hardware("g", {"bf16": 10**13}, 10**12)
    # 003 at B = 1 (the default): plain step 2 ms (memory); k = 7 verifies S_i = 8 tokens,
    # 2e9·8 / 10^13 = 1.6 ms of FLOPs, still 2 ms: speed-up = E[tokens] = (1 − 2^-8)/(1/2) = 255/128
    # (at B = 2 verification would be compute-bound, 3.2 ms)
    grid = spec.speedup_grid(_tiny(), "003", g, alpha=[0.5, 1.0], k=7, S_c=0)
    assert grid.tolist() == [255 / 128, 8.0]
    assert spec.speedup_grid(_tiny(), "003", g, alpha=0.5, k=7, B=2, S_c=0).tolist() == pytest.approx(
        255 / 128 * 2 / 3.2, rel=1e-15)
    # exact numbers (SymPy or Fraction) are accepted as floats
    exact = spec.speedup_grid(_tiny(), "003", g, alpha=[R(1, 2), Fraction(1, 2)], k=[sympy.Integer(7), 7],
                              c=[R(0), Fraction(0)], S_c=0)
    assert exact.tolist() == [255 / 128, 255 / 128]
    # the grid's exact speed-up is built over α, k, c, whose ranges SymPy knows: α, c ≥ 0 (|α| = α),
    # k a positive integer ((-1)^(2k) = 1)
    assert sympy.Abs(spec.ALPHA) == spec.ALPHA and sympy.Abs(spec.C) == spec.C
    assert (-1) ** (2 * spec.K) == 1 and spec.K.is_positive


# ---- pipeline parallelism -----------------------------------------------------------------------
def test_pipeline_latency_options_by_hand():
    from symroof.analysis import parallel
    g = _gpu()
    # 003, B = 3 sequences of S_i = 2 tokens, P = 2 stages of T = 2 GPUs at fp8 (2·10^12 FLOP/s):
    # the pass costs 2·10^9·6 = 1.2·10^10 FLOPs and 2·10^9 bytes; each stage half of it over 2 GPUs:
    # compute 1.2e10 / 2 / (2 · 2e12) = 1.5 ms, memory 2e9 / 2 / (2 · 10^12) = 0.5 ms.
    # 003's comms (the preset counts elements) over the link given, 10^10 B/s, which also carries the
    # stage's tensor-parallel messages: 4 messages per layer, 8 in all, 10 µs each = 80 µs, plus
    # 6 tokens · 8 · 64 values / 10^10 = 307.2 ns; a stage has half of it.
    # model "sum": stage = 1.5 ms + 0.5 ms + 40 µs + 153.6 ns.
    # The hidden state crossing the one boundary: 3·2·64·2 = 768 bytes over 10^10 B/s + 1 µs.
    pp = parallel.pipeline_latency(_tiny(), "003", g, stages=2, B=3, S_i=2, S_c=0, tp=2, model="sum",
                                   dtype="fp8", link_bytes_per_s=10**10, link_latency_s=R(1, 10**6))
    assert (pp.stage.compute_s, pp.stage.memory_s) == (R(15, 10**4), R(5, 10**4))
    assert pp.stage.comm_s == R(40, 10**6) + R(1536, 10**10)
    stage = R(2, 1000) + R(40, 10**6) + R(1536, 10**10)
    assert pp.stage_s == stage
    assert pp.transfer_bytes == 768 and pp.transfer_s == R(768, 10**10) + R(1, 10**6)
    assert pp.total_s == 2 * stage + R(768, 10**10) + R(1, 10**6)
    assert float(pp) == float(pp.total_s) and pp.stages == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        pp.stages = 3
    # comm= chooses the stage's communication: none, or Megatron's all-reduces in bytes (b_a = 2):
    # 2 per layer, 4 of 6·64·2 = 768 bytes, each GPU sending 2(T − 1)/T = 1 of each: 3072 B / 10^10,
    # plus 4 · 6.6 µs + 4 · 2(T − 1) · 0.6 µs = 31.2 µs; a stage has half
    kw = dict(stages=2, B=3, S_i=2, S_c=0, tp=2, link_bytes_per_s=10**10)
    assert parallel.pipeline_latency(_tiny(), "003", g, comm="none", **kw).stage.comm_s == 0
    ar = parallel.pipeline_latency(_tiny(), "003", g, comm="allreduce", **kw)
    assert ar.stage.comm_s == (R(3072, 10**10) + R(312, 10**7)) / 2
    # the preset's own model (max): the stage is max(3 ms, 0.5 ms) at bf16 plus its comms
    assert parallel.pipeline_latency(_tiny(), "003", g, **kw).stage_s == R(3, 1000) + R(40, 10**6) + R(1536, 10**10)
    # the hardware's own link (10^11 B/s) when none is given, no link latency by default
    assert parallel.pipeline_latency(_tiny(), "003", g, stages=2, B=3, S_i=2, S_c=0).transfer_s == R(768, 10**11)


def test_pipeline_of_one_stage_sends_nothing():
    from symroof.analysis import parallel
    # 000 at B = 1, S_c = 1000, one stage: the step itself, max(708,608 FLOPs / 10^12, 2,000,257,024 B / 10^12)
    pp = parallel.pipeline_latency(_tiny(), "000", _gpu(), stages=1, B=1, S_c=1000, link_latency_s=R(1, 10**6))
    assert pp.transfer_s == 0 and pp.transfer_bytes == 128          # 1·1·64·2 bytes, never sent
    assert pp.total_s == pp.stage_s == R(2_000_257_024, 10**12)
    # four stages: each a quarter of the bytes, and 3 sends of 128 B over 10^11 B/s + 1 µs
    pp4 = parallel.pipeline_latency(_tiny(), "000", _gpu(), stages=4, B=1, S_c=1000, link_latency_s=R(1, 10**6))
    assert pp4.stage_s == R(2_000_257_024, 4 * 10**12)
    assert pp4.total_s == R(2_000_257_024, 10**12) + 3 * (R(128, 10**11) + R(1, 10**6))


def test_bubble_and_pipeline_time_by_hand():
    from symroof.analysis import parallel
    # P = 3 stages, M = 5 micro-batches: the pass takes M + P − 1 = 7 stage times, 2 of them idle
    assert parallel.bubble_fraction(3, 5) == R(2, 7)
    assert parallel.bubble_ratio(3, 5) == R(2, 5)
    assert parallel.pipeline_time(R(1, 100), 3, 5) == R(7, 100)
    assert parallel.pipeline_time(2, 5, 1) == 10                  # one micro-batch: P stage times


def test_speculative_bad_draft_costs_are_one_line_errors():
    from symroof.analysis import speculative as spec
    g = symroof.Hardware("g", {"bf16": 10**13}, 10**12)
    msg = r"^c must be non-negative draft costs \(a draft step over a target decode step\); c={} is not$"
    for bad, shown in ((-0.5, r"-0\.5"), ([0.0, -1e-9], r"-1e-09"), (float("inf"), "inf")):
        with pytest.raises(ValueError, match=msg.format(shown)):
            spec.speedup_grid(_tiny(), "003", g, alpha=0.5, k=2, c=bad, S_c=0)
    with pytest.raises(ValueError, match=r"^c=-1 must be a non-negative number$"):
        spec.leviathan_speedup(0.5, 2, -1)
    with pytest.raises(ValueError, match=r"^c=-1 must be a non-negative number$"):
        spec.speculative_decoding(_tiny(), "003", g, alpha=0.5, k=2, c=-1, S_c=0)


# ---- hardware -------------------------------------------------------------------------------------
def test_hardware_text_fields_refuse_empty_and_control_characters_in_one_line():
    from symroof.hardware import Hardware
    peaks = {"bf16": 10**12}
    cases = [
        (dict(name="x\x7f"), r"^Hardware name='x\\x7f' must not contain control characters$"),   # DEL
        (dict(name="G", source="a\x7fb"), r"^G: source='a\\x7fb' must not contain control characters$"),
        (dict(name="G", source="a\nb"), r"^G: source='a\\nb' must not contain control characters$"),
        (dict(name="G", source=3), r"^G: source=3 must be a string, not int$"),
        (dict(name="G", dtype=""), r"^G: dtype must not be empty$"),
        (dict(name="G", dtype="  "), r"^G: dtype must not be empty$"),
        (dict(name="G", aliases=("",)), r"^G: alias must not be empty$"),
    ]
    for fields, msg in cases:
        with pytest.raises(ValueError, match=msg):
            Hardware(peak_flops_per_s=peaks, bandwidth_bytes_per_s=10**12, **fields)
    with pytest.raises(ValueError, match=r"^G: a peak_flops_per_s dtype must not be empty$"):
        Hardware("G", {"": 10**12}, 10**12)
    with pytest.raises(ValueError, match=r"^G: peak_flops_per_s must map dtype names to FLOP/s$"):
        Hardware("G", 10**12, 10**12)
    # printable text is fine: spaces, a hyphen, non-ASCII letters (ord ≥ 128)
    hw = Hardware("My GPU-1 é", peaks, 10**12, source="datasheet, p. 3 — «dense»", aliases=("mine ü",))
    assert (hw.name, hw.source, hw.aliases) == ("My GPU-1 é", "datasheet, p. 3 — «dense»", ("mine ü",))


def test_source_and_board_power_do_not_make_parts_different():
    g = _gpu()
    assert g.replace(source="another datasheet") == g
    assert g.replace(board_power_w=700) == g and g.replace(board_power_w=700).board_power_w == 700
    assert g.replace(bandwidth_bytes_per_s=2 * 10**12) != g


def test_a_hardware_file_of_one_mebibyte_loads(tmp_path):
    from symroof import hardware
    row = '["X"]\npeak_flops_per_s = 1e12\nbandwidth_bytes_per_s = 1e12\n'
    # the limit is 2^20 bytes (1 MiB): a file of exactly that size loads, one byte more does not
    path = tmp_path / "hw.toml"
    path.write_text("#" * (2**20 - len(row) - 1) + "\n" + row, encoding="utf-8")
    assert path.stat().st_size == 2**20
    assert hardware.load(path)["X"].balance == 1
    path.write_text("#" * (2**20 - len(row)) + "\n" + row, encoding="utf-8")
    with pytest.raises(ValueError, match="at most 1048576"):
        hardware.load(path)


def test_describe_by_hand():
    from symroof import hardware
    # 10^12 FLOP/s over 10^12 B/s: balance 1; 80 · 2^30 bytes is 80 GiB, 9/10 of it usable
    g = hardware.custom("G", 10**12, 10**12, 80 * 2**30)
    assert str(g) == "G (bf16): 1 TFLOP/s, 1 TB/s, 80 GiB (90% usable), balance 1 FLOP/byte"
    assert g.efficient
    # all usable, half the peak FLOP/s achieved: balance 0.5, only the FLOP/s efficiency shown
    half = g.replace(usable_fraction=1, flops_efficiency=R(1, 2))
    assert str(half) == "G (bf16): 1 TFLOP/s, 1 TB/s, 80 GiB, balance 0.5 FLOP/byte; achieved 50% of peak FLOP/s"
    assert not half.efficient
    # 3 · 2^29 bytes = 1.5 GiB; 99.5 TFLOP/s over 1 TB/s at 1/2 of it: balance 199, three digits
    odd = hardware.custom("g", 995 * 10**11, 10**12, 3 * 2**29, usable_fraction=1, bandwidth_efficiency=R(1, 2))
    assert str(odd) == "g (bf16): 99.5 TFLOP/s, 1 TB/s, 1.5 GiB, balance 199 FLOP/byte; achieved 50% of bandwidth"
    assert not odd.efficient and odd.bandwidth == 5 * 10**11
    # below 100 FLOP/byte three significant digits: 99.5
    assert "balance 99.5 FLOP/byte" in str(hardware.custom("h", 995 * 10**11, 10**12))
    both = g.with_efficiency(flops=R(3, 4), bandwidth=R(1, 4))
    assert str(both).endswith("balance 3 FLOP/byte; achieved 75% of peak FLOP/s and 25% of bandwidth")


def test_custom_keeps_its_aliases():
    from symroof import hardware
    g = hardware.custom("G", 10**12, 10**12, aliases=["gee", "g-1"])
    assert g.aliases == ("gee", "g-1")
    assert hardware.custom("G", 10**12, 10**12, aliases=("gee",)).aliases == ("gee",)


def test_the_catalogue_file_is_read_from_the_package():
    from symroof import hardware
    rows = hardware.catalogue.__wrapped__()          # the file itself, not the cached copy
    # NVIDIA A100 datasheet (80GB SXM): 312 TFLOP/s dense BF16, 2,039 GB/s, 80 GB (80 GiB: 81,920 MiB)
    a100 = rows["A100-80GB"]
    assert a100.peak_flops_per_s["bf16"] == 312 * 10**12 and a100.bandwidth == 2039 * 10**9
    assert a100.capacity == 80 * 2**30
    assert rows == hardware.catalogue()
