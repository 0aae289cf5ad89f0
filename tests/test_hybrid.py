"""State-space and hybrid models (issue 16): Mamba, Mamba2, Falcon-Mamba, Jamba, Qwen3-Next (Gated
DeltaNet), Granite 4 hybrids, against transformers 5.24 (`tests.oracle_models.check_family`).

What ``FlopCounterMode`` counts in these models (the ``matmul`` conventions, ``state_scan="counter"``):
every ``nn.Linear`` (in/x/dt/out projections, q/k/v/o, FFN, router, LM head); the depthwise
``conv1d`` (``aten.convolution``: ``2·k`` per channel and output position, over the padded output);
Mamba's ``dt_proj.weight @ time_step`` (a matmul) and, per token, the scan's readout
``matmul(state, C)``; Mamba2's five SSD einsums (each becomes a ``bmm``) over chunks padded to
``chunk_size``, and its decode readout ``bmm``; Gated DeltaNet's chunked form's matmuls
(``kβ·kᵀ``, ``q·kᵀ`` and the four per-chunk products with the state). What it cannot see: the
elementwise recurrence (``exp(Δ·A)``, ``Δ·B·x``, the state update), the delta rule's decode step
(all elementwise: 0 FLOPs counted), ``torch.linalg.solve_triangular`` of the UT transform,
softmax, norms, gates and activations.
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
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_family_matches_transformers(case):
    model_type, config, load = CASES[case]
    om.check_family(model_type, config, load=load)
