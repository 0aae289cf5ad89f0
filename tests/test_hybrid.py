"""State-space and hybrid models (issue 16): Mamba, Mamba2, Falcon-Mamba, Jamba, Qwen3-Next (Gated
DeltaNet), Granite 4 hybrids, Falcon-H1 (attention and Mamba2 side by side in every layer) and Nemotron-H
(one block per layer: Mamba2, attention, a ReLU² MLP or a MoE), against transformers 5.24
(`tests.oracle_models.check_family`; Falcon-H1 and Nemotron-H also byte for byte in bf16,
`tests.oracle_models.check_memory`).

What ``FlopCounterMode`` counts in these models (the ``matmul`` conventions, ``state_scan="counter"``):
every ``nn.Linear`` (in/x/dt/out projections, q/k/v/o, FFN, router, LM head); the depthwise
``conv1d`` (``aten.convolution``: ``2·k`` per channel and output position, over the padded output);
Mamba's ``dt_proj.weight @ time_step`` (a matmul) and, per token, the scan's readout
``matmul(state, C)``; Mamba2's five SSD einsums (each becomes a ``bmm``) over chunks padded to
``chunk_size``, and its decode readout ``bmm``; Gated DeltaNet's chunked form's matmuls
(``kβ·kᵀ``, ``q·kᵀ`` and the four per-chunk products with the state). What it cannot see: the
elementwise recurrence (``exp(Δ·A)``, ``Δ·B·x``, the state update), the delta rule's decode step
(all elementwise: 0 FLOPs counted), ``torch.linalg.solve_triangular`` of the UT transform,
softmax, norms, gates and activations. Falcon-H1's and Nemotron-H's Mamba2 run the same torch code as
Mamba2's (the same SSD einsums, readout ``bmm`` and conv); Nemotron-H's router is an ``F.linear`` in fp32
(an ``mm``, counted), its experts under ``experts_implementation="batched_mm"`` exactly the routed ones;
Falcon-H1's µP multipliers are elementwise (0 counted, and no parameters).
"""

from __future__ import annotations

import pytest

from tests import oracle_models as om

MOE = {"experts_implementation": "batched_mm"}

CASES = {
    # Mamba: d_inner = 2·64, d_state 8, dt_rank 8; tied head by default
    "mamba": ("mamba", dict(hidden_size=64, num_hidden_layers=2, vocab_size=101, state_size=8, conv_kernel=4,
                            time_step_rank=8), {}),
    # dt_rank "auto" = ceil(72/16) = 5, conv of 3 taps without bias, biased projections
    "mamba-auto-rank": ("mamba", dict(hidden_size=72, num_hidden_layers=2, vocab_size=101, state_size=4,
                                      conv_kernel=3, use_conv_bias=False, use_bias=True), {}),
    "falcon_mamba": ("falcon_mamba", dict(hidden_size=64, num_hidden_layers=2, vocab_size=101, state_size=8,
                                          conv_kernel=4, time_step_rank=8), {}),
    # Mamba2: 8 heads of 16, 2 groups, chunks of 4 (a prompt of 11 pads to 3 chunks)
    "mamba2": ("mamba2", dict(hidden_size=64, num_hidden_layers=2, vocab_size=101, state_size=8, expand=2,
                              num_heads=8, head_dim=16, n_groups=2, conv_kernel=4, chunk_size=4), {}),
    # Jamba: attention at odd layers, MoE at even ones (offsets 1 and 0)
    "jamba": ("jamba", dict(hidden_size=64, num_hidden_layers=4, vocab_size=101, intermediate_size=96,
                            num_attention_heads=4, num_key_value_heads=2, num_experts=4, num_experts_per_tok=2,
                            mamba_d_state=8, mamba_d_conv=4, mamba_expand=2, mamba_dt_rank=8, attn_layer_period=2,
                            attn_layer_offset=1, expert_layer_period=2, expert_layer_offset=0), MOE),
    # Qwen3-Next: full attention every 2nd layer, Gated DeltaNet (2 key heads, 4 value heads) elsewhere,
    # chunks of 64 (transformers' default), MoE with a gated shared expert, layer 2 a dense MLP
    "qwen3_next": ("qwen3_next", dict(hidden_size=64, num_hidden_layers=4, vocab_size=101, intermediate_size=96,
                                      moe_intermediate_size=32, shared_expert_intermediate_size=48,
                                      num_attention_heads=4, num_key_value_heads=2, head_dim=16, num_experts=4,
                                      num_experts_per_tok=2, linear_num_value_heads=4, linear_num_key_heads=2,
                                      linear_key_head_dim=8, linear_value_head_dim=12, linear_conv_kernel_dim=4,
                                      full_attention_interval=2, mlp_only_layers=[2]), MOE),
    "granitemoehybrid": ("granitemoehybrid", dict(
        hidden_size=64, num_hidden_layers=4, vocab_size=101, intermediate_size=96, shared_intermediate_size=48,
        num_attention_heads=4, num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2, mamba_d_state=8,
        mamba_d_conv=4, mamba_expand=2, mamba_n_heads=8, mamba_d_head=16, mamba_n_groups=2, mamba_chunk_size=4,
        layer_types=["mamba", "attention", "mamba", "mamba"]), MOE),
    "granitemoehybrid-dense": ("granitemoehybrid", dict(
        hidden_size=64, num_hidden_layers=2, vocab_size=101, intermediate_size=96, shared_intermediate_size=48,
        num_attention_heads=4, num_key_value_heads=2, num_local_experts=0, mamba_d_state=8, mamba_n_heads=8,
        mamba_chunk_size=8, layer_types=["mamba", "attention"], position_embedding_type="rope"), {}),
    # Falcon-H1: attention (head_dim 24, n_h·d_h = 96 ≠ H) and Mamba2 (mamba_d_ssm 96 = 6 heads of 16, 2 groups,
    # chunks of 4) side by side in every layer; out_proj biased by projectors_bias alone; the gated RMSNorm on
    # (mamba_rms_norm)
    "falcon_h1": ("falcon_h1", dict(
        hidden_size=64, num_hidden_layers=2, vocab_size=101, intermediate_size=96, num_attention_heads=4,
        num_key_value_heads=2, head_dim=24, mamba_d_ssm=96, mamba_n_heads=6, mamba_d_state=8, mamba_n_groups=2,
        mamba_chunk_size=4, projectors_bias=True, mamba_rms_norm=True), {}),
    # mamba_d_ssm null: mamba_expand·H = 64 (4 heads of 16 by "auto"); num_key_value_heads null: MHA; biases on
    # in_proj (mamba_proj_bias), attention and MLP, none on the conv; tied head; chunks of 8
    "falcon_h1-null": ("falcon_h1", dict(
        hidden_size=64, num_hidden_layers=2, vocab_size=101, intermediate_size=96, num_attention_heads=4,
        num_key_value_heads=None, mamba_d_ssm=None, mamba_expand=1, mamba_n_heads=4, mamba_d_state=8,
        mamba_chunk_size=8, mamba_proj_bias=True, attention_bias=True, mlp_bias=True, tie_word_embeddings=True,
        mamba_conv_bias=False), {}),
    # Nemotron-H: "M-*EM" = Mamba2, ReLU² MLP, attention without RoPE, MoE (4 ReLU² experts, 2 active, a shared
    # expert of 48), Mamba2; Mamba2 of 6 heads of 16 (inner 96 ≠ 2H), 2 groups, chunks of 4
    "nemotron_h": ("nemotron_h", dict(
        hidden_size=64, vocab_size=101, intermediate_size=96, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
        mamba_num_heads=6, mamba_head_dim=16, ssm_state_size=8, n_groups=2, chunk_size=4, n_routed_experts=4,
        num_experts_per_tok=2, moe_intermediate_size=32, moe_shared_expert_intermediate_size=48,
        hybrid_override_pattern="M-*EM"), MOE),
    # legacy layer names (mamba, attention), the mamba_* aliases, biases on in/out_proj (use_bias) and the MLP,
    # none on the conv, MQA; tie_word_embeddings true, which transformers' Nemotron-H ignores
    "nemotron_h-legacy": ("nemotron_h", dict(
        hidden_size=64, vocab_size=101, intermediate_size=96, num_attention_heads=4, num_key_value_heads=1, head_dim=8,
        mamba_num_heads=4, mamba_head_dim=8, ssm_state_size=8, mamba_n_groups=1, mamba_chunk_size=8, use_bias=True,
        mamba_conv_bias=False, mlp_bias=True, tie_word_embeddings=True,
        layers_block_type=["mamba", "attention", "mlp"]), {}),
}
NEW = ("falcon_h1", "falcon_h1-null", "nemotron_h", "nemotron_h-legacy")


@pytest.mark.parametrize("case", sorted(CASES))
def test_family_matches_transformers(case):
    model_type, config, load = CASES[case]
    om.check_family(model_type, config, load=load)


@pytest.mark.parametrize("case", NEW)
def test_bytes_match_transformers(case):
    """Falcon-H1 and Nemotron-H in bf16: weights at their own dtypes (Nemotron-H's router in fp32) and the
    cache after a prefill (K/V and conv state in bf16, the recurrent state in fp32) byte for byte."""
    model_type, config, load = CASES[case]
    arch = om.check_memory(model_type, config, load=load)
    assert arch.kv_bytes == 2 and arch.recurrent_bytes == 4


@pytest.mark.parametrize("case", ["mamba", "falcon_mamba", "mamba2", "jamba", "qwen3_next", "granitemoehybrid-dense"])
def test_bytes_of_earlier_families(case):
    """The same byte-for-byte check: their recurrent state is fp32 in transformers 5.24's cache too."""
    model_type, config, load = CASES[case]
    om.check_memory(model_type, config, load=load)


def test_nemotron_h_layout():
    """What the Nemotron-H reader takes from the pattern keys, checked against transformers' own config:
    the block of each layer, one norm per layer, no RoPE in its attention (the model has no rotary module),
    a non-gated MLP, the number of layers from the pattern (not num_hidden_layers)."""
    torch = om.require("torch")
    transformers = om.require("transformers")
    import symroof

    base = {k: v for k, v in CASES["nemotron_h"][1].items() if k != "hybrid_override_pattern"}
    for given in (dict(hybrid_override_pattern="M-*E"), dict(layers_block_type=["mamba", "mlp", "attention", "moe"]),
                  dict(layer_types=["linear_attention", "mlp", "full_attention", "moe"], num_hidden_layers=9),
                  dict(hybrid_override_pattern="-", layers_block_type=["linear_attention", "mlp", "full_attention",
                                                                       "moe"])):
        hf = transformers.AutoConfig.for_model("nemotron_h", **base, **given)
        assert hf.layers_block_type == ["linear_attention", "mlp", "full_attention", "moe"]
        arch = symroof.models.from_hf_config({"model_type": "nemotron_h", **base, **given})
        layers = [g for n, g in arch.groups for _ in range(n)]
        assert [(g.mixer is not None, g.ffn is not None and not g.ffn.is_moe, g.attention is not None,
                 g.ffn is not None and g.ffn.is_moe) for g in layers] == [
            (True, False, False, False), (False, True, False, False), (False, False, True, False),
            (False, False, False, True)]
        assert all(g.norms == 1 for g in layers) and not layers[1].ffn.gated and not layers[2].attention.rope
        assert ("num_hidden_layers=9" in arch.source) == ("num_hidden_layers" in given)
    with torch.device("meta"):
        lm = transformers.AutoModelForCausalLM.from_config(hf, experts_implementation="batched_mm")
    assert not any("rotary" in name for name, _ in lm.named_modules())
    # the class's default pattern when none is given: Mamba2, MoE, attention, MLP
    arch = symroof.models.from_hf_config({"model_type": "nemotron_h", **base})
    assert arch.layers == len(transformers.AutoConfig.for_model("nemotron_h", **base).layers_block_type) == 4


@pytest.mark.parametrize("model_type", ["falcon_h1", "nemotron_h"])
def test_class_defaults(model_type):
    """A config of nothing but its model_type reads as the config class's defaults: the same parameters
    as transformers' model of its default config (FalconH1Config: 32 layers 4096 wide, 8 KV heads,
    mamba_d_ssm 1024; NemotronHConfig: the four layers M E * -)."""
    import symroof

    transformers = om.require("transformers")
    torch = om.require("torch")
    with torch.device("meta"):
        lm = transformers.AutoModelForCausalLM.from_config(transformers.AutoConfig.for_model(model_type))
    arch = symroof.models.from_hf_config({"model_type": model_type})
    assert symroof.total_parameters(arch) == sum(p.numel() for p in lm.parameters())


def test_refused_configs():
    """What the readers refuse, each naming its key: Nemotron-H's latent MoE and biased MoE MLPs (not
    modelled), a bad pattern; Falcon-H1's Mamba heads that do not tile mamba_d_ssm."""
    import symroof

    nemotron = {"model_type": "nemotron_h", **CASES["nemotron_h"][1]}
    for change, match in ((dict(moe_latent_size=16), "moe_latent_size"), (dict(mlp_bias=True), "mlp_bias"),
                          (dict(hybrid_override_pattern="M-X"), "hybrid_override_pattern"),
                          (dict(layers_block_type=["mamba", "conv"]), "layers_block_type"),
                          (dict(n_routed_experts=1), "n_routed_experts"),
                          (dict(mamba_ssm_cache_dtype="fp3"), "mamba_ssm_cache_dtype")):
        with pytest.raises(ValueError, match=match):
            symroof.models.from_hf_config({**nemotron, **change})
    falcon = {"model_type": "falcon_h1", **CASES["falcon_h1"][1]}
    for change, match in ((dict(mamba_d_head=8), "mamba_d_head"), (dict(mamba_n_groups=4), "mamba_n_groups"),
                          (dict(num_key_value_heads=3), "num_key_value_heads")):
        with pytest.raises(ValueError, match=match):
            symroof.models.from_hf_config({**falcon, **change})
    # mamba_ssm_cache_dtype (default float32) sets the recurrent state's bytes; "auto" leaves it at b_kv
    assert symroof.models.from_hf_config({**nemotron, "mamba_ssm_cache_dtype": "bfloat16"}).recurrent_bytes == 2
    auto = symroof.models.from_hf_config({**nemotron, "mamba_ssm_cache_dtype": "auto", "torch_dtype": "float16"})
    assert auto.state_bytes is None and auto.recurrent_bytes == 2


# ---- real published configs --------------------------------------------------------------------------------

DATA = om.__file__.rsplit("/", 1)[0] + "/data"

# state elements per sequence, by hand (transformers keeps d_conv columns of the conv input):
# mamba-130m: 24 layers · (d_inner·d_state = 1536·16 + d_conv·d_inner = 4·1536)
# Jamba-v0.1: 28 Mamba layers (attention at i % 8 == 4) · (8192·16 + 4·8192); KV: 4 layers · 2·8·128 per token
# Qwen3-Next-80B-A3B: 36 DeltaNet layers · (32 heads·128·128 + 4·(2·16·128 + 32·128)); KV: 12 · 2·2·256
# Falcon-H1-0.5B: 36 layers, each Mamba2 (1536·128 + 4·(1536 + 2·1·128)) and attention; KV: 36 · 2·2·64
# Falcon-H1-7B: 44 layers · (3072·256 + 4·(3072 + 2·1·256)); KV: 44 · 2·2·128
# Nemotron-H-8B: 24 Mamba2 layers ("M") · (128·64·128 + 4·(8192 + 2·8·128)); KV: 4 attention layers ("*") · 2·8·128
REAL = {
    "mamba-130m-hf.json": (24 * (1536 * 16 + 4 * 1536), 0),
    "jamba-v0.1.json": (28 * (8192 * 16 + 4 * 8192), 4 * 2 * 8 * 128),
    "qwen3-next-80b-a3b-instruct.json": (36 * (32 * 128 * 128 + 4 * (2 * 16 * 128 + 32 * 128)), 12 * 2 * 2 * 256),
    "falcon-h1-0.5b-instruct.json": (36 * (1536 * 128 + 4 * (1536 + 2 * 128)), 36 * 2 * 2 * 64),
    "falcon-h1-7b-base.json": (44 * (3072 * 256 + 4 * (3072 + 2 * 256)), 44 * 2 * 2 * 128),
    "nemotron-h-8b-base-8k.json": (24 * (128 * 64 * 128 + 4 * (8192 + 2 * 8 * 128)), 4 * 2 * 8 * 128),
}
# their state in bytes, as transformers holds it in bf16: the recurrent state in fp32, the conv cache in bf16
STATE_BYTES = {
    "falcon-h1-0.5b-instruct.json": 36 * (1536 * 128 * 4 + 4 * (1536 + 2 * 128) * 2),
    "falcon-h1-7b-base.json": 44 * (3072 * 256 * 4 + 4 * (3072 + 2 * 256) * 2),
    "nemotron-h-8b-base-8k.json": 24 * (128 * 64 * 128 * 4 + 4 * (8192 + 2 * 8 * 128) * 2),
}


def _meta_count(data):
    torch = om.require("torch")
    transformers = om.require("transformers")
    kwargs = {k: v for k, v in data.items() if not k.startswith("_") and k not in ("model_type", "architectures")}
    hf = transformers.AutoConfig.for_model(data["model_type"], **kwargs)
    with torch.device("meta"):
        lm = transformers.AutoModelForCausalLM.from_config(hf)
    return sum(p.numel() for p in lm.parameters())


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_config(name):
    import json

    import symroof

    with open(f"{DATA}/{name}") as f:
        data = json.load(f)
    arch = symroof.models.from_hf_config(f"{DATA}/{name}")
    assert symroof.total_parameters(arch) == _meta_count(data)
    state, kv_per_token = REAL[name]
    assert arch.state_elements() == state
    assert arch.kv_cache_elements(10**6) == kv_per_token * 10**6
    assert arch.kv_elements_per_token == kv_per_token
    if name in STATE_BYTES:
        assert arch.kv_bytes == 2 and arch.state_memory() == STATE_BYTES[name]


def test_published_sizes():
    """Published totals: Mamba-130M (about 130M: 129,135,360 with its tied 50,280-row embedding),
    Jamba "52B total, 12B active", Qwen3-Next "80B total, 3B active", Falcon-H1 0.5B and 7B, Nemotron-H
    8B (model cards)."""
    import symroof

    read = lambda n: symroof.models.from_hf_config(f"{DATA}/{n}")
    assert 125e6 < symroof.total_parameters(read("mamba-130m-hf.json")) < 135e6
    jamba = read("jamba-v0.1.json")
    assert 51e9 < symroof.total_parameters(jamba) < 53e9 and 11e9 < symroof.active_parameters(jamba) < 13e9
    qwen = read("qwen3-next-80b-a3b-instruct.json")
    assert 79e9 < symroof.total_parameters(qwen) < 82e9 and 2.5e9 < symroof.active_parameters(qwen) < 4e9
    # Falcon-H1 "0.5B" and "7B" (model cards; transformers' count 521,411,104 and 7,585,513,568), Nemotron-H
    # "8B" (model card: "This model has 8B of model parameters"; transformers' count 8,100,852,736)
    assert 0.5e9 < symroof.total_parameters(read("falcon-h1-0.5b-instruct.json")) < 0.55e9
    assert 7e9 < symroof.total_parameters(read("falcon-h1-7b-base.json")) < 8e9
    assert 8e9 < symroof.total_parameters(read("nemotron-h-8b-base-8k.json")) < 8.2e9


# ---- what the fixed state changes -------------------------------------------------------------------------

def test_counter_is_not_the_algorithm():
    """The oracle's conventions (state_scan="counter") differ from the algorithm's count: the check above
    is not vacuous. Mamba2 decode: the counter sees the readout 2·d_inner·d_state per token, the
    recurrence is 5·d_inner·d_state (update 3, readout 2)."""
    import symroof
    from symroof.cost.statespace import scan_flops
    from symroof.cost.step import Step
    from symroof.model.layers import StateSpace

    m = StateSpace(inner=128, state=8, heads=8, groups=2, chunk=4)
    counter = symroof.conventions.get("matmul")
    exact = symroof.conventions.get("exact")
    assert scan_flops(m, counter, Step(2, 1, 11)) == 2 * 2 * 128 * 8
    assert scan_flops(m, exact, Step(2, 1, 11)) == 5 * 2 * 128 * 8
    # SSD over 11 tokens in chunks of 4: c = 3, per head (P = 16, N = 8): 2cQ²N + 2cQ²P + 2cQPN + 2(c+1)²PN + 2cQNP
    c, Q, P, N = 3, 4, 16, 8
    per_head = 2 * c * Q * Q * N + 2 * c * Q * Q * P + 2 * c * Q * P * N + 2 * (c + 1) ** 2 * P * N + 2 * c * Q * N * P
    assert scan_flops(m, exact, Step(2, 11, 0)) == 2 * 8 * per_head


def _similar_models(state=128):
    """A dense GQA model, the same with a 4096-token sliding window, a hybrid with full attention in one
    layer of eight and Mamba2 in the others, and an all-Mamba2 model (width 4096, 32 layers, bf16)."""
    import symroof
    from symroof.model.layers import FFN, Attention, Layer, StateSpace

    base = dict(hidden=4096, layers=32, heads=32, kv_heads=8, ffn_dim=14336, ffn_kind="gated", vocab=128256,
                tied_embeddings=False)
    attn = Layer(Attention(32, 8, 128), FFN(14336))
    ssm = Layer(None, FFN(14336), mixer=StateSpace(inner=8192, state=state, heads=128, groups=8))
    return (symroof.Arch(**base, name="dense"), symroof.Arch(**base, window=4096, name="sliding"),
            symroof.Arch(**base, layout=((7, ssm), (1, attn)) * 4, name="hybrid"),
            symroof.Arch(**base, layout=((32, ssm),), name="mamba2"))


def test_decode_intensity_limit_in_context():
    """As S_c → ∞ (B fixed) an attention layer's decode does, per cached token and sequence,
    2·2·n_h·d_h FLOPs (scores and values) for 2·n_kv·d_h·2 bytes of K and V: the limit is
    n_h/n_kv = 4 for the dense model, and the same 4 for a hybrid with any full-attention layer (the
    fixed state does not change the asymptote). Without growing KV (all-Mamba2, or a sliding window)
    the intensity stops depending on S_c, so its S_c → ∞ limit is the (B-dependent) intensity
    itself, not 4."""
    import sympy

    import symroof
    from symroof.symbols import B, S_c

    dense, _sliding, hybrid, mamba2 = _similar_models()
    for arch in (dense, hybrid):
        assert sympy.simplify(symroof.intensity_limit(symroof.decode(arch, "exact"), S_c).value - 4) == 0
    for arch in (mamba2,):
        limit = symroof.intensity_limit(symroof.decode(arch, "exact", B=64), S_c).value
        assert limit != 4 and limit == symroof.decode(arch, "exact", B=64, S_c=10**6).intensity
    # at a long context the hybrid's B → ∞ limit is above the dense model's (1 attention layer in 8)
    at = 131072
    lim = lambda a: symroof.intensity_limit(symroof.decode(a, "exact", S_c=at), B).value
    assert lim(hybrid) > 2 * lim(dense)
    assert lim(mamba2) == symroof.intensity_limit(symroof.decode(mamba2, "exact", S_c=4096), B).value


def test_crossover_at_long_context():
    """At S_c = 128k on an H100 (bf16) the dense model's decode is memory-bound at every batch; an
    all-Mamba2 model with d_state 16 turns compute-bound at a finite batch, the same at every
    context. With d_state 128 it does not: reading and writing 2·32·(8192·128 + 4·10240) state
    elements per sequence and step bounds its intensity at B → ∞ below the balance."""
    import symroof

    gpu = symroof.hardware.get("H100-SXM")
    dense, _, _, _ = _similar_models()
    _, _, _, small = _similar_models(state=16)
    _, _, _, large = _similar_models(state=128)
    cross = lambda a, s: symroof.crossover_batch(symroof.decode(a, "exact", S_c=s), gpu)
    assert not cross(dense, 131072).exists
    assert cross(small, 131072).exists and cross(small, 131072).value == cross(small, 1024).value
    assert not cross(large, 131072).exists


def test_capacity_counts_state_once_per_sequence():
    """KV capacity: per token only the 4 attention layers' K and V (4·2·8·128·2 bytes), and each
    sequence's state once: 28 layers · (8192·128 + 4·(8192 + 2·8·128)) elements at 2 bytes."""
    import symroof
    from symroof.analysis.serving import max_batch
    from symroof.analysis.timing import kv_capacity

    _, _, hybrid, _ = _similar_models()
    per_token = 4 * 2 * 8 * 128 * 2
    state = 28 * (8192 * 128 + 4 * (8192 + 2 * 8 * 128)) * 2
    cap = kv_capacity(hybrid, "H100-SXM", context=1000)
    assert cap.kv_bytes_per_token == per_token and cap.state_bytes_per_sequence == state
    assert cap.batch == cap.free_bytes // (per_token * 1000 + state)
    assert max_batch(hybrid, "H100-SXM", S_c=999) == cap.batch
    _ = symroof


# ---- the state's own dtype and out_proj's own bias ----------------------------------------------------------

def test_state_bytes_prices_the_recurrent_state_apart():
    """``Arch.state_bytes`` prices the recurrent state apart from the conv cache (which stays at ``b_kv``);
    unset, every number is the one-dtype number. By hand: 28 Mamba2 layers, each 8192·128 state elements
    and 4·(8192 + 2·8·128) conv elements."""
    import symroof
    from symroof.analysis.timing import kv_capacity
    from symroof.cost.statespace import state_bytes
    from symroof.cost.step import Step

    _, _, hybrid, _ = _similar_models()
    recurrent, conv = 28 * 8192 * 128, 28 * 4 * (8192 + 2 * 8 * 128)
    assert hybrid.state_bytes is None and hybrid.recurrent_bytes == 2
    assert hybrid.state_memory() == (recurrent + conv) * 2 == hybrid.state_elements() * 2
    fp32 = hybrid.replace(layout=hybrid.layout, state_bytes="fp32")
    assert fp32.recurrent_bytes == 4 and fp32.state_memory() == recurrent * 4 + conv * 2
    assert kv_capacity(fp32, "H100-SXM", context=1000).state_bytes_per_sequence == recurrent * 4 + conv * 2
    mixer = hybrid.layout[0][1].mixer
    one = state_bytes(fp32, mixer, symroof.conventions.get("exact"), Step(3, 1, 100))
    assert one["state/read"] == one["state/write"] == 3 * (8192 * 128 * 4 + 4 * (8192 + 2 * 8 * 128) * 2)
    with pytest.raises(ValueError, match="state_bytes"):
        hybrid.replace(layout=hybrid.layout, state_bytes=0)


def test_out_bias_follows_bias_unless_given():
    """Falcon-H1 biases Mamba's in_proj (mamba_proj_bias) and out_proj (projectors_bias) apart."""
    from symroof.model.layers import Layer, StateSpace, matrices

    m = StateSpace(inner=128, state=8, heads=8, bias=False, out_bias=True)
    biases = {x.name: x.bias for x in matrices(Layer(None, None, norms=1, mixer=m), 64)}
    assert biases == {"mixer/in": False, "mixer/out": True}
    assert StateSpace(inner=128, state=8, heads=8, bias=True).out_bias is True
    assert StateSpace(inner=128, state=8, heads=8).replace(bias=True).out_bias is True
    assert m.replace(bias=True).out_bias is True and m.replace(out_bias=False).out_bias is False
    with pytest.raises(ValueError, match="out_bias"):
        StateSpace(inner=128, state=8, heads=8, out_bias=1)
