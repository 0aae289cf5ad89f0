"""Named dtypes: bytes per element, group-quantisation overhead, Arch byte fields by name, and the
hardware peak of the dtype the matmuls run in."""

from __future__ import annotations

import re

import pytest
import sympy

import symroof
from symroof.model import params
from symroof.model.precision import BYTES, Precision, bytes_per_element


def test_bytes_per_dtype():
    # IEEE binary32 = 32 bits; bfloat16 and binary16 = 16 bits; FP8 E4M3/E5M2 and int8 = 8 bits;
    # int4 and FP4 E2M1 = 4 bits, two per byte
    assert BYTES["fp32"] == 4 and BYTES["bf16"] == BYTES["fp16"] == 2
    assert BYTES["fp8"] == BYTES["int8"] == 1
    assert BYTES["int4"] == BYTES["fp4"] == sympy.Rational(1, 2)
    # the whole table: tf32 is a tensor-core mode over IEEE binary32 storage (NVIDIA A100 whitepaper), 4 bytes
    assert {"fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1,
                     "int4": sympy.Rational(1, 2), "fp4": sympy.Rational(1, 2)} == BYTES
    assert all(isinstance(v, sympy.Rational) for v in BYTES.values())


def test_group_scale_overhead_by_hand():
    # int4 in groups of 128 with one fp16 scale: 1/2 + 2/128 = 64/128 + 2/128 = 66/128 = 33/64
    assert bytes_per_element("int4", group_size=128, scale="fp16") == sympy.Rational(33, 64)
    # plus an int4 zero point per group (GPTQ/AWQ asymmetric): 1/2 + (2 + 1/2)/128 = 133/256
    assert bytes_per_element("int4", group_size=128, zero="int4") == sympy.Rational(133, 256)
    # int8 per-channel-ish, groups of 4096 with fp32 scales: 1 + 4/4096 = 1025/1024
    assert bytes_per_element("int8", group_size=4096, scale="fp32") == sympy.Rational(1025, 1024)
    assert bytes_per_element("bf16") == 2


def test_precision_applied_to_llama_3_8b_weights():
    """Llama-3-8B: 32·(2·4096·4096 + 2·4096·1024 + 3·4096·14336 + 2·4096) + 2·128256·4096 + 4096
    = 32·218,112,000 + 1,050,673,152 + 4096 = 8,030,261,248 parameters ("8.03B").
    int4 with fp16 scales per 128: 8,030,261,248 · 33/64 = 4,140,603,456 bytes of weights; a decode step
    of one sequence reads them all but the embedding table, of which it gathers one row of 4096."""
    llama = symroof.models.get("llama-3-8b")
    assert params.total_parameters(llama) == 8_030_261_248
    w4 = Precision(weights="int4", activations="bf16", kv="fp8", group_size=128).apply(llama)
    assert (w4.weight_bytes, w4.act_bytes, w4.kv_bytes) == (sympy.Rational(33, 64), 2, 1)
    cost = symroof.decode(w4, "exact", B=1, S_c=0)
    assert w4.weight_bytes * params.total_parameters(llama) == 4_140_603_456
    assert cost.bytes_of("weights") == (8_030_261_248 - 128256 * 4096 + 4096) * sympy.Rational(33, 64)
    assert cost.bytes_of("kv/write") == 32 * 2 * 1024 * 1          # K and V of 8·128 each, 1 byte, 32 layers


def test_arch_takes_dtype_names():
    arch = symroof.Arch(hidden=64, layers=2, heads=4, weight_bytes="int4", act_bytes="bf16", kv_bytes="fp8")
    assert (arch.weight_bytes, arch.act_bytes, arch.kv_bytes) == (sympy.Rational(1, 2), 2, 1)
    with pytest.raises(ValueError, match=r"weight_bytes='int3' must be a positive number .* or a dtype name: fp32"):
        symroof.Arch(hidden=64, layers=2, heads=4, weight_bytes="int3")


def test_compute_dtype_and_hardware_peak():
    h100 = symroof.hardware.get("H100-SXM")
    # datasheet (SXM5, dense): 989 TF bf16, 1,979 TF fp8, 3.35 TB/s
    w4a16 = Precision(weights="int4", activations="bf16", group_size=128)
    assert w4a16.compute_dtype == "bf16"
    assert w4a16.hardware(h100).peak_flops == 989 * 10**12
    fp8 = Precision(weights="fp8", activations="fp8", kv="fp8")
    assert fp8.hardware("H100-SXM").balance == sympy.Rational(1979 * 10**12, 3350 * 10**9)
    assert Precision(weights="bf16", activations="fp8").compute_dtype == "bf16"    # the wider one
    assert Precision(weights="fp8", activations="fp8", compute="bf16").compute_dtype == "bf16"
    with pytest.raises(ValueError, match="H100-SXM has no peak FLOP/s for compute dtype 'int4'; known: bf16"):
        Precision(weights="int4", activations="int4").hardware(h100)
    with pytest.raises(ValueError, match="weights='int2' is not allowed; choose one of 'fp32'"):
        Precision(weights="int2")
    with pytest.raises(ValueError, match="group_size=0 must be a positive integer"):
        Precision(weights="int4", group_size=0)


def test_fp8_halves_the_decode_crossover_weight_term():
    """Decode at S_c = 0 with weights read once: B* = b·W/(a − b·c) (b the balance). fp8 weights and
    activations halve W and c and double b (989 -> 1979 TF): b·W stays 1979/989·W/2 ≈ W, so the
    crossover moves by the ratio of the denominators only. By hand for Llama-3-8B under 002's
    conventions (weights = layer matrices, fused activations 3·B·H·b_a per layer, K/V written)."""
    analysis = pytest.importorskip("symroof.analysis")
    llama = symroof.models.get("llama-3-8b")
    matrices = 32 * (2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336)     # 6,979,321,856
    assert matrices == 6_979_321_856
    a = 2 * matrices + 32 * 2 * 2 * 32 * 128          # matmuls + scores and values over the 1 new key
    for prec, peak, b in ((Precision(), 989, 2), (Precision(weights="fp8", activations="fp8", kv="fp8"), 1979, 1)):
        balance = sympy.Rational(peak * 10**12, 3350 * 10**9)
        c = 32 * (3 * 4096 * b + 2 * 1024 * b)
        expected = balance * matrices * b / (a - balance * c)
        cost = symroof.decode(prec.apply(llama), "roofline-notes")
        assert analysis.crossover_batch(cost, prec.hardware("H100-SXM"), S_c=0).value == expected


# ---- quantised checkpoints: bytes counted from the tensors each library saves ------------------
# Each helper below lists the tensors one library writes for a linear of in -> out features, with
# the shapes and dtypes of its source, and the test sums their numpy nbytes: an independent count.

import math  # noqa: E402

import numpy as np  # noqa: E402

from symroof.model.hf import from_hf_config, quantization_from_config  # noqa: E402
from symroof.model.precision import Layout, linear_shapes  # noqa: E402


def nbytes(*tensors: tuple[tuple[int, ...], str]) -> int:
    return sum(np.zeros(shape, dtype=dtype).nbytes for shape, dtype in tensors)


def autogptq(n_in, n_out, bits, group):
    # auto_gptq/nn_modules/qlinear/qlinear_cuda_old.py QuantLinear.__init__ buffers
    group = n_in if group == -1 else group
    return [((n_in // 32 * bits, n_out), "int32"),                               # qweight
            ((math.ceil(n_in / group), n_out // 32 * bits), "int32"),            # qzeros
            ((math.ceil(n_in / group), n_out), "float16"),                       # scales
            ((n_in,), "int32")]                                                  # g_idx


def fp8_linear(n_in, n_out, block=(128, 128)):
    # transformers.integrations.finegrained_fp8.FP8Linear: weight float8_e4m3fn [out, in] (1 byte,
    # counted as uint8 here), weight_scale_inv float32 [ceil(out/b0), ceil(in/b1)]
    return [((n_out, n_in), "uint8"), ((-(-n_out // block[0]), -(-n_in // block[1])), "float32")]


def bnb_4bit(n_in, n_out, double_quant):
    # bitsandbytes.functional.quantize_4bit: out uint8 [(n+1)//2, 1]; absmax float32 [ceil(n/64)];
    # compress_statistics: absmax quantize_blockwise(blocksize=256) to uint8, its absmax float32
    # [ceil(blocks/256)] and its 256-entry float32 code; the 16-entry quant map. The offset is no
    # tensor in the file: QuantState.as_dict writes "nested_offset": self.offset.item() into the
    # packed JSON (quant_state.bitsandbytes__nf4), which is not counted
    n = n_in * n_out
    blocks = -(-n // 64)
    out = [(((n + 1) // 2, 1), "uint8"), ((16,), "float32")]
    if not double_quant:
        return [*out, ((blocks,), "float32")]
    return [*out, ((blocks,), "uint8"), ((-(-blocks // 256),), "float32"), ((256,), "float32")]


@pytest.mark.parametrize("n_in, n_out, bits, group", [(256, 64, 4, 128), (4096, 11008, 4, 128), (11008, 4096, 4, 32),
                                                      (512, 96, 8, -1), (96 * 32, 64, 3, 64), (256, 64, 2, 128)])
def test_gptq_layout_counts_autogptq_tensors(n_in, n_out, bits, group):
    layout = quantization_from_config({"quant_method": "gptq", "bits": bits, "group_size": group}).layout
    assert layout.matrix_bytes(n_in, n_out) == nbytes(*autogptq(n_in, n_out, bits, group))


@pytest.mark.parametrize("n_in, n_out", [(7168, 576), (300, 200), (512, 32768), (128, 128)])
def test_fp8_block_layout_counts_fp8linear_tensors(n_in, n_out):
    layout = quantization_from_config({"quant_method": "fp8", "weight_block_size": [128, 128]}).layout
    assert layout.matrix_bytes(n_in, n_out) == nbytes(*fp8_linear(n_in, n_out))


def test_fp8_scales_of_one_small_layer_by_hand():
    # DeepSeek-V3 kv_a_proj_with_mqa: 7168 -> 576 = 512 + 64. Blocks: ceil(576/128) = 5 rows (4.5 rounded
    # up), 7168/128 = 56 columns: 280 fp32 scales = 1120 bytes beside 7168·576 = 4,128,768 fp8 bytes
    layout = quantization_from_config({"quant_method": "fp8", "weight_block_size": [128, 128]}).layout
    assert layout.matrix_bytes(7168, 576) == 4_128_768 + 1_120
    # per element: 1 + 1120/4128768 = 1 + 5/18432 (the 1 + 4/16384 of exact tiling, plus the half block)
    assert layout.bytes_per_element(7168, 576) == 1 + sympy.Rational(5, 18432)


@pytest.mark.parametrize("double_quant", [False, True])
def test_bnb_4bit_layout_counts_quant_state_tensors(double_quant):
    config = {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_use_double_quant": double_quant}
    layout = quantization_from_config(config).layout
    for n_in, n_out in ((4096, 4096), (4096, 11008), (1000, 24)):
        assert layout.matrix_bytes(n_in, n_out) == nbytes(*bnb_4bit(n_in, n_out, double_quant))


def test_bnb_int8_layout_by_hand():
    # Int8Params: int8 weight [out, in] and SCB float32 [out], plus a one-byte weight_format
    layout = quantization_from_config({"quant_method": "bitsandbytes", "load_in_8bit": True}).layout
    assert layout.matrix_bytes(4096, 1024) == 4096 * 1024 + 4 * 1024 + 1


TINY_LLAMA = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
              "num_key_value_heads": 2, "intermediate_size": 96, "vocab_size": 100, "torch_dtype": "float16"}


def tiny_llama_checkpoint(linear):
    """Bytes of every tensor of TINY_LLAMA's checkpoint, its linears stored by ``linear(in, out)``."""
    H, F, V, kv = 64, 96, 100, 2 * 16
    per_layer = [(H, H), (H, kv), (H, kv), (H, H), (H, F), (H, F), (F, H)]     # q k v o gate up down
    fp16 = [((V, H), "float16"), ((V, H), "float16"), ((H,), "float16")]       # embed, lm_head, final norm
    layers = [t for _ in range(2) for shape in per_layer for t in linear(*shape)]
    norms = [((H,), "float16")] * 4                                            # two per layer
    return nbytes(*fp16, *layers, *norms)


def whole_model_bytes(arch):
    """Weight bytes of one step that reads every weight once (exact conventions, every tensor)."""
    every = symroof.conventions.get("exact").replace(weights="all", experts_read="all", embedding_read="table")
    return symroof.decode(arch, every, B=1, S_c=1).bytes_of("weights")


def test_tiny_gptq_model_bytes_equal_its_tensors():
    quant = {"quant_method": "gptq", "bits": 4, "group_size": 32, "desc_act": False, "sym": True}
    arch = from_hf_config({**TINY_LLAMA, "quantization_config": quant})
    expected = tiny_llama_checkpoint(lambda i, o: autogptq(i, o, 4, 32))
    assert whole_model_bytes(arch) == expected
    # b_w is the checkpoint's average, so b_w·P is its size (what timing.kv_capacity subtracts)
    assert arch.weight_bytes * params.total_parameters(arch) == expected
    assert (arch.act_bytes, arch.kv_bytes) == (2, 2)            # activations, KV cache stay fp16
    assert arch.bytes_of("embedding") == arch.bytes_of("lm_head") == arch.bytes_of("norm") == 2


def test_compressed_tensors_lm_head_converted_unless_ignored():
    # llm-compressor W4A16 (pack-quantized, groups of 32, symmetric, scales in the model's dtype):
    # weight_packed int32 [out, in/8], weight_scale fp16 [out, in/32]; lm_head converted unless ignored
    def w4(n_in, n_out):
        return [((n_out, n_in // 8), "int32"), ((n_out, n_in // 32), "float16")]

    group = {"targets": ["Linear"], "weights": {"num_bits": 4, "type": "int", "strategy": "group",
                                                 "group_size": 32, "symmetric": True}}
    base = {"quant_method": "compressed-tensors", "format": "pack-quantized", "config_groups": {"group_0": group}}
    kept = from_hf_config({**TINY_LLAMA, "quantization_config": {**base, "ignore": ["lm_head"]}})
    assert whole_model_bytes(kept) == tiny_llama_checkpoint(w4)
    converted = from_hf_config({**TINY_LLAMA, "quantization_config": base})
    # lm_head 64 -> 100: 100·64/2 packed + 100·2 fp16 scales instead of 100·64·2
    assert whole_model_bytes(kept) - whole_model_bytes(converted) == 100 * 64 * 2 - (100 * 64 // 2 + 100 * 2 * 2)


def test_biases_of_quantised_matrices_stay_fp16():
    # Qwen2: q, k, v carry biases; GPTQ keeps each bias as an fp16 tensor [out] beside its QuantLinear
    qwen2 = {**TINY_LLAMA, "model_type": "qwen2",
             "quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 32}}
    arch = from_hf_config(qwen2)
    biases = 2 * (64 + 32 + 32) * 2                     # 2 layers · (q + k + v widths) · 2 bytes
    assert whole_model_bytes(arch) == tiny_llama_checkpoint(lambda i, o: autogptq(i, o, 4, 32)) + biases


def test_moe_router_and_shared_names_under_fp8():
    # Qwen3-MoE-like: 4 experts of width 32 (gate/up/down each), a bf16 router [E, H]; fp8 experts
    moe = {"model_type": "qwen3_moe", "hidden_size": 256, "num_hidden_layers": 1, "num_attention_heads": 2,
           "num_key_value_heads": 1, "head_dim": 128, "intermediate_size": 512, "moe_intermediate_size": 128,
           "num_experts": 4, "num_experts_per_tok": 2, "vocab_size": 10, "torch_dtype": "bfloat16",
           "tie_word_embeddings": True,
           "quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128],
                                   "modules_to_not_convert": ["lm_head", "re:.*self_attn.o_proj"]}}
    arch = from_hf_config(moe)
    H = 256   # bf16 tensors counted as float16 (numpy has no bfloat16; both 2 bytes); Qwen3's q_norm and
    # k_norm are one vector of head_dim = 128 each, in bf16
    expected = nbytes(
        ((10, H), "float16"), ((H,), "float16"),                                  # tied embedding, final norm
        *fp8_linear(H, 256), *fp8_linear(H, 128), *fp8_linear(H, 128),              # q, k, v
        ((H, 256), "float16"),                                                     # o_proj: not converted
        *[t for _ in range(4) for shape in ((H, 128), (H, 128), (128, H)) for t in fp8_linear(*shape)],
        ((4, H), "float16"), ((H,), "float16"), ((H,), "float16"),               # router, two norms
        ((128,), "float16"), ((128,), "float16"))                                 # q_norm, k_norm
    assert whole_model_bytes(arch) == expected


def test_linear_shapes_cover_the_parameter_counts():
    # every quantisable matrix's in·out is its parameter count (no biases, no norms)
    arch = from_hf_config(TINY_LLAMA)
    counts = params.layer_parameters(arch, biases=False, norms=False)
    assert {n: i * o for n, (i, o) in linear_shapes(arch).items()} == counts


@pytest.mark.parametrize("config, message", [
    ({"quant_method": "hqq"}, "quant_method='hqq' is not supported; supported: gptq, awq, fp8"),
    ({"quant_method": "gptq", "bits": 5}, "bits=5 is not supported"),
    ({"quant_method": "gptq", "bits": 4, "group_size": 0}, "group_size=0 must be a positive integer or -1"),
    ({"quant_method": "fp8", "weight_block_size": [128]}, "weight_block_size=[128] must be two positive"),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "load_in_8bit": True}, "exactly one of"),
    ({"quant_method": "compressed-tensors", "config_groups": {}}, "needs config_groups"),
    ({"quant_method": "fp8", "modules_to_not_convert": ["re:(("]}, "not a valid regex"),
    ("fp8", "must be a JSON object"),
])
def test_bad_quantization_configs(config, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        from_hf_config({**TINY_LLAMA, "quantization_config": config})


def test_ignore_keeps_the_dtype_bytes():
    arch = from_hf_config({**TINY_LLAMA, "quantization_config": {"quant_method": "hqq"}}, quantization="ignore")
    assert arch.weight_bytes == 2 and arch.tensor_bytes == ()
    with pytest.raises(ValueError, match="quantization='maybe' must be 'apply' or 'ignore'"):
        from_hf_config(TINY_LLAMA, quantization="maybe")


def test_precision_apply_drops_per_tensor_bytes():
    quant = {"quant_method": "gptq", "bits": 4, "group_size": 32}
    arch = Precision(weights="fp8").apply(from_hf_config({**TINY_LLAMA, "quantization_config": quant}))
    assert arch.tensor_bytes == () and arch.weight_bytes == 1


def test_layout_is_exact():
    """5 -> 7 features at 4 bits in groups of 3 input features, one 2-byte scale per group and output:
    5·7·4/8 = 35/2 bytes of weights; ceil(5/3) = 2 groups (the last one short), 7·2·2 = 28 bytes of
    scales; (35/2 + 28)/35 = 91/70 bytes per element, exactly (a float would print 1.3)."""
    layout = Layout("x", bits=4, group_size=3, scale_bytes=2)
    assert layout.matrix_bytes(5, 7) == sympy.Rational(35, 2) + 28
    assert layout.bytes_per_element(5, 7) == sympy.Rational(91, 70)
    assert isinstance(layout.bytes_per_element(5, 7), sympy.Rational)
    # every other part of the layout, each on its own (in = 5, out = 7, 4 bits: 35/2 bytes of weights):
    # zero points 1/2 byte per group and output: 7·2·(2 + 1/2) = 35
    assert Layout("z", bits=4, group_size=3, scale_bytes=2, zero_bytes=sympy.Rational(1, 2)).matrix_bytes(5, 7) \
        == sympy.Rational(35, 2) + 35
    # group_size=-1: one group per output row, 7·1·2 = 14
    assert Layout("row", bits=4, group_size=-1, scale_bytes=2).matrix_bytes(5, 7) == sympy.Rational(35, 2) + 14
    # blocks of (2 rows, 4 cols): ceil(7/2)·ceil(5/4) = 4·2 = 8 scales of 4 bytes = 32
    assert Layout("blk", bits=4, block=(2, 4), scale_bytes=4).matrix_bytes(5, 7) == sympy.Rational(35, 2) + 32
    # one 4-byte value per 16 flattened elements: ceil(35/16) = 3, 12 bytes
    assert Layout("flat", bits=4, flat=((16, 4),)).matrix_bytes(5, 7) == sympy.Rational(35, 2) + 12
    # 4 bytes per input feature, 3 per output feature, 1 per matrix: 20 + 21 + 1
    assert Layout("meta", bits=4, per_input=4, per_output=3, per_tensor=1).matrix_bytes(5, 7) \
        == sympy.Rational(35, 2) + 20 + 21 + 1


def test_gptq_modules_in_block_to_quantize_converts_only_those():
    # optimum's GPTQ converts only the listed modules of each block; the others stay fp16 nn.Linear
    # weights [out, in]. TINY_LLAMA: H = 64, kv width 2·16 = 32, F = 96; q and down listed.
    quant = {"quant_method": "gptq", "bits": 4, "group_size": 32,
             "modules_in_block_to_quantize": [["self_attn.q_proj"], ["mlp.down_proj"]]}
    arch = from_hf_config({**TINY_LLAMA, "quantization_config": quant})
    H, F, V, kv = 64, 96, 100, 32
    layer = [*autogptq(H, H, 4, 32), ((kv, H), "float16"), ((kv, H), "float16"), ((H, H), "float16"),
             ((F, H), "float16"), ((F, H), "float16"), *autogptq(F, H, 4, 32), ((H,), "float16"), ((H,), "float16")]
    expected = nbytes(((V, H), "float16"), ((V, H), "float16"), ((H,), "float16"), *layer, *layer)
    assert whole_model_bytes(arch) == expected
    assert "converted in each layer only: self_attn.q_proj, mlp.down_proj" in arch.source
    with pytest.raises(ValueError, match="modules_in_block_to_quantize=7 must list module names"):
        from_hf_config({**TINY_LLAMA, "quantization_config": {**quant, "modules_in_block_to_quantize": 7}})
