"""The formulas of seed 000 (jamesnulliu, "Arithmetic Intensity Estimation of LLMs"),
typed in from the document and compared with symroof's under the 000 preset."""

import sympy
from sympy import Integer

import symroof
from symroof.components import Step, attention, ffn
from symroof.conventions import get
from symroof.symbols import B, H, N, S, S_c, S_i, Z

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
    """000 says each layer loads cached K *and* V of shape (B, S_c, H), but its formula counts
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
