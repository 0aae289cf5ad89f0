"""The formulas of seed 000 (jamesnulliu, "Arithmetic Intensity Estimation of Large Language
Models"), typed in from the document and compared with symroof's under the 000 preset."""

from fractions import Fraction

import pytest
import sympy
from sympy import Integer

import symroof
from symroof.cost.components import Step, attention, ffn
from symroof.cost.conventions import get
from symroof.symbols import B, H, N, S, S_c, S_i, T, Z
from tests.scripts import ROOT, load_script
from tests.test_derivations import as_fraction, assert_flags_exactly, stands_for

CONV = get("arithmetic-intensity")
FP16 = symroof.Arch.symbolic(weight_bytes=2, act_bytes=2, kv_bytes=2)
E9 = Integer(10) ** 9


def same(a, b):
    return sympy.simplify(sympy.expand(a - b)) == 0


def test_per_layer_attention_and_ffn():
    st = Step(B, S, 0)
    assert same(attention(FP16, CONV, st).flops, 8 * B * S * H**2 + 4 * B * S**2 * H)
    assert same(ffn(FP16, CONV, st).flops, 16 * B * S * H**2)
    # term by term, as the document lists them
    terms = attention(FP16, CONV, st).flop_terms
    assert same(terms["attention/q"] + terms["attention/k"] + terms["attention/v"], 6 * B * S * H**2)
    assert same(terms["attention/scores"], 2 * B * S**2 * H)
    assert same(terms["attention/values"], 2 * B * S * H * S)
    assert same(terms["attention/out"], 2 * B * S * H**2)


def test_prefill_and_decode_flops():
    assert same(symroof.prefill(FP16, CONV).flops, N * (24 * B * S * H**2 + 4 * B * S**2 * H))
    assert same(symroof.step(FP16, CONV).flops, N * (24 * B * S_i * H**2 + 4 * B * S_i * S_c * H))
    assert same(symroof.decode(FP16, CONV).flops, N * (24 * B * H**2 + 4 * B * S_c * H))


def test_bytes_as_the_document_writes_them():
    pre, dec = symroof.prefill(FP16, CONV), symroof.step(FP16, CONV)
    assert same(pre.bytes, 2 * Z * E9 + 4 * N * B * S * H)
    assert same(dec.bytes, 2 * Z * E9 + 8 * N * B * S_i * H + 2 * N * B * S_c * H)
    # the KV term alone: N (B S_c H + 2 B S_i H) * 2
    assert same(dec.bytes_of("kv"), N * (B * S_c * H + 2 * B * S_i * H) * 2)
    assert same(dec.bytes_of("activations"), 4 * N * B * S_i * H)


def test_intensities():
    pre, dec = symroof.prefill(FP16, CONV), symroof.step(FP16, CONV)
    assert same(pre.intensity, N * (24 * B * S * H**2 + 4 * B * S**2 * H) / (2 * Z * E9 + 4 * N * B * S * H))
    assert same(dec.intensity, N * (24 * B * S_i * H**2 + 4 * B * S_i * S_c * H)
                / (2 * Z * E9 + 8 * N * B * S_i * H + 2 * N * B * S_c * H))


def test_corrected_kv_reads_both_k_and_v():
    """000's text has each layer load the cached K and V, both (B, S_c, H), but its formula counts
    B·S_c·H elements once. Reading both doubles the S_c term: 2Z·10^9 + 8NBS_iH + 4NBS_cH."""
    fixed = symroof.step(FP16, CONV.replace(kv_read="k+v"))
    assert same(fixed.bytes, 2 * Z * E9 + 8 * N * B * S_i * H + 4 * N * B * S_c * H)
    difference = fixed.bytes - symroof.step(FP16, CONV).bytes
    assert same(difference, 2 * N * B * S_c * H)


def test_numbers_stay_exact_integers():
    cost = symroof.prefill(FP16, CONV).subs(B=8, S=1024, H=5120, N=40, Z=13)
    assert isinstance(cost.flops, sympy.Integer) and isinstance(cost.bytes, sympy.Integer)
    # by hand: 40 * (24*8*1024*5120^2 + 4*8*1024^2*5120)
    assert cost.flops == 40 * (24 * 8 * 1024 * 5120**2 + 4 * 8 * 1024**2 * 5120)
    assert cost.bytes == 2 * 13 * 10**9 + 4 * 40 * 8 * 1024 * 5120
    assert isinstance(cost.intensity, sympy.Rational)


# ---- every claim of the derivation, recomputed here ---------------------------------------------
# Each formula as 000 prints it is typed in here beside the correct one derived by hand; each number
# is typed in as printed with its correct value from the A100 datasheet or Llama-2-13B's config. The
# verdict is worked out here (formulas: equal after expansion; numbers: stands_for), not by symroof.
# That each printed figure stands in 000's text is tests/test_seed_documents.py (where the seeds are).
TFLOP, GB = 10**12, 10**9

# correct, by hand, for fp16 (2 bytes) under 000's choices (MHA, FFN 4H, dense scores, weights 2·Z·10^9):
FLOPS_PREFILL = N * (6 * B * S * H**2 + 2 * B * S**2 * H + 2 * B * S**2 * H + 2 * B * S * H**2 + 16 * B * S * H**2)
FLOPS_DECODE_000 = N * (24 * B * S_i * H**2 + 4 * B * S_i * S_c * H)   # each new token scores the S_c cached keys
KV = N * (2 * B * S_c * H + 2 * B * S_i * H) * 2          # read K and V of S_c tokens, write K and V of S_i
BYTES_PREFILL = 2 * Z * E9 + 2 * N * B * S * H * 2 + N * 2 * B * S * H * 2   # + the prompt's K and V, written
BYTES_DECODE = 2 * Z * E9 + 2 * N * B * S_i * H * 2 + KV

FORMULAS = {   # label: (000's formula typed in, the correct one by hand)
    "flops/qkv": (6 * B * S * H**2, 3 * (2 * B * S * H * H)),                    # (B·S, H) @ (H, H), three times
    "flops/scores": (2 * B * S**2 * H, 2 * B * S * H * S),                       # (S, H) @ (H, S) per sequence
    "flops/values": (2 * B * S * H * S, 2 * B * S * S * H),
    "flops/out": (2 * B * S * H**2, 2 * B * S * H * H),
    "flops/attention": (8 * B * S * H**2 + 4 * B * S**2 * H,
                        6 * B * S * H**2 + 2 * B * S**2 * H + 2 * B * S**2 * H + 2 * B * S * H**2),
    "flops/ffn": (16 * B * S * H**2, 2 * B * S * H * (4 * H) + 2 * B * S * (4 * H) * H),   # (H, 4H) and (4H, H)
    "flops/prefill": (N * (24 * B * S * H**2 + 4 * B * S**2 * H), FLOPS_PREFILL),
    # the formula as 000 means it (the preset's keys='cached' reproduces it) ...
    "flops/decode": (N * (24 * B * S_i * H**2 + 4 * B * S_i * S_c * H), FLOPS_DECODE_000),
    # ... and what a kernel does: the S_i new K, V are appended first, so S_c + S_i keys per query (dense)
    "flops/decode-own-keys": (N * (24 * B * S_i * H**2 + 4 * B * S_i * S_c * H),
                              N * (24 * B * S_i * H**2 + 4 * B * S_i * (S_c + S_i) * H)),
    "bytes/weights": (2 * Z * E9, Z * E9 * 2),
    "bytes/act-layer": (B * S * H * 2, B * S * H * 2),
    "bytes/act-total": (4 * N * B * S * H, 2 * N * B * S * H * 2),      # each layer: input read, output written
    "bytes/kv": (N * (B * S_c * H + 2 * B * S_i * H) * 2, KV),
    "bytes/prefill": (2 * Z * E9 + 4 * N * B * S * H, BYTES_PREFILL),
    "bytes/decode": (2 * Z * E9 + 8 * N * B * S_i * H + 2 * N * B * S_c * H, BYTES_DECODE),
    "ai/prefill": (N * (24 * B * S * H**2 + 4 * B * S**2 * H) / (2 * Z * E9 + 4 * N * B * S * H),
                   FLOPS_PREFILL / BYTES_PREFILL),
    # the claim isolates the KV erratum: 000's own FLOPs (the own-keys gap is flops/decode-own-keys)
    "ai/decode": (N * (24 * B * S_i * H**2 + 4 * B * S_i * S_c * H) / (2 * Z * E9 + 8 * N * B * S_i * H
                                                                      + 2 * N * B * S_c * H),
                  FLOPS_DECODE_000 / BYTES_DECODE),
    "comment/layer": (12 * H**2, 4 * H * H + 2 * H * 4 * H),
    "comment/attention": (4 * H**2, 4 * H * H),        # W_Q, W_K, W_V, W_O
    "comment/ffn": (8 * H**2, H * 4 * H + 4 * H * H),
    # 001 divides H and the weights by the GPU count under TP; read literally (H -> H/T), against tensor
    # parallelism, which splits every weight matrix once: FLOPs and weights / T
    "tp/flops": (FLOPS_PREFILL.subs(H, H / T), FLOPS_PREFILL / T),
    "tp/weights": (2 * Z * E9 / T, Z * E9 * 2 / T),
}
NUMBERS = {   # label: (printed, unit, rounding, correct in base units)
    # A100 80GB datasheet: 312 TFLOP/s bf16/fp16 dense, 2,039 GB/s
    "roofline/peak": ("312", TFLOP, "digit", 312 * TFLOP),
    "roofline/bandwidth": ("2039", GB, "digit", 2039 * GB),
    "roofline/balance": ("153", 1, "digit", Fraction(312 * TFLOP, 2039 * GB)),                    # 153.02
    # 40 layers of 12·5120² fp16 weights; Llama-2-13B's embedding and untied LM head, 32,000 × 5,120 each
    "comment/layers-bytes": ("25.17", GB, "digit", 40 * 12 * 5120**2 * 2),
    "comment/total": ("26", GB, "digit", 40 * 12 * 5120**2 * 2 + 2 * 32000 * 5120 * 2),          # 25.82 GB
}
ERRATA = {"flops/decode-own-keys", "bytes/kv", "bytes/decode", "ai/decode", "tp/flops", "bytes/prefill",
          "ai/prefill"}
# 000's prefill bytes leave out the K and V the prompt writes to the cache, 2·N·B·S·H·2 bytes (its own
# decode term counts them for the S_i new tokens: 8·N·B·S_i·H = 4 of activations + 4 of KV written):
# the prefill total is 2Z·10^9 + 8·N·B·S·H, and the derivation flags bytes/prefill and ai/prefill.


@pytest.fixture(scope="module")
def d():
    return load_script(ROOT / "derivations" / "seed_000.py", "seed_000_under_test").build()


def independent_errata():
    formulas = {k for k, (doc, correct) in FORMULAS.items() if sympy.simplify(doc - correct) != 0}
    numbers = {k for k, (printed, unit, rounding, correct) in NUMBERS.items()
               if not stands_for(printed, Fraction(correct, unit), rounding)}
    return formulas | numbers


def test_every_claim_is_recomputed_here(d):
    assert set(FORMULAS) | set(NUMBERS) == {c.label for c in d.claims}


@pytest.mark.parametrize("label", sorted(FORMULAS))
def test_printed_formula_and_correct_formula(d, label):
    doc, correct = FORMULAS[label]
    assert same(d[label].printed, doc) and same(d[label].value, correct)


@pytest.mark.parametrize("label", sorted(NUMBERS))
def test_printed_number_and_correct_value(d, label):
    printed, unit, _, correct = NUMBERS[label]
    assert d[label].printed == printed
    assert as_fraction(d[label].value_in_unit) == Fraction(correct, unit)


def test_the_errata_of_000_are_the_claims_that_differ(d):
    """symroof flags exactly the claims that differ from the hand derivation."""
    assert_flags_exactly(d, independent_errata(), ERRATA)


def test_prefill_bytes_count_the_kv_written(d):
    assert d["bytes/prefill"].is_erratum and d["ai/prefill"].is_erratum
