"""Seed 002 ("Roofline analysis for prefill and decoding", Llama-3-8B): every number it prints,
as printed, against symroof's value, with the expected values worked out by hand here.

The document's numbers are typed in from the seed; the correct values are hand arithmetic on
Llama-3-8B's shape (d_model 4096, 32 layers, 32 query / 8 KV heads of 128, d_ffn 14336,
vocab 128256, 2 bytes), never symroof's own output.
"""


import pytest
import sympy

import symroof
from symroof.symbols import B, S, S_c
from tests.scripts import ROOT, load_script

D, L, NQ, NKV, DH, F, V = 4096, 32, 32, 8, 128, 14336, 128256
KV = NKV * DH                               # 1024
BATCH, SEQ = 32, 1024
MiB = 2**20

# weights of one layer, bytes
W_Q = W_O = D * D * 2                       # 33,554,432 = 32 MiB
W_K = W_V = D * KV * 2                      # 8,388,608 = 8 MiB
W_FFN = D * F * 2                           # 117,440,512 = 112 MiB (002: "128MB")
LAYER = W_Q + W_K + W_V + W_O + 3 * W_FFN   # 436,207,616
EMBEDDING = V * D * 2                       # 1,050,673,152
# Llama-3-8B has 8,030,261,248 parameters (its model card / safetensors index: 16,060,522,496 bytes)
ALL = 8_030_261_248 * 2

# prefill per layer at batch 32, seq 1024: fused activations (attention in, attention out, FFN out)
# plus the K and V written
ACT_PREFILL = BATCH * SEQ * D * 2 * 3 + BATCH * SEQ * KV * 2 * 2      # 939,524,096 = 7·B·S·d
T = BATCH * SEQ
FLOPS_PREFILL = (2 * T * D * D * 2 + 2 * T * D * KV * 2       # Q, O; K, V
                 + 2 * T * SEQ * D * 2                        # QK^T and AV, dense
                 + 3 * T * D * F * 2)                         # gate, up, down


def load():
    return load_script(ROOT / "derivations" / "seed_002.py", "seed_002_under_test")


@pytest.fixture(scope="module")
def d():
    return load().build()


def test_preset_matches_the_document(d):
    arch = symroof.models.get("llama-3-8b")
    assert (arch.heads, arch.kv_heads, arch.head_dim, arch.hidden, arch.ffn_dim, arch.layers, arch.vocab) == \
        (NQ, NKV, DH, D, F, L, V)
    assert all(d[f"model/{k}"].holds for k in ("n_q_head", "n_kv_head", "d_head", "d_model", "d_ffn",
                                                 "num_layers", "vocab_size", "d_type"))


def test_matrix_sizes_in_binary_megabytes(d):
    assert W_Q / MiB == 32 and W_K / MiB == 8
    for name, expected in (("W_q", W_Q), ("W_k", W_K), ("W_v", W_V), ("W_o", W_O)):
        claim = d[f"weights/{name}"]
        assert claim.value == expected and claim.holds
    # "W_gate = d_model × d_ffn (128MB)": 4096·14336·2 = 117,440,512 bytes = 112 MiB
    assert W_FFN == 117_440_512 == 112 * MiB
    for name in ("W_gate", "W_up", "W_down"):
        claim = d[f"weights/{name}"]
        assert claim.printed == "128" and claim.value == W_FFN and not claim.holds
    assert d["weights/embedding"].value == EMBEDDING and d["weights/embedding"].holds   # "1GB"


def test_per_layer_and_total_weights(d):
    assert LAYER == 436_207_616 == 416 * MiB
    assert d["weights/layer"].value == LAYER and not d["weights/layer"].holds          # "480MB"
    assert d["prefill/weights"].value == LAYER and d["prefill/weights"].holds          # "436 MB"
    # 32 x 480MB + 1GB ~= 16GB: the sum as written is 32 layers + the embedding, 15.01 GB
    assert d["weights/sum-as-written"].value == L * LAYER + EMBEDDING == 15_009_316_864
    assert not d["weights/sum-as-written"].holds
    # ... ~= 8B x 2 bytes: every parameter, untied LM head included
    assert d["weights/total"].value == ALL == L * LAYER + 2 * EMBEDDING + (L * 2 * D + D) * 2
    assert d["weights/total"].holds


def test_activation_formulas(d):
    # batch·seq·d_model·2·3 + batch·seq·n_kv·d_head·2·2 = batch·seq·d_model·7 for this model
    assert sympy.expand(d["act/formula"].value - 7 * B * S * D) == 0
    assert d["act/formula"].holds and d["act/x7"].holds
    assert not d["act/x6+x2"].holds and not d["act/x8"].holds
    assert ACT_PREFILL == 7 * BATCH * SEQ * D == 939_524_096
    assert d["prefill/activations"].value == ACT_PREFILL and d["prefill/activations"].holds   # "940 MB"


def test_prefill_flops_and_intensity(d):
    assert d["prefill/flops"].value == FLOPS_PREFILL == 14_843_406_974_976       # "≈ 14.8 TFlops"
    attention = FLOPS_PREFILL - 3 * T * D * F * 2
    assert d["prefill/flops-attention"].value == attention == 3_298_534_883_328  # "~3.0": it is 3.30
    assert not d["prefill/flops-attention"].holds and d["prefill/flops-ffn"].holds
    assert d["prefill/bytes"].value == LAYER + ACT_PREFILL == 1_375_731_712     # "1376 * 10^6 bytes"
    assert d["prefill/ai-denominator"].holds and not d["prefill/bytes"].holds   # "≈ 1300 MB"
    intensity = sympy.Rational(FLOPS_PREFILL, LAYER + ACT_PREFILL)
    assert d["prefill/intensity"].value == intensity and round(float(intensity)) == 10_789
    assert d["prefill/intensity"].holds                                         # "≈ 10,000"
    # batch 1: the FLOPs fall 32-fold, the weights do not: ≈ 996, not "10,000 / 32 ≈ 300"
    one = sympy.Rational(FLOPS_PREFILL // 32, LAYER + ACT_PREFILL // 32)
    assert d["prefill/intensity-b1"].value == one and round(float(one)) == 996
    assert not d["prefill/intensity-b1"].holds
    assert d["prefill/regime"].holds and d["prefill/regime-b1"].holds           # both above H100's 295


@pytest.mark.parametrize("name, tflops, gbps, balance", [
    ("H100 SXM", 989, 3350, 295), ("H100 PCIe", 756, 2000, 378), ("A100 SXM", 312, 2039, 153),
    ("A100 PCIe", 312, 1555, 201), ("L40S", 362, 864, 419), ("A10", 125, 600, 208), ("V100", 125, 900, 139),
])
def test_hardware_table(d, name, tflops, gbps, balance):
    for part in ("compute", "bandwidth", "balance"):
        assert d[f"hw/{name}/{part}"].holds
    assert abs(d[f"hw/{name}/balance"].value - sympy.Rational(tflops * 1000, gbps)) < 1


def test_decode_memory(d):
    kv_read = BATCH * SEQ * NKV * DH * 2 * 2
    kv_write = BATCH * 1 * NKV * DH * 2 * 2
    tensor = BATCH * D * 2
    assert (kv_read, kv_write, tensor) == (134_217_728, 131_072, 262_144)
    assert d["decode/kv-read"].value == kv_read and d["decode/kv-write"].value == kv_write
    for label in ("input", "attention-input", "attention-output", "ffn-output"):
        assert d[f"decode/{label}"].value == tensor and d[f"decode/{label}"].holds
    # "FFN input: 32 x 1 x 14336 x 2 = 884,736 bytes": it is 917,504 (884,736 = 32·13824·2)
    assert d["decode/ffn-input"].value == BATCH * F * 2 == 917_504 and not d["decode/ffn-input"].holds
    assert 884_736 == 32 * 13824 * 2
    moved = kv_read + kv_write + 3 * tensor
    assert d["decode/activations"].value == moved == 135_135_232 and d["decode/activations"].holds  # "135MB"
    assert d["decode/bytes"].value == LAYER + moved == 571_342_848      # "≈ 600MB" at one figure
    assert not d["decode/weights"].holds and not d["decode/weights-again"].holds   # "480MB"


def test_decode_flops_and_intensity(d):
    keys = SEQ + 1        # the new token attends to its own key too (002 counts seq_len_context)
    flops = (2 * BATCH * D * D * 2 + 2 * BATCH * D * KV * 2 + 2 * BATCH * D * keys * 2
             + 3 * BATCH * F * D * 2)
    assert d["decode/flops"].value == flops == 14_496_038_912           # "≈ 15 GFLOPs": 14.5
    assert d["decode/flops-attention"].value == flops - 3 * BATCH * F * D * 2 == 3_221_749_760
    assert d["decode/flops-ffn"].value == 3 * BATCH * F * D * 2 == 11_274_289_152
    intensity = sympy.Rational(flops, LAYER + 135_135_232)
    assert d["decode/intensity"].value == intensity and round(float(intensity), 1) == 25.4   # "≈ 24"
    assert d["decode/regime"].holds
    # the decode score formula: 002's seq_len_context keys; symroof's keys='cached' reproduces it
    conv = symroof.conventions.get("roofline-notes").replace(keys="cached")
    arch = symroof.models.get("llama-3-8b")
    cached = symroof.decode(arch, conv).flop_terms["attention/scores"] / L
    assert sympy.expand(cached - B * D * S_c * 2) == 0
    assert not d["decode/flops_qk"].holds and d["decode/flops_qk"].kind == "approximation"


def test_the_errata_of_002(d):
    assert {c.label for c in d.errata} == {
        "weights/W_gate", "weights/W_up", "weights/W_down", "weights/layer", "weights/layer-MiB",
        "weights/sum-as-written", "act/x6+x2", "act/x8", "prefill/bytes", "prefill/flops-attention",
        "prefill/intensity-b1", "decode/weights", "decode/ffn-input", "decode/weights-again",
        "decode/flops_qk", "decode/flops_av", "decode/flops", "decode/flops-attention", "decode/flops-ffn",
        "decode/intensity",
    }
    assert d.problems() == []
