"""Places the Hugging Face config ingest (``symroof.model.hf``) and the state-space code
(``symroof.model.statespace``, ``symroof.cost.statespace``) left untested, found by mutation testing
(``benchmarks/mutation.py``): each test kills mutants that survived the rest of the suite.

Every expected value is independent of symroof: transformers 5.24 itself (the oracle of
`tests.oracle_models`: the model built on the meta device, counted by ``FlopCounterMode``, its cache
measured), a published layout or config class default (cited), or a hand derivation written out.
"""

from __future__ import annotations

import pytest

from tests import oracle_models as om

MOE = {"experts_implementation": "batched_mm"}


# ---- the config classes' defaults of keys a file leaves out ----------------------------------------------
#
# save_pretrained writes only the values that differ from the config class's defaults, so a published
# file may leave any of them out. Each config below gives the few sizes that keep the model small and
# leaves the rest to the class: transformers builds the model from the same keys (check_family compares
# parameters, matmul FLOPs of a prefill and of decode steps, and the cache it holds).

DEFAULTS = {
    # JambaConfig: num_key_value_heads 8 (absent; null would be all heads), attn_layer_period 8 at offset 4,
    # expert_layer_period 2 at offset 1, num_experts_per_tok 2, mamba_d_state 16, mamba_d_conv 4,
    # mamba_expand 2, mamba_dt_rank "auto" = ceil(128/16) = 8, conv bias on, projections without bias
    "jamba": ("jamba", dict(hidden_size=128, num_hidden_layers=8, vocab_size=101, intermediate_size=96,
                            num_attention_heads=16, num_experts=4), MOE),
    # Qwen3NextConfig: num_key_value_heads 2 and head_dim 256 (not hidden/heads = 4), partial_rotary_factor
    # 0.25, full_attention_interval 4 (layer 3 full, 0-2 Gated DeltaNet), linear heads 16 key / 32 value of
    # 128, conv 4, 512 experts (10 per token) of 512 and a shared expert of 512, intermediate_size 5632
    "qwen3_next": ("qwen3_next", dict(hidden_size=64, num_hidden_layers=4, vocab_size=101,
                                      num_attention_heads=16), MOE),
}


@pytest.mark.parametrize("case", sorted(DEFAULTS))
def test_class_defaults_of_left_out_keys(case):
    """A real bug before: Jamba's and Qwen3-Next's readers took a left-out num_key_value_heads as all
    heads (transformers: 8 and 2) and Qwen3-Next's left-out head_dim as hidden/heads (transformers: 256)."""
    model_type, config, load = DEFAULTS[case]
    arch = om.check_family(model_type, config, load=load)
    kv, head_dim = {"jamba": (8, 128 // 16), "qwen3_next": (2, 256)}[case]
    assert (arch.kv_heads, arch.head_dim) == (kv, head_dim)


def _layers(arch):
    """One `Layer` per layer, in model order."""
    return [layer for n, layer in arch.groups for _ in range(int(n))]


def _read(model_type, **config):
    """symroof's reading of ``config`` and transformers' config object of the same keys (its class fills
    in every key left out; no model is built)."""
    import symroof

    transformers = om.require("transformers")
    return (symroof.models.from_hf_config({"model_type": model_type, **config}),
            transformers.AutoConfig.for_model(model_type, **config))


def test_mamba_left_out_keys_are_mambaconfig_defaults():
    """MambaConfig: state_size 16, conv_kernel 4, expand 2 (``intermediate_size``), time_step_rank
    "auto" = ceil(72/16) = 5, use_conv_bias true, use_bias false, a tied head."""
    arch, hf = _read("mamba", hidden_size=72, num_hidden_layers=2, vocab_size=101)
    (m,) = {layer.mixer for layer in _layers(arch)}
    assert (m.heads, m.inner, m.state, m.conv, m.dt_rank) == (
        None, hf.intermediate_size, hf.state_size, hf.conv_kernel, hf.time_step_rank) == (None, 144, 16, 4, 5)
    assert (m.conv_bias, m.bias, arch.tied_embeddings) == (hf.use_conv_bias, hf.use_bias, hf.tie_word_embeddings)
    assert (m.conv_bias, m.bias, arch.tied_embeddings) == (True, False, True)


def test_mamba2_left_out_keys_are_mamba2config_defaults():
    """Mamba2Config: num_heads 128 of head_dim 64 (= expand 2 · 4096 / 128), n_groups 8, state_size 128,
    conv_kernel 4, chunk_size 256, conv bias, no projection biases, an untied head."""
    arch, hf = _read("mamba2", hidden_size=4096, num_hidden_layers=1, vocab_size=101)
    (m,) = {layer.mixer for layer in _layers(arch)}
    assert (m.inner, m.heads, m.head_dim, m.groups, m.state, m.conv, m.chunk) == (
        hf.expand * hf.hidden_size, hf.num_heads, hf.head_dim, hf.n_groups, hf.state_size, hf.conv_kernel,
        hf.chunk_size) == (8192, 128, 64, 8, 128, 4, 256)
    assert (m.conv_bias, m.bias, arch.tied_embeddings) == (hf.use_conv_bias, hf.use_bias, hf.tie_word_embeddings)


def test_jamba_left_out_keys_are_jambaconfig_defaults():
    """JambaConfig (see DEFAULTS): the attention layers are ``layers_block_type``'s, the MoE ones
    ``layers_num_experts``' (16 experts, 2 per token); every Mamba mixer of expand 2, d_state 16, d_conv 4,
    dt_rank ceil(128/16) = 8, with its dt/B/C RMSNorms; 8 KV heads; the FFNs gated."""
    _, config, _ = DEFAULTS["jamba"]
    arch, hf = _read("jamba", **{**config, "num_experts": 16})
    layers = _layers(arch)
    assert ["attention" if x.attention is not None else "mamba" for x in layers] == hf.layers_block_type
    assert hf.layers_block_type == ["mamba"] * 4 + ["attention"] + ["mamba"] * 3
    assert [x.ffn.experts for x in layers] == hf.layers_num_experts == [1, 16] * 4
    assert {x.ffn.experts_per_token for x in layers if x.ffn.is_moe} == {hf.num_experts_per_tok} == {2}
    assert all(x.ffn.gated and x.ffn.width == 96 for x in layers) and arch.ffn_kind == "gated"
    (m,) = {x.mixer for x in layers if x.mixer is not None}
    assert (m.inner, m.state, m.conv, m.dt_rank, m.conv_bias, m.bias, m.dt_bc_norms) == (
        hf.mamba_expand * 128, hf.mamba_d_state, hf.mamba_d_conv, hf.mamba_dt_rank, hf.mamba_conv_bias,
        hf.mamba_proj_bias, True) == (256, 16, 4, 8, True, False, True)
    (a,) = {x.attention for x in layers if x.attention is not None}
    assert (a.heads, a.kv_heads, a.head_dim) == (16, hf.num_key_value_heads, 128 // 16) == (16, 8, 8)
    assert arch.tied_embeddings is hf.tie_word_embeddings is False


def test_qwen3_next_left_out_keys_are_qwen3nextconfig_defaults():
    """Qwen3NextConfig (see DEFAULTS): ``layer_types`` every 4th layer full attention; gated attention of
    head_dim 256 over 2 KV heads, rotating int(256·0.25) = 64 dims, q/k norms; Gated DeltaNet of 16 key
    heads and 32 value heads of 128, conv 4; 512 experts of 512, 10 per token, a gated shared expert of 512."""
    _, config, _ = DEFAULTS["qwen3_next"]
    arch, hf = _read("qwen3_next", **config)
    layers = _layers(arch)
    assert ["full_attention" if x.attention is not None else "linear_attention" for x in layers] == hf.layer_types
    (a,) = {x.attention for x in layers if x.attention is not None}
    factor = hf.rope_parameters["partial_rotary_factor"]
    assert (a.heads, a.kv_heads, a.head_dim, a.rotary_dim) == (
        hf.num_attention_heads, hf.num_key_value_heads, hf.head_dim, int(hf.head_dim * factor)) == (16, 2, 256, 64)
    assert a.gate and a.qk_norm == "head" and not a.qkv_bias and not a.out_bias
    (d,) = {x.mixer for x in layers if x.mixer is not None}
    assert (d.key_heads, d.value_heads, d.key_dim, d.value_dim, d.conv) == (
        hf.linear_num_key_heads, hf.linear_num_value_heads, hf.linear_key_head_dim, hf.linear_value_head_dim,
        hf.linear_conv_kernel_dim) == (16, 32, 128, 128, 4)
    (f,) = {x.ffn for x in layers}
    assert (f.experts, f.experts_per_token, f.width, f.shared_experts, f.shared_width, f.shared_gate) == (
        hf.num_experts, hf.num_experts_per_tok, hf.moe_intermediate_size, 1, hf.shared_expert_intermediate_size,
        True) == (512, 10, 512, 1, 512, True)
    # mlp_only_layers: a dense MLP of intermediate_size (5632) there
    arch, hf = _read("qwen3_next", **config, mlp_only_layers=[1])
    assert [x.ffn.is_moe for x in _layers(arch)] == [True, False, True, True]
    assert _layers(arch)[1].ffn.width == hf.intermediate_size == 5632


def _numel(hf, **load):
    """transformers' parameter count of the model of config ``hf``, built on the meta device."""
    torch = om.require("torch")
    transformers = om.require("transformers")
    with torch.device("meta"):
        lm = transformers.AutoModelForCausalLM.from_config(hf, **load)
    return sum(p.numel() for p in lm.parameters()), lm


def test_mamba_biases_as_transformers_builds_them():
    """MambaMixer: in_proj and out_proj biased by use_bias, the conv by use_conv_bias (the meta model's
    own modules, and its parameter count)."""
    import symroof

    arch, hf = _read("mamba", hidden_size=64, num_hidden_layers=1, vocab_size=101, use_bias=True, use_conv_bias=False)
    numel, lm = _numel(hf)
    mixer = lm.backbone.layers[0].mixer
    (m,) = {layer.mixer for layer in _layers(arch)}
    assert (m.bias, m.out_bias, m.conv_bias) == (mixer.in_proj.bias is not None, mixer.out_proj.bias is not None,
                                                 mixer.conv1d.bias is not None) == (True, True, False)
    assert symroof.total_parameters(arch) == numel


def test_granitemoehybrid_left_out_keys_and_biases():
    """GraniteMoeHybridConfig: mamba_d_state 256, mamba_n_groups 1, mamba_d_conv 4, mamba_chunk_size 256,
    mamba_expand 2, mamba_d_head "auto" = 128/8 = 16, 8 local experts (2 per token), a shared MLP of 1024,
    num_key_value_heads null: all heads, no RoPE unless position_embedding_type is "rope";
    attention_bias on q, k, v and o (the meta model's o_proj has a bias)."""
    import symroof

    config = dict(hidden_size=64, num_hidden_layers=2, vocab_size=101, num_attention_heads=4, intermediate_size=96,
                  mamba_n_heads=8, layer_types=["mamba", "attention"], attention_bias=True)
    arch, hf = _read("granitemoehybrid", **config)
    layers = _layers(arch)
    m, a = layers[0].mixer, layers[1].attention
    assert (m.inner, m.heads, m.head_dim, m.state, m.groups, m.conv, m.chunk) == (
        hf.mamba_expand * 64, hf.mamba_n_heads, hf.mamba_d_head, hf.mamba_d_state, hf.mamba_n_groups,
        hf.mamba_d_conv, hf.mamba_chunk_size) == (128, 8, 16, 256, 1, 4, 256)
    (f,) = {x.ffn for x in layers}
    assert (f.experts, f.experts_per_token, f.width, f.shared_experts, f.shared_width) == (
        hf.num_local_experts, hf.num_experts_per_tok, 96, 1, hf.shared_intermediate_size) == (8, 2, 96, 1, 1024)
    numel, lm = _numel(hf)
    attn = lm.model.layers[1].self_attn
    assert (a.kv_heads, a.rope, a.qkv_bias, a.out_bias) == (hf.num_key_value_heads, False, attn.q_proj.bias is not None,
                                                            attn.o_proj.bias is not None) == (4, False, True, True)
    assert symroof.total_parameters(arch) == numel
    # mamba_expand read from its own key: 1·64 = 64 channels of 8 heads of 8
    arch, hf = _read("granitemoehybrid", **{**config, "mamba_expand": 1})
    m = _layers(arch)[0].mixer
    assert (m.inner, m.head_dim) == (hf.mamba_expand * 64, hf.mamba_d_head) == (64, 8)
    assert symroof.total_parameters(arch) == _numel(hf)[0]


def test_qwen3_next_attention_bias_on_q_k_v_and_o():
    """Qwen3NextAttention: q_proj (doubled for the gate), k, v and o_proj biased by attention_bias."""
    import symroof

    _, config, _ = DEFAULTS["qwen3_next"]
    small = dict(config, num_experts=4, num_experts_per_tok=2, linear_num_key_heads=2, linear_num_value_heads=4,
                 attention_bias=True)
    arch, hf = _read("qwen3_next", **small)
    numel, lm = _numel(hf, **MOE)
    attn = lm.model.layers[3].self_attn
    (a,) = {x.attention for x in _layers(arch) if x.attention is not None}
    assert (a.qkv_bias, a.out_bias) == (attn.k_proj.bias is not None, attn.o_proj.bias is not None) == (True, True)
    assert symroof.total_parameters(arch) == numel


def test_falcon_h1_left_out_keys_with_a_null_mamba_d_ssm():
    """FalconH1Config: mamba_d_ssm null is mamba_expand (2) · hidden_size = 128 channels (FalconH1Mixer);
    mamba_d_head "auto" = 128/8 = 16, mamba_d_state 256, one group, d_conv 4, chunks of 256; 8 KV heads."""
    import symroof

    arch, hf = _read("falcon_h1", hidden_size=64, num_hidden_layers=1, vocab_size=101, intermediate_size=96,
                     num_attention_heads=8, mamba_d_ssm=None, mamba_n_heads=8)
    (layer,) = _layers(arch)
    m, a = layer.mixer, layer.attention
    assert (m.inner, m.heads, m.head_dim, m.state, m.groups, m.conv, m.chunk) == (
        hf.mamba_expand * 64, hf.mamba_n_heads, hf.mamba_d_head, hf.mamba_d_state, hf.mamba_n_groups,
        hf.mamba_d_conv, hf.mamba_chunk_size) == (128, 8, 16, 256, 1, 4, 256)
    assert (a.heads, a.kv_heads, a.head_dim) == (8, hf.num_key_value_heads, 64 // 8) == (8, 8, 8)
    assert layer.ffn.width == arch.ffn_dim == 96 and arch.ffn_kind == "gated"
    assert symroof.total_parameters(arch) == _numel(hf)[0]


def test_nemotron_h_left_out_keys_are_nemotronhconfig_defaults():
    """NemotronHConfig (nothing but model_type): the four layers M E * -; Mamba2 of 128 heads of 64, 8 groups,
    ssm_state_size 128, conv_kernel 4, chunk_size 128; attention of 32 heads over 8 KV heads of head_dim 128;
    8 routed experts of 7688 (2 per token) and a shared one of 7688; the MLP 21504 wide; the recurrent state
    kept in float32 (mamba_ssm_cache_dtype)."""
    arch, hf = _read("nemotron_h")
    layers = _layers(arch)
    (m,) = {x.mixer for x in layers if x.mixer is not None}
    assert (m.inner, m.heads, m.head_dim, m.groups, m.state, m.conv, m.chunk, m.conv_bias, m.bias) == (
        hf.mamba_num_heads * hf.mamba_head_dim, hf.mamba_num_heads, hf.mamba_head_dim, hf.n_groups, hf.ssm_state_size,
        hf.conv_kernel, hf.chunk_size, hf.use_conv_bias, hf.use_bias) == (8192, 128, 64, 8, 128, 4, 128, True, False)
    (a,) = {x.attention for x in layers if x.attention is not None}
    assert (a.heads, a.kv_heads, a.head_dim, a.rope) == (hf.num_attention_heads, hf.num_key_value_heads, hf.head_dim,
                                                         False) == (32, 8, 128, False)
    # the model-level summary of the attention (heads, KV heads, head width) is the attention layer's
    assert (arch.heads, arch.kv_heads, arch.head_dim) == (32, 8, 128)
    moe = layers[1].ffn
    assert (moe.experts, moe.experts_per_token, moe.width, moe.shared_width, moe.gated) == (
        hf.n_routed_experts, hf.num_experts_per_tok, hf.moe_intermediate_size, hf.moe_shared_expert_intermediate_size,
        False) == (8, 2, 7688, 7688, False)
    assert layers[3].ffn.width == hf.intermediate_size == 21504
    assert arch.recurrent_bytes == 4 and hf.mamba_ssm_cache_dtype == "float32"


# ---- quantization_config ------------------------------------------------------------------------------------

TINY_LLAMA = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
              "num_key_value_heads": 2, "intermediate_size": 96, "vocab_size": 100, "torch_dtype": "float16"}


def _layout(quant, compute="fp16"):
    from symroof.model.hf.quant import quantization_from_config

    return quantization_from_config(quant, compute).layout


def _fp8_linear_bytes(n_in, n_out, **kwargs):
    """Bytes of transformers' own ``FP8Linear`` (integrations/finegrained_fp8.py) on the meta device: weight
    float8_e4m3fn [out, in]; weight_scale_inv one fp32 scalar (no block size) or [ceil(out/b0), ceil(in/b1)]
    of fp32 or float8_e8m0fnu (ue8m0); activation_scale one fp32 scalar when static."""
    torch = om.require("torch")
    om.require("transformers")
    from transformers.integrations.finegrained_fp8 import FP8Linear

    with torch.device("meta"):
        linear = FP8Linear(n_in, n_out, **kwargs)
    return sum(p.numel() * p.element_size() for p in linear.parameters())


@pytest.mark.parametrize("quant, kwargs", [
    ({}, {}),
    ({"activation_scheme": "static"}, {"activation_scheme": "static"}),
    ({"activation_scheme": "dynamic"}, {}),
    ({"weight_block_size": [128, 64]}, {"block_size": (128, 64)}),
    ({"weight_block_size": [128, 64], "activation_scheme": "static"}, {"block_size": (128, 64),
                                                                       "activation_scheme": "static"}),
    ({"weight_block_size": [64, 128], "scale_fmt": "ue8m0"}, {"block_size": (64, 128), "scale_fmt": "ue8m0"}),
])
@pytest.mark.parametrize("n_in, n_out", [(300, 200), (256, 64)])
def test_fp8_layout_counts_transformers_fp8linear(quant, kwargs, n_in, n_out):
    ours = _layout({"quant_method": "fp8", **quant}).matrix_bytes(n_in, n_out)
    assert ours == _fp8_linear_bytes(n_in, n_out, **kwargs)


def test_fp8_per_tensor_bytes_by_hand():
    """Per-tensor fp8: 300·200 one-byte weights and one fp32 weight_scale_inv (4 bytes), and with a static
    activation scheme one more fp32 activation_scale: 60,004 and 60,008 bytes."""
    assert _layout({"quant_method": "fp8"}).matrix_bytes(300, 200) == 60_004
    assert _layout({"quant_method": "fp8", "activation_scheme": "static"}).matrix_bytes(300, 200) == 60_008
    # blocks of 128x64 (out x in), static: ceil(200/128)·ceil(300/64) = 2·5 = 10 fp32 scales + 4
    assert _layout({"quant_method": "fp8", "weight_block_size": [128, 64], "activation_scheme": "static"}
                   ).matrix_bytes(300, 200) == 60_000 + 40 + 4


@pytest.mark.parametrize("block", [[128, 0], [True, 128], [128, 128.0], [128, -1], [128, 128, 128]])
def test_fp8_bad_block_size(block):
    from symroof.model.hf.quant import quantization_from_config

    with pytest.raises(ValueError) as err:
        quantization_from_config({"quant_method": "fp8", "weight_block_size": block})
    assert str(err.value) == f"quantization_config: weight_block_size={block!r} must be two positive integers"


def test_quantised_source_names_each_layout():
    """The source line names the layout read (its scale dtype and grouping), as the method stores it."""
    import symroof

    def source(quant):
        return symroof.models.from_hf_config({**TINY_LLAMA, "quantization_config": quant}).source

    assert "fp8 (fp8 weights, one fp32 scale per tensor)" in source({"quant_method": "fp8"})
    assert "fp8 (fp8 weights, one ue8m0 scale per 128x64 block)" in source(
        {"quant_method": "fp8", "weight_block_size": [128, 64], "scale_fmt": "ue8m0"})
    assert "fp8 (fp8 weights, one fp32 scale per 128x128 block)" in source(
        {"quant_method": "fp8", "weight_block_size": [128, 128]})
    assert "awq (int4 weights, groups of 32: fp16 scales, int4 zeros)" in source(
        {"quant_method": "awq", "bits": 4, "group_size": 32})
    assert "awq (int4 weights, groups of 32: fp16 scales);" in source(
        {"quant_method": "awq", "bits": 4, "group_size": 32, "zero_point": False})


def test_awq_and_fp8_keep_the_lm_head_at_the_compute_dtype():
    """AutoAWQ and transformers' FP8 replace the decoder layers' linears only: the untied LM head stays a
    float16 [vocab, H] matrix, 2 bytes per weight."""
    import symroof

    for quant in ({"quant_method": "awq", "bits": 4, "group_size": 32}, {"quant_method": "fp8"}):
        arch = symroof.models.from_hf_config({**TINY_LLAMA, "quantization_config": quant})
        assert arch.bytes_of("lm_head") == 2


def test_gptq_group_size_default_one_and_v2():
    """GPTQConfig's group_size default is 128; a group of 1 is a positive group; the gptq_v2 checkpoint
    format (GPTQModel) stores the same tensors. AutoGPTQ QuantLinear, in = 256, out = 64, 4 bits:
    qweight 256·64/2 = 8192 B, g_idx 256·4 = 1024 B, per group and output an fp16 scale and a 4-bit zero
    (2.5 B): groups of 128: 2·64·2.5 = 320 B; groups of 1: 256·64·2.5 = 40,960 B."""
    transformers = om.require("transformers")
    assert transformers.GPTQConfig(bits=4).group_size == 128
    assert _layout({"quant_method": "gptq", "bits": 4}).matrix_bytes(256, 64) == 8192 + 1024 + 320
    assert _layout({"quant_method": "gptq", "bits": 4, "group_size": 1}).matrix_bytes(256, 64) == 8192 + 1024 + 40_960
    assert _layout({"quant_method": "gptq", "bits": 4, "checkpoint_format": "gptq_v2"}).matrix_bytes(256, 64) \
        == 8192 + 1024 + 320


@pytest.mark.parametrize("quant, message", [
    ({"quant_method": "awq", "bits": 4, "group_size": -1}, "quantization_config: AWQ group_size=-1 is not supported"),
    ({"quant_method": "gptq", "bits": 4, "checkpoint_format": "marlin"},
     "quantization_config: checkpoint_format='marlin' is not supported (gptq, gptq_v2)"),
    ({"bits": 4, "group_size": 128}, "quantization_config: quant_method=None is not supported; supported: gptq, awq, "
     "fp8, bitsandbytes, compressed-tensors, mxfp4 (or from_hf_config(..., quantization='ignore'))"),
])
def test_bad_quantization_messages(quant, message):
    from symroof.model.hf.quant import quantization_from_config

    with pytest.raises(ValueError) as err:
        quantization_from_config(quant)
    assert str(err.value) == message


def test_bitsandbytes_without_quant_method():
    """Older bitsandbytes configs carry only load_in_4bit / load_in_8bit: 4-bit packs two weights per byte
    and one fp32 absmax per 64, plus the 16-entry fp32 quant map; 8-bit one byte per weight and one fp32
    SCB per output row (+ a one-byte weight_format). 4096 -> 4096: 8,388,608 + 262,144·4 + 64 and
    16,777,216 + 4096·4 + 1."""
    assert _layout({"load_in_4bit": True}).matrix_bytes(4096, 4096) == 8_388_608 + 262_144 * 4 + 64
    assert _layout({"load_in_8bit": True}).matrix_bytes(4096, 4096) == 16_777_216 + 4096 * 4 + 1


def _ct(weights, targets=("Linear",)):
    return {"quant_method": "compressed-tensors", "config_groups": {"group_0": {"targets": list(targets),
                                                                                "weights": weights}}}


@pytest.mark.parametrize("weights, n_in, n_out, expected", [
    # no strategy: one scale per tensor (expected_shape 1), in the compute dtype (fp16, 2 B); 8 bits
    ({"num_bits": 8, "type": "int", "symmetric": True}, 256, 64, 256 * 64 + 2),
    # per output channel, asymmetric: a scale (2 B) and an int8 zero point (1 B) per output row
    ({"num_bits": 8, "strategy": "channel", "symmetric": False}, 256, 64, 256 * 64 + 64 * 3),
    # groups of 32, asymmetric 4-bit: 256·64/2 packed, 64·8 groups of a scale and a zero point
    ({"num_bits": 4, "strategy": "group", "group_size": 32, "symmetric": False}, 256, 64, 256 * 64 // 2 + 64 * 8 * 3),
    # blocks of 128x128 (out x in) on 300 -> 200, symmetric 8-bit: ceil(200/128)·ceil(300/128) = 2·3 scales
    ({"num_bits": 8, "type": "float", "strategy": "block", "block_structure": [128, 128]}, 300, 200, 60_000 + 6 * 2),
    # NVFP4 (tensor_group, groups of 16): weight_packed uint8 [out, in/2], weight_scale float8_e4m3fn
    # [out, in/16], weight_global_scale float32 [1]: 256·64/2 + 64·16·1 + 4
    ({"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16}, 256, 64, 8192 + 1024 + 4),
    # the same blocks asymmetric: a zero point per block too
    ({"num_bits": 8, "strategy": "block", "block_structure": [128, 128], "symmetric": False}, 300, 200, 60_000 + 6 * 3),
])
def test_compressed_tensors_layouts_by_hand(weights, n_in, n_out, expected):
    """compressed-tensors (compressed_tensors/quantization/lifecycle/initialize.py,
    ``_initialize_scale_zero_point``): a ``weight_scale`` of the strategy's shape in the model's dtype and,
    unless ``symmetric``, a ``weight_zero_point`` of the same shape in ``pytorch_dtype()`` (int8)."""
    assert _layout(_ct(weights)).matrix_bytes(n_in, n_out) == expected


def test_compressed_tensors_refusals():
    from symroof.model.hf.quant import quantization_from_config

    def message(quant):
        with pytest.raises(ValueError) as err:
            quantization_from_config(quant)
        return str(err.value)

    w4 = {"num_bits": 4, "strategy": "group", "group_size": 32}
    assert message(_ct(w4, targets=("Embedding",))) == (
        "quantization_config: config_groups.group_0 must quantise weights of targets ['Linear'] "
        "(got targets=['Embedding'])")
    two = _ct(w4)
    two["config_groups"]["group_1"] = {"targets": ["Linear"], "weights": {**w4, "group_size": 64}}
    assert message(two) == "quantization_config: config_groups with different weight schemes are not supported"
    assert message(_ct({"num_bits": 4, "strategy": "row"})) == (
        "quantization_config: strategy='row' is not supported (tensor, channel, group, tensor_group, block)")
    assert message(_ct({"num_bits": 4, "strategy": "block", "block_structure": [128, 0]})) == (
        "quantization_config: block_structure=[128, 0] must be two positive integers")


def test_mxfp4_keeps_the_lm_head_at_the_compute_dtype():
    """transformers' Mxfp4 integration converts only the MoE experts; gpt-oss's untied LM head stays bf16."""
    import symroof

    gpt_oss = {"model_type": "gpt_oss", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
               "num_key_value_heads": 2, "head_dim": 16, "intermediate_size": 64, "num_local_experts": 4,
               "num_experts_per_tok": 2, "vocab_size": 100, "torch_dtype": "bfloat16",
               "tie_word_embeddings": False, "quantization_config": {"quant_method": "mxfp4"}}
    arch = symroof.models.from_hf_config(gpt_oss)
    assert arch.bytes_of("lm_head") == 2 and arch.bytes_of("attention/q") == 2


# ---- symroof.model.statespace against transformers' mixer modules -----------------------------------------

def _module_parts(model_type, module, **config):
    """``{parameter name: numel}`` of one transformers mixer module (``modeling_<model_type>``) on the meta
    device, built from a config of ``config``."""
    torch = om.require("torch")
    transformers = om.require("transformers")
    import importlib

    cls = getattr(importlib.import_module(f"transformers.models.{model_type}.modeling_{model_type}"), module)
    with torch.device("meta"):
        mixer = cls(transformers.AutoConfig.for_model(model_type, **config), layer_idx=0)
    return {name: p.numel() for name, p in mixer.named_parameters()}, mixer


def _matrix_sizes(m, hidden):
    from symroof.model.layers import Layer, matrices

    return {x.name: x.rows * x.cols for x in matrices(Layer(None, None, norms=1, mixer=m), hidden)}


MIXERS = {
    # MambaMixer: d_inner 2·64, d_state 8, d_conv 3, dt_rank 5
    "mamba": ("mamba", "MambaMixer", dict(hidden_size=64, state_size=8, conv_kernel=3, time_step_rank=5),
              dict(inner=128, state=8, conv=3, dt_rank=5)),
    "mamba-no-conv-bias": ("mamba", "MambaMixer", dict(hidden_size=64, state_size=8, conv_kernel=4, time_step_rank=5,
                                                       use_conv_bias=False),
                           dict(inner=128, state=8, conv=4, dt_rank=5, conv_bias=False)),
    # JambaMambaMixer: Mamba's mixer with RMSNorms of dt (dt_rank), B and C (d_state each)
    "jamba": ("jamba", "JambaMambaMixer", dict(hidden_size=64, num_attention_heads=4, mamba_d_state=8, mamba_dt_rank=5),
              dict(inner=128, state=8, conv=4, dt_rank=5, dt_bc_norms=True)),
    # Mamba2Mixer: 8 heads of 16, 2 groups of d_state 8, a gated RMSNorm of d_inner
    "mamba2": ("mamba2", "Mamba2Mixer", dict(hidden_size=64, num_heads=8, head_dim=16, n_groups=2, state_size=8),
               dict(inner=128, state=8, heads=8, groups=2)),
    # FalconH1Mixer without mamba_rms_norm: no gated norm; d_ssm 128, one group
    "falcon_h1": ("falcon_h1", "FalconH1Mixer", dict(hidden_size=64, num_attention_heads=4, mamba_d_ssm=128,
                                                     mamba_n_heads=8, mamba_d_state=8, mamba_rms_norm=False),
                  dict(inner=128, state=8, heads=8, groups=1, gated_norm=False)),
}


@pytest.mark.parametrize("case", sorted(MIXERS))
def test_state_space_parameters_are_the_mixers(case):
    """conv (weight ``(channels, 1, d_conv)`` and bias), A_log/D/dt_bias, the mixer's norms, and the
    projections, each the numel of transformers' own module."""
    from symroof.model.layers import StateSpace

    model_type, module, config, fields = MIXERS[case]
    parts, mixer = _module_parts(model_type, module, **config)
    m = StateSpace(**fields)
    get = lambda *names: sum(parts.get(n, 0) for n in names)
    assert m.conv_channels == mixer.conv1d.weight.shape[0]
    assert m.conv_elements == m.conv * mixer.conv1d.weight.shape[0]
    assert m.conv_parameters == get("conv1d.weight", "conv1d.bias")
    assert m.ssm_parameters == get("A_log", "D", "dt_bias")
    assert m.norm_parameters == get("norm.weight", "dt_layernorm.weight", "b_layernorm.weight", "c_layernorm.weight")
    sizes = _matrix_sizes(m, 64)
    assert sizes["mixer/in"] == parts["in_proj.weight"] and sizes["mixer/out"] == parts["out_proj.weight"]
    if m.version == 1:
        assert (sizes["mixer/x"], sizes["mixer/dt"]) == (parts["x_proj.weight"], parts["dt_proj.weight"])
        assert m.recurrent_elements == mixer.A_log.numel()            # (d_inner, d_state): one state per sequence
    else:
        assert m.head_dim == 16 and m.recurrent_elements == 8 * 16 * 8   # heads · head_dim · d_state


def test_gated_deltanet_parameters_are_the_mixers():
    """Qwen3NextGatedDeltaNet: 2 key heads of 8, 4 value heads of 12, conv 4 without bias over
    2·2·8 + 4·12 = 80 channels, A_log and dt_bias per value head, a gated RMSNorm of d_v."""
    from symroof.model.layers import LinearAttention

    parts, mixer = _module_parts("qwen3_next", "Qwen3NextGatedDeltaNet", hidden_size=64, num_attention_heads=4,
                                 linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=8,
                                 linear_value_head_dim=12)
    d = LinearAttention(key_heads=2, value_heads=4, key_dim=8, value_dim=12)
    assert (d.key_width, d.value_width) == (16, 48)
    assert d.conv_channels == mixer.conv1d.weight.shape[0] == 80
    assert d.conv_parameters == parts["conv1d.weight"] == 320 and "conv1d.bias" not in parts
    assert d.ssm_parameters == parts["A_log"] + parts["dt_bias"] == 8
    assert d.norm_parameters == parts["norm.weight"] == 12
    assert d.recurrent_elements == 4 * 8 * 12 and d.conv_elements == 4 * 80
    sizes = _matrix_sizes(d, 64)
    assert (sizes["mixer/qkvz"], sizes["mixer/ba"], sizes["mixer/out"]) == (
        parts["in_proj_qkvz.weight"], parts["in_proj_ba.weight"], parts["out_proj.weight"])


@pytest.mark.parametrize("make, message", [
    (dict(inner=128, state=8), "a Mamba layer (heads=None) needs dt_rank"),
    (dict(inner=128, state=8, heads=12), "heads=12 must divide inner=128"),
    (dict(inner=128, state=8, heads=8, groups=3), "groups=3 must divide heads=8"),
    (dict(inner=128, state=8, heads=8, conv_bias=1), "conv_bias=1 must be True or False"),
    (dict(inner=128, state=8, heads=8, gated_norm=None), "gated_norm=None must be True or False"),
    (dict(inner=128, state=8, dt_rank=4, dt_bc_norms="yes"), "dt_bc_norms='yes' must be True or False"),
])
def test_state_space_refusals(make, message):
    from symroof.model.layers import StateSpace

    with pytest.raises(ValueError) as err:
        StateSpace(**make)
    assert str(err.value) == message


def test_linear_attention_refusal_and_symbolic_sizes():
    import sympy

    from symroof.model.layers import LinearAttention, StateSpace

    with pytest.raises(ValueError) as err:
        LinearAttention(key_heads=3, value_heads=4, key_dim=8, value_dim=8)
    assert str(err.value) == "key_heads=3 must divide value_heads=4"
    # symbolic sizes are not checked for divisibility, and keep their formulas: conv over d + 2·g·n channels
    d, n, h, g = sympy.symbols("d n h g", positive=True, integer=True)
    m = StateSpace(inner=d, state=n, heads=h, groups=g)
    assert m.conv_channels == d + 2 * g * n and m.ssm_parameters == 3 * h and m.head_dim == d / h


# ---- symroof.cost.statespace by hand --------------------------------------------------------------------------

def _conv(name, **changes):
    import symroof

    return symroof.conventions.get(name).replace(**changes)


def test_delta_rule_scan_flops_by_hand():
    """Gated DeltaNet, 4 value heads, d_k 8, d_v 12, chunks of Q = 64. Prefill of 100 tokens (B = 2):
    c = ceil(100/64) = 2 chunks, each per head (kβ)kᵀ and qkᵀ 4Q²d_k = 131,072, the intra-chunk output
    2Q²d_v = 98,304, W·S, q·S and kᵀ·v_new 6Q·d_k·d_v = 36,864, and (algorithm only) the UT transform's two
    triangular solves Q(Q−1)(d_k + d_v) = 64·63·20 = 80,640. Decode (1 token over 11, B = 2): 7·d_k·d_v per
    head and token, 2·4·7·96 = 5,376 (algorithm); the counter sees none (all elementwise)."""
    from symroof.cost.statespace import scan_flops
    from symroof.cost.step import Step
    from symroof.model.layers import LinearAttention

    d = LinearAttention(key_heads=2, value_heads=4, key_dim=8, value_dim=12)
    prefill, decode = Step(2, 100, 0), Step(2, 1, 11)
    assert scan_flops(d, _conv("exact"), prefill) == 2 * 4 * 2 * (131_072 + 98_304 + 36_864 + 80_640)
    assert scan_flops(d, _conv("matmul"), prefill) == 2 * 4 * 2 * (131_072 + 98_304 + 36_864)
    assert scan_flops(d, _conv("exact"), decode) == 5_376
    assert scan_flops(d, _conv("matmul"), decode) == 0
    # more than one new token over a cache: the chunked form, over ceil(3/64) = 1 chunk
    assert scan_flops(d, _conv("exact"), Step(2, 3, 11)) == 2 * 4 * 1 * (131_072 + 98_304 + 36_864 + 80_640)


def test_mamba_scan_and_conv_flops_by_hand():
    """Mamba (d_inner 128, d_state 8, d_conv 4): the selective scan 7·d_inner·d_state per token (algorithm),
    the readout bmm 2·d_inner·d_state (counter), prefill and decode alike. The conv, 2·d_conv per channel and
    output position: the algorithm counts the S_i new positions; the counter (aten.convolution, padding
    d_conv − 1) the padded output: max(S_i, d_conv) + d_conv − 1 positions from an empty cache (11 → 14,
    2 → 4 + 3 = 7), d_conv + S_i + d_conv − 1 over a cache (3 → 10), 2 in a one-token decode."""
    from symroof.cost.statespace import conv_flops, scan_flops
    from symroof.cost.step import Step
    from symroof.model.layers import StateSpace

    m = StateSpace(inner=128, state=8, conv=4, dt_rank=8)
    for step in (Step(2, 11, 0), Step(2, 1, 11), Step(3, 5, 7)):
        tokens = step.batch * step.new
        assert scan_flops(m, _conv("exact"), step) == 7 * tokens * 128 * 8
        assert scan_flops(m, _conv("matmul"), step) == 2 * tokens * 128 * 8
    per_position = 2 * 2 * 128 * 4                       # B = 2, 128 channels, 4 taps
    assert conv_flops(m, _conv("exact"), Step(2, 11, 0)) == per_position * 11
    assert conv_flops(m, _conv("exact"), Step(2, 1, 11)) == per_position * 1
    assert conv_flops(m, _conv("matmul"), Step(2, 11, 0)) == per_position * 14
    assert conv_flops(m, _conv("matmul"), Step(2, 2, 0)) == per_position * 7
    assert conv_flops(m, _conv("matmul"), Step(2, 3, 11)) == per_position * 10
    assert conv_flops(m, _conv("matmul"), Step(2, 1, 11)) == per_position * 2


def test_state_bytes_follow_the_cache_conventions():
    """The state of B = 3 sequences, d_inner 128 · d_state 8 = 1024 recurrent elements at 4 bytes (the
    readers' fp32 state) and 4·128 = 512 conv elements at b_kv = 2: 3·(4096 + 1024) = 15,360 bytes, read
    over a cache (not from an empty one, not under kv_read="none"), written always, or only over a cache
    (kv_write="decode"), or never."""
    import symroof
    from symroof.cost.statespace import state_bytes
    from symroof.cost.step import Step

    arch = symroof.models.from_hf_config({"model_type": "mamba", "hidden_size": 64, "num_hidden_layers": 1,
                                          "vocab_size": 10, "state_size": 8, "time_step_rank": 8})
    (m,) = {layer.mixer for layer in _layers(arch)}
    one = 3 * (128 * 8 * 4 + 4 * 128 * 2)
    assert one == 15_360
    prefill, decode = Step(3, 5, 0), Step(3, 1, 9)
    def got(conv, step):
        terms = state_bytes(arch, m, conv, step)
        return terms["state/read"], terms["state/write"]

    assert got(_conv("exact", kv_read="k+v", kv_write="always"), decode) == (one, one)
    assert got(_conv("exact", kv_read="k+v", kv_write="always"), prefill) == (0, one)
    assert got(_conv("exact", kv_read="none", kv_write="decode"), decode) == (0, one)
    assert got(_conv("exact", kv_read="one", kv_write="decode"), prefill) == (0, 0)
    assert got(_conv("exact", kv_read="one", kv_write="none"), decode) == (one, 0)


def test_mixer_weight_bytes_by_hand():
    """One Mamba layer (H 64, d_inner 128, d_state 8, dt_rank 5, conv 4 with bias, fp16), as transformers'
    MambaMixer holds it: in_proj 64·256, x_proj 128·21, dt_proj 5·128 with a 128 bias, out_proj 128·64; conv
    128·4 + 128; A_log 128·8 and D 128. FLOPs 2·tokens·in·out per projection; weight bytes at 2 each: the
    matrices (weights="matrices"), and with weights="all" also the dt bias, the conv and A_log/D."""
    import symroof
    from symroof.cost.statespace import mixer
    from symroof.cost.step import Step

    arch = symroof.models.from_hf_config({"model_type": "mamba", "hidden_size": 64, "num_hidden_layers": 1,
                                          "vocab_size": 10, "state_size": 8, "time_step_rank": 5,
                                          "torch_dtype": "float16"})
    (layer,) = _layers(arch)
    step = Step(2, 3, 0)
    sizes = {"mixer/in": 64 * 256, "mixer/x": 128 * 21, "mixer/dt": 5 * 128, "mixer/out": 128 * 64}
    cost = mixer(arch, _conv("exact", weights="matrices"), step, layer=layer)
    assert {k: v for k, v in cost.flop_terms.items() if k in sizes} == {k: 2 * 6 * n for k, n in sizes.items()}
    weights = {k: v for k, v in cost.byte_terms.items() if k.startswith("weights/")}
    assert weights == {f"weights/{k}": 2 * n for k, n in sizes.items()}
    every = mixer(arch, _conv("exact", weights="all"), step, layer=layer).byte_terms
    assert every["weights/mixer/dt"] == 2 * (5 * 128 + 128)
    assert every["weights/mixer/in"] == 2 * 64 * 256 and every["weights/mixer/out"] == 2 * 128 * 64
    assert every["weights/mixer/conv"] == 2 * (128 * 4 + 128) and every["weights/mixer/ssm"] == 2 * (128 * 8 + 128)
    none = mixer(arch, _conv("exact", weights="none"), step, layer=layer).byte_terms
    assert not any(k.startswith("weights/") for k in none)


def test_qwen3_next_rotary_factor_sparse_step_and_one_expert():
    """Qwen3-Next's partial_rotary_factor inside rope_parameters (0.5: int(256·0.5) = 128 rotated dims);
    decoder_sparse_step 2: MoE where (i + 1) % 2 == 0 (Qwen3NextDecoderLayer), layers 1 and 3 (parameter
    count of transformers' model)."""
    import symroof

    _, config, _ = DEFAULTS["qwen3_next"]
    small = dict(config, linear_num_key_heads=2, linear_num_value_heads=4, num_experts=4, num_experts_per_tok=2)
    arch, hf = _read("qwen3_next", **small, rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                                             "partial_rotary_factor": 0.5})
    (a,) = {x.attention for x in _layers(arch) if x.attention is not None}
    assert a.rotary_dim == int(hf.head_dim * hf.rope_parameters["partial_rotary_factor"]) == 128
    assert arch.head_dim == hf.head_dim == 256
    arch, hf = _read("qwen3_next", **small, decoder_sparse_step=2)
    assert [x.ffn.is_moe for x in _layers(arch)] == [(i + 1) % hf.decoder_sparse_step == 0 for i in range(4)] == [
        False, True, False, True]
    assert symroof.total_parameters(arch) == _numel(hf, **MOE)[0]
    # num_experts 1: transformers builds a one-expert MoE block beside its shared expert, which symroof's FFN
    # cannot hold (a shared expert needs routed ones); refused in one line rather than read as a dense MLP
    with pytest.raises(ValueError, match=r"^shared_experts=1 needs experts > 1$"):
        symroof.models.from_hf_config({"model_type": "qwen3_next", **small, "num_experts": 1,
                                       "num_experts_per_tok": 1})


# ---- config.py: dtype names -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["float32", "float", "bfloat16", "float16", "half", "float8_e4m3fn", "float8_e5m2",
                                  "int8", "torch.bfloat16", " Float16 "])
def test_hf_dtype_bytes_are_torchs(name):
    """Every dtype name Hugging Face writes is a torch dtype; its bytes per element are torch's itemsize."""
    torch = om.require("torch")
    from symroof.model.hf.config import dtype_bytes

    assert dtype_bytes(name) == getattr(torch, name.strip().lower().removeprefix("torch.")).itemsize


def test_torch_dtype_sets_every_byte_width():
    """``torch_dtype`` (or ``dtype``) sets weights, activations and the KV cache; absent: 2 bytes."""
    import symroof

    for key in ("torch_dtype", "dtype"):
        for name, nbytes in (("half", 2), ("float", 4), ("float8_e4m3fn", 1), ("int8", 1)):
            arch = symroof.models.from_hf_config({**TINY_LLAMA, "torch_dtype": None, key: name})
            assert (arch.weight_bytes, arch.act_bytes, arch.kv_bytes) == (nbytes, nbytes, nbytes)
    no_dtype = {k: v for k, v in TINY_LLAMA.items() if k != "torch_dtype"}
    assert symroof.models.from_hf_config(no_dtype).weight_bytes == 2


def test_a_config_of_a_few_megabytes_is_read(tmp_path):
    """A config.json with a tokenizer's added tokens can pass a megabyte; one of 3 MiB still reads."""
    import json

    import symroof

    path = tmp_path / "config.json"
    path.write_text(json.dumps({**TINY_LLAMA, "added_tokens": ["x" * 1000] * 3300}))
    assert path.stat().st_size > 3 * 2**20
    assert symroof.models.from_hf_config(path).hidden == 64


# ---- DeepSeek-V2/V3: the config classes' defaults of left-out MoE and MLA keys --------------------------------

_DEEPSEEK = dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, intermediate_size=96,
                 moe_intermediate_size=32, n_routed_experts=4, num_experts_per_tok=2, kv_lora_rank=16,
                 qk_nope_head_dim=8, qk_rope_head_dim=8, v_head_dim=8, vocab_size=101)


@pytest.mark.parametrize("model_type, extra, shared, dense, q_rank", [
    # DeepseekV2Config: n_shared_experts 2, first_k_dense_replace 0, q_lora_rank 1536 when left out
    ("deepseek_v2", {}, 2, 0, 1536),
    # DeepseekV3Config: n_shared_experts 1, first_k_dense_replace 3
    ("deepseek_v3", {}, 1, 3, 1536),
    # an explicit null q_lora_rank: queries not compressed (q_proj straight from H)
    ("deepseek_v2", {"q_lora_rank": None}, 2, 0, None),
    ("deepseek_v3", {"q_lora_rank": 24, "n_shared_experts": 3, "first_k_dense_replace": 1}, 3, 1, 24),
])
def test_deepseek_left_out_keys_are_the_config_class_defaults(model_type, extra, shared, dense, q_rank):
    """A real bug before: a left-out q_lora_rank was read as uncompressed queries and DeepSeek-V2's
    left-out n_shared_experts as none (transformers: 1536 and 2). Checked against transformers' config
    object and the parameter count of its model on the meta device."""
    import symroof

    arch, hf = _read(model_type, **_DEEPSEEK, **extra)
    assert (arch.shared_experts, arch.dense_layers, arch.q_lora_rank) == (
        hf.n_shared_experts, hf.first_k_dense_replace, hf.q_lora_rank) == (shared, dense, q_rank)
    assert symroof.total_parameters(arch) == _numel(hf, **MOE)[0]


# ---- the generic families: each one's rules against transformers' config object and meta model ----------------

_BASE = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, intermediate_size=96,
             vocab_size=101)
_SMALL_MOE = dict(num_experts_per_tok=2, moe_intermediate_size=32)

FAMILY_CASES = {
    # MistralConfig: sliding_window 4096 when left out, on every layer
    "mistral": ("mistral", {}),
    "mixtral-window": ("mixtral", dict(sliding_window=4, num_local_experts=4, num_experts_per_tok=2)),
    # Qwen2: q/k/v biased, o not; use_sliding_window with the default 4096 on layers >= max_window_layers
    "qwen2-window": ("qwen2", dict(use_sliding_window=True, max_window_layers=1)),
    # Qwen3: attention_bias on q, k, v and o; per-head q/k norms; sliding layers >= max_window_layers
    "qwen3-window-bias": ("qwen3", dict(use_sliding_window=True, sliding_window=4, max_window_layers=1,
                                        attention_bias=True)),
    # Qwen3-MoE: use_sliding_window slides every layer, at the default 4096; num_experts of moe_intermediate_size
    "qwen3_moe-window": ("qwen3_moe", dict(use_sliding_window=True, num_experts=4, **_SMALL_MOE)),
    "qwen3_moe-bias": ("qwen3_moe", dict(attention_bias=True, num_experts=4, **_SMALL_MOE)),
}


@pytest.mark.parametrize("case", sorted(FAMILY_CASES))
def test_family_rules_against_transformers(case):
    """Parameters (biases, q/k norms, experts) against the meta model; each layer's window against the
    config object's resolved ``layer_types`` (or, without them, its ``sliding_window`` on every layer)."""
    import symroof

    model_type, extra = FAMILY_CASES[case]
    arch, hf = _read(model_type, **_BASE, **extra)
    assert symroof.total_parameters(arch) == _numel(hf, **MOE)[0]
    kinds = getattr(hf, "layer_types", None) or ["sliding_attention" if hf.sliding_window else "full_attention"] * 2
    assert [x.attention.window for x in _layers(arch)] == [
        hf.sliding_window if k == "sliding_attention" else None for k in kinds]


_NO_KV = dict(hidden_size=64, num_hidden_layers=2, intermediate_size=96, vocab_size=101)

KV_DEFAULTS = {
    # model_type: (num_attention_heads, extra keys, transformers' num_key_value_heads when left out)
    "mistral": (16, {}, 8),
    "mixtral": (16, dict(num_local_experts=4, num_experts_per_tok=2), 8),
    "qwen2": (32, {}, 32),
    "qwen3": (32, {}, 32),
    "qwen3_moe": (8, dict(num_experts=4, **_SMALL_MOE), 4),
    "qwen2_moe": (16, dict(num_experts=4, shared_expert_intermediate_size=48, **_SMALL_MOE), 16),
    "starcoder2": (4, {}, 2),
    "llama4_text": (16, dict(num_local_experts=4, intermediate_size_mlp=128, head_dim=16), 8),
    "gpt_oss": (16, dict(num_local_experts=4, num_experts_per_tok=2, head_dim=16), 8),
}


@pytest.mark.parametrize("model_type", sorted(KV_DEFAULTS))
def test_left_out_num_key_value_heads_is_the_config_class_default(model_type):
    """A real bug before: the generic reader took a left-out num_key_value_heads as all heads (MHA), but
    these config classes default it to a number of their own (Mistral 8, Qwen2 32, Qwen3-MoE 4, Starcoder2 2,
    ...), and Qwen3Config's head_dim to 128 (not hidden/heads = 2). Checked against the config object and
    the parameter count of transformers' model on the meta device."""
    import symroof

    heads, extra, kv = KV_DEFAULTS[model_type]
    arch, hf = _read(model_type, **_NO_KV, num_attention_heads=heads, **extra)
    assert arch.kv_heads == hf.num_key_value_heads == kv
    head_dim = getattr(hf, "head_dim", None) or 64 // heads
    assert arch.head_dim == head_dim == {"qwen3": 128, "llama4_text": 16, "gpt_oss": 16}.get(model_type, 64 // heads)
    assert symroof.total_parameters(arch) == _numel(hf, **MOE)[0]
    # an explicit null: all heads, as the config classes' __post_init__ resolve it (those that accept null)
    if model_type in ("qwen2", "qwen3"):
        arch, hf = _read(model_type, **_NO_KV, num_attention_heads=heads, num_key_value_heads=None, **extra)
        assert arch.kv_heads == hf.num_key_value_heads == heads


@pytest.mark.parametrize("model_type", ["gemma", "gemma2", "gemma3_text", "cohere", "cohere2"])
def test_a_config_of_only_its_model_type_is_the_class_default(model_type):
    """``{"model_type": X}`` reads as X's config class with every default: the parameter count of
    transformers' default model (meta device), a tied head, and each layer's window from the class's
    ``layer_types`` and ``sliding_window`` (Gemma 2: alternating from a sliding layer, 4096; Gemma 3: one
    full layer in 6, 4096; Cohere 2: one full in 4, 4096; Gemma and Cohere: none)."""
    import symroof

    arch, hf = _read(model_type)
    assert symroof.total_parameters(arch) == _numel(hf)[0]
    assert arch.tied_embeddings is hf.tie_word_embeddings is True
    kinds = getattr(hf, "layer_types", None) or ["full_attention"] * hf.num_hidden_layers
    assert [x.attention.window for x in _layers(arch)] == [
        hf.sliding_window if k == "sliding_attention" else None for k in kinds]
    assert (arch.kv_heads, arch.head_dim) == (hf.num_key_value_heads, getattr(hf, "head_dim", None)
                                              or hf.hidden_size // hf.num_attention_heads)


def test_jamba_layer_period_offsets_and_conv_keys():
    """JambaConfig's attn_layer_period 8 at offset 4 over 16 layers: attention at 4 and 12 (not only at 4);
    an offset of 0 is allowed (attention at 0, 8); mamba_d_conv and mamba_conv_bias read from their keys."""
    _, config, _ = DEFAULTS["jamba"]
    arch, hf = _read("jamba", **{**config, "num_hidden_layers": 16})
    assert [x.attention is not None for x in _layers(arch)] == [k == "attention" for k in hf.layers_block_type]
    assert [i for i, k in enumerate(hf.layers_block_type) if k == "attention"] == [4, 12]
    arch, hf = _read("jamba", **{**config, "attn_layer_offset": 0, "expert_layer_offset": 0, "mamba_d_conv": 3,
                                 "mamba_conv_bias": False})
    layers = _layers(arch)
    assert [x.attention is not None for x in layers] == [k == "attention" for k in hf.layers_block_type]
    assert [x.ffn.experts for x in layers] == hf.layers_num_experts == [4, 1] * 4
    (m,) = {x.mixer for x in layers if x.mixer is not None}
    assert (m.conv, m.conv_bias) == (hf.mamba_d_conv, hf.mamba_conv_bias) == (3, False)


def test_gptq_default_group_of_128_by_hand():
    """GPTQConfig's group_size 128 on in = 1288 (a multiple of 8, not of 128): ceil(1288/128) = 11 groups.
    AutoGPTQ QuantLinear, out = 64, 4 bits: qweight 1288·64/2 = 41,216 B, g_idx 1288·4 = 5,152 B, per group
    and output an fp16 scale and a 4-bit zero: 11·64·2.5 = 1,760 B."""
    assert _layout({"quant_method": "gptq", "bits": 4}).matrix_bytes(1288, 64) == 41_216 + 5_152 + 1_760


def test_state_space_defaults_are_mamba_ssms():
    """StateSpace's defaults are mamba_ssm's (``mamba_ssm/modules/mamba2.py`` ``Mamba2.__init__``: ngroups=1,
    chunk_size=256, d_conv=4, conv_bias=True, bias=False): with one group the conv spans d_inner + 2·d_state
    channels (FalconH1Mixer's conv_dim with mamba_n_groups 1: 128 + 2·8 = 144); a Mamba2 layer is version 2."""
    from symroof.model.layers import StateSpace

    _, mixer = _module_parts("falcon_h1", "FalconH1Mixer", hidden_size=64, num_attention_heads=4, mamba_d_ssm=128,
                             mamba_n_heads=8, mamba_d_state=8)
    m = StateSpace(inner=128, state=8, heads=8)
    assert m.conv_channels == mixer.conv1d.weight.shape[0] == 144
    assert (m.groups, m.chunk, m.conv, m.conv_bias, m.bias, m.out_bias) == (1, 256, 4, True, False, False)
    assert (m.version, StateSpace(inner=128, state=8, dt_rank=8).version) == (2, 1)


def test_state_space_replace_keeps_out_bias_apart():
    """Falcon-H1's out_proj bias (projectors_bias) apart from in_proj's (mamba_proj_bias): replace() keeps an
    out_bias given apart, and an explicit out_bias wins over the bias it would follow."""
    from symroof.model.layers import StateSpace

    apart = StateSpace(inner=128, state=8, heads=8, bias=False, out_bias=True)
    assert apart.replace(gated_norm=False).out_bias is True
    follows = StateSpace(inner=128, state=8, heads=8)
    assert follows.replace(bias=True, out_bias=False).out_bias is False
    assert follows.replace(bias=True).out_bias is True


def test_state_bytes_at_b_kv_without_a_state_dtype():
    """Without Arch.state_bytes the recurrent state is at b_kv too: B = 3 sequences of 1024 recurrent and
    512 conv elements at 2 bytes, 3·1536·2 = 9,216 bytes read and written in a decode step."""
    import symroof
    from symroof.cost.statespace import state_bytes
    from symroof.cost.step import Step

    arch = symroof.models.from_hf_config({"model_type": "mamba", "hidden_size": 64, "num_hidden_layers": 1,
                                          "vocab_size": 10, "state_size": 8, "time_step_rank": 8})
    plain = arch.replace(layout=arch.layout, state_bytes=None)
    assert plain.state_bytes is None and plain.kv_bytes == 2
    (m,) = {layer.mixer for layer in _layers(plain)}
    terms = state_bytes(plain, m, _conv("exact"), Step(3, 1, 9))
    assert terms["state/read"] == terms["state/write"] == 3 * (128 * 8 + 4 * 128) * 2 == 9_216
