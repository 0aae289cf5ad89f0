"""Each Hugging Face family symroof reads, against transformers itself (`tests.oracle_models.check_family`):
a tiny model of the family built from a config, with its sliding windows, layer patterns and MoE layout,
has exactly symroof's parameter count, ``matmul`` FLOPs for a prefill and a step, and KV cache."""

from __future__ import annotations

import pytest

from tests import oracle_models as om

# tiny shapes: GQA with an explicit head_dim, an odd vocabulary, untied heads
BASE = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=4, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16, vocab_size=101, tie_word_embeddings=False)
MOE = "batched_mm"      # the experts path that runs on fake tensors (see oracle_models)

CASES = {
    # MistralConfig: sliding_window applies to every layer; a prefill of 11 over a window of 4 keeps 3
    "mistral-sliding": ("mistral", dict(BASE, sliding_window=4), {}),
    "mistral-default-window": ("mistral", dict(BASE), {}),      # 4096 by default: longer than the prompt
    "mixtral-sliding": ("mixtral", dict(BASE, sliding_window=5, num_local_experts=4, num_experts_per_tok=2),
                        {"experts_implementation": MOE}),
    # Qwen2: use_sliding_window with layers >= max_window_layers sliding
    "qwen2-sliding-upper": ("qwen2", dict(BASE, use_sliding_window=True, sliding_window=6, max_window_layers=2), {}),
    "qwen2-off": ("qwen2", dict(BASE, sliding_window=6, max_window_layers=2), {}),
    "qwen3-qk-norm": ("qwen3", dict(BASE), {}),
    "qwen3-moe-mixed": ("qwen3_moe", dict(BASE, moe_intermediate_size=32, num_experts=4, num_experts_per_tok=2,
                                          decoder_sparse_step=2, mlp_only_layers=[3]),
                        {"experts_implementation": MOE}),
    # Gemma 2: every other layer slides, four norms per layer, tied head
    "gemma2-alternating": ("gemma2", dict(BASE, sliding_window=4, tie_word_embeddings=True), {}),
    "gemma2-layer-types": ("gemma2", dict(BASE, sliding_window=3, layer_types=[
        "full_attention", "sliding_attention", "sliding_attention", "full_attention"]), {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_family_matches_transformers(case):
    model_type, config, load = CASES[case]
    om.check_family(model_type, config, load=load)


def test_sliding_window_changes_what_is_counted():
    """The check is not vacuous: the same model read with full attention misses transformers' cache."""
    import symroof

    arch = om.check_family("mistral", dict(BASE, sliding_window=4))
    assert arch.window == 4
    full = arch.replace(window=None)
    # a full layer keeps all 11 tokens, a sliding one 3: 4 layers · 2 · (2 heads · 16) per token, B = 2
    assert 2 * full.kv_cache_elements(11) == 2 * 4 * 11 * 2 * 32
    assert 2 * arch.kv_cache_elements(11) == 2 * 4 * 3 * 2 * 32
    assert symroof.total_parameters(full) == symroof.total_parameters(arch)
