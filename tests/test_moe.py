"""Mixture of experts: expected touched experts (against exact enumeration and Monte Carlo), weight
bytes read, expert parallelism, dense first layers, published parameter counts, and the decode
crossover batch of Mixtral-8x7B and DeepSeek-V3 on an H100 and an H200 (against hand derivations)."""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import symroof
from symroof.cost.conventions import get
from symroof.cost.moe import expected_distinct_experts
from symroof.model import params
from symroof.symbols import B, S_i

# ---- expected distinct experts ---------------------------------------------------------------------------


def enumerated_distinct(experts: int, k: int, tokens: int) -> Fraction:
    """Mean number of distinct experts over every way ``tokens`` tokens can each pick ``k`` of ``experts``."""
    choices = list(itertools.combinations(range(experts), k))
    total = count = 0
    for routing in itertools.product(choices, repeat=tokens):
        total += len(set().union(*routing))
        count += 1
    return Fraction(total, count)


@pytest.mark.parametrize("experts,k,tokens", [
    (e, k, t) for e in range(1, 6) for k in range(1, e + 1) for t in range(1, 4)] + [(6, 3, 3), (8, 2, 2)])
def test_expected_distinct_experts_equals_enumeration(experts, k, tokens):
    got = expected_distinct_experts(experts, k, tokens)
    assert got == sympy.Rational(enumerated_distinct(experts, k, tokens))


def test_expected_distinct_experts_monte_carlo_deepseek_shape():
    """256 experts, 8 per token, 64 tokens: E(1 − (31/32)^64) ≈ 222.3; 2000 seeded draws."""
    rng, draws = random.Random(0), 2000
    counts = [len({e for _ in range(64) for e in rng.sample(range(256), 8)}) for _ in range(draws)]
    mean = sum(counts) / draws
    sd = (sum((c - mean) ** 2 for c in counts) / (draws - 1)) ** 0.5
    expected = float(expected_distinct_experts(256, 8, 64))
    assert abs(expected - 256 * (1 - (31 / 32) ** 64)) < 1e-9
    assert abs(mean - expected) < 4 * sd / draws**0.5


def test_touched_experts_limits():
    touched = expected_distinct_experts(8, 2, B * S_i)
    # every expert at large batch (Missed is the power (3/4)^B, kept unevaluated: rewrite it for limit)
    assert sympy.limit(touched.subs(S_i, 1).rewrite(sympy.Pow), B, sympy.oo) == 8
    assert touched.subs({B: 1, S_i: 1}) == 2                          # one token: its k experts
    assert expected_distinct_experts(4, 4, 3) == 4                    # k = E: all, always
    with pytest.raises(ValueError, match="experts_per_token=3 must not exceed experts=2"):
        expected_distinct_experts(2, 3, 1)


# ---- weight bytes of a MoE layer ----------------------------------------------------------------------------

TINY = dict(hidden=4, layers=1, heads=2, ffn_kind="gated", experts=8, experts_per_token=2, shared_experts=1,
            expert_ffn_dim=6, vocab=5, weight_bytes=2)


def test_touched_weight_bytes_by_hand():
    arch = symroof.Arch(**TINY)
    touched = get("roofline-notes").replace(experts_read="touched")
    # one expert's up matrix: 4 x 6 = 24 weights of 2 bytes = 48 bytes
    one = symroof.decode(arch, touched, B=1, S_c=0)
    assert one.byte_terms["weights/ffn/up"] == (2 + 1) * 48          # its 2 routed experts + the shared one
    two = symroof.decode(arch, touched, B=2, S_c=0)
    assert two.byte_terms["weights/ffn/up"] == (sympy.Rational(7, 2) + 1) * 48   # 8·(1 − (3/4)^2) = 7/2
    every = symroof.decode(arch, "roofline-notes", B=2, S_c=0)
    assert every.byte_terms["weights/ffn/up"] == (8 + 1) * 48         # default: all experts
    assert one.byte_terms["weights/ffn/router"] == 4 * 8 * 2          # the router is always read
    assert one.flops == symroof.decode(arch, "roofline-notes", B=1, S_c=0).flops


def test_touched_weight_bytes_match_enumerated_routings():
    """Average, over every routing of 3 tokens to 2 of 4 experts, of the bytes of the experts used."""
    arch = symroof.Arch(**{**TINY, "experts": 4, "mlp_bias": True})
    conv = get("exact").replace(experts_read="touched")
    per_expert = 3 * (4 * 6) + 2 * 6 + 4                              # gate, up, down + their biases
    routings = list(itertools.product(itertools.combinations(range(4), 2), repeat=3))
    mean = Fraction(sum(len(set().union(*r)) + 1 for r in routings), len(routings))   # + the shared expert
    for batch, new in [(1, 3), (3, 1)]:
        cost = symroof.step(arch, conv, B=batch, S_i=new, S_c=2)
        expert_bytes = sum(v for k, v in cost.byte_terms.items() if k in
                           ("weights/ffn/gate", "weights/ffn/up", "weights/ffn/down"))
        assert expert_bytes == sympy.Rational(mean) * per_expert * 2


def test_expert_parallel_by_hand():
    arch = symroof.Arch(**TINY)
    base = get("roofline-notes")
    ep4 = symroof.decode(arch, base.replace(expert_parallel=4), B=1, S_c=0)
    assert ep4.byte_terms["weights/ffn/up"] == (8 // 4 + 1) * 48      # 2 routed experts per GPU + shared
    # touched, EP = 2, one token per GPU: the group's 2 tokens touch 8·(1 − (3/4)^2) = 7/2 experts,
    # each GPU holds half of them in expectation
    ep2 = symroof.decode(arch, base.replace(expert_parallel=2, experts_read="touched"), B=1, S_c=0)
    assert ep2.byte_terms["weights/ffn/up"] == (sympy.Rational(7, 4) + 1) * 48
    # FLOPs per GPU: its own B sequences' worth of token-expert pairs
    assert ep4.flops == ep2.flops == symroof.decode(arch, base, B=1, S_c=0).flops
    with pytest.raises(ValueError, match="expert_parallel=3 must divide experts=8"):
        symroof.decode(arch, base.replace(expert_parallel=3))
    with pytest.raises(ValueError, match="expert_parallel=0 must be a positive integer"):
        base.replace(expert_parallel=0)
    with pytest.raises(ValueError, match="experts_read='some' is not allowed"):
        base.replace(experts_read="some")


# ---- FLOPs with dense first layers, against an enumeration -------------------------------------------------


def ffn_matmuls(h, ffn, expert_ffn, experts, k, shared, layers, dense_layers, tokens):
    """Yield (term, rows, inner, cols): every FFN matmul of every token, layer by layer."""
    for layer in range(layers):
        dense = layer < dense_layers
        for _ in range(tokens):
            used = [ffn] if dense else [expert_ffn] * (k + shared)     # which experts: any k, same FLOPs
            for width in used:
                yield "ffn/gate", 1, h, width
                yield "ffn/up", 1, h, width
                yield "ffn/down", 1, width, h
        if not dense:
            yield "ffn/router", tokens, h, experts


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 6), ffn=st.integers(1, 9), expert_ffn=st.integers(1, 5), experts=st.integers(2, 6),
       data=st.data(), layers=st.integers(1, 4), batch=st.integers(1, 3), new=st.integers(1, 3))
def test_moe_flops_match_enumeration(h, ffn, expert_ffn, experts, data, layers, batch, new):
    k = data.draw(st.integers(1, experts))
    shared = data.draw(st.integers(0, 2))
    dense_layers = data.draw(st.integers(0, layers))
    arch = symroof.Arch(hidden=h, layers=layers, heads=1, ffn_dim=ffn, ffn_kind="gated", experts=experts,
                        experts_per_token=k, shared_experts=shared, expert_ffn_dim=expert_ffn,
                        dense_layers=dense_layers, vocab=3)
    expected: dict[str, int] = {}
    for name, m, kk, n in ffn_matmuls(h, ffn, expert_ffn, experts, k, shared, layers, dense_layers, batch * new):
        expected[name] = expected.get(name, 0) + 2 * m * kk * n
    cost = symroof.step(arch, "matmul", B=batch, S_i=new, S_c=1)
    assert {t: int(v) for t, v in cost.flop_terms.items() if t.startswith("ffn/")} == \
        {t: v for t, v in expected.items() if v}


def test_dense_layers_parameters_and_validation():
    arch = symroof.Arch(hidden=4, layers=3, heads=2, ffn_dim=10, ffn_kind="gated", experts=4,
                        experts_per_token=1, expert_ffn_dim=2, dense_layers=1, vocab=5)
    # attention 4·(4·4) = 64 and norms 8 per layer; dense FFN 3·4·10 = 120; MoE FFN 4·3·4·2 = 96 + router 16
    assert params.total_parameters(arch) == 3 * (64 + 8) + 120 + 2 * (96 + 16) + 5 * 4 + 4   # + tied table, final norm
    with pytest.raises(ValueError, match="dense_layers=1 needs experts > 1"):
        symroof.Arch(hidden=4, layers=3, heads=2, dense_layers=1)
    with pytest.raises(ValueError, match="dense_layers=4 must not exceed layers=3"):
        arch.replace(dense_layers=4)


# ---- published counts -------------------------------------------------------------------------------------


def test_mixtral_parameters_match_published():
    """Mixtral-8x7B: 46,702,792,704 parameters (HF model card: "46.7B"), ~12.9B active.

    Per layer: attention 2·4096·4096 + 2·4096·1024 = 41,943,040; norms 8,192; router 4096·8 = 32,768;
    one SwiGLU expert 3·4096·14336 = 176,160,768 (8 of them: 1,409,286,144).
    Total: 32·(41,943,040 + 8,192 + 32,768 + 1,409,286,144) + 2·32000·4096 + 4096 = 46,702,792,704.
    Active: the same with 2 experts: 32·(41,943,040 + 8,192 + 32,768 + 352,321,536) + 262,148,096
    = 12,879,925,248.
    """
    mixtral = symroof.models.get("mixtral-8x7b")
    assert params.total_parameters(mixtral) == 32 * (41_943_040 + 8_192 + 32_768 + 1_409_286_144) \
        + 2 * 32000 * 4096 + 4096 == 46_702_792_704
    active = params.active_parameters(mixtral)
    assert active == 32 * (41_943_040 + 8_192 + 32_768 + 352_321_536) + 262_148_096 == 12_879_925_248
    assert round(active / 1e8) == 129


def test_params_convention_counts_active_parameters():
    """003's 2·P FLOPs per token: for a MoE model, P is the active count."""
    mixtral = symroof.models.get("mixtral-8x7b")
    cost = symroof.decode(mixtral, "inference-arithmetic", B=1, S_c=0)
    assert cost.flops == 2 * 12_879_925_248


# ---- decode crossover batch on an H100 and an H200 ------------------------------------------------------------


def crossover_by_hand(flops_per_seq, weight_bytes, bytes_per_seq, peak, bandwidth):
    """Decode with weights read once per step: I(B) = a·B / (W + c·B) = π/β  =>  B* = (π/β)·W / (a − (π/β)·c)."""
    balance = sympy.Rational(peak) / sympy.Rational(bandwidth)
    return balance * weight_bytes / (flops_per_seq - balance * bytes_per_seq)


H100 = (989 * 10**12, 3350 * 10**9)     # datasheet: 989 TF bf16 dense, 3.35 TB/s
H200 = (989 * 10**12, 4800 * 10**9)     # datasheet: 989 TF bf16 dense, 4.8 TB/s


def test_mixtral_decode_crossover_by_hand():
    """Mixtral-8x7B, ``exact`` conventions reading every expert and the whole embedding table (the large-batch
    accounting), decode over an empty cache (S_c = 0, one new token).

    FLOPs per sequence, per layer: q and o 2·2·4096·4096 = 67,108,864; k and v 2·2·4096·1024 =
    16,777,216; scores + values (one causal pair) 2·2·32·128 = 16,384; 2 experts' gate, up, down
    3·2·2·4096·14336 = 704,643,072; router 2·4096·8 = 65,536; sum 788,611,072; · 32 layers
    + LM head 2·4096·32000 = 25,497,698,304.
    Bytes: weights 2·46,702,792,704 once per step; per sequence and layer 3·4096·2 activations
    + 2·1024·2 new K, V = 28,672; · 32 = 917,504.
    """
    analysis = pytest.importorskip("symroof.analysis")
    a = 32 * (67_108_864 + 16_777_216 + 16_384 + 704_643_072 + 65_536) + 2 * 4096 * 32000
    assert a == 25_497_698_304
    every = get("exact").replace(experts_read="all", embedding_read="table")
    cost = symroof.decode(symroof.models.get("mixtral-8x7b"), every)
    for gpu, (peak, bw) in (("H100-SXM", H100), ("H200", H200)):
        expected = crossover_by_hand(a, 2 * 46_702_792_704, 32 * 28_672, peak, bw)
        got = analysis.crossover_batch(cost, gpu, S_c=0)
        assert got.exists and got.value == expected
    assert round(float(crossover_by_hand(a, 2 * 46_702_792_704, 917_504, *H100))) == 1093
    assert round(float(crossover_by_hand(a, 2 * 46_702_792_704, 917_504, *H200))) == 760


def test_deepseek_v3_decode_crossover_by_hand():
    """DeepSeek-V3, ``exact`` conventions with absorbed MLA, one new token over S_c = 4096 cached.

    FLOPs per sequence, per layer (4097 causal pairs per head): q_down 2·7168·1536, q_up
    2·1536·128·192, kv_down 2·7168·576, q_absorb 2·128·128·512, scores 2·128·4097·576, values
    2·128·4097·512, v_absorb 2·128·512·128, out 2·128·128·7168; MoE layers (58): 9 experts'
    3·2·9·7168·2048 + router 2·7168·256; dense layers (3): 3·2·7168·18432; LM head 2·7168·129280.
    Bytes: weights 2·671,026,404,352; per sequence and layer 3·7168·2 activations, 4096·576·2
    latent read, 576·2 latent written.
    """
    analysis = pytest.importorskip("symroof.analysis")
    attention = (2 * 7168 * 1536 + 2 * 1536 * 128 * 192 + 2 * 7168 * 576 + 2 * 128 * 128 * 512
                 + 2 * 128 * 4097 * 576 + 2 * 128 * 4097 * 512 + 2 * 128 * 512 * 128 + 2 * 128 * 128 * 7168)
    a = (61 * attention + 58 * (3 * 2 * 9 * 7168 * 2048 + 2 * 7168 * 256) + 3 * (3 * 2 * 7168 * 18432)
         + 2 * 7168 * 129280)
    c = 61 * (3 * 7168 * 2 + 4096 * 576 * 2 + 576 * 2)
    every = get("exact").replace(mla="absorbed", experts_read="all", embedding_read="table")
    cost = symroof.decode(symroof.models.get("deepseek-v3"), every)
    for gpu, hw in (("H100-SXM", H100), ("H200", H200)):
        expected = crossover_by_hand(a, 2 * 671_026_404_352, c, *hw)
        got = analysis.crossover_batch(cost, gpu, S_c=4096)
        assert got.exists and got.value == expected
    assert round(float(crossover_by_hand(a, 2 * 671_026_404_352, c, *H100))) == 6940
    assert round(float(crossover_by_hand(a, 2 * 671_026_404_352, c, *H200))) == 3332


def test_mixtral_touched_experts_crossover_by_hand():
    """The default ``exact`` conventions read the experts a batch touches and the embedding rows it gathers.
    Mixtral-8x7B decode at S_c = 0 on an H100: per layer an expert's gate, up and down are 3·4096·14336
    weights, and B tokens touch 8·(1 − (3/4)^B) of the 8 in expectation; the rest of the weights
    (46,702,792,704 − 32·8·3·4096·14336 − the 32000·4096 table) are read once, the table by B rows of 4096.
    The intensity a·B / bytes(B) crosses the balance 989e12/3.35e12 between two integers, found here by a
    sign change computed in exact fractions: the numeric root symroof gives lies in that bracket."""
    from fractions import Fraction

    analysis = pytest.importorskip("symroof.analysis")
    a = 25_497_698_304                                     # FLOPs per sequence, as in the test above
    expert = 3 * 4096 * 14336
    rest = 46_702_792_704 - 32 * 8 * expert - 32000 * 4096
    per_seq = 917_504 + 4096 * 2                           # activations + new K, V + one embedding row
    balance = Fraction(989 * 10**12, 3350 * 10**9)

    def over(b: int) -> bool:
        touched = 8 * (1 - Fraction(3, 4) ** b)
        byte = 2 * (rest + 32 * touched * expert) + per_seq * b
        return Fraction(a * b) / byte >= balance

    first = next(b for b in range(1, 5000) if over(b))
    assert not over(first - 1)
    cost = symroof.decode(symroof.models.get("mixtral-8x7b"), "exact")
    got = analysis.crossover_batch(cost, "H100-SXM", S_c=0)
    assert got.exists and got.ceiling == first and got.bracket == (first - 1, first)
    assert first - 1 < got.value < first and "bracketed" in got.reason
    # every expert read (the large-batch accounting) puts the crossover a little later than touched
    every = get("exact").replace(experts_read="all", embedding_read="table")
    assert analysis.crossover_batch(symroof.decode(symroof.models.get("mixtral-8x7b"), every), "H100-SXM",
                                    S_c=0).value > got.value
