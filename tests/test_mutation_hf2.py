"""More places the Hugging Face config ingest (``symroof.model.hf``: the generic reader, the config access,
the family table and the Gemma/Cohere, Llama 4/gpt-oss and other family hooks) left untested, found by
mutation testing (``benchmarks/mutation.py``): each test kills mutants that survived the rest of the suite.

Every expected value is independent of symroof: transformers 5.24 itself (its config object, which fills
in every key a file leaves out, and its model built on the meta device, counted by ``numel``; or the
oracle of `tests.oracle_models`), a config class default (cited), or a hand derivation written out.
"""

from __future__ import annotations

import pytest

from tests import oracle_models as om
from tests.test_mutation_hf import _numel

MOE = {"experts_implementation": "batched_mm"}


def _layers(arch):
    """One `Layer` per layer, in model order."""
    return [layer for n, layer in arch.groups for _ in range(int(n))]


def _read(model_type, **config):
    """symroof's reading of ``config`` and transformers' config object of the same keys."""
    import symroof

    transformers = om.require("transformers")
    return (symroof.models.from_hf_config({"model_type": model_type, **config}),
            transformers.AutoConfig.for_model(model_type, **config))


def _error(config, **kwargs):
    """The one-line message symroof refuses ``config`` with."""
    import symroof

    with pytest.raises(ValueError) as err:
        symroof.models.from_hf_config(config, **kwargs)
    message = str(err.value)
    assert "\n" not in message
    return message


_LLAMA = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
              intermediate_size=96, vocab_size=101)


# ---- the generic reader (symroof/model/hf/__init__.py) -----------------------------------------------------


def test_top_level_hidden_size_wins_over_a_text_config():
    """Only a wrapper without its own ``hidden_size`` is read through ``text_config``: LlamaConfig takes the
    top-level keys and keeps an unknown ``text_config`` key as a plain attribute."""
    arch, hf = _read("llama", **_LLAMA, text_config={**_LLAMA, "hidden_size": 128})
    assert arch.hidden == hf.hidden_size == 64


def test_source_names_the_family_a_model_type_is_read_as():
    """``family=`` reads an unknown model_type as a known layout, and the source says so (the docstring's
    format: "; model_type 'X' read as 'Y'")."""
    import symroof

    arch = symroof.models.from_hf_config({"model_type": "my_llama", **_LLAMA}, family="llama")
    assert arch.source == "Hugging Face config.json (a config dict); model_type 'my_llama' read as 'llama'"
    assert arch.hidden == 64


def test_source_lists_what_a_family_does_not_model():
    """GPT-NeoX's parallel residual is its one not-modelled item, after "; not modelled: "."""
    import symroof

    arch = symroof.models.from_hf_config({"model_type": "gpt_neox", **_LLAMA})
    assert arch.source == ("Hugging Face config.json (a config dict); not modelled: parallel residual "
                           "(no change to FLOPs or bytes)")


def test_qwen3_explicit_head_dim_wins_over_the_class_default():
    """Qwen3Config's head_dim default (128) applies only when the key is left out: an explicit 24 (neither 128
    nor hidden/heads = 64/4 = 16) is what transformers builds (the oracle: parameters, FLOPs, cache)."""
    arch = om.check_family("qwen3", {**_LLAMA, "head_dim": 24})
    assert arch.head_dim == 24


def test_gpt2_left_out_n_positions_is_1024():
    """GPT2Config: n_positions 1024 when left out (the learned position table, wpe, of 1024·n_embd)."""
    import symroof

    arch, hf = _read("gpt2", n_embd=64, n_layer=2, n_head=4, vocab_size=101)
    assert arch.max_positions == hf.n_positions == 1024
    numel, lm = _numel(hf)
    assert tuple(lm.transformer.wpe.weight.shape) == (1024, 64)
    assert symroof.total_parameters(arch) == numel


def test_every_expert_active_is_allowed():
    """num_experts_per_tok may equal the expert count (Mixtral with 2 of 2 experts builds and runs)."""
    arch = om.check_family("mixtral", {**_LLAMA, "num_local_experts": 2, "num_experts_per_tok": 2}, load=MOE)
    assert (arch.experts, arch.experts_per_token) == (2, 2)


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op:UserWarning")
def test_deepseek_zero_shared_experts_and_no_dense_layers():
    """n_shared_experts 0 and first_k_dense_replace 0 are allowed: DeepseekV3MoE builds a shared MLP of width
    moe_intermediate_size·0 = 0 (no parameters) and every layer is MoE."""
    import symroof

    arch, hf = _read("deepseek_v3", hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=96, moe_intermediate_size=32, n_routed_experts=4, num_experts_per_tok=2,
                     kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=8, v_head_dim=8, vocab_size=101,
                     n_shared_experts=0, first_k_dense_replace=0, n_group=1, topk_group=1)
    assert (arch.shared_experts, arch.dense_layers) == (hf.n_shared_experts, hf.first_k_dense_replace) == (0, 0)
    assert [x.ffn.is_moe for x in _layers(arch)] == [True, True]
    assert symroof.total_parameters(arch) == _numel(hf, **MOE)[0]


@pytest.mark.parametrize("only", [[1.0], [True], "1"])
def test_bad_mlp_only_layers(only):
    config = {"model_type": "qwen3_moe", **_LLAMA, "num_experts": 4, "num_experts_per_tok": 2,
              "moe_intermediate_size": 32, "mlp_only_layers": only}
    assert _error(config) == f"config.json: mlp_only_layers={only!r} must be a list of layer indices"


def test_decoder_sparse_step_of_three():
    """Qwen3MoeDecoderLayer: a sparse MoE block where ``(layer_idx + 1) % decoder_sparse_step == 0`` and the
    layer is not in mlp_only_layers: of 6 layers with step 3, layers 2 and 5 (0-based); here mlp_only_layers
    [5] leaves only layer 2. Checked against the meta model's own modules and its parameter count."""
    import symroof

    arch, hf = _read("qwen3_moe", **{**_LLAMA, "num_hidden_layers": 6}, num_experts=4, num_experts_per_tok=2,
                     moe_intermediate_size=32, decoder_sparse_step=3, mlp_only_layers=[5])
    numel, lm = _numel(hf, **MOE)
    sparse = [type(layer.mlp).__name__ == "Qwen3MoeSparseMoeBlock" for layer in lm.model.layers]
    assert [x.ffn.is_moe for x in _layers(arch)] == sparse == [False, False, True, False, False, False]
    assert symroof.total_parameters(arch) == numel


def test_window_field_only_when_every_layer_slides():
    """``Arch.window`` is the window of every layer: Qwen2 with use_sliding_window and max_window_layers 1
    slides layer 1 only (Qwen2Config.layer_types), so the field stays None and the layers carry it; Mistral
    slides both layers over its sliding_window."""
    arch, hf = _read("qwen2", **_LLAMA, use_sliding_window=True, sliding_window=8, max_window_layers=1)
    assert hf.layer_types == ["full_attention", "sliding_attention"]
    assert (arch.window, [x.attention.window for x in _layers(arch)]) == (None, [None, 8])
    arch, hf = _read("mistral", **_LLAMA, sliding_window=8)
    assert (arch.window, [x.attention.window for x in _layers(arch)]) == (hf.sliding_window, [8, 8]) == (8, [8, 8])


_TINY = dict(hidden_size=16, num_attention_heads=2, num_key_value_heads=2, intermediate_size=8, vocab_size=11)


@pytest.mark.parametrize("layers, extra", [(30, {}), (3, {"max_window_layers": 0})])
def test_qwen2_max_window_layers_default_and_zero(layers, extra):
    """Qwen2Config: max_window_layers 28 when left out, and layer_types slide the layers i >= it (of 30:
    layers 28 and 29); 0 is allowed and slides every layer."""
    arch, hf = _read("qwen2", **_TINY, num_hidden_layers=layers, use_sliding_window=True, sliding_window=8, **extra)
    expected = [8 if i >= extra.get("max_window_layers", 28) else None for i in range(layers)]
    assert [x.attention.window for x in _layers(arch)] == [
        hf.sliding_window if k == "sliding_attention" else None for k in hf.layer_types] == expected


def test_a_family_without_windows_ignores_sliding_window():
    """LlamaConfig takes no sliding_window (not a parameter of its __init__) and LlamaModel builds its mask with
    create_causal_mask only, so a stray key leaves every layer full attention. (transformers' DynamicCache does
    read a stray config.sliding_window and keeps a sliding cache while the mask stays full; symroof follows
    the model's attention, not that quirk, so the oracle's cache check does not apply here.)"""
    import inspect

    arch, hf = _read("llama", **_LLAMA, sliding_window=4)
    assert "sliding_window" not in inspect.signature(type(hf).__init__).parameters
    assert [x.attention.window for x in _layers(arch)] == [None, None]


def test_mistral_null_sliding_window_is_full_attention():
    """A real bug before: an explicit ``"sliding_window": null`` (as Mistral-7B-Instruct-v0.2 and v0.3 publish
    it) was read as MistralConfig's default 4096 on every layer; transformers keeps None, full attention
    (the oracle: parameters, FLOPs of a prefill and of decode steps, the cache of all 11 prompt tokens)."""
    arch = om.check_family("mistral", {**_LLAMA, "sliding_window": None})
    assert (arch.window, [x.attention.window for x in _layers(arch)]) == (None, [None, None])


def test_qwen3_moe_null_sliding_window_with_use_sliding_window():
    """Qwen3MoeConfig keeps an explicit null sliding_window as None even with use_sliding_window: no layer
    slides (the oracle, as above)."""
    arch = om.check_family("qwen3_moe", {**_LLAMA, "sliding_window": None, "use_sliding_window": True,
                                         "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32},
                           load=MOE)
    assert [x.attention.window for x in _layers(arch)] == [None, None]


def test_empty_name_or_path_falls_back_to_the_model_type():
    """``name`` defaults to ``_name_or_path`` only when it is a non-empty string, else (for a dict) the
    model_type."""
    import symroof

    assert symroof.models.from_hf_config({"model_type": "llama", **_LLAMA, "_name_or_path": ""}).name == "llama"
    assert symroof.models.from_hf_config({"model_type": "llama", **_LLAMA, "_name_or_path": "org/m"}).name == "org/m"


@pytest.mark.parametrize("types", [["full_attention"], "full_attention", ["full_attention", "local"]])
def test_bad_layer_types(types):
    config = {"model_type": "qwen2", **_LLAMA, "layer_types": types}
    assert _error(config) == (f"config.json: layer_types={types!r} must list 2 of full_attention, sliding_attention, "
                              "chunked_attention")


def test_sliding_layer_types_need_a_window():
    config = {"model_type": "qwen2", **_LLAMA, "use_sliding_window": True, "sliding_window": None,
              "layer_types": ["sliding_attention", "full_attention"]}
    assert _error(config) == "config.json: layer_types has sliding layers but sliding_window is null"


# ---- reading the file and naming keys (symroof/model/hf/config.py) -----------------------------------------


def test_a_file_of_exactly_16_mib_is_read_and_one_byte_more_is_not(tmp_path):
    """read_config reads at most 16 MiB = 16·1024·1024 = 16777216 bytes (the module's stated limit): a file
    of exactly that size is read, one of 16777217 is refused, naming its size and the limit."""
    import json

    import symroof

    body = json.dumps({"model_type": "llama", **_LLAMA, "pad": ""})
    path = tmp_path / "config.json"
    path.write_text(body[:-2] + "x" * (16777216 - len(body)) + '"}')
    assert path.stat().st_size == 16777216
    assert symroof.models.from_hf_config(path).hidden == 64
    path.write_text(body[:-2] + "x" * (16777217 - len(body)) + '"}')
    assert _error(path) == (f"config file {str(path)!r} has 16777217 bytes; at most 16777216 are read")


def test_an_empty_config_path():
    from symroof.model.hf.config import read_config

    with pytest.raises(ValueError) as err:
        read_config("")
    assert str(err.value) == "config path '' is empty"


def test_parse_config_names_config_json_by_default():
    from symroof.model.hf.config import parse_config

    with pytest.raises(ValueError) as err:
        parse_config("[1]")
    assert str(err.value) == "config file 'config.json' must hold a JSON object, not an array"


def _nested(depth, kind):
    """A JSON object holding arrays (or objects) nested ``depth`` deep in all, the outer object included."""
    if kind == "array":
        return '{"x": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    return '{"a": ' * (depth - 1) + "{}" + "}" * (depth - 1)


@pytest.mark.parametrize("kind", ["array", "object"])
def test_nesting_depth_64_is_read_and_65_is_not(kind):
    """At most 64 nested arrays or objects (MAX_DEPTH): 64 read, 65 refused with the depth it found."""
    from symroof.model.hf.config import parse_config

    assert isinstance(parse_config(_nested(64, kind)), dict)
    with pytest.raises(ValueError) as err:
        parse_config(_nested(65, kind))
    assert str(err.value) == "config file 'config.json' nests 65 arrays or objects deep; at most 64 are read"


def test_brackets_in_strings_and_sibling_containers_do_not_nest():
    """Depth counts open brackets less closed ones outside strings: 100 brackets inside a string value add
    nothing, nor do 100 sibling empty objects and arrays (each closed before the next opens: depth 2)."""
    from symroof.model.hf.config import parse_config

    text = '{"s": "' + "[{" * 100 + '", "o": [' + ", ".join(["{}"] * 100) + '], "a": [' + ", ".join(["[]"] * 100) + "]}"
    data = parse_config(text)
    assert (data["s"], len(data["o"]), len(data["a"])) == ("[{" * 100, 100, 100)


@pytest.mark.parametrize("length, shown", [
    # repr of 78 x's is 80 characters: shown whole
    (78, "'" + "x" * 78 + "'"),
    # repr of 79 x's is 81 characters: the first 77 and "..." (80 in all)
    (79, "'" + "x" * 76 + "..."),
])
def test_a_long_value_is_cut_to_80_characters(length, shown):
    config = {"model_type": "llama", **_LLAMA, "hidden_size": "x" * length}
    assert _error(config) == f"config.json: hidden_size={shown} must be a positive integer, not a string"


@pytest.mark.parametrize("drop, message", [
    ("vocab_size", "config.json has no vocab_size"),
    ("hidden_size", "config.json has no hidden_size (nor n_embd, d_model)"),
])
def test_a_missing_key_names_its_alternatives_only_when_it_has_some(drop, message):
    config = {k: v for k, v in {"model_type": "llama", **_LLAMA}.items() if k != drop}
    assert _error(config) == message


# ---- the family table (symroof/model/hf/families.py and the groups' registrations) ---------------------------
#
# Each config gives only sizes and leaves the rest to the config class: the number of KV heads, the biases,
# the tied head, the norms, the windows and which layers slide are all its defaults (MistralConfig
# sliding_window 4096, Qwen2Config max_window_layers 28, Gemma2Config one full layer in 2, Gemma3TextConfig
# in 6, Cohere2Config in 4, GptOssConfig sliding_window 128 alternating, Starcoder2Config 2 KV heads and
# use_bias true, ...). transformers' config object and its meta model are the expected values.

_SIZES = dict(hidden_size=64, vocab_size=101, intermediate_size=96)
_MLA = dict(moe_intermediate_size=32, n_routed_experts=4, num_experts_per_tok=2, kv_lora_rank=16, qk_nope_head_dim=8,
            qk_rope_head_dim=8, v_head_dim=8)

LEFT_OUT = {
    "llama": dict(num_hidden_layers=2, num_attention_heads=4),
    "mistral": dict(num_hidden_layers=2, num_attention_heads=16),
    "mixtral": dict(num_hidden_layers=2, num_attention_heads=16, num_local_experts=4, num_experts_per_tok=2),
    "qwen2": dict(num_hidden_layers=30, num_attention_heads=32, use_sliding_window=True),
    "qwen2-no-flag": dict(num_hidden_layers=30, num_attention_heads=32, sliding_window=8),
    "qwen3": dict(num_hidden_layers=30, num_attention_heads=32, use_sliding_window=True),
    "qwen3_moe": dict(num_hidden_layers=2, num_attention_heads=8, num_experts=4, num_experts_per_tok=2,
                      moe_intermediate_size=32),
    "qwen3_moe-window": dict(num_hidden_layers=2, num_attention_heads=8, num_experts=4, num_experts_per_tok=2,
                             moe_intermediate_size=32, use_sliding_window=True),
    "gemma": dict(num_hidden_layers=2, num_attention_heads=16, head_dim=16),
    "gemma2": dict(num_hidden_layers=4, num_attention_heads=8, head_dim=16),
    "gemma3_text": dict(num_hidden_layers=7, num_attention_heads=8, head_dim=16),
    "cohere": dict(num_hidden_layers=2, num_attention_heads=4),
    "cohere2": dict(num_hidden_layers=5, num_attention_heads=4),
    "gpt2": dict(n_embd=64, n_layer=2, n_head=4, intermediate_size=None, hidden_size=None),
    "gpt_neox": dict(num_hidden_layers=2, num_attention_heads=4),
    "deepseek_v2": dict(num_hidden_layers=2, num_attention_heads=4, **_MLA),
    "deepseek_v3": dict(num_hidden_layers=4, num_attention_heads=4, n_group=1, topk_group=1, **_MLA),
    "llama4_text": dict(num_hidden_layers=4, num_attention_heads=16, num_local_experts=4, num_experts_per_tok=2,
                        intermediate_size_mlp=128, head_dim=16),
    "gpt_oss": dict(num_hidden_layers=2, num_attention_heads=16, num_local_experts=4, num_experts_per_tok=2,
                    head_dim=16),
    "phi3": dict(num_hidden_layers=2, num_attention_heads=4, pad_token_id=0),
    "olmo2": dict(num_hidden_layers=2, num_attention_heads=4),
    "granite": dict(num_hidden_layers=2, num_attention_heads=4),
    "starcoder2": dict(num_hidden_layers=2, num_attention_heads=4),
    "falcon": dict(num_hidden_layers=2, num_attention_heads=4),
    "gptj": dict(n_embd=64, n_layer=2, n_head=4, rotary_dim=8, intermediate_size=None, hidden_size=None),
    "qwen2_moe": dict(num_hidden_layers=30, num_attention_heads=16, num_experts=4, num_experts_per_tok=2,
                      moe_intermediate_size=32, shared_expert_intermediate_size=48, use_sliding_window=True,
                      sliding_window=8),
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case", sorted(LEFT_OUT))
def test_left_out_keys_of_every_family(case):
    """Parameters against the meta model's ``numel``; KV heads against the config object (not for MLA, whose
    heads are not grouped, nor where the class has no such key); the tied head; each layer's window against
    the config object's ``layer_types`` (a sliding layer: its ``sliding_window``), or without them its
    ``sliding_window`` on every layer (None: full attention)."""
    import symroof

    model_type = case.split("-")[0]
    config = {k: v for k, v in {**_SIZES, **LEFT_OUT[case]}.items() if v is not None}
    arch, hf = _read(model_type, **config)
    assert symroof.total_parameters(arch) == _numel(hf, **MOE)[0]
    if getattr(hf, "num_key_value_heads", None) is not None and arch.kv_lora_rank is None:
        assert arch.kv_heads == hf.num_key_value_heads
    assert arch.tied_embeddings is hf.tie_word_embeddings
    window = getattr(hf, "sliding_window", None)
    kinds = getattr(hf, "layer_types", None) or ["sliding_attention" if window else "full_attention"] * arch.layers
    assert [x.attention.window for x in _layers(arch)] == [window if k == "sliding_attention" else None for k in kinds]


@pytest.mark.parametrize("model_type", ["gemma", "gemma2", "gemma3_text", "cohere", "cohere2"])
def test_only_a_model_type_reads_the_config_class_sizes(model_type):
    """A file of only its model_type: every size is the config class's (GemmaConfig 3072 wide, 28 layers,
    16 heads of 256, FFN 24576, vocab 256000; Gemma2Config and Gemma3TextConfig 2304, 26, 8 over 4 KV heads
    of 256, 9216, vocab 256000 and 262208; CohereConfig and Cohere2Config 8192, 40, 64 heads, 22528, 256000),
    read from transformers' config object (no model is built)."""
    arch, hf = _read(model_type)
    head_dim = getattr(hf, "head_dim", None) or hf.hidden_size // hf.num_attention_heads
    assert (arch.hidden, arch.layers, arch.heads, arch.kv_heads, arch.head_dim, arch.ffn_dim, arch.vocab) == (
        hf.hidden_size, hf.num_hidden_layers, hf.num_attention_heads, hf.num_key_value_heads, head_dim,
        hf.intermediate_size, hf.vocab_size)


def test_an_unknown_family_is_refused_naming_the_known_ones():
    from symroof.model.hf import FAMILIES

    message = _error({"model_type": "my_llama", **_LLAMA}, family="nope")
    assert message == f"family='nope' is not a known layout; known: {', '.join(FAMILIES)}"
    assert message.startswith("family='nope' is not a known layout; known: llama, mistral, mixtral, qwen2, ")


def test_an_integer_too_long_to_print_is_named_by_its_bits():
    """10**5000 has more digits than Python prints (4300); its bit length is floor(5000·log2 10) + 1 =
    floor(16609.64) + 1 = 16610."""
    config = {"model_type": "llama", **_LLAMA, "hidden_size": -(10**5000)}
    assert _error(config) == "config.json: hidden_size=<an integer of 16610 bits> must be a positive integer"


# ---- the family hooks (gemma_cohere.py, llama4_gptoss.py, others.py) against transformers ---------------------

_L4 = dict(num_hidden_layers=4, num_attention_heads=16, head_dim=16)
_L4_MOE = dict(_L4, num_local_experts=4, num_experts_per_tok=2, intermediate_size_mlp=128)

RULES = {
    # Gemma3TextConfig.__post_init__: use_bidirectional_attention keeps sliding_window // 2 + 1 = 4096 // 2 + 1
    "gemma3_text-bidirectional": dict(num_hidden_layers=7, num_attention_heads=8, head_dim=16,
                                      use_bidirectional_attention=True),
    # ... and on every layer when layer_types makes them all sliding: 10 // 2 + 1 = 6
    "gemma3_text-bidirectional-all": dict(num_hidden_layers=2, num_attention_heads=8, head_dim=16,
                                          use_bidirectional_attention=True, sliding_window=10,
                                          layer_types=["sliding_attention"] * 2),
    # a pattern of 1: no sliding layer, so a null sliding_window is allowed
    "gemma3_text-pattern-1": dict(num_hidden_layers=2, num_attention_heads=8, head_dim=16, sliding_window=None,
                                  sliding_window_pattern=1),
    # Cohere2: one full layer in sliding_window_pattern; the full ones without rotary positions
    "cohere2-pattern-2": dict(num_hidden_layers=4, num_attention_heads=4, sliding_window_pattern=2, sliding_window=6),
    # Llama4TextConfig: a NoPE layer every no_rope_layer_interval, chunked on the RoPE layers, MoE every
    # interleave_moe_layer_step-th layer
    "llama4_text-intervals": dict(_L4_MOE, no_rope_layer_interval=2, interleave_moe_layer_step=2,
                                  attention_chunk_size=4),
    # attention_chunk_size null: no chunking
    "llama4_text-no-chunk": dict(_L4_MOE, attention_chunk_size=None),
    "llama4_text-lists": dict(_L4_MOE, moe_layers=[0], no_rope_layers=[1, 0, 1, 1]),
    # Llama4TextConfig: 16 experts, 1 per token, intermediate_size_mlp 16384, chunk 8192, interval 4, step 1
    "llama4_text-defaults": _L4,
    "gpt_oss-no-bias": dict(num_hidden_layers=2, num_attention_heads=16, num_local_experts=4, num_experts_per_tok=2,
                            head_dim=16, attention_bias=False),
    "starcoder2-no-bias": dict(num_hidden_layers=2, num_attention_heads=4, use_bias=False),
    "falcon-new-architecture": dict(num_hidden_layers=2, num_attention_heads=4, new_decoder_architecture=True,
                                    num_kv_heads=2),
    "falcon-sequential": dict(num_hidden_layers=2, num_attention_heads=4, parallel_attn=False, multi_query=False,
                              bias=True),
    "falcon-alibi": dict(num_hidden_layers=2, num_attention_heads=4, alibi=True, ffn_hidden_size=40),
    "qwen2_moe-sparse-step": dict(num_hidden_layers=4, num_attention_heads=16, num_experts=4, num_experts_per_tok=2,
                                  moe_intermediate_size=32, qkv_bias=False, decoder_sparse_step=2),
    # Qwen2MoeConfig: sliding_window 4096 and max_window_layers 28 when left out; with use_sliding_window the
    # even layers below 28 slide (of 30: 0, 2, ..., 26; not 28)
    "qwen2_moe-window-defaults": dict(num_hidden_layers=30, num_attention_heads=16, num_experts=4,
                                      num_experts_per_tok=2, moe_intermediate_size=32,
                                      shared_expert_intermediate_size=48, use_sliding_window=True),
    "cohere-bias": dict(num_hidden_layers=2, num_attention_heads=4, attention_bias=True),
    # Qwen2MoeConfig: shared_expert_intermediate_size 5632 when left out
    "qwen2_moe-shared-default": dict(num_hidden_layers=2, num_attention_heads=16, num_experts=4, num_experts_per_tok=2,
                                     moe_intermediate_size=32),
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case", sorted(RULES))
def test_family_hooks_against_transformers(case):
    """Parameters against the meta model's ``numel``; which layers are MoE against its modules (an ``experts``
    parameter); each layer's window and chunk against the config object's ``layer_types`` (its
    ``sliding_window`` and ``attention_chunk_size``); Llama 4's rotary layers against ``no_rope_layers``
    (1: RoPE), Cohere 2's against its sliding layers; KV heads against ``num_key_value_heads``."""
    import symroof

    model_type = case.split("-")[0]
    arch, hf = _read(model_type, **_SIZES, **RULES[case])
    numel, lm = _numel(hf, **MOE)
    assert symroof.total_parameters(arch) == numel
    layers = _layers(arch)
    blocks = lm.model.layers if hasattr(lm, "model") else lm.transformer.h
    assert [x.ffn.is_moe for x in layers] == [any("experts" in n for n, _ in b.named_parameters()) for b in blocks]
    kinds = getattr(hf, "layer_types", None) or ["full_attention"] * arch.layers
    assert [x.attention.window for x in layers] == [hf.sliding_window if k == "sliding_attention" else None
                                                    for k in kinds]
    assert [x.attention.chunk for x in layers] == [hf.attention_chunk_size if k == "chunked_attention" else None
                                                   for k in kinds]
    if model_type == "llama4_text":
        assert [x.attention.rope for x in layers] == [bool(r) for r in hf.no_rope_layers]
    if model_type == "cohere2":
        assert [x.attention.rope for x in layers] == [k == "sliding_attention" for k in kinds] == [True, False] * 2
    if getattr(hf, "num_key_value_heads", None) is not None:
        assert arch.kv_heads == hf.num_key_value_heads
    if arch.is_moe:
        assert arch.experts_per_token == hf.num_experts_per_tok


def test_llama4_moe_fields_and_notes():
    """Llama4TextConfig: 16 experts of intermediate_size, 1 per token (left out here: 2 and 48 given), a
    shared expert; the note on eager transformers' all-expert product only when a layer is MoE
    (``moe_layers`` [] makes none: every layer a dense FFN of intermediate_size_mlp)."""
    arch, hf = _read("llama4_text", **{**_SIZES, **_L4, "num_experts_per_tok": 2, "intermediate_size": 48})
    assert (arch.experts, arch.experts_per_token, arch.expert_ffn_dim, arch.shared_experts) == (
        hf.num_local_experts, hf.num_experts_per_tok, hf.intermediate_size, 1) == (16, 2, 48, 1)
    arch, hf = _read("llama4_text", **_SIZES, **_L4_MOE, moe_layers=[])
    assert arch.source == ("Hugging Face config.json (a config dict); not modelled: Llama 4's L2 q/k norm and "
                           "attention temperature tuning (elementwise)")
    assert [x.ffn.width for x in _layers(arch)] == [hf.intermediate_size_mlp] * 4 == [128] * 4


def test_gpt_oss_source_names_its_clamped_swiglu():
    import symroof

    arch = symroof.models.from_hf_config({"model_type": "gpt_oss", **_SIZES, **LEFT_OUT["gpt_oss"]})
    assert arch.source == ("Hugging Face config.json (a config dict); not modelled: gpt-oss's clamped SwiGLU "
                           "(elementwise)")


def test_gemma3_layer_types_decide_whether_a_null_window_is_allowed():
    """A null sliding_window is refused only when some layer slides: an all-full layer_types reads (every
    layer full attention, as Gemma3TextConfig keeps it); one sliding layer is refused."""
    config = dict(_SIZES, num_hidden_layers=2, num_attention_heads=8, head_dim=16, sliding_window=None)
    arch, hf = _read("gemma3_text", **config, layer_types=["full_attention"] * 2)
    assert [x.attention.window for x in _layers(arch)] == [None, None] and hf.layer_types == ["full_attention"] * 2
    message = _error({"model_type": "gemma3_text", **config, "layer_types": ["sliding_attention", "full_attention"]})
    assert message == "config.json: layer_types has sliding layers but sliding_window is null"


def test_gemma3_bidirectional_window_of_every_layer():
    """With every layer sliding, the model-level window is the halved one too: 10 // 2 + 1 = 6 (the config
    object's sliding_window)."""
    arch, hf = _read("gemma3_text", **_SIZES, **RULES["gemma3_text-bidirectional-all"])
    assert arch.window == hf.sliding_window == 6


@pytest.mark.parametrize("factor", [0, 1.5, True, "0.5", -0.25])
def test_bad_partial_rotary_factor(factor):
    config = {"model_type": "phi3", **_LLAMA, "partial_rotary_factor": factor}
    assert _error(config) == f"config.json: partial_rotary_factor={factor!r} must be a number in (0, 1]"


def test_falcon_head_dim_is_hidden_over_heads_whatever_the_file_says():
    """FalconConfig.head_dim is a property, hidden_size // num_attention_heads = 64 // 4 = 16: a head_dim key
    in the file changes nothing (transformers builds the model of the same config without it)."""
    import symroof

    config = dict(_SIZES, num_hidden_layers=2, num_attention_heads=4)
    arch = symroof.models.from_hf_config({"model_type": "falcon", **config, "head_dim": 8})
    _, hf = _read("falcon", **config)
    assert arch.head_dim == hf.head_dim == 16
    assert {x.attention.head_dim for x in _layers(arch)} == {16}
    assert symroof.total_parameters(arch) == _numel(hf)[0]


def test_gptj_rotary_dim_default_is_64():
    """GPTJConfig: rotary_dim 64 when left out, rotated in each head of 256 // 2 = 128 (GPTJAttention's
    rotary_dim is config.rotary_dim)."""
    arch, hf = _read("gptj", n_embd=256, n_layer=1, n_head=2, vocab_size=101)
    assert {x.attention.rotary_dim for x in _layers(arch)} == {hf.rotary_dim} == {64}


def test_a_config_without_model_type_is_read_by_its_architecture():
    """Without model_type, ``architectures[0]`` names the family: for every model_type symroof reads, the
    causal-LM class transformers maps it to (``MODEL_FOR_CAUSAL_LM_MAPPING_NAMES``) is read as that model_type's
    layout (Llama4ForCausalLM serves llama4_text and llama4, one layout)."""
    om.require("transformers")
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES as CAUSAL

    from symroof.model.hf import FAMILIES
    from symroof.model.hf.config import Config
    from symroof.model.hf.families import family_of

    for model_type, family in FAMILIES.items():
        _, found = family_of(Config({"architectures": [CAUSAL[model_type]]}))
        assert found is family, model_type
