"""Named dtypes: bytes per element, group-quantisation overhead, Arch byte fields by name, and the
hardware peak of the dtype the matmuls run in."""

from __future__ import annotations

import pytest
import sympy

import symroof
from symroof import params
from symroof.precision import BYTES, Precision, bytes_per_element


def test_bytes_per_dtype():
    # IEEE binary32 = 32 bits; bfloat16 and binary16 = 16 bits; FP8 E4M3/E5M2 and int8 = 8 bits;
    # int4 and FP4 E2M1 = 4 bits, two per byte
    assert BYTES["fp32"] == 4 and BYTES["bf16"] == BYTES["fp16"] == 2
    assert BYTES["fp8"] == BYTES["int8"] == 1
    assert BYTES["int4"] == BYTES["fp4"] == sympy.Rational(1, 2)
    assert all(isinstance(v, sympy.Rational) for v in BYTES.values())


def test_group_scale_overhead_by_hand():
    # int4 in groups of 128 with one fp16 scale: 1/2 + 2/128 = 64/128 + 2/128 = 66/128 = 33/64
    assert bytes_per_element("int4", group_size=128, scale="fp16") == sympy.Rational(33, 64)
    # plus an int4 zero point per group (GPTQ/AWQ asymmetric): 1/2 + (2 + 1/2)/128 = 133/256
    assert bytes_per_element("int4", group_size=128, zero="int4") == sympy.Rational(133, 256)
    # int8 per-channel-ish, groups of 4096 with fp32 scales: 1 + 4/4096 = 1025/1024
    assert bytes_per_element("int8", group_size=4096, scale="fp32") == sympy.Rational(1025, 1024)
    assert bytes_per_element("bf16") == 2


def test_precision_applied_to_llama_3_8b_weights():
    """Llama-3-8B: 32·(2·4096·4096 + 2·4096·1024 + 3·4096·14336 + 2·4096) + 2·128256·4096 + 4096
    = 32·218,112,000 + 1,050,673,152 + 4096 = 8,030,261,248 parameters ("8.03B").
    int4 with fp16 scales per 128: 8,030,261,248 · 33/64 = 4,140,603,456 bytes of weights."""
    llama = symroof.models.get("llama-3-8b")
    assert params.total_parameters(llama) == 8_030_261_248
    w4 = Precision(weights="int4", activations="bf16", kv="fp8", group_size=128).apply(llama)
    assert (w4.weight_bytes, w4.act_bytes, w4.kv_bytes) == (sympy.Rational(33, 64), 2, 1)
    cost = symroof.decode(w4, "exact", B=1, S_c=0)
    assert cost.bytes_of("weights") == 8_030_261_248 * sympy.Rational(33, 64) == 4_140_603_456
    assert cost.bytes_of("kv/write") == 32 * 2 * 1024 * 1          # K and V of 8·128 each, 1 byte, 32 layers


def test_arch_takes_dtype_names():
    arch = symroof.Arch(hidden=64, layers=2, heads=4, weight_bytes="int4", act_bytes="bf16", kv_bytes="fp8")
    assert (arch.weight_bytes, arch.act_bytes, arch.kv_bytes) == (sympy.Rational(1, 2), 2, 1)
    with pytest.raises(ValueError, match=r"weight_bytes='int3' must be a positive number .* or a dtype name: fp32"):
        symroof.Arch(hidden=64, layers=2, heads=4, weight_bytes="int3")


def test_compute_dtype_and_hardware_peak():
    h100 = symroof.hardware.get("H100-SXM")
    # datasheet (SXM5, dense): 989 TF bf16, 1,979 TF fp8, 3.35 TB/s
    w4a16 = Precision(weights="int4", activations="bf16", group_size=128)
    assert w4a16.compute_dtype == "bf16"
    assert w4a16.hardware(h100).peak_flops == 989 * 10**12
    fp8 = Precision(weights="fp8", activations="fp8", kv="fp8")
    assert fp8.hardware("H100-SXM").balance == sympy.Rational(1979 * 10**12, 3350 * 10**9)
    assert Precision(weights="bf16", activations="fp8").compute_dtype == "bf16"    # the wider one
    assert Precision(weights="fp8", activations="fp8", compute="bf16").compute_dtype == "bf16"
    with pytest.raises(ValueError, match="H100-SXM has no peak FLOP/s for compute dtype 'int4'; known: bf16"):
        Precision(weights="int4", activations="int4").hardware(h100)
    with pytest.raises(ValueError, match="weights='int2' is not allowed; choose one of 'fp32'"):
        Precision(weights="int2")
    with pytest.raises(ValueError, match="group_size=0 must be a positive integer"):
        Precision(weights="int4", group_size=0)


def test_fp8_halves_the_decode_crossover_weight_term():
    """Decode at S_c = 0 with weights read once: B* = b·W/(a − b·c) (b the balance). fp8 weights and
    activations halve W and c and double b (989 -> 1979 TF): b·W stays 1979/989·W/2 ≈ W, so the
    crossover moves by the ratio of the denominators only. By hand for Llama-3-8B under 002's
    conventions (weights = layer matrices, fused activations 3·B·H·b_a per layer, K/V written)."""
    analysis = pytest.importorskip("symroof.analysis")
    llama = symroof.models.get("llama-3-8b")
    matrices = 32 * (2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336)     # 6,979,321,856
    assert matrices == 6_979_321_856
    a = 2 * matrices + 32 * 2 * 2 * 32 * 128          # matmuls + scores and values over the 1 new key
    for prec, peak, b in ((Precision(), 989, 2), (Precision(weights="fp8", activations="fp8", kv="fp8"), 1979, 1)):
        balance = sympy.Rational(peak * 10**12, 3350 * 10**9)
        c = 32 * (3 * 4096 * b + 2 * 1024 * b)
        expected = balance * matrices * b / (a - balance * c)
        cost = symroof.decode(prec.apply(llama), "roofline-notes")
        assert analysis.crossover_batch(cost, prec.hardware("H100-SXM"), S_c=0).value == expected
