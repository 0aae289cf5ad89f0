"""Deployment dtypes and quantised-checkpoint layouts (`symroof.model.precision`), values by hand.

Each expected value is derived in the test from the storage it describes: bytes per element of the
named dtypes (fp32 4, fp16/bf16 2, int8/fp8 1, int4 1/2), one scale (and zero point) per group of
input features, AutoAWQ's padded zero-point words, and the Hugging Face module names that
transformers' own modelling code gives each linear layer.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import sympy

import symroof
from symroof.model.arch import Arch
from symroof.model.hf import from_hf_config
from symroof.model.layers import FFN, Attention, Layer
from symroof.model.precision import (
    MAX_PATTERN,
    Layout,
    Precision,
    Quantization,
    ignored,
    linear_shapes,
    module_pattern,
)

R = sympy.Rational
DATA = Path(__file__).parent / "data"


# ---- Precision -------------------------------------------------------------------------------------------


def test_group_scales_and_zeros_use_their_own_dtypes():
    # int4 weights, one fp32 scale and one int8 zero point per 128 weights: 1/2 + (4 + 1)/128
    p = Precision(weights="int4", group_size=128, scale="fp32", zero="int8")
    assert p.weight_bytes == R(1, 2) + R(5, 128)
    # the default scale is fp16 and there is no zero point: 1/2 + 2/128
    assert Precision(weights="int4", group_size=128).weight_bytes == R(1, 2) + R(2, 128)
    assert Precision(weights="int4").weight_bytes == R(1, 2)          # no groups, no metadata


def test_compute_dtype_is_the_wider_and_the_activations_on_a_tie():
    assert Precision(weights="int4", activations="bf16").compute_dtype == "bf16"   # W4A16 runs bf16
    assert Precision(weights="fp32", activations="bf16").compute_dtype == "fp32"
    assert Precision(weights="fp16", activations="bf16").compute_dtype == "bf16"   # 2 bytes each: a tie
    assert Precision(weights="fp8", activations="int8").compute_dtype == "int8"
    assert Precision(weights="int4", compute="fp8").compute_dtype == "fp8"


def test_apply_sets_all_three_widths():
    arch = Precision(weights="int8", activations="fp32", kv="fp8").apply(symroof.models.get("llama-3-8b"))
    assert (arch.weight_bytes, arch.act_bytes, arch.kv_bytes, arch.tensor_bytes) == (1, 4, 1, ())


@pytest.mark.parametrize("make", [
    lambda: Precision(), lambda: Layout("x", bits=4), lambda: Quantization("x", Layout("x", bits=4)),
])
def test_value_types_are_frozen(make):
    value = make()            # built here, so that the test executes the class's own lines
    field = dataclasses.fields(value)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, field, getattr(value, field))


# ---- Layout ----------------------------------------------------------------------------------------------


def test_a_layouts_default_scale_is_two_bytes():
    # 256 -> 64, 4 bits, groups of 128 inputs: 256·64/2 bytes of weights + 64 rows · 2 groups · 2 bytes
    assert Layout("x", bits=4, group_size=128).matrix_bytes(256, 64) == 256 * 64 // 2 + 64 * 2 * 2


def test_padded_groups_count_whole_groups_of_the_input():
    """AutoAWQ's ``WQLinear_GEMV`` (awq/modules/linear/gemv.py, ``calculate_zeros_width``):
    ``make_divisible(in_features // group_size, pack_num)`` int32 words of 8 zeros per row, then
    rounded up to the multiple; one fp16 scale and one 4-bit zero for each of the ``words·8`` groups.
    in = 1032 = 8·128 + 8: ``1032 // 128 = 8`` groups fill one word (rounding 1032/128 up would give
    9 groups and two words)."""
    gemv = Layout("gemv", bits=4, group_size=128, padded_groups=(8, 1), scale_bytes=2, zero_bytes=R(1, 2))
    assert gemv.matrix_bytes(1032, 64) == 1032 * 64 // 2 + 64 * 8 * (2 + R(1, 2))
    # 17 whole groups: ceil(17/8) = 3 words, to a multiple of 2: 4 words, 32 groups
    wide = Layout("gemv", bits=4, group_size=64, padded_groups=(8, 2), scale_bytes=2, zero_bytes=R(1, 2))
    assert wide.matrix_bytes(17 * 64, 8) == 17 * 64 * 8 // 2 + 8 * 32 * (2 + R(1, 2))


@pytest.mark.parametrize("kwargs,bad", [
    (dict(padded_groups=(8, 1, 1), group_size=128), "padded_groups=(8, 1, 1)"),
    (dict(padded_groups=(8, 1)), "padded_groups=(8, 1)"),            # no group_size
    (dict(padded_groups="ab", group_size=128), "padded_groups='ab'"),
    (dict(flat=((64, 4, 1),)), "flat=((64, 4, 1),)"),
    (dict(flat=(64,)), "flat=(64,)"),
    (dict(flat="ab"), "flat='ab'"),
    (dict(block=(8,)), "block=(8,)"),
])
def test_bad_layout_fields_are_named(kwargs, bad):
    with pytest.raises(ValueError, match="^Layout " + bad.replace("(", r"\(").replace(")", r"\)") + " must be"):
        Layout("x", bits=4, **kwargs)


@pytest.mark.parametrize("name", [5, "", None])
def test_a_layout_needs_a_name(name):
    with pytest.raises(ValueError, match=f"^Layout name={name!r} must be a non-empty string$"):
        Layout(name, bits=4)


# ---- which matrices have which shape ---------------------------------------------------------------------


def test_the_routed_experts_shape_wins_over_dense_layers_and_shared_experts():
    """Qwen1.5-MoE-A2.7B's config: hidden 2048, routed experts 1408 wide, one shared expert 5632 wide.
    The routed experts' shape is listed, not the shared expert's."""
    arch = from_hf_config(DATA / "qwen1.5-moe-a2.7b.json")
    shapes = linear_shapes(arch)
    assert shapes["ffn/gate"] == (2048, 1408) and shapes["ffn/down"] == (1408, 2048)
    assert "ffn/router" not in shapes


def test_moe_shapes_win_whichever_group_comes_first():
    dense = Layer(Attention(4, head_dim=16), FFN(96))
    moe = Layer(Attention(4, head_dim=16), FFN(32, experts=4, experts_per_token=2))
    for groups in (((1, moe), (1, dense)), ((1, dense), (1, moe))):
        arch = Arch(hidden=64, layers=2, heads=4, layout=groups)
        assert linear_shapes(arch)["ffn/up"] == (64, 32)


# ---- ignore lists ----------------------------------------------------------------------------------------

# module names of layer 0 as transformers' modelling code names them (LlamaAttention/LlamaMLP,
# DeepseekV3Attention/DeepseekV3MoE, MixtralSparseMoeBlock, GPT2Block, GPTNeoXLayer)
HF_NAMES = [
    ("attention/q", r"model\.layers\.\d+\.self_attn\.q_proj"),
    ("attention/k", r"model\.layers\.\d+\.self_attn\.k_proj"),
    ("attention/v", r"model\.layers\.\d+\.self_attn\.v_proj"),
    ("attention/out", r"model\.layers\.\d+\.self_attn\.o_proj"),
    ("attention/q_down", r"model\.layers\.\d+\.self_attn\.q_a_proj"),
    ("attention/q_up", r"model\.layers\.\d+\.self_attn\.q_b_proj"),
    ("attention/kv_down", r"model\.layers\.\d+\.self_attn\.kv_a_proj_with_mqa"),
    ("attention/kv_up", r"model\.layers\.\d+\.self_attn\.kv_b_proj"),
    ("ffn/gate", r"model\.layers\.\d+\.mlp\.gate_proj"),
    ("ffn/gate", r"model\.layers\.\d+\.mlp\.experts\.\d+\.gate_proj"),
    ("ffn/gate", r"model\.layers\.\d+\.mlp\.shared_experts\.gate_proj"),
    ("ffn/gate", r"model\.layers\.\d+\.block_sparse_moe\.experts\.\d+\.w1"),
    ("ffn/up", r"model\.layers\.\d+\.mlp\.up_proj"),
    ("ffn/up", r"model\.layers\.\d+\.mlp\.experts\.\d+\.up_proj"),
    ("ffn/up", r"model\.layers\.\d+\.mlp\.shared_experts\.up_proj"),
    ("ffn/up", r"model\.layers\.\d+\.block_sparse_moe\.experts\.\d+\.w3"),
    ("ffn/up", r"transformer\.h\.\d+\.mlp\.c_fc"),
    ("ffn/up", r"gpt_neox\.layers\.\d+\.mlp\.dense_h_to_4h"),
    ("ffn/down", r"model\.layers\.\d+\.mlp\.down_proj"),
    ("ffn/down", r"model\.layers\.\d+\.mlp\.experts\.\d+\.down_proj"),
    ("ffn/down", r"model\.layers\.\d+\.mlp\.shared_experts\.down_proj"),
    ("ffn/down", r"model\.layers\.\d+\.block_sparse_moe\.experts\.\d+\.w2"),
    ("ffn/down", r"transformer\.h\.\d+\.mlp\.c_proj"),
    ("ffn/down", r"gpt_neox\.layers\.\d+\.mlp\.dense_4h_to_h"),
    ("attention/q", r"transformer\.h\.\d+\.attn\.c_attn"),
    ("attention/out", r"transformer\.h\.\d+\.attn\.c_proj"),
    ("attention/v", r"gpt_neox\.layers\.\d+\.attention\.query_key_value"),
    ("attention/out", r"gpt_neox\.layers\.\d+\.attention\.dense"),
    ("lm_head", r"lm_head"),
    ("lm_head", r"embed_out"),
]
TENSORS = sorted({t for t, _ in HF_NAMES})


@pytest.mark.parametrize("tensor,regex", HF_NAMES)
def test_a_full_module_regex_ignores_exactly_its_tensor(tensor, regex):
    pattern = "re:" + regex
    assert ignored(tensor, (pattern,))
    # no other tensor has that module (GPT-2's and NeoX's fused c_attn/query_key_value are q, k and v)
    fused = {"attention/q", "attention/k", "attention/v"} if "c_attn" in regex or "query_key_value" in regex else set()
    assert {t for t in TENSORS if ignored(t, (pattern,))} == {tensor} | fused


def test_patterns_match_at_module_boundaries():
    assert module_pattern("model.")("model.layers.0.mlp")             # up to just after a dot
    assert module_pattern("model")("model.layers.0.mlp")              # up to just before one
    assert not module_pattern("mod")("model.layers.0.mlp")            # not inside a name
    assert module_pattern("model.layers.0.mlp")("model.layers.0.mlp")  # the whole name
    assert not module_pattern("re:")("a.")                            # the empty pattern matches no name
    assert not ignored("ffn/gate", ("gate",)) and ignored("ffn/gate", ("gate_proj",))   # a suffix


def test_ignore_patterns_must_be_a_tuple_of_strings():
    with pytest.raises(ValueError, match=r"^ignore patterns 'lm_head' must be a tuple of strings$"):
        ignored("lm_head", "lm_head")
    with pytest.raises(ValueError, match=r"^ignore patterns \('lm_head', 3\) must be a tuple of strings$"):
        ignored("lm_head", ("lm_head", 3))


def test_pattern_length_limit_is_inclusive():
    assert MAX_PATTERN == 1000
    assert not module_pattern("a" * 1000)("model")                    # 1000 characters are matched
    with pytest.raises(ValueError, match=r"is 1001 characters; at most 1000 are matched$"):
        module_pattern("a" * 1001)


def test_a_long_pattern_is_shown_cut_to_80_characters():
    long = "b" * (MAX_PATTERN + 1)
    with pytest.raises(ValueError) as err:
        module_pattern(long)
    shown = repr(long)[:77] + "..."                                   # 80 characters in all
    assert str(err.value).startswith(f"quantization_config: ignore pattern {shown} is ")
    with pytest.raises(ValueError, match=r"^quantization_config: ignore pattern 're:xx\(' is not a valid"):
        module_pattern("re:xx(")                                      # a short one is shown whole
    exactly = "re:(" + "x" * 74                                       # its repr is 80 characters: shown whole
    assert len(repr(exactly)) == 80
    with pytest.raises(ValueError, match=r"^quantization_config: ignore pattern 're:\(x{74}' is not a valid"):
        module_pattern(exactly)


def test_re2_reports_its_reason_in_one_line():
    with pytest.raises(ValueError, match=r"in RE2's syntax \(matched in linear time\): missing \): \(a$"):
        module_pattern("re:(a")


def test_the_automaton_is_bounded_at_8_mib(capfd):
    """``options.max_mem = 8 << 20``: with google-re2 1.1.20251105 (constraints.txt), 58 copies of
    ``[^a]{1000}`` compile within 8 MiB (not within 7 MiB or 4 MiB) and 59 do not (they do within
    9 MiB); a refusal logs nothing to stderr."""
    module_pattern("re:" + "[^a]{1000}" * 58)
    with pytest.raises(ValueError, match=r"pattern too large - compile failed$"):
        module_pattern("re:" + "[^a]{1000}" * 59)
    assert capfd.readouterr().err == ""


# ---- Quantization ----------------------------------------------------------------------------------------

INT4 = Layout("int4", bits=4, group_size=128, scale_bytes=2)


def test_quantization_defaults_and_description():
    q = Quantization("gptq", INT4, detail="4-bit, groups of 128")
    assert q.lm_head is False and q.compute == "bf16" and q.skip == () and q.only is None
    assert q.describe() == "gptq (4-bit, groups of 128); embeddings, norms, biases, router, lm_head at bf16"
    with_head = Quantization("gptq", INT4, detail="d", lm_head=True, skip=("k_proj",))
    assert with_head.describe() == "gptq (d); embeddings, norms, biases, router at bf16; not converted: k_proj"


def test_quantized_matrices_exclude_the_head_unless_asked():
    llama = symroof.models.get("llama-3-8b")             # untied embeddings
    assert "lm_head" not in Quantization("gptq", INT4).quantized(llama)
    assert Quantization("gptq", INT4, lm_head=True).quantized(llama)["lm_head"] == (4096, 128256)
    assert set(Quantization("gptq", INT4, skip=("k_proj",)).quantized(llama)) == {
        "attention/q", "attention/v", "attention/out", "ffn/gate", "ffn/up", "ffn/down"}


def test_apply_keeps_activations_and_kv_at_the_compute_dtype():
    arch = Quantization("x", INT4, compute="fp32").apply(symroof.models.get("llama-3-8b"))
    assert arch.act_bytes == 4 and arch.kv_bytes == 4
    assert arch.bytes_of("embedding") == 4 and arch.bytes_of("norm") == 4
    assert arch.bytes_of("attention/q") == R(1, 2) + R(2, 128)       # 4096 -> 4096: 32 whole groups


@pytest.mark.parametrize("kwargs,message", [
    (dict(method=5), "^Quantization method=5 must be a non-empty string$"),
    (dict(method=""), "^Quantization method='' must be a non-empty string$"),
    (dict(skip=None), "^Quantization skip=None must be a tuple of module-name patterns$"),
    (dict(skip="k_proj"), "^Quantization skip='k_proj' must be a tuple of module-name patterns$"),
    (dict(only="k_proj"), "^Quantization only='k_proj' must be a tuple of module-name patterns$"),
    (dict(lm_head=1), "^Quantization lm_head=1 must be True or False$"),
])
def test_bad_quantization_fields_are_named(kwargs, message):
    given = dict(method="gptq", layout=INT4) | kwargs
    with pytest.raises(ValueError, match=message):
        Quantization(**given)
