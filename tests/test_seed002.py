"""Seed 002 ("Roofline analysis for prefill and decoding", Llama-3-8B): every number it prints,
as printed, against symroof's value, with the expected values worked out by hand here.

The document's numbers are typed in from the seed; the correct values are hand arithmetic on
Llama-3-8B's shape (d_model 4096, 32 layers, 32 query / 8 KV heads of 128, d_ffn 14336,
vocab 128256, 2 bytes), never symroof's own output.
"""


import json
from fractions import Fraction
from typing import NamedTuple

import pytest
import sympy

import symroof
from symroof.symbols import B, S, S_c
from tests.scripts import ROOT, load_script
from tests.test_derivations import as_fraction, assert_flags_exactly, assert_words, stands_for

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
    ("H100 SXM", 989, 3350, 295), ("A10", 125, 600, 208), ("H100 PCIe", 756, 2000, 378), ("L40S", 362, 864, 419),
    ("A100 SXM", 312, 2039, 153), ("V100", 125, 900, 139), ("A100 PCIe", 312, 1555, 201),
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


# ---- every claim of the derivation, recomputed here ---------------------------------------------
# Each number is typed in as the note prints it; its correct value is worked out by hand from
# Llama-3-8B's config (tests/data/llama-3-8b.json, read below) and the datasheets; the verdict
# (does the printed number stand for the correct one, at the document's rounding?) is
# tests.test_derivations.stands_for, not symroof's Claim.holds. That each printed figure stands in
# the note, in the section its claim names, is tests/test_seed_documents.py (where the seeds are).
CONFIG = json.loads((ROOT / "tests" / "data" / "llama-3-8b.json").read_text(encoding="utf-8"))
MB, GB, TFLOP, GFLOP = 10**6, 10**9, 10**12, 10**9

FFN_PREFILL = 3 * T * D * F * 2                            # gate, up, down: 11,544,872,091,648
KEYS = SEQ + 1                                              # decode: the cache and the new token's own key
FFN_DECODE = 3 * BATCH * D * F * 2                          # 11,274,289,152
FLOPS_DECODE = 2 * BATCH * D * D * 2 + 2 * BATCH * D * KV * 2 + 2 * BATCH * NQ * KEYS * DH * 2 + FFN_DECODE
TENSOR = BATCH * D * 2                                      # one (batch, 1, d_model) bf16 activation
MOVED = BATCH * SEQ * KV * 2 * 2 + BATCH * KV * 2 * 2 + 3 * TENSOR   # KV read, KV write, 3 fused tensors
ONE = (FLOPS_PREFILL // 32, LAYER + ACT_PREFILL // 32)      # prefill at batch 1: FLOPs, bytes per layer


class Row(NamedTuple):
    printed: str        # the number as printed
    unit: int           # the printed unit, in bytes / FLOPs / FLOPs per byte
    rounding: str       # what the printed number stands for (see stands_for)
    correct: object     # the exact value, in base units, by hand


NUMBERS = {
    "model/n_q_head": Row("32", 1, "exact", CONFIG["num_attention_heads"]),
    "model/n_kv_head": Row("8", 1, "exact", CONFIG["num_key_value_heads"]),
    "model/d_head": Row("128", 1, "exact", CONFIG["hidden_size"] // CONFIG["num_attention_heads"]),
    "model/d_model": Row("4096", 1, "exact", CONFIG["hidden_size"]),
    "model/d_ffn": Row("14336", 1, "exact", CONFIG["intermediate_size"]),
    "model/num_layers": Row("32", 1, "exact", CONFIG["num_hidden_layers"]),
    "model/vocab_size": Row("128256", 1, "exact", CONFIG["vocab_size"]),
    "model/d_type": Row("2", 1, "exact", 2),          # config: bfloat16, 2 bytes
    # the matrix list's "MB" is binary: 4096·4096·2 = 33,554,432 = 32·2^20
    "weights/W_q": Row("32", MiB, "digit", W_Q),
    "weights/W_k": Row("8", MiB, "digit", W_K),
    "weights/W_v": Row("8", MiB, "digit", W_V),
    "weights/W_o": Row("32", MiB, "digit", W_O),
    "weights/W_gate": Row("128", MiB, "digit", W_FFN),    # 112 MiB
    "weights/W_up": Row("128", MiB, "digit", W_FFN),
    "weights/W_down": Row("128", MiB, "digit", W_FFN),
    "weights/embedding": Row("1", GB, "digit", EMBEDDING),  # 1.05
    "weights/layer": Row("480", MB, "digit", LAYER),
    "weights/layer-MiB": Row("480", MiB, "digit", LAYER),
    # 32 layers + one embedding = 15.01 GB; every parameter (untied LM head, norms too) = 16.06 GB
    "weights/sum-as-written": Row("16", GB, "digit", L * LAYER + EMBEDDING),
    "weights/total": Row("16", GB, "digit", ALL),
    "prefill/weights": Row("436", MB, "digit", LAYER),
    "prefill/activations": Row("940", MB, "digit", ACT_PREFILL),           # 939.5
    "prefill/bytes": Row("1300", MB, "sig:2", LAYER + ACT_PREFILL),  # 1,376
    "prefill/flops": Row("14.8", TFLOP, "digit", FLOPS_PREFILL),
    "prefill/flops-attention": Row("3.0", TFLOP, "digit", FLOPS_PREFILL - FFN_PREFILL),
    "prefill/flops-ffn": Row("12", TFLOP, "digit", FFN_PREFILL),               # 11.54
    "prefill/ai-numerator": Row("15", TFLOP, "digit", FLOPS_PREFILL),
    "prefill/ai-denominator": Row("1376", MB, "digit", LAYER + ACT_PREFILL),
    "prefill/intensity": Row("10,000", 1, "sig:1",
                             Fraction(FLOPS_PREFILL, LAYER + ACT_PREFILL)),                     # 10,789
    "prefill/intensity-b1": Row("300", 1, "sig:1", Fraction(*ONE)),  # 996
    "decode/weights": Row("480", MB,
                          "digit", LAYER),
    "decode/input": Row("262,144", 1, "exact", TENSOR),
    "decode/kv-read": Row("134,217,728", 1, "exact",
                          BATCH * SEQ * NKV * DH * 2 * 2),
    "decode/kv-write": Row("131,072", 1, "exact",
                           BATCH * 1 * NKV * DH * 2 * 2),
    "decode/attention-input": Row("262,144", 1, "exact", TENSOR),
    "decode/attention-output": Row("262,144", 1, "exact", TENSOR),
    "decode/ffn-input": Row("884,736", 1, "exact", BATCH * F * 2),
    "decode/ffn-output": Row("262,144", 1, "exact", TENSOR),
    # the note's fused accounting, as in its prefill list: KV read and write, attention in/out, FFN out
    "decode/activations": Row("135", MB, "digit", MOVED),                  # 135.1
    "decode/weights-again": Row("480", MB, "digit",
                                LAYER),
    "decode/bytes": Row("600", MB, "sig:1", LAYER + MOVED),          # 571.3
    "decode/flops": Row("15", GFLOP, "digit", FLOPS_DECODE),  # 14.496
    "decode/flops-attention": Row("3.0", GFLOP, "digit", FLOPS_DECODE - FFN_DECODE),
    "decode/flops-ffn": Row("12", GFLOP, "digit", FFN_DECODE),                  # 11.27
    "decode/intensity": Row("24", 1, "digit", Fraction(FLOPS_DECODE, LAYER + MOVED)),  # 25.37
}
# 002's hardware table against the datasheets (dense bf16/fp16 tensor FLOP/s, memory bandwidth): H100 SXM
# 1,979 TF with sparsity = 989 dense, 3.35 TB/s; H100 PCIe 1,513 sparse = 756, 2 TB/s; A100 80GB SXM 312,
# 2,039 GB/s; A100 40GB PCIe 312, 1,555 GB/s; L40S 362.05, 864 GB/s; A10 125, 600 GB/s; V100 SXM2 125, 900 GB/s
DATASHEETS = {"H100 SXM": (989, 3350), "H100 PCIe": (756, 2000), "A100 SXM": (312, 2039),
              "A100 PCIe": (312, 1555), "L40S": (Fraction("362.05"), 864), "A10": (125, 600), "V100": (125, 900)}


# 002's table as printed: compute (TFLOPs), memory bandwidth (GB/s), intensity (FLOPs/byte)
PRINTED_TABLE = {"H100 SXM": ("989", "3,350", "295"), "A10": ("125", "600", "208"),
                 "H100 PCIe": ("756", "2,000", "378"), "L40S": ("362", "864", "419"),
                 "A100 SXM": ("312", "2,039", "153"), "V100": ("125", "900", "139"),
                 "A100 PCIe": ("312", "1,555", "201")}


def _hardware_rows():
    for name, (tflops, gbps) in DATASHEETS.items():
        p_tflops, p_gbps, p_balance = PRINTED_TABLE[name]
        yield f"hw/{name}/compute", Row(p_tflops, TFLOP, "digit", tflops * TFLOP)
        yield f"hw/{name}/bandwidth", Row(p_gbps, GB, "digit", gbps * GB)
        yield f"hw/{name}/balance", Row(p_balance, 1, "digit", Fraction(tflops * TFLOP, gbps * GB))


NUMBERS.update(_hardware_rows())

# formulas per layer: (the document's formula typed in, the correct one by hand)
FORMULAS = {
    "act/formula": (B * S * D * 2 * 3 + B * S * NKV * DH * 2 * 2, 7 * B * S * D),
    "act/x6+x2": (B * S * D * 6 + B * S * D * 2, 7 * B * S * D),     # the K,V term is ×1, not ×2
    "act/x8": (B * S * D * 8, 7 * B * S * D),
    "act/x7": (B * S * D * 7, 7 * B * S * D),
    # prefill, per layer: (B·S, d) @ (d, d) for Q and O, (d, n_kv·d_h) for K and V; scores dense, as 002 counts:
    # (S, d_h) @ (d_h, S) per head and (S, S) @ (S, d_h); gate, up (d, F) and down (F, d)
    "prefill/flops_Q": (B * S * D * D * 2,
                        2 * B * S * D * (NQ * DH)),
    "prefill/flops_K": (B * S * D * (NKV * DH) * 2, 2 * B * S * D * KV),
    "prefill/flops_V": (B * S * D * (NKV * DH) * 2, 2 * B * S * D * KV),
    "prefill/flops_qk": (B * S * D * S * 2,
                         2 * B * NQ * S * S * DH),
    "prefill/flops_av": (B * S * D * S * 2,
                         2 * B * NQ * S * S * DH),
    "prefill/flops_O": (B * S * D * D * 2,
                        2 * B * S * (NQ * DH) * D),
    "prefill/flops_ffn": (3 * (B * S * D * F) * 2, 2 * B * S * D * F * 3),
    # decode, per layer: one new token, S_c cached keys plus its own (appended before attention)
    "decode/flops_Q": (B * 1 * D * D * 2, 2 * B * D * D),
    "decode/flops_K": (B * D * (NKV * DH) * 2,
                       2 * B * D * KV),
    "decode/flops_V": (B * D * (NKV * DH) * 2,
                       2 * B * D * KV),
    "decode/flops_qk": (B * NQ * 1 * S_c * DH * 2, 2 * B * NQ * (S_c + 1) * DH),
    "decode/flops_av": (B * NQ * 1 * S_c * DH * 2, 2 * B * NQ * (S_c + 1) * DH),
    "decode/flops_O": (B * 1 * D * D * 2, 2 * B * D * D),
    "decode/flops_ffn": (3 * (B * 1 * F * D * 2),
                         2 * B * D * F * 3),
}
# verdicts in words: intensity against H100 SXM's balance, 989e12 / 3.35e12 = 295.2 FLOPs/byte
H100 = Fraction(989 * TFLOP, 3350 * GB)
bound = lambda intensity: "compute-bound" if intensity > H100 else "memory-bound"
WORDS = {
    "prefill/regime": ("compute-bound",
                       bound(Fraction(FLOPS_PREFILL, LAYER + ACT_PREFILL))),
    "prefill/regime-b1": ("compute-bound",
                          bound(Fraction(*ONE))),
    "decode/regime": ("memory-bound", bound(Fraction(FLOPS_DECODE, LAYER + MOVED))),
}
# What the recomputation finds wrong, spelled out for the reader (the test derives the same set).
ERRATA = {
    "weights/W_gate", "weights/W_up", "weights/W_down", "weights/layer", "weights/layer-MiB",
    "weights/sum-as-written", "act/x6+x2", "act/x8", "prefill/bytes", "prefill/flops-attention",
    "prefill/intensity-b1", "decode/weights", "decode/ffn-input", "decode/weights-again",
    "decode/flops_qk", "decode/flops_av", "decode/flops", "decode/flops-attention", "decode/flops-ffn",
    "decode/intensity",
}


def independent_errata():
    numbers = {k for k, r in NUMBERS.items() if not stands_for(r.printed, Fraction(r.correct) / r.unit, r.rounding)}
    formulas = {k for k, (doc, correct) in FORMULAS.items() if sympy.expand(doc - correct) != 0}
    words = {k for k, (printed, correct) in WORDS.items() if printed != correct}
    return numbers | formulas | words


def test_every_claim_is_recomputed_here(d):
    assert set(NUMBERS) | set(FORMULAS) | set(WORDS) == {c.label for c in d.claims}


@pytest.mark.parametrize("label", sorted(NUMBERS))
def test_printed_number_and_correct_value(d, label):
    row, claim = NUMBERS[label], d[label]
    assert claim.printed == row.printed
    assert as_fraction(claim.value_in_unit) == Fraction(row.correct) / row.unit


@pytest.mark.parametrize("label", sorted(FORMULAS))
def test_printed_formula_and_correct_formula(d, label):
    doc, correct = FORMULAS[label]
    assert sympy.expand(d[label].printed - doc) == 0 and sympy.expand(d[label].value - correct) == 0


def test_words(d):
    assert_words(d, WORDS)


def test_the_errata_of_002_are_the_claims_that_differ(d):
    """symroof flags exactly the claims whose printed value misses the hand value at the note's rounding."""
    assert_flags_exactly(d, independent_errata(), ERRATA)
