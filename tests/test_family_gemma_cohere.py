"""Gemma 3 (``gemma3_text`` and the ``gemma3`` multimodal wrapper's text part), Cohere and Cohere 2, and
Gemma / Gemma 2 details, against transformers itself (`tests.oracle_models.check_family`: parameters,
``matmul`` FLOPs of a prefill and steps, the cache after a prefill longer than the windows), and real
published configs: their parameter counts against transformers' on the meta device and the model
cards', their KV cache at 32768 tokens against a hand count from the config."""

from __future__ import annotations

import pytest

import symroof
from symroof.model.hf import from_hf_config, read_config
from tests import oracle_models as om
from tests.test_hf import DATA

# tiny shapes: GQA with an explicit head_dim (≠ hidden/heads), an odd vocabulary, seven layers so a
# period of 6 (Gemma 3), 4 (Cohere 2) or 3 shows one full layer and a sliding layer after it; windows
# of 4-5 against a prompt of 11. bos/eos inside the vocabulary (Cohere's defaults, 5 and 255001, are not).
BASE = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=7, num_attention_heads=4,
            num_key_value_heads=2, head_dim=24, vocab_size=101, bos_token_id=0, eos_token_id=0, pad_token_id=0)
SLIDE, FULL = "sliding_attention", "full_attention"

CASES = {
    # Gemma3TextConfig: one full layer in sliding_window_pattern (6 by default): layers 0-4 and 6 slide
    "gemma3-default-pattern": ("gemma3_text", dict(BASE, sliding_window=5)),
    "gemma3-pattern-3": ("gemma3_text", dict(BASE, sliding_window=4, sliding_window_pattern=3)),
    "gemma3-layer-types": ("gemma3_text", dict(BASE, num_hidden_layers=4, sliding_window=3,
                                               layer_types=[FULL, SLIDE, FULL, SLIDE])),
    # use_bidirectional_attention: the config keeps sliding_window // 2 + 1 = 4 (the cache 3 tokens)
    "gemma3-bidirectional": ("gemma3_text", dict(BASE, sliding_window=7, use_bidirectional_attention=True)),
    "gemma3-bias-untied": ("gemma3_text", dict(BASE, sliding_window=4, attention_bias=True,
                                               tie_word_embeddings=False)),
    # keys left out take Gemma3TextConfig's defaults: 4 KV heads of head_dim 256
    "gemma3-defaults": ("gemma3_text", dict(hidden_size=64, intermediate_size=96, num_hidden_layers=7,
                                            num_attention_heads=4, vocab_size=101, sliding_window=5)),
    # Cohere: one bias-free LayerNorm, parallel attention and FFN, tied head
    "cohere": ("cohere", dict(BASE)),
    "cohere-mha-no-head-dim": ("cohere", {k: v for k, v in BASE.items()
                                          if k not in ("head_dim", "num_key_value_heads")}),
    # q norm (heads, head_dim) and k norm (kv_heads, head_dim); attention biases
    "cohere-qk-norm-bias": ("cohere", dict(BASE, use_qk_norm=True, attention_bias=True, num_hidden_layers=2)),
    # Cohere 2: one full (NoPE) layer in 4 by default; nine layers: two full
    "cohere2-default-pattern": ("cohere2", dict(BASE, num_hidden_layers=9, sliding_window=4)),
    "cohere2-pattern-3-bias": ("cohere2", dict(BASE, sliding_window=5, sliding_window_pattern=3, attention_bias=True)),
    "cohere2-layer-types": ("cohere2", dict(BASE, num_hidden_layers=3, sliding_window=4,
                                            layer_types=[SLIDE, FULL, FULL])),
    # head_dim given: transformers 5.24 applies it after Cohere2Config's hidden // heads
    "cohere2-no-head-dim": ("cohere2", {k: v for k, v in BASE.items() if k != "head_dim"} | dict(sliding_window=4)),
    # Gemma: left-out num_key_value_heads and head_dim are GemmaConfig's 16 and 256 (not 32 heads, hidden/heads = 2)
    "gemma-defaults": ("gemma", dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                     num_attention_heads=32, vocab_size=101)),
    # Gemma 2: a sliding_window_pattern key is ignored (every other layer slides); its defaults
    "gemma2-pattern-key-ignored": ("gemma2", dict(BASE, num_hidden_layers=5, sliding_window=4,
                                                  sliding_window_pattern=3)),
    "gemma2-defaults": ("gemma2", dict(hidden_size=64, intermediate_size=96, num_hidden_layers=3,
                                       num_attention_heads=4, vocab_size=101, sliding_window=4)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_family_matches_transformers(case):
    model_type, config = CASES[case]
    om.check_family(model_type, config)


def test_layouts_read():
    """The stacks themselves, written out (the same cases as CASES, checked there against transformers):
    which layers slide, NoPE, q/k norms, norms per layer."""
    read = lambda case: from_hf_config({"model_type": CASES[case][0], **CASES[case][1]})
    arch = read("gemma3-default-pattern")
    assert [(int(n), g.attention.window) for n, g in arch.groups] == [(5, 5), (1, None), (1, 5)]
    assert {(g.norms, g.attention.qk_norm) for _, g in arch.groups} == {(4, "head")}
    arch = read("cohere2-default-pattern")
    assert [(int(n), g.attention.window, g.attention.rope) for n, g in arch.groups] == [
        (3, 4, True), (1, None, False), (3, 4, True), (1, None, False), (1, 4, True)]
    assert {(g.norms, g.norm, g.parallel) for _, g in arch.groups} == {(1, "layernorm-nobias", True)}
    arch = read("gemma3-bidirectional")
    assert {g.attention.window for _, g in arch.groups} == {4, None}
    assert "use_bidirectional_attention" in arch.source


def test_cohere_qk_norm_counts_heads_times_head_dim():
    # per layer: q norm 4·24 and k norm 2·24 on top of the plain model
    plain = from_hf_config({"model_type": "cohere", **BASE})
    normed = from_hf_config({"model_type": "cohere", **BASE, "use_qk_norm": True})
    assert symroof.total_parameters(normed) - symroof.total_parameters(plain) == 7 * (4 + 2) * 24


# ---- the multimodal wrapper ----------------------------------------------------------------------------

TEXT = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=7, num_attention_heads=4, num_key_value_heads=2,
            head_dim=24, vocab_size=101, sliding_window=4, bos_token_id=0, eos_token_id=0, pad_token_id=0)


@pytest.mark.parametrize("text", [TEXT, dict(TEXT, model_type="gemma3_text")], ids=["no-model-type", "gemma3_text"])
def test_gemma3_wrapper_reads_its_text_model(text):
    """``{"model_type": "gemma3", "text_config": {...}}``: the text model's parameters and cache are those of
    transformers' Gemma3ForCausalLM built from the text config."""
    torch = om.require("torch")
    transformers = om.require("transformers")
    from torch._subclasses.fake_tensor import FakeTensorMode

    arch = from_hf_config({"model_type": "gemma3", "architectures": ["Gemma3ForConditionalGeneration"],
                           "text_config": text})
    hf = transformers.Gemma3TextConfig(**{k: v for k, v in text.items() if k != "model_type"})
    with torch.device("meta"):
        lm = transformers.Gemma3ForCausalLM(hf)
    assert symroof.total_parameters(arch) == sum(p.numel() for p in lm.parameters())
    with FakeTensorMode(allow_non_fake_inputs=True):
        held = om.cache_elements(om.prefill_cache(lm, 2, 11))
    assert 2 * arch.kv_cache_elements(11) == held
    # by hand: 6 sliding layers keep 3 tokens, one full layer 11, each 2·2·24 per token; B = 2
    assert held == 2 * (6 * 3 + 11) * 2 * 2 * 24


# ---- real published configs ------------------------------------------------------------------------------
# Sources (the Hugging Face hub's config.json files, as quoted in public repositories found with the
# search tool; the hub itself was not reachable):
# * gemma-3-1b-it.json: google/gemma-3-1b-it config.json, quoted whole in a Gemma 3 checkpoint-loading
#   document; model card count: Keras Hub's gemma3_instruct_1b preset, 999,885,952 parameters.
# * gemma-3-12b-it.json: google/gemma-3-12b-it config.json as quoted in a test (the wrapper with its
#   text_config; vision_config left out here, symroof reads only the text model); Keras Hub's
#   gemma3_instruct_12b_text: 11,765,788,416 parameters with a 262,144-token table (this config: 262,208).
# * c4ai-command-r-v01.json: CohereForAI/c4ai-command-r-v01 config.json (values as quoted in a
#   config-parsing test: 8192 wide, 40 layers, 64 heads and KV heads, 22528, 256000, rope_theta 8e6,
#   logit_scale 0.0625, tied); model card: "35 billion parameters".
# * c4ai-command-r7b-12-2024.json: CohereForAI/c4ai-command-r7b-12-2024 config.json, rebuilt from a
#   preset quoting its numbers (4096 wide, 32 layers, 32 heads, 8 KV heads of 128, 14336, 256000,
#   sliding_window 4096, sliding_window_pattern 4, logit_scale 0.25, tied), the module printout of a
#   4-bit copy's model card (Embedding(256000, 4096), k_proj 4096 -> 1024, 32 layers) and a note that
#   it ships max_position_embeddings=132096; the card's "7 billion" names the size, not a count.
REAL = {
    # name: (parameters by the model card or None, KV elements at 32768 tokens by hand)
    # 26 layers, one full in 6: layers 5, 11, 17, 23 full (4), 22 sliding keep 511; 2·1 KV head·256
    "gemma-3-1b-it": (999_885_952, (22 * 511 + 4 * 32768) * 2 * 1 * 256),
    # 48 layers: 8 full, 40 sliding keep 1023; 2·8·256
    "gemma-3-12b-it": (11_765_788_416 + (262_208 - 262_144) * 3840, (40 * 1023 + 8 * 32768) * 2 * 8 * 256),
    # 40 full layers, 2·64·128
    "c4ai-command-r-v01": (None, 40 * 32768 * 2 * 64 * 128),
    # 32 layers, one full in 4: 8 full, 24 sliding keep 4095; 2·8·128
    "c4ai-command-r7b-12-2024": (None, (24 * 4095 + 8 * 32768) * 2 * 8 * 128),
}


def transformers_count(config: dict) -> int:
    torch = om.require("torch")
    transformers = om.require("transformers")
    if config.get("model_type") == "gemma3":             # the wrapper: its text model alone
        text = {k: v for k, v in config["text_config"].items() if k != "model_type"}
        with torch.device("meta"):
            lm = transformers.Gemma3ForCausalLM(transformers.Gemma3TextConfig(**text))
    else:
        cfg = transformers.AutoConfig.for_model(**config)
        with torch.device("meta"):
            lm = transformers.AutoModelForCausalLM.from_config(cfg)
    return sum(p.numel() for p in lm.parameters())


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_config(name):
    config = read_config(DATA / f"{name}.json")
    arch = from_hf_config(config)
    published, kv = REAL[name]
    count = symroof.total_parameters(arch)
    assert count == transformers_count(config)
    if published is not None:
        assert count == published
    assert arch.kv_cache_elements(32768) == kv


def test_command_r_is_35_billion():
    count = symroof.total_parameters(from_hf_config(DATA / "c4ai-command-r-v01.json"))
    assert round(count / 10**9) == 35          # the model card's "35 billion parameters"


# ---- bad files -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model_type", ["gemma3_text", "cohere2"])
def test_null_window_with_sliding_layers_is_refused(model_type):
    with pytest.raises(ValueError, match="sliding_window=null"):
        from_hf_config({"model_type": model_type, **BASE, "sliding_window": None})


def test_gemma3_heads_must_divide_hidden():
    with pytest.raises(ValueError, match="num_attention_heads=5"):
        from_hf_config({"model_type": "gemma3_text", **BASE, "num_attention_heads": 5, "num_key_value_heads": 1})
