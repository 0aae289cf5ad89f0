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
