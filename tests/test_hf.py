"""`symroof.models.from_hf_config`: Hugging Face config.json files -> `Arch`.

The files in tests/data are the published config.json of each model (hub URL in
symroof/data/models/*.toml), copied key for key. Expected parameter counts are
published figures (cited beside each) or, for the families without one here,
the count of the same config built by ``transformers`` on the meta device.
"""

import json
from fractions import Fraction
from pathlib import Path

import pytest

import symroof
from symroof.model import presets as models
from symroof.model.hf import from_hf_config, read_config
from symroof.model.params import total_parameters
from tests import oracle_models as om

DATA = Path(__file__).parent / "data"
# The sample files are the hub's config.json, key for key: the presets' files at the URLs in
# symroof/data/models/*.toml, and
#   gemma-2b.json     huggingface.co/google/gemma-2b/blob/main/config.json
#   pythia-160m.json  huggingface.co/EleutherAI/pythia-160m/blob/main/config.json
#   qwen3-0.6b.json   huggingface.co/Qwen/Qwen3-0.6B/blob/main/config.json

# preset name -> sample config file (tests/data/<file>.json)
PRESETS = ["llama-3-8b", "llama-3-70b", "llama-2-7b", "llama-2-13b", "mistral-7b", "qwen2.5-7b", "gpt2",
           "mixtral-8x7b", "deepseek-v3"]

# Published parameter counts.
PUBLISHED = {
    # GPT-2 small: GPT2LMHeadModel.num_parameters() = 124,439,808 (openai-community/gpt2; e.g. the
    # widely printed module tree "GPT2LMHeadModel<all params:124439808>").
    "gpt2": 124_439_808,
    # Llama-2-7b-hf: peft's print_trainable_parameters() "all params: 6,738,415,616". (The hub's
    # safetensors total, 6,738,417,664, also counts the 32 layers' stored rotary inv_freq buffers,
    # 32 x 64 = 2,048 elements, which are not parameters.)
    "llama-2-7b": 6_738_415_616,
    # Llama-2-13b-hf: "all params: 13,015,864,320" (same peft printout; 40 x 64 inv_freq aside).
    "llama-2-13b": 13_015_864_320,
    # Mistral-7B-v0.1: hub safetensors total and GGUF general.parameter_count 7,241,732,096.
    "mistral-7b": 7_241_732_096,
    # Meta-Llama-3-8B / Llama-3.1-8B: hub safetensors total 8,030,261,248.
    "llama-3-8b": 8_030_261_248,
    # Llama-3.x-70B (same shape as Meta-Llama-3-70B): hub safetensors total 70,553,706,496.
    "llama-3-70b": 70_553_706_496,
    # Qwen2.5-7B: hub safetensors total 7,615,616,512 ("7.61B"; model card: 6.53B non-embedding).
    "qwen2.5-7b": 7_615_616_512,
    # Mixtral-8x7B-v0.1: 46,702,792,704 (hub safetensors total; paper: "46.7B").
    "mixtral-8x7b": 46_702_792_704,
    # gemma-2b: 2,506,172,416 (KerasHub preset gemma_2b_en, metadata "params"; tied embeddings).
    "gemma-2b": 2_506_172_416,
}


def sample(name: str) -> Path:
    return DATA / f"{name}.json"


@pytest.mark.parametrize("name", PRESETS)
def test_preset_equals_its_published_config(name):
    if name not in models.names():
        pytest.skip(f"{name} is not a preset here")
    # the presets keep the dtype's bytes (DeepSeek-V3's preset stays bf16; its config is fp8-quantised)
    assert from_hf_config(sample(name), name=name, quantization="ignore") == models.get(name)
    shape_only = dict(weight_bytes=2, act_bytes=2, kv_bytes=2, tensor_bytes=())
    assert (from_hf_config(sample(name), name=name).replace(**shape_only)
            == models.get(name).replace(**shape_only))


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_parameter_counts(name):
    assert total_parameters(from_hf_config(sample(name))) == PUBLISHED[name]
    if name in models.names():
        assert total_parameters(models.get(name)) == PUBLISHED[name]


def test_qwen2_5_non_embedding_count_matches_model_card():
    # Qwen2.5-7B model card: "Number of Parameters (Non-Embedding): 6.53B" (two tables of 152064 x 3584).
    arch = from_hf_config(sample("qwen2.5-7b"))
    assert round(int(total_parameters(arch, embeddings=False)) / 10**9, 2) == 6.53


# ---- families without a published count here: transformers itself, on the meta device, counts ----------

ORACLE = {
    # file -> parameters symroof leaves out by design (named in the Arch's source)
    "pythia-160m": 0,
    "qwen3-0.6b": 0,               # q_norm and k_norm (2·head_dim per layer) are counted
    "gpt2": 0,
    "qwen2.5-7b": 0,
}


@pytest.fixture(scope="module")
def transformers_count():
    torch = om.require("torch")
    transformers = om.require("transformers")

    def count(config: dict) -> int:
        cfg = transformers.AutoConfig.for_model(**config)
        with torch.device("meta"):
            lm = transformers.AutoModelForCausalLM.from_config(cfg)
        return sum(p.numel() for p in lm.parameters())     # a tied table is yielded once
    return count


@pytest.mark.parametrize("name", sorted(ORACLE))
def test_parameter_count_matches_transformers(name, transformers_count):
    config = read_config(sample(name))
    assert total_parameters(from_hf_config(config)) == transformers_count(config) - ORACLE[name]


TINY_DEEPSEEK = dict(model_type="deepseek_v3", hidden_size=64, intermediate_size=96, moe_intermediate_size=32,
                     num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4, n_routed_experts=8,
                     n_shared_experts=1, num_experts_per_tok=2, first_k_dense_replace=1, kv_lora_rank=16,
                     q_lora_rank=24, qk_nope_head_dim=8, qk_rope_head_dim=4, v_head_dim=8, vocab_size=100,
                     n_group=1, topk_group=1, tie_word_embeddings=False)
TINY_QWEN3_MOE = dict(model_type="qwen3_moe", hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, head_dim=16, intermediate_size=128, moe_intermediate_size=32,
                      num_experts=8, num_experts_per_tok=2, vocab_size=100, tie_word_embeddings=False)


@pytest.mark.parametrize("config,left_out", [
    (TINY_DEEPSEEK, 0),
    ({**TINY_DEEPSEEK, "q_lora_rank": None}, 0),           # DeepSeek-V2-Lite style: queries not compressed
    ({**TINY_DEEPSEEK, "n_shared_experts": 2, "first_k_dense_replace": 0}, 0),
    (TINY_QWEN3_MOE, 0),                                   # q_norm/k_norm counted (2·head_dim per layer)
], ids=["deepseek", "deepseek-no-q-lora", "deepseek-all-moe", "qwen3-moe"])
def test_tiny_moe_and_mla_counts_match_transformers(config, left_out, transformers_count):
    assert total_parameters(from_hf_config(config)) == transformers_count(config) - left_out


def test_pythia_160m_by_hand():
    # GPT-NeoX: embed_in and embed_out untied, 50304 x 768 each; per layer two LayerNorms (2·2·768),
    # query_key_value 768 x 2304 + 2304, dense 768 x 768 + 768, MLP 768 x 3072 + 3072 and
    # 3072 x 768 + 768; final LayerNorm 2·768.
    layer = 2 * 2 * 768 + (768 * 2304 + 2304) + (768 * 768 + 768) + (768 * 3072 + 3072) + (3072 * 768 + 768)
    assert layer == 7_087_872
    arch = from_hf_config(sample("pythia-160m"))
    assert total_parameters(arch) == 12 * layer + 2 * 50304 * 768 + 2 * 768 == 162_322_944
    assert (arch.ffn_kind, arch.norm, arch.tied_embeddings, arch.max_positions) == ("dense", "layernorm", False, 0)


# ---- the mapping, key by key ---------------------------------------------------------------------------


def test_tied_embeddings_default_by_family():
    # Neither gpt2.json nor gemma-2b.json has tie_word_embeddings: their config classes default to True;
    # LlamaConfig defaults to False.
    assert from_hf_config(sample("gpt2")).tied_embeddings is True
    assert from_hf_config(sample("gemma-2b")).tied_embeddings is True
    llama = {k: v for k, v in read_config(sample("llama-2-7b")).items() if k != "tie_word_embeddings"}
    assert from_hf_config(llama).tied_embeddings is False
    assert from_hf_config({**llama, "tie_word_embeddings": True}).tied_embeddings is True


def test_explicit_head_dim_wins():
    qwen3 = from_hf_config(sample("qwen3-0.6b"))
    assert (qwen3.head_dim, qwen3.q_width, qwen3.kv_width) == (128, 16 * 128, 8 * 128)
    assert qwen3.q_width != qwen3.hidden          # 2048 vs 1024: hidden/heads would give 64
    gemma = from_hf_config(sample("gemma-2b"))
    assert (gemma.head_dim, gemma.kv_heads) == (256, 1)


def test_biases_by_family():
    gpt2 = from_hf_config(sample("gpt2"))
    assert (gpt2.qkv_bias, gpt2.out_bias, gpt2.mlp_bias, gpt2.max_positions) == (True, True, True, 1024)
    qwen2 = from_hf_config(sample("qwen2.5-7b"))
    assert (qwen2.qkv_bias, qwen2.out_bias, qwen2.mlp_bias) == (True, False, False)
    llama = read_config(sample("llama-3-8b"))
    biased = from_hf_config({**llama, "attention_bias": True, "mlp_bias": True})
    assert (biased.qkv_bias, biased.out_bias, biased.mlp_bias) == (True, True, True)
    # GPT-NeoX: attention_bias defaults to True
    assert from_hf_config(sample("pythia-160m")).qkv_bias is True


def test_gpt2_n_inner():
    config = read_config(sample("gpt2"))
    assert from_hf_config(config).ffn_dim == 4 * 768                   # n_inner absent
    assert from_hf_config({**config, "n_inner": None}).ffn_dim == 3072
    assert from_hf_config({**config, "n_inner": 1000}).ffn_dim == 1000


def test_mixtral_experts():
    arch = from_hf_config(sample("mixtral-8x7b"))
    assert (arch.experts, arch.experts_per_token, arch.expert_ffn_dim, arch.ffn_kind) == (8, 2, 14336, "gated")


def test_qwen3_moe_experts_and_dense_layers(transformers_count):
    arch = from_hf_config(TINY_QWEN3_MOE)
    assert (arch.experts, arch.experts_per_token, arch.expert_ffn_dim) == (8, 2, 32)
    # Qwen3MoeDecoderLayer: a dense MLP of intermediate_size where the layer is in mlp_only_layers or
    # (layer + 1) % decoder_sparse_step != 0; the MoE block elsewhere
    for extra, widths in (({"mlp_only_layers": [0]}, [128, 32]), ({"decoder_sparse_step": 2}, [128, 32]),
                          ({"num_hidden_layers": 4, "decoder_sparse_step": 2, "mlp_only_layers": [3]},
                           [128, 32, 128, 128])):
        config = {**TINY_QWEN3_MOE, **extra}
        stacked = from_hf_config(config)
        assert [g.ffn.width for n, g in stacked.groups for _ in range(n)] == widths
        assert total_parameters(stacked) == transformers_count(config)


def test_deepseek_v3_mla_and_moe():
    arch = from_hf_config(sample("deepseek-v3"))
    assert arch.is_mla and (arch.kv_lora_rank, arch.q_lora_rank, arch.head_dim) == (512, 1536, 128 + 64)
    assert (arch.experts, arch.shared_experts, arch.dense_layers, arch.expert_ffn_dim, arch.ffn_dim) == \
        (256, 1, 3, 2048, 18432)
    # head_dim as transformers 5 writes it for DeepSeek (= qk_rope_head_dim) does not override MLA's width
    assert from_hf_config({**read_config(sample("deepseek-v3")), "head_dim": 64}).head_dim == 192
    assert "num_nextn_predict_layers=1" in arch.source and "weights quantised: fp8" in arch.source
    assert "quant_method='fp8', ignored" in from_hf_config(sample("deepseek-v3"), quantization="ignore").source
    with pytest.raises(ValueError, match="moe_layer_freq=2"):
        from_hf_config({**TINY_DEEPSEEK, "moe_layer_freq": 2})
    with pytest.raises(ValueError, match=r"config\.json has no kv_lora_rank"):
        from_hf_config({k: v for k, v in TINY_DEEPSEEK.items() if k != "kv_lora_rank"})
    with pytest.raises(ValueError, match="first_k_dense_replace=-1 must be a non-negative integer"):
        from_hf_config({**TINY_DEEPSEEK, "first_k_dense_replace": -1})


def test_dtype_bytes():
    llama = read_config(sample("llama-3-8b"))
    assert from_hf_config(llama).weight_bytes == 2
    assert from_hf_config({**llama, "torch_dtype": "float32"}).kv_bytes == 4
    no_key = {k: v for k, v in llama.items() if k != "torch_dtype"}
    assert from_hf_config({**no_key, "dtype": "float8_e4m3fn"}).act_bytes == 1     # transformers 5 writes "dtype"
    assert from_hf_config(no_key).weight_bytes == 2                                  # absent: 2 bytes
    assert from_hf_config(llama, dtype="int4").weight_bytes == Fraction(1, 2)
    with pytest.raises(ValueError, match="torch_dtype='float12' is not a known dtype"):
        from_hf_config({**llama, "torch_dtype": "float12"})


def test_sliding_windows_are_modelled_and_the_rest_named():
    assert from_hf_config(sample("mistral-7b")).window == 4096                 # MistralConfig: every layer
    assert from_hf_config(sample("qwen2.5-7b")).window is None                 # use_sliding_window false
    assert "sliding_window" not in from_hf_config(sample("mistral-7b")).source
    gemma2 = {"model_type": "gemma2", "hidden_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4,
              "num_key_value_heads": 2, "head_dim": 16, "intermediate_size": 128, "vocab_size": 100}
    arch = from_hf_config(gemma2)
    # Gemma2Config: layer i slides when (i + 1) % 2, window 4096 by default
    assert [g.attention.window for n, g in arch.groups for _ in range(n)] == [4096, None, 4096, None]
    assert "soft-capping" in arch.source


def test_name_path_folder_and_nesting(tmp_path):
    assert from_hf_config(sample("llama-2-7b")).name == "meta-llama/Llama-2-7b-hf"    # _name_or_path
    assert from_hf_config(sample("gpt2")).name == "gpt2"                              # file name
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text(sample("gpt2").read_text())
    assert from_hf_config(folder).name == "my-model"
    assert from_hf_config(folder / "config.json") == from_hf_config(folder)
    wrapped = {"model_type": "llava", "text_config": read_config(sample("llama-3-8b"))}
    assert from_hf_config(wrapped, name="x") == from_hf_config(sample("llama-3-8b"), name="x")


def test_architectures_without_model_type():
    config = {k: v for k, v in read_config(sample("gpt2")).items() if k != "model_type"}
    assert from_hf_config(config).ffn_kind == "dense"


# ---- bad configs: one ValueError naming the key -----------------------------------------------------------

LLAMA = read_config(sample("llama-3-8b"))
WITHOUT = lambda key: {k: v for k, v in LLAMA.items() if k != key}


@pytest.mark.parametrize("config,message", [
    (WITHOUT("hidden_size"), "config.json has no hidden_size (nor n_embd, d_model)"),
    (WITHOUT("num_hidden_layers"), "config.json has no num_hidden_layers (nor n_layer)"),
    (WITHOUT("intermediate_size"), "config.json has no intermediate_size"),
    (WITHOUT("vocab_size"), "config.json has no vocab_size"),
    ({**LLAMA, "hidden_size": "4096"}, "hidden_size='4096' must be a positive integer"),
    ({**LLAMA, "hidden_size": 4096.0}, "hidden_size=4096.0 must be a positive integer"),
    ({**LLAMA, "num_hidden_layers": 0}, "num_hidden_layers=0 must be a positive integer"),
    ({**LLAMA, "intermediate_size": -14336}, "intermediate_size=-14336 must be a positive integer"),
    ({**LLAMA, "vocab_size": True}, "vocab_size=True must be a positive integer"),
    ({**LLAMA, "num_attention_heads": 30}, "num_attention_heads=30 must divide hidden_size=4096"),
    ({**LLAMA, "num_key_value_heads": 5}, "num_key_value_heads=5 must divide num_attention_heads=32"),
    ({**LLAMA, "tie_word_embeddings": "no"}, "tie_word_embeddings='no' must be true or false"),
    ({**LLAMA, "model_type": "bert"}, "model_type='bert' is not supported; supported: llama"),
    ({**LLAMA, "model_type": 7}, "model_type=7 must be a string"),
    (WITHOUT("model_type") | {"architectures": ["BertModel"]}, "architectures=['BertModel'] is not one of"),
    ({**read_config(sample("mixtral-8x7b")), "num_experts_per_tok": 9},
     "num_experts_per_tok=9 must not exceed num_local_experts=8"),
])
def test_bad_config_names_the_key(config, message):
    with pytest.raises(ValueError) as err:
        from_hf_config(config)
    assert message in str(err.value)


def test_bad_files(tmp_path):
    with pytest.raises(ValueError, match=r"cannot read config file .*missing\.json"):
        from_hf_config(tmp_path / "missing.json")
    for text, message in [("[1, 2]", "must hold a JSON object, not an array"),
                          ('"llama"', "must hold a JSON object, not a string"),
                          ("{hidden_size: 1}", "is not valid JSON"),
                          ('{"hidden_size": NaN}', "NaN is not a number JSON allows")]:
        bad = tmp_path / "config.json"
        bad.write_text(text)
        with pytest.raises(ValueError, match=message):
            from_hf_config(bad)
    binary = tmp_path / "weights.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="cannot read config file"):
        from_hf_config(binary)
    with pytest.raises(ValueError, match="config must be a path or a dict, not int"):
        from_hf_config(3)


def test_json_is_parsed_never_evaluated(tmp_path):
    # a string where a size belongs stays a string (and is refused), whatever it says
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps({**LLAMA, "hidden_size": "__import__('os').getcwd()"}))
    with pytest.raises(ValueError, match=r"hidden_size=.* must be a positive integer"):
        from_hf_config(bad)


def test_contract_name():
    assert symroof.models.from_hf_config is from_hf_config


# ---- quantised checkpoints against their published sizes --------------------------------------


def checkpoint_bytes(arch):
    """Every weight once, at its own bytes per element (b_w·P: b_w is the checkpoint's average)."""
    return arch.weight_bytes * total_parameters(arch)


# TheBloke/Llama-2-7b-Chat-GPTQ README, "Provided files" table (hub branch sizes, decimal GB):
# main (4-bit, group size 128, no act-order) 3.90 GB; gptq-4bit-64g-actorder_True 4.02 GB;
# gptq-4bit-32g-actorder_True 4.28 GB. Act-order changes no tensor size (g_idx is always saved).
GPTQ_LLAMA_2_7B = {128: "3.90", 64: "4.02", 32: "4.28"}


@pytest.mark.parametrize("group", sorted(GPTQ_LLAMA_2_7B))
def test_gptq_llama_2_7b_checkpoint_size(group):
    quant = {"quant_method": "gptq", "bits": 4, "group_size": group, "desc_act": group != 128, "sym": True}
    arch = from_hf_config({**read_config(sample("llama-2-7b")), "quantization_config": quant})
    # Hand count: 32 layers of 4·4096² + 3·4096·11008 = 202,375,168 int4 weights; per layer and group g,
    # qzeros+scales (1/2 + 2)/g bytes per weight, g_idx 4 bytes per input feature
    # ((6·4096 + 11008)·4 = 142,336); fp16 embedding and lm_head 2·32000·4096·2 = 524,288,000 and norms
    # (2·32 + 1)·4096·2 = 532,480.
    linear = 32 * 202_375_168
    hand = (linear * Fraction(1, 2) + linear * Fraction(5, 2) / group
            + 32 * 142_336 + 524_288_000 + 532_480)
    assert checkpoint_bytes(arch) == hand
    # AutoGPTQ before 0.5 built every QuantLinear with bias=True (make_quant(..., True)), so these
    # files also hold a zero fp16 bias per linear, 32·(4·4096 + 2·11008 + 4096)·2 = 2,719,744 bytes,
    # which Llama (bias-free) does not have and symroof does not count. With it, each size rounds
    # to the printed one; without, 3.89 and 4.27 GB for the 128g and 32g files.
    zero_biases = 2_719_744
    assert f"{float(checkpoint_bytes(arch) + zero_biases) / 1e9:.2f}" == GPTQ_LLAMA_2_7B[group]
    assert abs(float(checkpoint_bytes(arch)) / (float(GPTQ_LLAMA_2_7B[group]) * 1e9) - 1) < 0.002


def test_deepseek_v3_fp8_checkpoint_size():
    # The hub's deepseek-ai/DeepSeek-V3: 163 safetensors, 688.6 GB (641.3 GiB), main model and MTP
    # module (README_WEIGHTS.md: "685B" = 671B main + 14B MTP, incl. a stored copy of the 0.9B
    # embedding and 0.9B head).
    arch = from_hf_config(sample("deepseek-v3"))
    main = checkpoint_bytes(arch)

    def fp8(n_in, n_out):   # weight [out, in] e4m3 + weight_scale_inv fp32 per 128x128 block
        return n_in * n_out + 4 * -(-n_in // 128) * -(-n_out // 128)

    H, V = 7168, 129280
    attention = (fp8(H, 1536) + fp8(1536, 128 * 192) + fp8(H, 576) + fp8(512, 128 * 256)
                 + fp8(128 * 128, H))
    moe_layer = (attention + 257 * (2 * fp8(H, 2048) + fp8(2048, H))   # 256 routed + 1 shared expert
                 + 256 * H * 2 + (2 * H + 1536 + 512) * 2 + 256 * 4)   # bf16 router, norms; fp32 score bias
    # MTP (model.layers.61): one MoE layer, eh_proj (2H -> H, bf16), enorm/hnorm/shared_head.norm,
    # and its own bf16 copies of embed_tokens and shared_head.head
    mtp = moe_layer + 2 * H * H * 2 + 3 * H * 2 + 2 * V * H * 2
    score_bias = 58 * 256 * 4      # e_score_correction_bias (fp32) of the 58 main MoE layers: not modelled
    total = float(main + score_bias + mtp)
    assert f"{total / 1e9:.1f}" == "688.6" and f"{total / 2**30:.1f}" == "641.3"
    # the main model alone, by the same hand count: 3 dense layers (FFN 18432) and 58 MoE layers
    dense_layer = attention + 2 * fp8(H, 18432) + fp8(18432, H) + (2 * H + 1536 + 512) * 2
    assert main == 3 * dense_layer + 58 * (moe_layer - 256 * 4) + 2 * V * H * 2 + H * 2
    # had every weight been fp8 (one bytes-per-element for all), the bf16 embedding and head
    # (2·V·H·2 = 3.71 GB) would count half: 1.85 GB, 0.27% of the file
    assert float(2 * V * H * (2 - 1)) / total < 0.003
