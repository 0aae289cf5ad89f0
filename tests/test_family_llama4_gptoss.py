"""Llama 4 and gpt-oss against transformers (`tests.oracle_models.check_family`), and their published configs.

Real configs (``tests/data``):

* ``gpt-oss-20b.json``: https://huggingface.co/openai/gpt-oss-20b/blob/main/config.json, as reproduced
  in tinygrad's gpt-oss test (which cites that URL; its ``transformers_version`` reads 4.57.0).
* ``llama-4-scout-17b-16e.json``: https://huggingface.co/meta-llama/Llama-4-Scout-17B-16E/blob/main/config.json
  as quoted in AMD-AGI/Primus PR #165 (the wrapper and ``text_config`` up to ``router_jitter_noise``);
  the quote breaks off there, and the remaining text keys (``torch_dtype`` bfloat16, ``use_cache``,
  ``use_qk_norm`` true, ``vocab_size`` 202048, also quoted in the PR's review and vLLM's tests) are
  filled in; ``vision_config`` is left out (symroof reads the text model only).

Published totals: gpt-oss-20b 20,914,757,184 and gpt-oss-120b 116,829,156,672 parameters (the Hugging
Face safetensors metadata as huggingface.js counts it, mxfp4 blocks dequantized, scales excluded; the
model card's "21B / 117B", and OpenAI's 20.91B / 116.83B); 20b's tensors are 1,804,459,584 bf16
elements and 19,110,297,600 expert weights stored as mxfp4. Llama 4 Scout: "17B (Activated) 109B
(Total)" (the model card), the total including the vision encoder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import symroof
from symroof.model.params import weight_bytes
from tests import oracle_models as om

DATA = Path(__file__).parent / "data"
BASE = dict(hidden_size=64, intermediate_size=32, num_hidden_layers=4, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16, vocab_size=101, tie_word_embeddings=False)
MOE = {"experts_implementation": "batched_mm"}     # gpt-oss's experts path that runs on fake tensors

# Llama4TextExperts has no experts_implementation: it multiplies every expert by every token, so the
# counter sees E experts per token. With num_experts_per_tok = num_local_experts that is also the
# routed count, and check_family holds exactly; k < E is checked in test_llama4_experts_run_densely.
LLAMA4 = dict(BASE, intermediate_size_mlp=48, num_local_experts=2, num_experts_per_tok=2, attention_chunk_size=4)

CASES = {
    # GptOssConfig: layer_types from the rule (sliding, full, ...), 11 tokens over a window of 4
    "gpt-oss-alternating": ("gpt_oss", dict(BASE, sliding_window=4, num_local_experts=4, num_experts_per_tok=2), MOE),
    "gpt-oss-layer-types": ("gpt_oss", dict(BASE, sliding_window=3, num_local_experts=4, num_experts_per_tok=1,
                                            layer_types=["full_attention", "sliding_attention",
                                                         "sliding_attention", "full_attention"]), MOE),
    # head_dim absent: GptOssConfig's 64, not hidden / heads = 16; no biases
    "gpt-oss-defaults": ("gpt_oss", dict({k: v for k, v in BASE.items() if k != "head_dim"}, sliding_window=5,
                                         num_local_experts=3, num_experts_per_tok=2, attention_bias=False), MOE),
    # MoE every other layer (1, 3), dense of intermediate_size_mlp at 0, 2; chunks of 4; layer 3 NoPE/full
    "llama4-interleaved": ("llama4_text", dict(LLAMA4, interleave_moe_layer_step=2), {}),
    # explicit moe_layers and no_rope_layers (layer 1 NoPE: full attention), no qk norm, tied head
    "llama4-explicit-lists": ("llama4_text", dict(LLAMA4, moe_layers=[0, 2], no_rope_layers=[1, 0, 1, 1],
                                                  use_qk_norm=False, tie_word_embeddings=True), {}),
    # attention_chunk_size null: every layer full; NoPE every second layer; head_dim absent (128)
    "llama4-no-chunks": ("llama4_text", dict({k: v for k, v in LLAMA4.items() if k != "head_dim"},
                                             attention_chunk_size=None, no_rope_layer_interval=2,
                                             attention_bias=True), {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_family_matches_transformers(case):
    model_type, config, load = CASES[case]
    om.check_family(model_type, config, load=load, prompt=11)


def test_llama4_layout_as_transformers_resolves_it():
    arch = symroof.models.from_hf_config({"model_type": "llama4_text", **LLAMA4, "interleave_moe_layer_step": 2})
    layers = [g for n, g in arch.groups for _ in range(int(n))]
    assert [a.attention.kind for a in layers] == ["chunked", "chunked", "chunked", "full"]
    assert [a.attention.rope for a in layers] == [True, True, True, False]
    assert [a.ffn.experts for a in layers] == [1, 2, 1, 2]
    assert [a.ffn.width for a in layers] == [48, 32, 48, 32]
    assert all(a.ffn.shared_experts == 1 for a in layers if a.ffn.is_moe)


def _counted(model_type, config, batch, new, cached):
    torch = om.require("torch")
    transformers = om.require("transformers")
    hf = transformers.AutoConfig.for_model(model_type, **config)
    with torch.device("meta"):
        lm = transformers.AutoModelForCausalLM.from_config(hf)
    _, ops = om.count_step(lm, batch, new, cached)
    return lm, sum(ops.values())


def test_llama4_experts_run_densely():
    """k < E: transformers' eager experts compute all E experts for every token; symroof counts k. The
    difference is exactly (E - k) experts of 3·H·F per token in each MoE layer, 2 FLOPs per MAC."""
    config = dict(LLAMA4, num_local_experts=4, num_experts_per_tok=1, interleave_moe_layer_step=2)
    arch = symroof.models.from_hf_config({"model_type": "llama4_text", **config})
    conv = om.matmul_conventions()
    batch, prompt = 2, 11
    for new, cached in [(prompt, 0), (1, prompt), (3, prompt)]:
        lm, counted = _counted("llama4_text", config, batch, new, cached)
        ours = symroof.step(arch, conv, B=batch, S_i=new, S_c=cached).flops
        moe_layers, H, F, idle = 2, 64, 32, 4 - 1
        assert counted - ours == 2 * batch * new * moe_layers * idle * 3 * H * F
    assert symroof.total_parameters(arch) == sum(p.numel() for p in lm.parameters())
    om.require("torch")
    from torch._subclasses.fake_tensor import FakeTensorMode
    with FakeTensorMode(allow_non_fake_inputs=True):
        held = om.cache_elements(om.prefill_cache(lm, batch, prompt))
    # layers 0-2 chunked (4): 3 tokens kept; layer 3 full: 11; 2 KV heads of 16, K and V
    assert held == batch * (3 * 3 + 11) * 2 * 2 * 16 == batch * arch.kv_cache_elements(prompt)
    assert "every expert by every token" in arch.source


def test_llama4_wrapper_reads_its_text_model():
    text = dict(LLAMA4, model_type="llama4_text")
    wrapped = symroof.models.from_hf_config({"model_type": "llama4", "text_config": text,
                                             "architectures": ["Llama4ForConditionalGeneration"]})
    assert wrapped.groups == symroof.models.from_hf_config(text).groups
    alone = symroof.models.from_hf_config({k: v for k, v in text.items() if k != "model_type"}
                                          | {"architectures": ["Llama4ForCausalLM"]})
    assert alone.groups == wrapped.groups


def test_sinks_and_router_bias_are_counted():
    """Not vacuous: without the sinks (one per head per layer) or the router bias (E per layer) the count
    misses transformers' by exactly those."""
    config = dict(BASE, sliding_window=4, num_local_experts=4, num_experts_per_tok=2)
    arch = om.check_family("gpt_oss", config, load=MOE, new=(1,))
    strip = tuple((n, g.replace(attention=g.attention.replace(sinks=False), ffn=g.ffn.replace(router_bias=False)))
                  for n, g in arch.groups)
    assert symroof.total_parameters(arch) - symroof.total_parameters(arch.replace(layout=strip)) == 4 * (4 + 4)


# ---- published configs ---------------------------------------------------------------------------------


def _meta_count(config):
    torch = om.require("torch")
    transformers = om.require("transformers")
    data = {k: v for k, v in config.items() if k != "quantization_config"}   # build bf16 shapes, not mxfp4
    hf = transformers.AutoConfig.for_model(data.pop("model_type"), **data)
    with torch.device("meta"):
        lm = transformers.AutoModelForCausalLM.from_config(hf)
    return sum(p.numel() for p in lm.parameters())


def _oss(layers=None, experts=None):
    config = json.loads((DATA / "gpt-oss-20b.json").read_text())
    if layers is not None:          # gpt-oss-120b (model card: 36 layers, 128 experts, else as 20b)
        config.update(num_hidden_layers=layers, num_local_experts=experts,
                      layer_types=["sliding_attention", "full_attention"] * (layers // 2))
    return config


@pytest.mark.parametrize("size, total, expert_weights", [
    ("20b", 20_914_757_184, 19_110_297_600), ("120b", 116_829_156_672, 36 * 128 * 3 * 2880 * 2880)])
def test_gpt_oss_published(size, total, expert_weights):
    config = _oss() if size == "20b" else _oss(36, 128)
    arch = symroof.models.from_hf_config(config)
    assert symroof.total_parameters(arch) == total == _meta_count(config)
    # active: the card's 3.6B / 5.1B count the LM head but not the embedding table
    active = symroof.active_parameters(arch, embeddings=False) + 201088 * 2880
    assert round(active / 10**8) == {"20b": 36, "120b": 51}[size]
    # mxfp4: each expert weight 1/2 byte plus one 1-byte scale per 32; everything else bf16
    assert weight_bytes(arch) == 2 * (total - expert_weights) + expert_weights // 2 + expert_weights // 32
    if size == "20b":
        assert weight_bytes(arch) == 13_761_264_768
    # KV cache at 131072 tokens: half the layers keep 127 tokens (window 128), half all; 8 heads of 64
    layers = 24 if size == "20b" else 36
    assert arch.kv_cache_elements(131072) == (layers // 2) * (127 + 131072) * 2 * 8 * 64
    assert "mxfp4" in arch.source


def test_llama4_scout_published():
    config = json.loads((DATA / "llama-4-scout-17b-16e.json").read_text())
    arch = symroof.models.from_hf_config(config)
    total = symroof.total_parameters(arch)
    assert total == _meta_count(config["text_config"])
    # the card's 109B total includes the vision encoder (not read); the text model is 107.8B
    assert 107 * 10**9 < total < 109 * 10**9
    assert round(symroof.active_parameters(arch) / 10**9) == 17          # "17B (Activated)"
    # hand count: per layer q, o 5120·5120 each, k, v 5120·1024 each; 16 + 1 experts of 3·5120·8192 and
    # a 5120·16 router; two norms; plus embedding, head, final norm
    layer = 2 * 5120 * 5120 + 2 * 5120 * 1024 + 17 * 3 * 5120 * 8192 + 5120 * 16 + 2 * 5120
    assert total == 48 * layer + 2 * 202048 * 5120 + 5120
    # KV cache at 10^6 tokens: 36 chunked layers keep 8191, the 12 NoPE layers all; 8 KV heads of 128
    assert arch.kv_cache_elements(10**6) == (36 * 8191 + 12 * 10**6) * 2 * 8 * 128
