"""Values the issue-21 sweep found no test for, each against an independent count (a library's own
tensor shapes, a hand derivation), never symroof's output."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from symroof.model.hf import quantization_from_config


def nbytes(*tensors: tuple[tuple[int, ...], str]) -> int:
    return sum(np.zeros(shape, dtype=dtype).nbytes for shape, dtype in tensors)


# ---- AutoAWQ's kernels: the tensors each module registers (awq/modules/linear/*.py) --------------------------


def awq_gemm(n_in: int, n_out: int, group: int) -> list[tuple[tuple[int, ...], str]]:
    """``WQLinear_GEMM`` and ``WQLinear_Exllama`` (whose buffers are "only for compatibility with the
    state_dict of WQLinear_GEMM"): qweight int32 [in, out/8], qzeros int32 [in/g, out/8], scales fp16 [in/g, out]."""
    return [((n_in, n_out // 8), "int32"), ((n_in // group, n_out // 8), "int32"), ((n_in // group, n_out), "float16")]


def awq_gemv(n_in: int, n_out: int, group: int) -> list[tuple[tuple[int, ...], str]]:
    """``WQLinear_GEMV``: qweight int32 [out, in/8], qzeros int32 [out, w], scales fp16 [out, 8·w], where
    ``w = calculate_zeros_width(in, g)``: ceil((in/g)/8), rounded up to a multiple of 2 for g = 64 and of 4 for
    g = 32 (the groups padded to whole int32 words of eight 4-bit zeros)."""
    multiplier = 1 if group >= 128 else {64: 2, 32: 4}[group]
    words = (n_in // group + 7) // 8  # ceil((in/g)/8)
    width = (words + multiplier - 1) // multiplier * multiplier
    return [((n_out, n_in // 8), "int32"), ((n_out, width), "int32"), ((n_out, 8 * width), "float16")]


def _awq_bytes(version: str, n_in: int, n_out: int, group: int):
    quant = {"quant_method": "awq", "bits": 4, "group_size": group, "zero_point": True, "version": version}
    return quantization_from_config(quant, "fp16").layout.matrix_bytes(n_in, n_out)


@pytest.mark.parametrize("version", ["gemm", "GEMM", "exllama"])
@pytest.mark.parametrize("n_in, n_out, group", [(4096, 4096, 128), (11008, 4096, 128), (4096, 11008, 64),
                                                (512, 64, 32)])
def test_awq_gemm_and_exllama_layouts_count_autoawq_tensors(version, n_in, n_out, group):
    # Llama-2-7B's down_proj: in = 11008 = 86 groups of 128: qzeros 86·512·4 = 176,128 B, scales 86·4096·2 = 704,512 B
    assert _awq_bytes(version, n_in, n_out, group) == nbytes(*awq_gemm(n_in, n_out, group))
    if (n_in, n_out, group) == (11008, 4096, 128):
        assert nbytes(*awq_gemm(n_in, n_out, group)) == 11008 * 512 * 4 + 176_128 + 704_512 == 23_425_024


@pytest.mark.parametrize("n_in, n_out, group", [(4096, 4096, 128), (4096, 11008, 64)])
def test_awq_gemv_layout_where_the_groups_fill_whole_words(n_in, n_out, group):
    # 32 groups of 128 (64 of 64): a multiple of 8 (of 16), so GEMV pads nothing and stores GEMM's bytes
    assert nbytes(*awq_gemv(n_in, n_out, group)) == nbytes(*awq_gemm(n_in, n_out, group))
    assert _awq_bytes("gemv", n_in, n_out, group) == nbytes(*awq_gemv(n_in, n_out, group))


def test_awq_gemv_layout_pads_the_groups_to_whole_words():
    """Llama-2-7B's down_proj (11008 -> 4096, groups of 128): 86 groups; GEMV stores ceil(86/8) = 11 int32
    words of zeros and 88 scales per output row: qzeros 4096·11·4 = 180,224 B, scales 4096·88·2 = 720,896 B,
    20,480 bytes more than GEMM's 176,128 + 704,512 (655,360 over the 32 layers)."""
    gemv = nbytes(*awq_gemv(11008, 4096, 128))
    assert gemv == 4096 * 1376 * 4 + 180_224 + 720_896 == 23_425_024 + 20_480
    assert _awq_bytes("gemv", 11008, 4096, 128) == gemv


@pytest.mark.parametrize("n_in, n_out, group", [(11008, 4096, 64), (11008, 4096, 32), (1024, 64, 256), (96, 8, 32)])
def test_awq_gemv_pads_to_the_words_multiple(n_in, n_out, group):
    # 11008/64 = 172 groups: 22 words, even already (176 zeros); 11008/32 = 344: 43 words -> 44 (352);
    # 1024/256 = 4 groups: one word (8); 96/32 = 3 groups: one word -> 4 (32)
    assert _awq_bytes("gemv", n_in, n_out, group) == nbytes(*awq_gemv(n_in, n_out, group))


def test_awq_gemv_refuses_a_group_its_kernel_lacks():
    with pytest.raises(ValueError, match="AWQ version 'gemv' takes group_size 32, 64 or >= 128, not 16"):
        _awq_bytes("gemv", 1024, 64, 16)


# ---- the README's console examples, by hand -------------------------------------------------------------
# tests/test_readme_console.py compares each example with what the CLI prints now (a golden copy); here the
# numbers behind the examples are derived from the models' configs and the datasheets, so that a wrong number
# cannot be pasted into both. Llama-3-8B: 32 layers, H 4096, 32/8 heads of 128, gated FFN 14336, V 128256,
# 8,030,261,248 parameters; Llama-2-7B: MHA of 32·128, FFN 11008, V 32000, 6,738,415,616; Llama-2-13B: 40 layers,
# H 5120 (40 heads of 128), FFN 13824, V 32000, 13,015,864,320; Mistral-7B: Llama-3-8B's layers with V 32000,
# 7,241,732,096 parameters and a 4096-token window.


def _report(*argv):
    import contextlib
    import io
    import json

    from symroof.output.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", *argv, "--json"]) == 0
    return json.loads(out.getvalue())


def _layer_matmuls(H, q, kv, F):
    """Weights of one layer's matmuls: W_Q, W_O (H·q), W_K, W_V (H·kv), gate, up, down (H·F)."""
    return 2 * H * q + 2 * H * kv + 3 * H * F


def _decode(*, N, H, q, kv, F, V, P, B, S_c, w=2, kv_elem=2, act=2, new=1):
    """`exact` FLOPs and bytes of one step of ``new`` tokens per sequence over S_c cached (causal pairs)."""
    pairs = new * S_c + new * (new + 1) // 2
    flops = B * (N * (2 * new * _layer_matmuls(H, q, kv, F) + 2 * 2 * q * pairs) + 2 * H * V)
    kv_token = 2 * N * kv * kv_elem
    nbytes = (w * (P - V * H) + B * new * H * w + B * S_c * kv_token + B * new * kv_token
              + 3 * N * B * new * H * act)
    return flops, nbytes


LLAMA3 = dict(N=32, H=4096, q=4096, kv=1024, F=14336, V=128256, P=8_030_261_248)
LLAMA2_7B = dict(N=32, H=4096, q=4096, kv=4096, F=11008, V=32000, P=6_738_415_616)
LLAMA2_13B = dict(N=40, H=5120, q=5120, kv=5120, F=13824, V=32000, P=13_015_864_320)
MISTRAL = dict(LLAMA3, V=32000, P=7_241_732_096)


def test_readme_request_example_by_hand():
    """``report --gpu H100 --prompt 2048 --gen 256 --batch 16``: the prefill of 16 prompts (compute-bound at
    989 TFLOP/s), then 256 memory-bound steps over S_c = 2048..2303 (3.35 TB/s)."""
    pairs = 2048 * 2049 // 2
    prefill = 16 * (32 * (2 * 2048 * _layer_matmuls(4096, 4096, 1024, 14336) + 2 * 2 * 4096 * pairs)
                    + 2 * 4096 * 128256)
    ttft = prefill / 989e12
    steps = [_decode(**LLAMA3, B=16, S_c=x)[1] / 3.35e12 for x in range(2048, 2048 + 256)]
    r = _report("--gpu", "H100", "--prompt", "2048", "--gen", "256", "--batch", "16")
    assert r["phases"]["prefill"]["flops"] == prefill
    decode = r["phases"]["decode"]
    assert (decode["flops"], decode["bytes"]) == _decode(**LLAMA3, B=16, S_c=2048)
    q = r["request"]
    assert q["ttft_s"] == pytest.approx(ttft, rel=1e-12)                    # 480.3 ms
    assert q["tpot_s"] == pytest.approx(sum(steps) / 256, rel=1e-12)        # 5.847 ms
    assert q["e2e_s"] == pytest.approx(ttft + sum(steps), rel=1e-12)        # 1.977 s
    assert q["tokens_per_s"] == pytest.approx(16 * 256 / (ttft + sum(steps)), rel=1e-12)   # 2072
    assert f"{ttft * 1e3:.4g} {sum(steps) / 256 * 1e3:.4g} {ttft + sum(steps):.4g}" == "480.3 5.847 1.977"


def test_readme_llama_2_7b_decode_example_by_hand():
    """``report --model llama-2-7b --gpu A100-80GB --phase decode --batch 64 --cached 4096``: memory-bound at
    2,039 GB/s; the fit of 64 sequences of 4097 tokens, 524,288 bytes of fp16 K and V per token."""
    flops, nbytes = _decode(**LLAMA2_7B, B=64, S_c=4096)
    d = _report("--model", "llama-2-7b", "--gpu", "A100-80GB", "--phase", "decode", "--batch", "64",
                "--cached", "4096")["phases"]["decode"]
    assert (d["flops"], d["bytes"]) == (flops, nbytes)
    assert d["time_s"]["total"] == pytest.approx(nbytes / 2039e9, rel=1e-12)                   # 73.93 ms
    assert d["fit"]["kv_bytes"] == 64 * 4097 * 524_288
    assert f"{flops / 1e9:.4g} {nbytes / 1e9:.4g} {nbytes / 2039e9 * 1e3:.4g}" == "983.2 150.7 73.93"


def test_readme_mistral_json_example_by_hand():
    """``report --hf-config tests/data/mistral-7b.json --phase decode --batch 8 --cached 1024 --json``:
    1025 keys, inside the 4096-token window."""
    flops, nbytes = _decode(**MISTRAL, B=8, S_c=1024)
    assert (flops, nbytes) == (118_065_463_296, 15_302_467_584)
    from pathlib import Path

    d = _report("--hf-config", str(Path(__file__).parent / "data" / "mistral-7b.json"), "--phase", "decode",
                "--batch", "8", "--cached", "1024")["phases"]["decode"]
    assert (d["flops"], d["bytes"], d["intensity_exact"]) == (flops, nbytes, "4804096/622659")
    from fractions import Fraction
    assert Fraction(flops, nbytes) == Fraction(4804096, 622659)


def test_readme_tpu_example_by_hand():
    """``report --model llama-2-13b --gpu v5e --bandwidth-gbs 820 --tp 8 --comm none --phase decode --batch 1
    --cached 8192``: each of 8 chips moves 1/8 of the weights and KV and the whole fused activations, 820 GB/s."""
    flops, nbytes = _decode(**LLAMA2_13B, B=1, S_c=8192)
    act = 3 * 40 * 5120 * 2
    memory = ((nbytes - act) / 8 + act) / 820e9
    d = _report("--model", "llama-2-13b", "--gpu", "v5e", "--bandwidth-gbs", "820", "--tp", "8", "--comm", "none",
                "--phase", "decode", "--batch", "1", "--cached", "8192")["phases"]["decode"]
    assert (d["flops"], d["bytes"]) == (flops, nbytes)
    assert d["time_s"]["comm"] == 0 and d["time_s"]["total"] == pytest.approx(memory, rel=1e-12)     # 4.943 ms
    assert f"{flops / 1e9:.4g} {nbytes / 1e9:.4g} {memory * 1e3:.4g}" == "32.41 32.42 4.943"


def test_readme_int4_fp8_flash_example_by_hand():
    """``report --weights-dtype int4 --kv-dtype fp8 --set attention_kernel=flash --phase decode --batch 32
    --cached 8192``: every weight at half a byte, K and V at one, activations bf16; the flash kernel reads the
    new token's K and V once more (one query block): 32 layers · 32 sequences · 2·8·128 bytes."""
    flops, nbytes = _decode(**LLAMA3, B=32, S_c=8192, w=sympy.Rational(1, 2), kv_elem=1)
    flash = 32 * 32 * 2 * 8 * 128
    d = _report("--weights-dtype", "int4", "--kv-dtype", "fp8", "--set", "attention_kernel=flash", "--phase",
                "decode", "--batch", "32", "--cached", "8192")["phases"]["decode"]
    assert d["flops"] == flops and d["bytes"] == nbytes + flash
    assert d["time_s"]["total"] == pytest.approx(float(nbytes + flash) / 3.35e12, rel=1e-12)       # 6.257 ms
    assert f"{flops / 1e9:.4g} {float(nbytes + flash) / 1e9:.4g}" == "617.8 20.96"


def test_readme_crossover_limits_by_hand():
    """``crossover --gpu A100-80GB --conventions 002 --cached 0`` and ``--cached 4096``: as B → ∞ the intensity
    tends to one sequence's FLOPs over its bytes (002: per layer 436,207,616 FLOPs of matmuls + 16,384 per
    query-key pair; 3·4096·2 bytes of activations, 4096 of K, V written and 4096 per cached token read)."""
    import contextlib
    import io
    import json
    from fractions import Fraction

    from symroof.output.cli import main

    for cached, limit in ((0, Fraction(106500, 7)), (4096, Fraction(122884, 4103))):
        assert Fraction(436_207_616 + 16_384 * (cached + 1), 3 * 4096 * 2 + 4096 + 4096 * cached) == limit
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["crossover", "--gpu", "A100-80GB", "--conventions", "002", "--cached", str(cached),
                         "--json"]) == 0
        assert Fraction(json.loads(out.getvalue())["limit"]) == limit
