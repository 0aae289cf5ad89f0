"""Places no other test reached (issue 21's mutation audit), each checked against an independent value.

Every expected number here is derived by hand in the test, from a published layout or a document's
own rule, never from symroof's output.
"""

import io
import json
from contextlib import redirect_stdout

import pytest
import sympy

import symroof
from symroof.analysis.timing import time_per_output_token
from symroof.model.hf.quant import quantization_from_config
from symroof.output import cli

# ---- time per output token when a step carries several new tokens (S_i > 1) ------------------------------


def _a100_003():
    return symroof.Hardware("A100 (003)", {"bf16": 312e12}, 1.5e12, interconnect_bytes_per_s=300e9)


@pytest.mark.parametrize("B, S_i", [(1, 1), (2, 4), (3, 5)])
def test_time_per_output_token_divides_the_step_by_its_tokens(B, S_i):
    """Seed 003's model (kipply): Gopher at 260B parameters on 16 A100s, ``inference-arithmetic``.

    By 003's rules, per step of ``B·S_i`` tokens (N = 80 layers, H = 16384, T = 16):
    compute = 2·P·tokens / (T·312e12), memory = 2·P / (T·1.5e12) (the weights, read once),
    comms = N·4 messages of 10 µs plus N·4·tokens·H elements over 300e9/s; memory-bound, so
    total = memory + comms, and the time per output token is total / (B·S_i).
    """
    tokens = B * S_i
    P = 260 * 10**9
    compute = sympy.Rational(2 * P * tokens) / (16 * 312 * 10**12)
    memory = sympy.Rational(2 * P, 16 * 15 * 10**11)
    comm = 80 * 4 * sympy.Rational(10, 10**6) + sympy.Rational(80 * 4 * tokens * 16384, 300 * 10**9)
    total = memory + comm
    assert compute < memory
    gopher = symroof.models.get("gopher-280b").replace(params_b=260)
    t = time_per_output_token(gopher, "003", _a100_003(), B=B, S_c=0, tp=16, S_i=S_i)
    assert (t.compute_s, t.memory_s, t.comm_s, t.bound) == (compute, memory, comm, "memory")
    assert t.total_s == total
    assert t.tokens == tokens
    assert t.per_token_s == total / tokens
    assert float(t) == float(total)


def test_per_token_s_of_a_bare_latency():
    lat = symroof.analysis.timing.Latency(sympy.Integer(1), sympy.Integer(6), sympy.Integer(0), sympy.Integer(6),
                                          "memory", tokens=sympy.Integer(4))
    assert lat.per_token_s == sympy.Rational(3, 2)


# ---- quantised checkpoint layouts --------------------------------------------------------------------------


def _bytes(quant, n_in, n_out):
    layout = quantization_from_config(quant, "fp16").layout
    per_element = layout.bytes_per_element(n_in, n_out)
    assert per_element * n_in * n_out == layout.matrix_bytes(n_in, n_out)
    return per_element * n_in * n_out


def test_awq_gemm_layout_by_hand():
    """AutoAWQ ``WQLinear_GEMM`` (awq/modules/linear/gemm.py), in = 256, out = 64, w_bit 4, group 128:
    qweight int32 [in, out/8] = 256·8·4 = 8192 B; qzeros int32 [in/g, out/8] = 2·8·4 = 64 B;
    scales fp16 [in/g, out] = 2·64·2 = 256 B. Without zero points: no qzeros."""
    assert _bytes({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True, "version": "gemm"},
                  256, 64) == 8192 + 64 + 256
    assert _bytes({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": False}, 256, 64) == 8192 + 256
    # AutoAWQ's own key names (w_bit, q_group_size), group 64: 4 groups
    assert _bytes({"quant_method": "awq", "w_bit": 4, "q_group_size": 64}, 256, 64) == 8192 + 4 * 8 * 4 + 4 * 64 * 2


@pytest.mark.parametrize("n_in, groups", [(200, 2), (128, 1), (136, 2), (384, 3), (392, 4)])
def test_gptq_groups_round_up_when_the_input_is_not_a_multiple(n_in, groups):
    """AutoGPTQ ``QuantLinear`` (auto_gptq/nn_modules/qlinear): qweight int32 [in·bits/32, out],
    qzeros int32 [ceil(in/g), out·bits/32], scales fp16 [ceil(in/g), out], g_idx int32 [in]."""
    n_out, bits, g = 64, 4, 128
    assert groups == -(-n_in // g)                          # the ceiling, counted as integers
    qweight = n_in * bits // 32 * n_out * 4                 # in is a multiple of 32/bits = 8 (packing)
    qzeros = groups * (n_out * bits // 32) * 4
    scales = groups * n_out * 2
    g_idx = n_in * 4
    expected = qweight + qzeros + scales + g_idx
    assert _bytes({"quant_method": "gptq", "bits": 4, "group_size": g}, n_in, n_out) == expected


# ---- the command line: times under a microsecond, the quick report's decode context ------------------------


@pytest.mark.parametrize("seconds, text", [
    (sympy.Rational(1, 2 * 10**6), "500 ns"),
    (sympy.Rational(999, 10**9), "999 ns"),
    (sympy.Rational(25, 10**10), "2.5 ns"),
    (sympy.Integer(0), "0 ns"),
    (sympy.Rational(1, 10**6), "1 µs"),
    (sympy.Rational(12345, 10**9), "12.35 µs"),
    (sympy.Rational(1, 2), "500 ms"),
    (sympy.Integer(3), "3 s"),
])
def test_seconds_text(seconds, text):
    assert cli._seconds(seconds) == text


def _report(*argv):
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["report", *argv]) == 0
    return out.getvalue()


def test_quick_report_decodes_over_the_prompt_given_with_seq():
    """``report --seq 512`` (no --cached): the decode row runs over S_c = 512 cached tokens, the prompt.

    Llama-3-8B (H = 4096, N = 32, 32 heads, 8 KV heads, d_h = 128, FFN 14336, vocab 128256; Meta's
    card: 8,030,261,248 parameters), ``exact`` conventions, bf16, B = 1, S_i = 1, on the H100-SXM
    (3.35 TB/s). FLOPs: 2 per weight of the layers and LM head, and attention scores and values
    2·N·heads·d_h·(S_c + 1) each. Bytes: every weight (2·P) but the embedding table, of which the
    lookup gathers one row (2·H), the K and V cache read (2·N·8·128·S_c·2), one new K and V written
    (2·N·8·128·2), and fused activations (3·N·H·2).
    """
    N, H, heads, kv, d_h, ffn, vocab, S_c = 32, 4096, 32, 8, 128, 14336, 128256, 512
    linear = N * 2 * (H * H + 2 * H * kv * d_h + H * heads * d_h + 3 * H * ffn) + 2 * H * vocab
    attention = 2 * (2 * N * heads * d_h * (S_c + 1))
    kv_read, kv_write, act = 2 * N * kv * d_h * S_c * 2, 2 * N * kv * d_h * 2, 3 * N * H * 2
    weights = 2 * (8_030_261_248 - vocab * H + H)
    data = json.loads(_report("--seq", "512", "--json"))["phases"]["decode"]
    assert data["values"] == {"B": 1, "S_c": S_c, "S_i": 1}
    assert data["flops"] == linear + attention
    assert data["terms"]["bytes"]["kv/read"] == kv_read
    assert data["bytes"] == weights + kv_read + kv_write + act
    assert data["bound"] == "memory"

    (row,) = [line for line in _report("--seq", "512").splitlines() if line.startswith("decode")]
    seconds = (weights + kv_read + kv_write + act) / 3.35e12          # 4.5009 ms
    assert "B=1, S_c=512, S_i=1" in row
    assert row.split()[-3:-1] == [f"{seconds * 1e3:.4g}", "ms"] == ["4.501", "ms"]
    assert row.split()[-1] == f"{1 / seconds:.4g}" == "222.2"           # tokens per second: 1 token / 4.501 ms
    # --cached wins over --seq
    assert json.loads(_report("--seq", "512", "--cached", "7", "--json"))["phases"]["decode"]["values"]["S_c"] == 7


# ---- survivors of the mutation survey (benchmarks/mutation.py), each now a value --------------------------


@pytest.mark.parametrize("mla, score_width, value_width", [("naive", 8 + 4, 8), ("absorbed", 16 + 4, 16)])
def test_mla_scores_and_values_by_hand(mla, score_width, value_width):
    """MLA decode, B = 3 sequences over S_c = 5 cached tokens, S_i = 1: each query sees 6 keys.
    Per layer and head, scores 2·B·6·width and values 2·B·6·width; naive widths d_nope + d_R and
    d_v, absorbed d_c + d_R and d_c (DeepSeek-V2, arXiv 2405.04434, §2.1.2). N = 2, n_h = 8."""
    from symroof.cost.conventions import resolve

    arch = symroof.Arch(hidden=60, layers=2, heads=8, kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=4,
                        v_head_dim=8, ffn_dim=32, vocab=50)
    flops = symroof.decode(arch, resolve("exact").replace(mla=mla), B=3, S_c=5).terms["flops"]
    assert flops["attention/scores"] == 2 * 2 * 3 * 8 * 6 * score_width
    assert flops["attention/values"] == 2 * 2 * 3 * 8 * 6 * value_width


def test_003_decode_reads_the_weights_only():
    """003 (kipply) counts 2·P bytes per step and no KV cache: Gopher at 280B, B = 2, S_c = 1024."""
    cost = symroof.decode(symroof.models.get("gopher-280b"), "003", B=2, S_c=1024)
    assert cost.terms["bytes"] == {"weights": 2 * 280 * 10**9}


def test_kv_capacity_refuses_weights_that_fill_the_memory_exactly():
    hw = symroof.hardware.get("H100-SXM")
    arch = symroof.models.get("llama-3-8b")
    with pytest.raises(ValueError, match="do not fit"):
        symroof.analysis.timing.kv_capacity(arch, hw, weight_bytes=hw.usable_bytes)
    cap = symroof.analysis.timing.kv_capacity(arch, hw, weight_bytes=hw.usable_bytes - 131072)
    # Llama-3-8B's bf16 KV cache: 2·N·kv_heads·d_h·2 = 2·32·8·128·2 = 131072 bytes per token
    assert cap.tokens == 1


@pytest.mark.parametrize("kv_read, share", [("k+v", 1), ("one", sympy.Rational(1, 2)), ("none", 0)])
def test_mla_latent_cache_read_by_kv_read(kv_read, share):
    """MLA caches one latent of d_c + d_R = 16 + 4 elements per token and layer (bf16, 2 bytes):
    reading S_c = 5 tokens of B = 3 sequences over N = 2 layers is 2·3·5·20·2 = 1200 bytes;
    ``one`` reads half of it (000's erratum), ``none`` nothing."""
    from symroof.cost.conventions import resolve

    arch = symroof.Arch(hidden=60, layers=2, heads=8, kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=4,
                        v_head_dim=8, ffn_dim=32, vocab=50)
    cost = symroof.decode(arch, resolve("exact").replace(kv_read=kv_read), B=3, S_c=5)
    assert cost.terms["bytes"].get("kv/read", 0) == share * 1200
