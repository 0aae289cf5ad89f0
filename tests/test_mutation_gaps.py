"""Values the mutation survey (benchmarks/mutation.py) found unasserted after the layer-stack rewrite,
each from a hand count."""

from __future__ import annotations

import symroof
from symroof.model import params


def test_deepseek_dense_layer_parameters_by_hand():
    """DeepSeek-V3's first three layers have a dense FFN of 18432 (config.json: intermediate_size)."""
    dense = params.layer_parameters(symroof.models.get("deepseek-v3"), dense=True, norms=False)
    assert dense["ffn/gate"] == dense["ffn/up"] == dense["ffn/down"] == 7168 * 18432
    assert dense["attention/q_down"] == 7168 * 1536 and dense["attention/kv_down"] == 7168 * (512 + 64)


def test_weight_bytes_count_each_bias_at_its_own_bytes():
    """A tiny GPT-2-style model (H = 8, 2 heads, FFN 32, vocab 10, tied, LayerNorm, every bias) with int4
    matrices and fp16 biases: matrices 4·8·8 + 2·8·32 = 768 weights at 1/2 byte; biases 3·8 (q, k, v)
    + 8 (out) + 32 (up) + 8 (down) = 72 at 2 bytes; norms 2·2·8 + 2·8 (final) = 48 and the table 80,
    at 2 bytes."""
    arch = symroof.Arch(hidden=8, layers=1, heads=2, vocab=10, norm="layernorm", qkv_bias=True, out_bias=True,
                        mlp_bias=True, weight_bytes=2,
                        tensor_bytes={n: "int4" for n in ("attention/q", "attention/k", "attention/v",
                                                          "attention/out", "ffn/up", "ffn/down")})
    assert params.weight_bytes(arch) == 768 // 2 + 72 * 2 + 48 * 2 + 80 * 2


def test_attention_sinks_bytes_by_hand():
    """gpt-oss keeps one sink logit per head: 64 heads at bf16 are 128 bytes per layer."""
    a = symroof.model.layers.Attention(heads=64, kv_heads=8, head_dim=64, sinks=True)
    layer = symroof.model.layers.Layer(a, symroof.model.layers.FFN(128))
    arch = symroof.Arch(hidden=64, layers=1, heads=64, kv_heads=8, head_dim=64, ffn_dim=128, layout=((1, layer),))
    cost = symroof.decode(arch, "exact", B=1, S_c=0)
    assert cost.bytes_of("weights/attention/sinks") == 64 * 2


def test_003_moe_with_a_nominal_size_multiplies_the_nominal_parameters():
    """003's 2·P FLOPs per token: a MoE model with a nominal size (params_b) uses it, not its active count:
    Mixtral given params_b = 47 makes 2·47e9 FLOPs per token."""
    mixtral = symroof.models.get("mixtral-8x7b").replace(params_b=47)
    assert symroof.decode(mixtral, "inference-arithmetic", B=1, S_c=0).flops == 2 * 47 * 10**9
    assert symroof.decode(symroof.models.get("mixtral-8x7b"), "inference-arithmetic", B=1, S_c=0).flops == \
        2 * 12_879_925_248
