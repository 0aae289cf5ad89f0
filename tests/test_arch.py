"""Arch validation: bad shapes raise one clear ValueError naming the field and what is allowed."""

from fractions import Fraction

import pytest
import sympy

import symroof
from symroof.model import params
from symroof.symbols import H, N, V, n_h

GOOD = dict(hidden=64, layers=2, heads=4)


@pytest.mark.parametrize("field,value,message", [
    ("hidden", 0, "hidden=0 must be a positive integer"),
    ("hidden", -64, "hidden=-64 must be a positive integer"),
    ("layers", 2.5, "layers=2.5 must be a positive integer"),
    ("heads", 0, "heads=0 must be a positive integer"),
    ("heads", 5, "heads=5 must divide hidden=64"),
    ("kv_heads", 3, "kv_heads=3 must divide heads=4"),
    ("kv_heads", 8, "kv_heads=8 must divide heads=4"),
    ("ffn_kind", "swiglu", "ffn_kind='swiglu' is not allowed; choose one of 'dense', 'gated'"),
    ("norm", "batchnorm", "norm='batchnorm' is not allowed"),
    ("vocab", True, "vocab=True must be a positive integer, not a bool"),
    ("weight_bytes", 0, "weight_bytes=0 must be a positive number"),
    ("weight_bytes", float("nan"), "weight_bytes=nan must be a finite positive number"),
    ("act_bytes", "2", "act_bytes='2' must be a positive number or a SymPy expression, not str"),
    ("experts_per_token", 3, "experts_per_token=3 must not exceed experts=1"),
    ("tied_embeddings", "yes", "tied_embeddings='yes' must be True or False"),
    ("tensor_bytes", {"ffn/upp": 1}, "tensor_bytes name='ffn/upp' is not allowed; choose one of 'attention/q'"),
    ("tensor_bytes", {"bias": "int3"}, "tensor_bytes['bias']='int3' is not allowed"),
    ("tensor_bytes", 2, "tensor_bytes=2 must map parameter names to bytes per element"),
])
def test_bad_input_is_named(field, value, message):
    with pytest.raises(ValueError) as err:
        symroof.Arch(**{**GOOD, field: value})
    assert message in str(err.value)


def test_symbolic_fields_pass_and_negative_symbols_fail():
    assert symroof.Arch.symbolic().heads == n_h
    with pytest.raises(ValueError, match="hidden=-H"):
        symroof.Arch(hidden=-H, layers=N, heads=n_h)


def test_exact_bytes_per_element():
    int4 = symroof.Arch(**GOOD, weight_bytes=Fraction(1, 2), kv_bytes=0.5)
    assert int4.weight_bytes == sympy.Rational(1, 2) and int4.kv_bytes == sympy.Rational(1, 2)


def test_derived_fields_and_replace():
    a = symroof.Arch(**GOOD)
    assert (a.head_dim, a.kv_heads, a.ffn_dim) == (16, 4, 256)
    b = a.replace(hidden=128)
    assert (b.head_dim, b.ffn_dim) == (32, 512)
    c = symroof.Arch(**GOOD, head_dim=8).replace(hidden=128)   # explicit head_dim is kept
    assert c.head_dim == 8


def test_parameter_count_of_gpt_shapes():
    # 003: P = 12 · n_layers · d_model^2 (no embeddings, biases or norms)
    arch = symroof.Arch.symbolic()
    assert sympy.expand(params.total_parameters(arch, embeddings=False, biases=False, norms=False)
                        - 12 * N * H**2) == 0
    with_embed = params.total_parameters(arch.replace(tied_embeddings=False), biases=False, norms=False)
    assert sympy.expand(with_embed - 12 * N * H**2 - 2 * V * H) == 0


def test_gpt2_small_parameter_count_matches_published():
    """GPT-2 small has 124,439,808 parameters (HF GPT2LMHeadModel, tied head)."""
    gpt2 = symroof.Arch(hidden=768, layers=12, heads=12, vocab=50257, max_positions=1024, norm="layernorm",
                        qkv_bias=True, out_bias=True, mlp_bias=True, tied_embeddings=True)
    assert params.total_parameters(gpt2) == 124_439_808


@pytest.mark.parametrize("name", ["gpt2", "llama-3-8b", "mixtral-8x7b", "deepseek-v3"])
def test_every_parameter_name_can_carry_its_own_bytes(name):
    # tensor_bytes accepts params.NAMES: every name the counts give (GPT-2's learned positions and
    # biases, GQA, a MoE router, MLA with a query bottleneck and, with q_lora_rank None, without)
    arch = symroof.models.get(name)
    archs = [arch, arch.replace(q_lora_rank=None)] if arch.is_mla else [arch]
    for a in archs:
        names = {*params.layer_parameters(a), *params.model_parameters(a)}
        if a.is_moe:
            names |= set(params.expert_parameters(a))
        assert names <= set(params.NAMES)
        assert symroof.Arch(**GOOD, tensor_bytes={n: 1 for n in names}).bytes_of(sorted(names)[0]) == 1


def test_rope_matmul_term_is_once_per_pass():
    """rope="matmul": transformers 5.17-5.18 build the angle table as (d/2, 1) @ (1, S_i) once per forward,
    with batch-1 position ids: 2·(128/2)·7 = 896 FLOPs for Llama-3-8B (d_h = 4096/32 = 128) at any B;
    GPT-2 (learned positions) has none, and the default conventions count none."""
    from symroof import conventions, models

    conv = conventions.get("matmul").replace(rope="matmul")
    for batch in (1, 5):
        assert symroof.step(models.get("llama-3-8b"), conv, B=batch, S_i=7, S_c=3).flop_terms["rope"] == 896
    assert "rope" not in symroof.step(models.get("gpt2"), conv, B=2, S_i=7, S_c=0).flop_terms
    assert "rope" not in symroof.step(models.get("llama-3-8b"), "matmul", B=2, S_i=7, S_c=0).flop_terms
