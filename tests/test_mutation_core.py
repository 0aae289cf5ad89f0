"""Values the whole-core mutation run (benchmarks/mutation.py --core; docs/mutation-report.md) found
unasserted: code no test executed, or executed without checking its number. Each expected value is
derived by hand in the test (or taken from a published config), never printed by symroof."""

from __future__ import annotations

import dataclasses
import signal

import pytest
import sympy

import symroof
from symroof import symbols as sym
from symroof.analysis import capacity, roofline, timing
from symroof.cost import Cost, components, conventions, mla
from symroof.cost.moe import Missed
from symroof.cost.step import Step
from symroof.model import params, precision
from symroof.model.layers import FFN, Attention, Layer, Matrix
from symroof.symbols import B, beta, pi

# ---- roofline: crossovers of intensities written by hand -----------------------------------------------------


def test_crossover_of_an_intensity_with_a_negative_denominator():
    """I = −B/(−B − 1) = B/(B + 1) and balance 2/3: B/(B + 1) = 2/3 at B = 2; I(1) = 1/2 < 2/3, so
    memory-bound below 2 and compute-bound beyond. (The denominator's sign must be turned positive
    first: as written, the numerator and denominator are both negative.)"""
    c = roofline.crossover(-B / (-B - 1), sympy.Rational(2, 3))
    assert c.exists and c.value == 2 and c.above == "compute" and c.limit == 1


def test_limit_of_a_falling_intensity_is_zero():
    """I = 1/(B + 1): constant FLOPs over bytes growing like B, so I → 0 and a large B is memory-bound."""
    lim = roofline.intensity_limit(1 / (B + 1), B)
    assert lim.value == 0
    assert lim.explanation == ("as B → ∞ the FLOPs stay constant and the bytes grow like B, so the intensity "
                               "falls to 0: a large enough B is memory-bound")


def test_crossover_below_one_with_lower_zero():
    """I = B/(B + 1), balance 1/3: B/(B + 1) = 1/3 at B = 1/2. From lower = 0 (I(0) = 0 < 1/3) that is a
    crossover into the compute-bound regime; from the default lower = 1 (I(1) = 1/2 ≥ 1/3) there is none."""
    c = roofline.crossover(B / (B + 1), sympy.Rational(1, 3), lower=0)
    assert c.exists and c.value == sympy.Rational(1, 2) and c.above == "compute"
    assert c.reason == "memory-bound for B < 1/2 (≈ 0.5), compute-bound beyond (balance 1/3 (≈ 0.333333))"
    assert not roofline.crossover(B / (B + 1), sympy.Rational(1, 3)).exists


def test_no_crossover_for_an_intensity_without_the_unknown():
    c = roofline.crossover(sympy.Integer(5), 3)
    assert not c.exists and c.value is None and c.limit == 5


def test_no_crossover_when_the_intensity_is_the_balance_everywhere():
    """(2B + 2)/(B + 1) is 2 for every B: with balance 2 there is no single crossover."""
    c = roofline.crossover((2 * B + 2) / (B + 1), 2)
    assert not c.exists and c.value is None and "for every B" in c.reason


def test_bracketed_crossover_exactly_at_the_start():
    """I = 1 − (1/2)^B is not a ratio of polynomials in B; at B = 1 it is 1/2, the balance: the crossover
    is B = 1 itself, compute-bound beyond (I rises towards 1)."""
    c = roofline.crossover(1 - sympy.Rational(1, 2) ** B, sympy.Rational(1, 2))
    assert c.exists and c.unknown == B and c.value == 1 and c.above == "compute"


def test_symbolic_crossover_from_compute_into_memory():
    """I = (k·B + 4)/(B + 1), balance 2: I(0) = 4 > 2; I = 2 where k·B + 4 = 2B + 2, B* = 2/(2 − k), positive
    exactly when the limit k is below 2; beyond B* the step is memory-bound."""
    k = sympy.Symbol("k", positive=True)
    c = roofline.crossover((k * B + 4) / (B + 1), 2)
    assert c.exists and c.above == "memory" and c.limit == k
    assert sympy.simplify(c.value - 2 / (2 - k)) == 0
    assert c.condition == sympy.Lt(k, 2)
    assert c.reason == ("intensity = 2 at B = -2/(k - 2); B* > 0 exactly when k < 2 (if B* < 1, the step is "
                        "memory-bound already at B = 1; compute-bound below B*)")


def test_symbolic_crossover_whose_condition_is_false():
    """I = (3B + 4 + s)/(B + 1), balance 2, s > 0: I − 2 = (B + 2 + s)/(B + 1) > 0 for every B ≥ 0, so the
    root −(2 + s) is never positive: no crossover (the condition, limit 3 < balance 2, is false)."""
    s = sympy.Symbol("s", positive=True)
    c = roofline.crossover((3 * B + 4 + s) / (B + 1), 2)
    assert not c.exists and c.value is None and c.condition is sympy.false


def test_degree_of_a_non_polynomial_byte_term_is_minus_one():
    """A byte term that is not polynomial in the unknown has no degree (-1): it neither leads nor is fixed."""
    assert roofline._degree(sympy.Min(B, 4), B) == -1
    assert roofline._degree(3 * B**2 + B, B) == 2


# ---- layers and arch ---------------------------------------------------------------------------------------


def test_matrix_parameters_with_bias_and_copies():
    """Four copies of an (8, 32) matrix with a bias of 32 each: 4·(8·32 + 32) = 1152."""
    assert Matrix("ffn/up", 8, 32, bias=True, copies=4, use="routed").parameters == 1152
    assert Matrix("ffn/up", 8, 32).parameters == 256


def test_mla_head_dim_defaults_to_nope_plus_rope():
    """DeepSeek-V3's config.json: qk_nope_head_dim 128, qk_rope_head_dim 64, so a query/key head is 192 wide."""
    a = Attention(heads=128, kv_lora_rank=512, q_lora_rank=1536, qk_nope_head_dim=128, qk_rope_head_dim=64,
                  v_head_dim=128)
    assert a.head_dim == 192


def test_kv_cache_width_of_gqa():
    """Llama-3-8B (config.json: 8 KV heads of 128): K and V cache 2·8·128 = 2048 elements per token and layer."""
    assert symroof.models.get("llama-3-8b").kv_cache_width == 2048


def test_moe_layers_of_deepseek_v3():
    """DeepSeek-V3: 61 layers, first_k_dense_replace = 3, so 58 MoE layers."""
    assert symroof.models.get("deepseek-v3").moe_layers == 58
    assert symroof.models.get("llama-3-8b").moe_layers == 0


def test_model_bytes_of_a_nominal_size():
    """A model given a nominal 7 billion parameters at 2 bytes holds 14·10^9 bytes of weights."""
    arch = symroof.models.get("llama-3-8b").replace(params_b=7, weight_bytes=2)
    assert capacity.model_bytes(arch) == 14 * 10**9


# ---- the dense layer of a MoE model, when it is not the first group ----------------------------------------


def _moe_then_dense() -> symroof.Arch:
    attn = Attention(heads=2, kv_heads=2, head_dim=4)
    moe = Layer(attn, FFN(16, experts=4, experts_per_token=2))
    dense = Layer(attn, FFN(32))
    return symroof.Arch(hidden=8, layers=2, heads=2, kv_heads=2, head_dim=4, ffn_dim=32, experts=4,
                        experts_per_token=2, layout=((1, moe), (1, dense)))


def test_dense_ffn_of_a_model_whose_dense_layer_comes_last():
    """dense=True picks the dense layer wherever it is in the layout: its gated FFN of 32 on H = 8 makes
    2·B·S_i·8·32 FLOPs for each of gate, up and down, 3·512 = 1536 per token."""
    arch = _moe_then_dense()
    step = Step(batch=1, new=1, cached=0)
    cost = components.ffn(arch, conventions.get("exact"), step, dense=True)
    assert cost.flops == 3 * 2 * 8 * 32


def test_dense_ffn_of_an_all_moe_model_is_its_moe_layer():
    """Mixtral has no dense layer: dense=True falls back to its one (MoE) layer: 2 of 8 experts, each a
    gated FFN of 14336 on H = 4096, and the router (4096, 8): 2·(2·3·4096·14336) + 2·4096·8 per token."""
    arch = symroof.models.get("mixtral-8x7b")
    step = Step(batch=1, new=1, cached=0)
    cost = components.ffn(arch, conventions.get("exact"), step, dense=True)
    assert cost.flops == 2 * (2 * 3 * 4096 * 14336) + 2 * 4096 * 8


# ---- MoE ---------------------------------------------------------------------------------------------------


def test_missed_of_a_float_share_is_its_power():
    """The chance an expert is missed by t tokens is share^t: 0.5 over 3 tokens is 0.125."""
    assert Missed(sympy.Float(0.5), 3) == sympy.Float(0.125)


# ---- parameter counts of a tiny model, by hand -------------------------------------------------------------


def _tiny_biased() -> symroof.Arch:
    """H = 8, one layer, 2 heads, vocab 10 (tied), LayerNorm, every bias and an LM-head bias."""
    return symroof.Arch(hidden=8, layers=1, heads=2, vocab=10, norm="layernorm", qkv_bias=True, out_bias=True,
                        mlp_bias=True, head_bias=True)


def test_total_parameters_with_and_without_biases_norms_embeddings():
    """Matrices q, k, v, out 4·8·8 = 256 and up, down 2·8·32 = 512; biases 3·8 + 8 + 32 + 8 = 72; two
    LayerNorms 2·2·8 = 32; embedding 80, the tied head's bias 10, the final LayerNorm 16. Total 978;
    without biases 978 − 72 − 10 = 896; without norms 978 − 32 − 16 = 930; without the embedding and head
    768 + 72 + 32 + 16 = 888 (the final norm stays), and without norms either 768 + 72 = 840."""
    arch = _tiny_biased()
    assert params.total_parameters(arch) == 978
    assert params.total_parameters(arch, biases=False) == 896
    assert params.total_parameters(arch, norms=False) == 930
    assert params.total_parameters(arch, embeddings=False) == 888
    assert params.total_parameters(arch, embeddings=False, norms=False) == 840


def test_expert_parameters_count_the_bias_by_default():
    """The dense FFN's up (8, 32) with a bias of 32 is 288; down (32, 8) with 8 is 264."""
    assert params.expert_parameters(_tiny_biased()) == {"ffn/up": 288, "ffn/down": 264}
    assert params.expert_parameters(_tiny_biased(), biases=False) == {"ffn/up": 256, "ffn/down": 256}


def _tiny_moe(**kw) -> symroof.Arch:
    """H = 8, one layer, 2 heads, vocab 10 (tied), RMSNorm; 4 experts of a plain FFN of 32 with biases, 2 active."""
    return symroof.Arch(hidden=8, layers=1, heads=2, vocab=10, experts=4, experts_per_token=2, mlp_bias=True, **kw)


def test_active_parameters_of_a_moe_model_with_biases():
    """One expert: up 8·32 + 32 = 288, down 32·8 + 8 = 264, 552. Total: attention 4·64 = 256, experts
    4·552 = 2208, router 8·4 = 32, norms 2·8 + 8 = 24, table 80: 2600. Active: 2600 − 2·552 = 1496.
    Without biases one expert is 512: 2440 − 2·512 = 1416."""
    arch = _tiny_moe()
    assert params.total_parameters(arch) == 2600
    assert params.active_parameters(arch) == 1496
    assert params.active_parameters(arch, biases=False) == 1416


def test_active_parameters_with_two_moe_groups_of_different_widths():
    """Two MoE layers of 4 experts, 2 active: plain FFNs of 16 and of 32 on H = 8 (no biases). The idle
    experts are 2·(2·8·16) = 512 and 2·(2·8·32) = 1024 parameters: 1536 fewer active than in total."""
    attn = Attention(heads=2, kv_heads=2, head_dim=4)
    narrow = Layer(attn, FFN(16, gated=False, experts=4, experts_per_token=2))
    wide = Layer(attn, FFN(32, gated=False, experts=4, experts_per_token=2))
    arch = symroof.Arch(hidden=8, layers=2, heads=2, vocab=10, experts=4, experts_per_token=2,
                        layout=((1, narrow), (1, wide)))
    assert params.total_parameters(arch) - params.active_parameters(arch) == 1536


def test_layer_parameters_pick_the_moe_layer_wherever_it_is():
    """A layout of a MoE layer (4 experts of a gated FFN of 16) then a dense one (gated, 32): by default the
    MoE layer, 4·8·16 = 512 per matrix; dense=True the dense one, 8·32 = 256."""
    arch = _moe_then_dense()
    assert params.layer_parameters(arch, norms=False)["ffn/up"] == 512
    assert params.layer_parameters(arch, norms=False, dense=True)["ffn/up"] == 256


def _two_attention_groups() -> symroof.Arch:
    """A dense model whose two layers differ: 2 heads of 4 then 4 heads of 4, on H = 16 (FFN 32, no MoE)."""
    first = Layer(Attention(heads=2, kv_heads=2, head_dim=4), FFN(32))
    last = Layer(Attention(heads=4, kv_heads=4, head_dim=4, sinks=True), FFN(32))
    return symroof.Arch(hidden=16, layers=2, heads=4, kv_heads=4, head_dim=4, ffn_dim=32, vocab=10,
                        layout=((1, first), (1, last)))


def test_components_default_to_the_last_group():
    """Without ``layer``, a component costs the last group's layer (components.layer's docstring): its
    Q projection (B·S_i, 16) @ (16, 4·4) makes 2·16·16 = 512 FLOPs per token (the first layer's: 256)."""
    cost = components.attention_projections(_two_attention_groups(), conventions.get("exact"),
                                            Step(batch=1, new=1, cached=0))
    assert cost.flops_of("attention/q") == 2 * 16 * 16


def test_weight_bytes_count_each_group_its_own_sinks():
    """Only the last layer keeps sinks: 4 heads at 2 bytes = 8 bytes more than the same model without them.
    (Each group's extras are its own, not the default layer's.)"""
    arch = _two_attention_groups()
    plain = Layer(Attention(heads=4, kv_heads=4, head_dim=4), FFN(32))
    without = arch.replace(layout=((1, arch.layout[0][1]), (1, plain)))
    assert params.weight_bytes(arch) - params.weight_bytes(without) == 4 * 2
    swapped = arch.replace(layout=(arch.layout[1], arch.layout[0]))     # sinks in the first layer: the same
    assert params.weight_bytes(swapped) == params.weight_bytes(arch)


# ---- components: one layer of a model whose groups differ, the attention kernel, shared experts --------------

EXACT = conventions.get("exact")


def test_layer_of_a_given_group_costs_that_group():
    """The first layer of `_two_attention_groups` (2 heads of 4, per-head q/k norms; H = 16, gated FFN of
    32, 2 bytes everywhere) at B = 1, S_i = 1, S_c = 3, under "exact" (causal, all weights, fused
    activations, K and V read and written):
    Q, K, V, O: 2·16·8 = 256 FLOPs each, 16·8·2 = 256 bytes each; scores and values 2·n_h·pairs·d_h with
    pairs S_i·S_c + S_i(S_i+1)/2 = 4: 2·2·4·4 = 64; gate, up, down 2·16·32 = 1024 FLOPs, 1024 bytes;
    norms (2·16 + q and k norms 2·4)·2 = 80 bytes; activations 3·16·2 = 96; KV read 2·8·3·2 = 96, written
    2·8·1·2 = 32. (The last layer, 4 heads, would double the attention terms.)"""
    first = Layer(Attention(heads=2, kv_heads=2, head_dim=4, qk_norm="head"), FFN(32))
    last = _two_attention_groups().layout[1][1]
    arch = _two_attention_groups().replace(layout=((1, first), (1, last)))
    cost = components.layer(arch, EXACT, Step(batch=1, new=1, cached=3), layer=first)
    assert cost.flop_terms == {"attention/q": 256, "attention/k": 256, "attention/v": 256, "attention/out": 256,
                               "attention/scores": 64, "attention/values": 64,
                               "ffn/gate": 1024, "ffn/up": 1024, "ffn/down": 1024}
    assert cost.byte_terms == {"weights/attention/q": 256, "weights/attention/k": 256, "weights/attention/v": 256,
                               "weights/attention/out": 256, "weights/ffn/gate": 1024, "weights/ffn/up": 1024,
                               "weights/ffn/down": 1024, "weights/norm": 80, "activations": 96, "kv/read": 96,
                               "kv/write": 32}
    # a flash kernel, blocks of 2: the one query reads the 3 cached keys and its own, 1 beyond the ideal
    # read, K and V of 2·4 at 2 bytes: 32 (the last layer's: 64)
    flash = components.layer(arch, FLASH, Step(batch=1, new=1, cached=3), layer=first)
    assert flash.bytes_of("attention/kv") == 1 * 2 * 8 * 2


def _dense_then_moe() -> symroof.Arch:
    """DeepSeek's shape in small: a dense layer (gated FFN of 32) then a MoE one (4 experts of 16, 2 active,
    plus 2 shared experts of 16); H = 8, 2 heads of 4."""
    attn = Attention(heads=2, kv_heads=2, head_dim=4)
    dense = Layer(attn, FFN(32))
    moe = Layer(attn, FFN(16, experts=4, experts_per_token=2, shared_experts=2))
    return symroof.Arch(hidden=8, layers=2, heads=2, kv_heads=2, head_dim=4, ffn_dim=32, experts=4,
                        experts_per_token=2, vocab=10, layout=((1, dense), (1, moe)))


def test_layer_and_ffn_default_to_the_moe_layer_and_dense_picks_the_dense_one():
    """Per token: the MoE layer's FFN runs 2 routed and 2 shared experts, each gate, up, down of 2·8·16,
    and the router 2·8·4: 4·3·256 + 64 = 3136 FLOPs; the dense layer's FFN 3·2·8·32 = 1536."""
    arch, step = _dense_then_moe(), Step(batch=1, new=1, cached=0)
    ffn_flops = lambda c: sum(v for k, v in c.flop_terms.items() if k.startswith("ffn/"))
    assert ffn_flops(components.ffn(arch, EXACT, step)) == 3136
    assert ffn_flops(components.layer(arch, EXACT, step)) == 3136
    assert ffn_flops(components.ffn(arch, EXACT, step, dense=True)) == 1536
    assert ffn_flops(components.layer(arch, EXACT, step, dense=True)) == 1536


def test_moe_weights_list_the_router_first():
    """The router runs first, so its weights come first among the FFN's bytes."""
    cost = components.ffn(_dense_then_moe(), EXACT, Step(batch=1, new=1, cached=0))
    assert next(iter(cost.byte_terms)) == "weights/ffn/router"


FLASH = dataclasses.replace(EXACT, attention_kernel="flash", query_block=2)


def _sliding(window: int = 4) -> symroof.Arch:
    return symroof.Arch(hidden=16, layers=1, heads=2, kv_heads=2, head_dim=4, ffn_dim=32, vocab=10, window=window)


def test_flash_kernel_reads_of_a_sliding_layer():
    """Window 4, query blocks of 2, S_c = 10, S_i = 4: queries 11, 12 need keys 8..12, queries 13, 14 keys
    10..14, 5 each (W + b − 1): 10 key reads, of which the 3 cached keys the window keeps are the
    ideal read already counted; the rest at 2·8 elements (K and V of 2 heads of 4) and 2 bytes:
    (10 − 3)·16·2 = 224. An empty cache and S_i = 2: one block needs keys 1..2, 2 reads: 2·16·2 = 64."""
    assert components.attention_kernel(_sliding(), FLASH, Step(batch=1, new=4, cached=10)).byte_terms == {
        "attention/kv": 224}
    assert components.attention_kernel(_sliding(), FLASH, Step(batch=1, new=2, cached=0)).byte_terms == {
        "attention/kv": 64}


def test_flash_kernel_reads_of_a_causal_layer_and_of_cached_keys():
    """Full attention, blocks of 2, S_c = 4, S_i = 3: block 1 (queries 5, 6) needs keys up to 6, block 2
    (query 7) up to 7: 13 reads, 4 of them the ideal read: (13 − 4)·16·2 = 288. With keys="cached" (000's
    decode: the new tokens attend the cached ones only) each block reads the 4 cached keys: 2·4 = 8 reads,
    (8 − 4)·16·2 = 128. With kv_read="one" (one of K, V read) the causal case halves: 144."""
    full = symroof.Arch(hidden=16, layers=1, heads=2, kv_heads=2, head_dim=4, ffn_dim=32, vocab=10)
    step = Step(batch=1, new=3, cached=4)
    assert components.attention_kernel(full, FLASH, step).bytes == 288
    assert components.attention_kernel(full, dataclasses.replace(FLASH, keys="cached"), step).bytes == 128
    assert components.attention_kernel(full, dataclasses.replace(FLASH, kv_read="one"), step).bytes == 144


def test_flash_query_block_rounds_the_elements_down_and_the_block_up():
    """B_r = min(ceil(M / 4d), d) with M whole elements: 5121 bytes at 2 bytes hold 2560 elements, 2560/512 = 5;
    5200 bytes hold 2600, 2600/512 ≈ 5.08, rounded up to 6."""
    assert components.flash_query_block(5121, 128) == 5
    assert components.flash_query_block(5200, 128) == 6


# ---- MLA parameters and 003's term -------------------------------------------------------------------------


def test_mla_parameters_with_biases_in_a_model_whose_first_layer_is_not_mla():
    """A tiny MLA layer (H = 16, 2 heads, q_lora_rank 6, kv_lora_rank 4, nope 4, rope 2, v 4) with
    attention_bias, as DeepSeek-V3 in transformers: q_a_proj (16, 6) + 6, q_b_proj (6, 2·6), kv_a_proj
    (16, 4 + 2) + 6, kv_b_proj (4, 2·(4 + 4)), o_proj (2·4, 16). Its model's first layer is plain attention:
    the MLA matrices are the MLA layer's."""
    mla_layer = Layer(Attention(heads=2, kv_lora_rank=4, q_lora_rank=6, qk_nope_head_dim=4, qk_rope_head_dim=2,
                                v_head_dim=4, qkv_bias=True), FFN(32))
    plain = Layer(Attention(heads=2, kv_heads=2, head_dim=4), FFN(32))
    arch = symroof.Arch(hidden=16, layers=2, heads=2, vocab=10, ffn_dim=32, layout=((1, plain), (1, mla_layer)))
    assert mla.parameters(arch) == {"attention/q_down": 16 * 6 + 6, "attention/q_up": 6 * 12,
                                    "attention/kv_down": 16 * 6 + 6, "attention/kv_up": 4 * 16,
                                    "attention/out": 8 * 16}
    assert mla.parameters(arch, biases=False)["attention/kv_down"] == 16 * 6


def test_003_names_its_one_flop_term_params():
    """003 counts 2·P FLOPs per token as one term, "params": Mixtral at a nominal 47 billion, 2·47·10^9."""
    mixtral = symroof.models.get("mixtral-8x7b").replace(params_b=47)
    assert symroof.decode(mixtral, "inference-arithmetic", B=1, S_c=0).flop_terms == {"params": 2 * 47 * 10**9}


def test_mla_attention_flops_by_hand_absorbed_and_naive():
    """mla.attention on a tiny MLA layer (H = 16, n_h = 2, d_q = 6, d_c = 4, d_nope = 4, d_R = 2, d_v = 4),
    B = 2, S_i = 1, S_c = 3 (t = 2 tokens; causal pairs 1·3 + 1 = 4; keys 3 + 1 = 4):
    q_down 2·2·16·6 = 384, q_up 2·2·6·2·6 = 288, kv_down 2·2·16·6 = 384, out 2·2·2·4·16 = 512.
    Absorbed: q_absorb 2·2·2·4·4 = 128; scores 2·B·n_h·pairs·(d_c + d_R) = 2·2·2·4·6 = 192, values
    2·2·2·4·d_c = 128; v_absorb 2·2·2·4·4 = 128. Naive: kv_up over the keys 2·B·keys·d_c·n_h·(d_nope + d_v)
    = 2·2·4·4·2·8 = 1024; scores at d_nope + d_R = 6: 192; values at d_v = 4: 128."""
    layer = Layer(Attention(heads=2, kv_lora_rank=4, q_lora_rank=6, qk_nope_head_dim=4, qk_rope_head_dim=2,
                            v_head_dim=4), FFN(32))
    arch = symroof.Arch(hidden=16, layers=1, heads=2, vocab=10, ffn_dim=32, layout=((1, layer),))
    step = Step(batch=2, new=1, cached=3)
    common = {"attention/q_down": 384, "attention/q_up": 288, "attention/kv_down": 384, "attention/out": 512}
    absorbed = mla.attention(arch, layer.attention, dataclasses.replace(EXACT, mla="absorbed"), step)
    assert absorbed.flop_terms == {**common, "attention/q_absorb": 128, "attention/scores": 192,
                                   "attention/values": 128, "attention/v_absorb": 128}
    naive = mla.attention(arch, layer.attention, dataclasses.replace(EXACT, mla="naive"), step)
    assert naive.flop_terms == {**common, "attention/kv_up": 1024, "attention/scores": 192, "attention/values": 128}


def test_missed_of_zero_and_one_shares_for_symbolic_tokens():
    """0^t = 0 and 1^t = 1 for every t ≥ 1, even symbolic."""
    assert Missed(sympy.Integer(0), B) == 0
    assert Missed(sympy.Integer(1), B) == 1


def test_missed_is_exact_up_to_4096_bits_and_a_float_beyond():
    """Exact while tokens · bits(max(|p|, q)) ≤ EXACT_BITS = 4096 (the docstring): (1/2)^2048 is 2048·2 = 4096
    bits, exact; (1/65536)^241 is 241·17 = 4097 bits, a Float (≈ 2^-3856, about 1.69e-1161)."""
    exact = Missed(sympy.Rational(1, 2), 2048)
    assert isinstance(exact, sympy.Rational) and exact == sympy.Rational(1, 2**2048)
    beyond = Missed(sympy.Rational(1, 65536), 241)
    assert isinstance(beyond, sympy.Float)
    assert abs(beyond / sympy.Float(2, 70) ** -3856 - 1) < 1e-50


def test_missed_beyond_the_exact_bits_keeps_60_correct_digits():
    """(3/4)^5000 (5000·2 bits > 4096): the Float equals the exact rational power rounded to 60 digits."""
    assert Missed(sympy.Rational(3, 4), 5000) == sympy.Float(sympy.Rational(3, 4) ** 5000, 60)


def test_missed_stays_a_power_for_symbolic_tokens():
    """Unevaluated while the tokens are a symbol (even for a Float share), positive when the share is, printed
    as the power (1/2)^B, not rewritten as 2^(-B)."""
    assert isinstance(Missed(sympy.Float(0.5), B), Missed)
    assert Missed(sympy.Symbol("x"), B).is_positive is None
    assert Missed(sympy.Symbol("p", positive=True), B).is_positive is True
    assert sympy.latex(Missed(sympy.Rational(1, 2), B)) == r"\left(\frac{1}{2}\right)^{B}"


# ---- roofline: the limit's explanation and the regime's question -------------------------------------------


def test_limit_explanation_names_the_leading_and_the_fixed_bytes():
    """FLOPs 4B + 8 over bytes 10 + 6 + 2B (weights fixed, the KV read growing): both grow like B and the
    intensity tends to 4/2 = 2; the bytes are led by kv, the weights no longer matter."""
    cost = Cost({"m": 4 * B + 8}, {"weights/a": 10, "weights/b": 6, "kv/read": 2 * B})
    assert roofline.intensity_limit(cost, B).explanation == (
        "as B → ∞ the FLOPs grow like B and the bytes grow like B (bytes led by kv; weights no longer matter), "
        "so the intensity tends to the constant 2 ≈ 2 FLOP/byte: no B takes it beyond that")


def test_limit_explanation_of_growing_and_falling_intensities():
    """2B² FLOPs over 10 bytes grow without bound; 6 FLOPs over 2B² + 3B bytes fall to 0."""
    up = roofline.intensity_limit(Cost({"m": 2 * B**2}, {"w": 10}), B)
    assert up.value == sympy.oo
    assert up.explanation == ("as B → ∞ the FLOPs grow like B^2 and the bytes stay constant, so the intensity "
                              "grows without bound: a large enough B is compute-bound")
    down = roofline.intensity_limit(Cost({"m": 6}, {"w": 2 * B**2 + 3 * B}), B)
    assert down.explanation == ("as B → ∞ the FLOPs stay constant and the bytes grow like B^2 (bytes led by w), "
                                "so the intensity falls to 0: a large enough B is memory-bound")


def test_limit_explanation_without_flops():
    """No FLOPs at all: they stay (at 0) constant, and the intensity is 0."""
    lim = roofline.intensity_limit(Cost({}, {"w": 2 * B}), B)
    assert lim.value == 0
    assert lim.explanation.startswith("as B → ∞ the FLOPs stay constant")
    assert lim.explanation.endswith("so the intensity falls to 0: a large enough B is memory-bound")


def test_limit_explanation_without_flops_says_how_the_bytes_grow():
    """The intensity 0/(2B) is the constant 0 (denominator 1), but the bytes themselves grow like B."""
    lim = roofline.intensity_limit(Cost({}, {"w": 2 * B}), B)
    assert "the bytes grow like B" in lim.explanation


def test_limit_explanation_reads_the_degrees_before_a_common_factor_cancels():
    """FLOPs 6B over bytes 3B: the intensity is the constant 2, yet both the FLOPs and the bytes grow like B
    (the explanation is about them, not about the reduced fraction 2/1)."""
    lim = roofline.intensity_limit(Cost({"m": 6 * B}, {"w": 3 * B}), B)
    assert lim.value == 2
    assert lim.explanation == ("as B → ∞ the FLOPs grow like B and the bytes grow like B (bytes led by w), so the "
                               "intensity tends to the constant 2 ≈ 2 FLOP/byte: no B takes it beyond that")


def test_limit_is_frozen():
    lim = roofline.intensity_limit(1 / (B + 1), B)
    with pytest.raises(dataclasses.FrozenInstanceError):
        lim.value = 1  # type: ignore[misc]


def test_regime_names_every_symbol_it_needs_from_the_intensity_and_the_balance():
    """2B FLOPs over 10 bytes against π/β: B, β and π are all needed."""
    with pytest.raises(ValueError, match=r"regime needs values for B, beta, pi \(intensity B/5, balance pi/beta\)"):
        roofline.regime(Cost({"m": 2 * B}, {"w": 10}), pi / beta)


# ---- roofline: the numeric, bracketed and symbolic crossovers' answers and reasons -------------------------

_TOUCHED = 1 - Missed(sympy.Rational(1, 2), B)        # 1 − (1/2)^B: not a ratio of polynomials in B


def test_bracketed_crossover_of_a_non_polynomial_intensity():
    """1 − 2^-B = 9/10 at B = log2(10) ≈ 3.3219: I(3) = 7/8 < 9/10 < I(4) = 15/16, so the root is bracketed
    in [3, 4], memory-bound below, compute-bound beyond."""
    c = roofline.crossover(_TOUCHED, sympy.Rational(9, 10))
    assert c.exists and c.bracket == (3, 4) and c.above == "compute" and c.limit == 1
    assert abs(c.value - sympy.log(10, 2)) < 1e-15
    assert c.reason.startswith("memory-bound for B < 3.3219280948873623")
    assert c.reason.endswith(", compute-bound beyond (balance 9/10 (≈ 0.9)); a numeric root, bracketed in [3, 4]: "
                             "the intensity is not a ratio of polynomials in B")


def test_bracketed_crossover_is_found_to_30_digits():
    """log2(10) = 3.321928094887362347870319429489...: the root to the 30 digits the docstring promises (it was
    found at mpmath's default 15-digit working precision, 3.32192809488736234787017..., before)."""
    c = roofline.crossover(_TOUCHED, sympy.Rational(9, 10))
    assert abs(c.value - sympy.log(10, 2)) < 1e-28


_POWER = 1 - sympy.Rational(1, 2) ** B                # the same intensity as a plain power, which SymPy evaluates


@pytest.mark.parametrize("balance", [2, 1])
def test_bracketed_search_of_a_plain_power_returns(balance):
    """1 − (1/2)^B never reaches 2, nor its limit 1. The search doubles B up to 2^62; an exact (1/2)^B there
    would be a rational of 2^62 bits, so the search must not evaluate it exactly (it never returned before)."""
    def hung(*_):
        raise TimeoutError("crossover of 1 - (1/2)^B did not return within 60 s")
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        c = roofline.crossover(_POWER, balance)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert not c.exists and c.value is None
    assert c.reason == (f"no crossover: memory-bound for every B ≥ 1 up to 4611686018427387904 (the intensity "
                        f"tends to 1 as B → ∞; balance {balance})")


def test_bracketed_root_on_an_integer_is_exact():
    """1 − (1/2)^B = 3/4 exactly at B = 2 (1 − 1/4); I(1) = 1/2 < 3/4 < I(3) = 7/8."""
    c = roofline.crossover(_POWER, sympy.Rational(3, 4))
    assert c.exists and c.value == 2 and c.value.is_Integer and c.above == "compute"
    assert c.reason == "memory-bound for B < 2, compute-bound beyond (balance 3/4 (≈ 0.75))"


def test_bracketed_search_without_a_crossover_stops_at_2_to_the_62():
    """1 − 2^-B never reaches 2: memory-bound for every B the search looks at, up to 2^62."""
    c = roofline.crossover(_TOUCHED, 2)
    assert not c.exists and c.value is None
    assert c.reason == ("no crossover: memory-bound for every B ≥ 1 up to 4611686018427387904 (the intensity "
                        "tends to 1 as B → ∞; balance 2)")


def test_bracketed_search_of_an_integer_unknown_starts_at_one():
    """With lower = 0 an integer unknown still starts at 1, where 1 − 1/2 is the balance 1/2: B* = 1 exactly."""
    c = roofline.crossover(_TOUCHED, sympy.Rational(1, 2), lower=0)
    assert c.exists and c.value == 1 and c.bracket is None and c.above == "compute"
    assert c.reason == "intensity = balance 1/2 (≈ 0.5) at B = 1"


def test_crossover_in_the_cache_starts_at_zero():
    """4/(S_c + 1) = 3 at S_c = 1/3; an empty cache (S_c = 0, I = 4 ≥ 3) is a meaningful start, so this is a
    crossover out of the compute-bound regime (from S_c = 1 there would be none)."""
    c = roofline.crossover(4 / (sym.S_c + 1), 3, sym.S_c)
    assert c.exists and c.value == sympy.Rational(1, 3) and c.above == "memory"
    assert c.reason == "compute-bound for S_c < 1/3 (≈ 0.333333), memory-bound beyond (balance 3)"


def test_no_crossover_when_compute_bound_at_the_start():
    """B/(B + 1) at B = 1 is 1/2: above a balance of 1/3, and equal to a balance of 1/2 (a root at the lower
    end is no crossover: the step is compute-bound there already)."""
    assert roofline.crossover(B / (B + 1), sympy.Rational(1, 3)).reason == (
        "no crossover: compute-bound already at B = 1 (intensity 1/2 (≈ 0.5) ≥ balance 1/3 (≈ 0.333333)) and "
        "for every larger B")
    at = roofline.crossover(B / (B + 1), sympy.Rational(1, 2))
    assert not at.exists and at.reason == ("no crossover: compute-bound already at B = 1 (intensity 1/2 (≈ 0.5) "
                                           "≥ balance 1/2 (≈ 0.5)) and for every larger B")


def test_a_triple_root_is_a_crossover():
    """I − 1 = (B − 2)³/(B + 1)³ changes sign at B = 2 (a root of odd multiplicity)."""
    c = roofline.crossover(((B - 2) ** 3 + (B + 1) ** 3) / (B + 1) ** 3, 1)
    assert c.exists and c.value == 2 and c.above == "compute"


# ---- timing and precision ----------------------------------------------------------------------------------


def test_zero_message_sizes_and_latencies_are_allowed():
    """A ring all-reduce of 0 bytes moves 0; a link without per-message latency adds 0 s."""
    assert timing.ring_allreduce_bytes(0, 8) == 0
    llama = symroof.models.get("llama-3-8b")
    assert timing.tp_communication(llama, "H100-SXM", tp=2, tokens=1, message_latency_s=0).latency_s == 0


def test_kv_capacity_without_weights():
    """weight_bytes = 0 leaves the A100-80GB's usable 0.9·80 GiB = 77,309,411,328 bytes for the cache; Llama-3-8B
    caches 2·32·8·128·2 = 131,072 bytes per token: 589,824 tokens."""
    cap = timing.kv_capacity(symroof.models.get("llama-3-8b"), "A100-80GB", weight_bytes=0)
    assert (cap.free_bytes, cap.kv_bytes_per_token, cap.tokens) == (77_309_411_328, 131_072, 589_824)


@pytest.mark.parametrize("cls", [timing.Comm, timing.AllReduce, timing.Latency, timing.Capacity,
                                 roofline.Crossover, roofline.Limit, precision.Layout])
def test_results_are_frozen(cls):
    assert cls.__dataclass_params__.frozen
