"""Tests for survivors of the whole-core mutation run of session 5 (`benchmarks/mutation.py --core`).

Each expected value is derived by hand here from a published config (the files in tests/data and
the presets, whose sources they cite) or from a rule the docstrings state; none is symroof's output.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import sympy

import symroof
from symroof.cost import components, conventions
from symroof.cost.step import Step
from symroof.model import params

DATA = Path(__file__).parent / "data"
EXACT = conventions.get("exact")
ONE_TOKEN = Step(1, 1, 0)                   # B = 1, one new token, an empty cache


@pytest.fixture(scope="module")
def deepseek():
    return symroof.models.get("deepseek-v3")  # 3 dense layers, then 58 MoE layers


# ---- params: the defaults a caller gets without keywords ----------------------------------------------------

def test_expert_parameters_default_to_a_routed_expert_of_a_model_with_dense_first_layers(deepseek):
    """DeepSeek-V3 (hidden 7168, moe_intermediate_size 2048, intermediate_size 18432): one routed expert is
    gate, up and down of 7168 x 2048; ``dense=True`` gives the dense layers' FFN, 7168 x 18432 each."""
    assert sum(params.expert_parameters(deepseek).values()) == 3 * 7168 * 2048 == 44_040_192
    assert sum(params.expert_parameters(deepseek, dense=True).values()) == 3 * 7168 * 18432


def test_expert_parameters_dense_of_an_all_moe_model_is_its_moe_layer():
    """Mixtral has no dense layer: ``dense=True`` falls back to its (only) layer, one expert of
    4096 x 14336 three times."""
    mixtral = symroof.models.get("mixtral-8x7b")
    assert sum(params.expert_parameters(mixtral, dense=True).values()) == 3 * 4096 * 14336


def test_layer_parameters_count_biases_by_default():
    """Qwen2.5-7B (hidden 3584, 28 heads and 4 KV heads of 128) has biases on q, k and v, none on out."""
    layer = params.layer_parameters(symroof.models.get("qwen2.5-7b"))
    assert layer["attention/q"] == 3584 * 3584 + 3584
    assert layer["attention/k"] == layer["attention/v"] == 3584 * 512 + 512
    assert layer["attention/out"] == 3584 * 3584


def test_model_parameters_count_the_lm_head_bias_by_default():
    """GPT-J-6B (n_embd 4096, vocab 50400, untied): its LM head is an nn.Linear with a bias."""
    gptj = symroof.models.from_hf_config(DATA / "gpt-j-6b.json")
    assert params.model_parameters(gptj)["lm_head"] == 50400 * 4096 + 50400
    assert params.model_parameters(gptj, biases=False)["lm_head"] == 50400 * 4096


def test_active_parameters_without_norms():
    """Llama-3-8B: 8,030,261,248 parameters (its published numel); the norms are two RMSNorms of 4096 per
    layer and a final one: 32 x 8192 + 4096 = 266,240. Dense, so active = total."""
    llama = symroof.models.get("llama-3-8b")
    assert params.active_parameters(llama, norms=False) == 8_030_261_248 - 266_240


def test_active_parameters_of_a_model_with_layers_without_an_ffn():
    """Mamba layers have no FFN: none is MoE, so every parameter is active (Jamba's are not all: 16 experts,
    2 per token, in every other layer: 14 idle experts of 3 x 4096 x 14336 in 16 layers)."""
    jamba = symroof.models.from_hf_config(DATA / "jamba-v0.1.json")
    idle = 16 * 14 * 3 * 4096 * 14336
    assert params.total_parameters(jamba) - params.active_parameters(jamba) == idle
    mamba = symroof.models.from_hf_config(DATA / "mamba-130m-hf.json")
    assert params.active_parameters(mamba) == params.total_parameters(mamba)


# ---- components: the layer a call means, and each block's own matrices ----------------------------------------

def test_ffn_of_a_model_with_dense_first_layers_is_the_moe_layer_by_default(deepseek):
    """DeepSeek-V3, one token: 8 routed experts and 1 shared, each 2·3·7168·2048 FLOPs, plus the router
    2·7168·256 = 796,393,472 (the dense layers' 2·3·7168·18432 = 792,723,456 have no router)."""
    assert components.ffn(deepseek, EXACT, ONE_TOKEN).flops == 9 * 2 * 3 * 7168 * 2048 + 2 * 7168 * 256
    assert components.ffn(deepseek, EXACT, ONE_TOKEN, dense=True).flops == 2 * 3 * 7168 * 18432


def test_attention_projections_read_the_attention_matrices_only():
    """Llama-3-8B in bf16: q and out are 4096 x 4096, k and v 4096 x 1024: 2 bytes each, one token (2 FLOPs
    per weight)."""
    cost = components.attention_projections(symroof.models.get("llama-3-8b"), EXACT, ONE_TOKEN)
    weights = 2 * 4096 * 4096 + 2 * 4096 * 1024
    assert cost.bytes == 2 * weights and cost.flops == 2 * weights
    assert set(cost.byte_terms) == {f"weights/attention/{m}" for m in ("q", "k", "v", "out")}


def test_attention_of_a_given_layer_projects_with_that_layer():
    """Jamba v0.1's last layer is a Mamba layer; its fifth (index 4) is attention (hidden 4096, 32 heads and
    8 KV heads of 128): projections 2·(2·4096² + 2·4096·1024) FLOPs for one token, and scores and values
    2·128·32 each over the one key."""
    jamba = symroof.models.from_hf_config(DATA / "jamba-v0.1.json")
    (_, layer) = jamba.groups[4]
    assert layer.attention is not None
    cost = components.attention(jamba, EXACT, ONE_TOKEN, layer=layer)
    assert cost.flops == 2 * (2 * 4096 * 4096 + 2 * 4096 * 1024) + 2 * (2 * 128 * 32)


def test_layer_and_model_parameters_count_norms_by_default():
    """Llama-3-8B: two RMSNorms of 4096 per layer (input and post-attention), one final RMSNorm of 4096."""
    llama = symroof.models.get("llama-3-8b")
    assert params.layer_parameters(llama)["norm"] == 2 * 4096
    assert "norm" not in params.layer_parameters(llama, norms=False)
    assert params.model_parameters(llama)["final_norm"] == 4096
    assert "final_norm" not in params.model_parameters(llama, norms=False)


def test_moe_ffn_flops_and_bytes_with_two_shared_experts_by_hand():
    """H = 8; 4 routed experts of a gated FFN of 16, 2 per token, 2 shared experts of 16, router (8, 4); B = 3
    sequences of S_i = 2 new tokens: t = 6 token rows.

    FLOPs, 2 per multiply-add: each of gate, up, down is 8·16 = 128 weights; routed 2·(6·2)·128 = 3072 per
    matrix, shared 2·6·128·2 copies = 3072 per matrix, so gate, up and down each 6144; router 2·6·8·4 = 384.
    Bytes at 2 per weight, every expert read (``experts_read="all"``): per matrix 4 routed + 2 shared copies of
    128 = 768 weights, 1536 bytes; router 32 weights, 64 bytes. The router runs first, so it comes first."""
    arch = symroof.Arch(hidden=8, layers=1, heads=2, vocab=10, ffn_kind="gated", expert_ffn_dim=16, ffn_dim=16,
                        experts=4, experts_per_token=2, shared_experts=2)
    conv = conventions.get("exact").replace(experts_read="all")
    cost = components.ffn(arch, conv, Step(3, 2, 0))
    assert cost.flop_terms == {"ffn/gate": 6144, "ffn/up": 6144, "ffn/down": 6144, "ffn/router": 384}
    assert list(cost.byte_terms) == ["weights/ffn/router", "weights/ffn/gate", "weights/ffn/up", "weights/ffn/down"]
    assert cost.byte_terms == {"weights/ffn/router": 64, "weights/ffn/gate": 1536, "weights/ffn/up": 1536,
                               "weights/ffn/down": 1536}


@pytest.mark.parametrize("kv_write, step, written", [
    ("none", Step(2, 3, 5), 0),
    ("decode", Step(2, 3, 0), 0),          # a prefill (empty cache) writes nothing under "decode"
    ("decode", Step(2, 3, 5), 6 * 576 * 2),
    ("always", Step(2, 3, 0), 6 * 576 * 2),
])
def test_mla_latent_write_follows_kv_write(deepseek, kv_write, step, written):
    """DeepSeek-V3 caches one latent of kv_lora_rank 512 + qk_rope_head_dim 64 = 576 elements per token, at
    2 bytes (bf16): B·S_i = 6 new tokens write 6·576·2 bytes when they write at all; the read is the
    S_c = 5 (or 0) cached tokens of each of the 2 sequences, 2·5·576·2 bytes."""
    cost = components.kv_cache(deepseek, EXACT.replace(kv_write=kv_write), step, layer=deepseek.groups[-1][1])
    assert cost.byte_terms.get("kv/write", 0) == written
    assert cost.byte_terms.get("kv/read", 0) == 2 * step.cached * 576 * 2


# ---- arch: the defaults of a bare Arch, and that it is a frozen value ---------------------------------------

def test_a_bare_arch_by_hand():
    """Arch(hidden=64, layers=2, heads=4), every documented default: head_dim 64/4 = 16, kv_heads = heads, a
    dense (non-gated) FFN of 4·64 = 256 without biases, RMSNorm, vocab 50257 tied, 2 bytes per weight, no learned
    positions, no window. Per layer: q, k, v, out 4·64² = 16384, up and down 2·64·256 = 32768, two norms 128:
    49280; two layers 98560; the table 50257·64 = 3,216,448; the final norm 64: 3,315,072 parameters, at 2
    bytes each. K and V of one token: 2 layers · 2 · 64 elements, 2 bytes each: 512 bytes."""
    arch = symroof.Arch(hidden=64, layers=2, heads=4)
    assert (arch.head_dim, arch.kv_heads, arch.ffn_dim, arch.expert_ffn_dim, arch.vocab) == (16, 4, 256, 256, 50257)
    assert (arch.ffn_kind, arch.norm, arch.tied_embeddings, arch.max_positions, arch.window) == (
        "dense", "rmsnorm", True, 0, None)
    assert (arch.weight_bytes, arch.act_bytes, arch.kv_bytes, arch.experts, arch.shared_experts) == (2, 2, 2, 1, 0)
    assert (arch.name, arch.source, arch.dense_layers, arch.params_b, arch.state_bytes) == ("", "", 0, None, None)
    assert params.total_parameters(arch) == 3_315_072
    assert params.weight_bytes(arch) == 2 * 3_315_072
    assert arch.kv_cache_elements(1) * arch.kv_bytes == 512


def test_an_arch_is_a_frozen_hashable_value():
    arch = symroof.Arch(hidden=64, layers=2, heads=4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        arch.hidden = 128  # type: ignore[misc]
    assert arch == symroof.Arch(hidden=64, layers=2, heads=4) and hash(arch) == hash(symroof.Arch(64, 2, 4))
    assert {arch: 1}[symroof.Arch(hidden=64, layers=2, heads=4)] == 1


# ---- a step sums each group of layers with that group's own layer -----------------------------------------

def _dense_then_moe() -> symroof.Arch:
    """H = 8, 2 heads of 4, vocab 10 (tied): layer 1 dense (up, down 8 x 32), layer 2 MoE (4 experts of 16,
    2 per token, router 8 x 4); no gates, RMSNorm."""
    return symroof.Arch(hidden=8, layers=2, heads=2, vocab=10, ffn_dim=32, expert_ffn_dim=16, experts=4,
                        experts_per_token=2, dense_layers=1)


def test_each_layer_of_a_dense_then_moe_model_by_hand():
    """One token, an empty cache. Attention: q, k, v, out 4·8·8 = 256 weights; scores and values 2·(1 key)·4
    per head, 2 heads: 16 each. Dense FFN 2·8·32 = 512 weights, MoE 2 experts · 2·8·16 = 512 and the router
    32. So the dense layer is 2·(256 + 512) + 32 = 1568 FLOPs, the MoE layer 2·(256 + 512 + 32) + 32 = 1632;
    by default a call means the MoE layer (``dense=True``: the dense one)."""
    arch = _dense_then_moe()
    (_, dense), (_, moe) = arch.groups
    assert components.layer(arch, EXACT, ONE_TOKEN, layer=dense).flops == 1568
    assert components.layer(arch, EXACT, ONE_TOKEN, layer=moe).flops == 1632
    assert components.layer(arch, EXACT, ONE_TOKEN).flops == 1632
    assert components.layer(arch, EXACT, ONE_TOKEN, dense=True).flops == 1568


def test_a_step_of_a_dense_then_moe_model_by_hand():
    """The two layers above plus the LM head 2·10·8 = 160 on the last token: 1568 + 1632 + 160 = 3360."""
    cost = symroof.step(_dense_then_moe(), EXACT, B=1, S_i=1, S_c=0)
    assert cost.flops == 3360
    assert cost.flop_terms["ffn/up"] == 2 * 8 * 32 + 2 * 2 * 8 * 16


def test_the_kv_read_of_a_global_layer_between_sliding_ones():
    """Gemma 3 1B (tests/data/gemma-3-1b-it.json: 1 KV head of 256, sliding window 512, every sixth layer
    global, bf16), one sequence decoding over 1000 cached tokens: a global layer reads K and V of all 1000,
    2·1000·256·2 = 1,024,000 bytes; a sliding layer at most W − 1 = 511 of them, 523,264 bytes."""
    gemma = symroof.models.from_hf_config(DATA / "gemma-3-1b-it.json")
    (_, local), (_, full) = gemma.groups[:2]
    assert (local.attention.window, full.attention.window) == (512, None)
    step = Step(1, 1, 1000)
    for layer, read in ((full, 2 * 1000 * 256 * 2), (local, 2 * 511 * 256 * 2)):
        assert components.kv_cache(gemma, EXACT, step, layer=layer).byte_terms["kv/read"] == read
        assert components.layer(gemma, EXACT, step, layer=layer).byte_terms["kv/read"] == read


def test_a_mamba_layer_projects_in_and_out_by_hand():
    """Mamba-130m (hidden 768, d_inner 2·768 = 1536): in_proj (768, 2·1536) and out_proj (1536, 768), one
    token: 2·768·3072 = 4,718,592 and 2·1536·768 = 2,359,296 FLOPs."""
    mamba = symroof.models.from_hf_config(DATA / "mamba-130m-hf.json")
    terms = components.layer(mamba, EXACT, ONE_TOKEN).flop_terms
    assert (terms["mixer/in"], terms["mixer/out"]) == (4_718_592, 2_359_296)


def test_mla_head_widths_of_a_prefill_under_a_naive_prefill_convention(deepseek):
    """DeepSeek-V3: qk_nope 128, qk_rope 64, v 128, kv_lora_rank 512. Absorbed, a score is over the latent and
    the RoPE key (512 + 64) and a value is the latent (512); naive, (128 + 64, 128). ``mla="absorbed",
    mla_prefill="naive"``: a pass over an empty cache is naive, a decode step and a call without a step
    absorbed."""
    from symroof.cost import mla
    a = deepseek.groups[-1][1].attention
    conv = EXACT.replace(mla="absorbed", mla_prefill="naive")
    assert mla.head_widths(a, conv, Step(1, 16, 0)) == (128 + 64, 128)
    assert mla.head_widths(a, conv, Step(1, 1, 16)) == (512 + 64, 512)
    assert mla.head_widths(a, conv) == (512 + 64, 512)


def test_arch_refuses_shared_experts_without_routed_ones_when_built():
    """The refusal comes from Arch itself, before any layer is built."""
    with pytest.raises(ValueError, match=r"^shared_experts=1 needs experts > 1$"):
        symroof.Arch(hidden=8, layers=1, heads=2, shared_experts=1)


@pytest.mark.parametrize("item", [(1, "attention"), (1,), ("1", None, 2), [1, 2]])
def test_arch_refuses_a_layout_item_that_is_not_a_count_and_a_layer(item):
    with pytest.raises(ValueError, match=r"^layout item .* must be a \(count, Layer\) pair$"):
        symroof.Arch(hidden=8, layers=1, heads=2, layout=[item])


def test_a_moe_layer_keeps_the_models_norm_kind():
    """LayerNorm has a weight and a bias: each of the 2 norms of H = 8 is 16 parameters, in the MoE layers
    (32) as in the dense first one."""
    arch = symroof.Arch(hidden=8, layers=2, heads=2, experts=4, dense_layers=1, norm="layernorm")
    assert [params.layer_parameters(arch, layer=g)["norm"] for _, g in arch.groups] == [32, 32]


@pytest.mark.parametrize("name, moe", [("gemma-3-1b-it.json", False),    # a layout of dense layers
                                       ("mamba-130m-hf.json", False),    # layers without an FFN
                                       ("jamba-v0.1.json", True),         # 16 experts in every other layer
                                       ("llama-4-scout-17b-16e.json", True)])
def test_is_moe_of_a_layout(name, moe):
    arch = symroof.models.from_hf_config(DATA / name)
    assert arch.layout and arch.is_moe is moe


@pytest.mark.parametrize("experts, moe", [(1, False), (2, True), (8, True)])
def test_is_moe_of_the_fields(experts, moe):
    arch = symroof.Arch(hidden=8, layers=1, heads=2, experts=experts)
    assert arch.is_moe is moe and arch.moe_layers == (1 if moe else 0)


def test_naive_mla_unfused_kernel_traffic_by_hand(deepseek):
    """Naive MLA attends over up-projected K and V, activations written once and read once by an unfused
    kernel. DeepSeek-V3: 128 heads of qk_nope 128 + qk_rope 64 (K) and v 128 (V): 128·320 = 40960 elements
    per token, 2 bytes. B = 2 sequences decoding one token over 7 cached ones: 8 keys each, written and read,
    2·(8 + 8)·40960·2 = 2,621,440 bytes; the unfused score matrix, written, read, written as probabilities
    and read: 4·2·128·(1·8)·2 = 16,384 bytes."""
    conv = EXACT.replace(attention_kernel="unfused", mla="naive")
    cost = components.attention_kernel(deepseek, conv, Step(2, 1, 7), layer=deepseek.groups[-1][1])
    assert cost.byte_terms == {"attention/kv": 2 * (8 + 8) * 40960 * 2, "attention/scores": 4 * 2 * 128 * 8 * 2}


def test_replace_of_a_layout_arch_takes_a_layout_not_its_summary_fields():
    """Gemma 3 1B is read as an explicit layout: changing ``heads`` alone is refused (its groups say how many
    heads each layer has); a new layout with its layer count is taken."""
    gemma = symroof.models.from_hf_config(DATA / "gemma-3-1b-it.json")
    with pytest.raises(ValueError, match=r"^heads: this Arch has an explicit layout; pass layout=\.\.\. \(its "
                                         r"groups\) instead$"):
        gemma.replace(heads=8)
    half = gemma.layout[:2]                      # 5 sliding layers and 1 global: 6 layers
    smaller = gemma.replace(layout=half, layers=6)
    assert smaller.layers == 6 and smaller.groups == half


def test_the_symbolic_arch_is_named():
    assert symroof.Arch.symbolic().name == "symbolic"


@pytest.mark.parametrize("tensor_bytes", [[("embedding", 1, 2)], [(1, 2)], [("embedding",)], ["embedding"]])
def test_tensor_bytes_items_must_be_name_and_bytes_pairs(tensor_bytes):
    with pytest.raises(ValueError, match=r"^tensor_bytes=.* must map parameter names to bytes per element$"):
        symroof.Arch(hidden=8, layers=1, heads=2, tensor_bytes=tensor_bytes)


def test_result_and_model_types_are_frozen_values():
    """Every value type a user gets back is an immutable dataclass (a frozen instance is also hashable when
    its fields are): changing one in place raises."""
    from symroof.analysis import capacity as cap
    from symroof.analysis import roofline as rl
    from symroof.analysis import timing
    from symroof.model import layers, precision
    types = [symroof.Arch, layers.Matrix, layers.Attention, layers.FFN, layers.Layer, Step, symroof.Cost,
             conventions.Conventions, symroof.Hardware, timing.Comm, timing.AllReduce, timing.Latency,
             timing.Capacity, cap.Fit, rl.Limit, rl.Crossover, precision.Precision, precision.Layout]
    assert [t.__name__ for t in types if not t.__dataclass_params__.frozen] == []
    step = Step(1, 2, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.batch = 4  # type: ignore[misc]
    assert step == Step(1, 2, 3) and hash(step) == hash(Step(1, 2, 3))


# ---- step: what each query sees ------------------------------------------------------------------------------

def _windowed():
    """Gemma 3 1B's sliding attention (window 512) and Llama 4 Scout's chunked attention (chunk 8192)."""
    gemma = symroof.models.from_hf_config(DATA / "gemma-3-1b-it.json")
    scout = symroof.models.from_hf_config(DATA / "llama-4-scout-17b-16e.json")
    sliding = gemma.groups[0][1].attention
    chunked = next(g.attention for _, g in scout.groups if g.attention.chunk is not None)
    assert (sliding.window, chunked.chunk) == (512, 8192)
    return sliding, chunked


def test_cached_tokens_seen_by_sliding_and_chunked_layers():
    """10000 cached tokens. Sliding window 512: at most W − 1 = 511. Chunked 8192, causal: the first new
    token (position 10000) is in the chunk starting at 8192, so it sees 10000 mod 8192 = 1808 cached tokens;
    with dense scores (an eager kernel over every kept token) min(10000, 8191) = 8191."""
    from symroof.cost.step import cached_visible
    sliding, chunked = _windowed()
    step = Step(1, 1, 10000)
    assert cached_visible(EXACT, step, sliding) == 511
    assert cached_visible(EXACT, step, chunked) == 1808
    assert cached_visible(EXACT.replace(scores="dense"), step, chunked) == 8191
    assert cached_visible(EXACT, step, symroof.models.get("llama-3-8b").groups[0][1].attention) == 10000


def test_keys_and_query_key_pairs_of_a_sliding_layer():
    """One new token at position 1001 (1000 cached). Full attention: 1000 + 1 keys, causal pairs
    1·1000 + 1·2/2 = 1001. Sliding window 512: the token sees min(1001, 512) = 512 keys, 511 of them cached.
    ``scores="none"``: no pairs."""
    from symroof.cost.step import key_count, query_key_pairs
    sliding, _ = _windowed()
    step = Step(1, 1, 1000)
    assert key_count(EXACT, step) == 1001 and key_count(EXACT, step, sliding) == 512
    assert query_key_pairs(EXACT, step) == 1001 and query_key_pairs(EXACT, step, sliding) == 512
    assert query_key_pairs(EXACT.replace(scores="none"), step, sliding) == 0
    assert query_key_pairs(EXACT.replace(scores="none"), step) == 0


# ---- timing: tensor-parallel communication's options ---------------------------------------------------------

def test_allreduce_with_one_byte_activations_and_no_step_latency():
    """Llama-3-8B at T = 8, B = S_i = 1 with 1-byte activations on the wire: 64 all-reduces of 4096 bytes, each
    GPU moving 2·7/8 of each: 64·4096·7/4 = 458,752 bytes, over H100's 450 GB/s; with no per-step latency the
    latency is the 64 all-reduces' 6.6 µs each, 422.4 µs."""
    from symroof.analysis import timing
    llama = symroof.models.get("llama-3-8b")
    ar = timing.tp_allreduce(llama, tp=8, B=1, S_i=1, bytes_per_element=1)
    assert (ar.message_bytes, ar.bytes_per_gpu) == (4096, 458_752)
    c = timing.tp_allreduce_time(llama, "H100-SXM", tp=8, B=1, S_i=1, bytes_per_element=1, step_latency_s=0)
    assert c.throughput_s == sympy.Rational(458_752, 450 * 10**9)
    assert c.latency_s == 64 * sympy.Rational(66, 10**7)


def test_the_003_model_over_a_given_link():
    """003's model chosen under exact conventions counts bytes: 8 tokens · 32 layers · 4 messages · 4096
    elements · 2 bytes = 8,388,608 bytes over a 100 GB/s link; latency 32·4 messages of 10 µs = 1.28 ms."""
    from symroof.analysis import timing
    c = timing.communication(symroof.models.get("llama-3-8b"), "H100-SXM", "exact", tp=8, tokens=8, comm="003",
                             link_bytes_per_s=10**11)
    assert c.throughput_s == sympy.Rational(8 * 32 * 4 * 4096 * 2, 10**11)
    assert c.latency_s == sympy.Rational(128, 10**5)


def test_communication_passes_its_options_to_the_allreduce_model():
    """The same 458,752 bytes per GPU (one token, 1-byte activations) over a given 100 GB/s link."""
    from symroof.analysis import timing
    c = timing.communication(symroof.models.get("llama-3-8b"), "H100-SXM", "exact", tp=8, tokens=1,
                             bytes_per_element=1, link_bytes_per_s=10**11)
    assert c.throughput_s == sympy.Rational(458_752, 10**11)
