"""Values the issue-21 sweep found no test for, each against an independent count (a library's own
tensor shapes, a hand derivation), never symroof's output."""

from __future__ import annotations

import numpy as np
import pytest

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
    width = -(-(-(-(n_in // group) // 8)) // multiplier) * multiplier
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


@pytest.mark.xfail(strict=True, reason="symroof/model/hf/quant.py reads AWQ version 'gemv' with the GEMM layout; "
                                       "WQLinear_GEMV pads its qzeros and scales to whole int32 words of zeros "
                                       "(calculate_zeros_width)")
def test_awq_gemv_layout_pads_the_groups_to_whole_words():
    """Llama-2-7B's down_proj (11008 -> 4096, groups of 128): 86 groups; GEMV stores ceil(86/8) = 11 int32
    words of zeros and 88 scales per output row: qzeros 4096·11·4 = 180,224 B, scales 4096·88·2 = 720,896 B,
    20,480 bytes more than GEMM's 176,128 + 704,512 (655,360 over the 32 layers)."""
    gemv = nbytes(*awq_gemv(11008, 4096, 128))
    assert gemv == 4096 * 1376 * 4 + 180_224 + 720_896 == 23_425_024 + 20_480
    assert _awq_bytes("gemv", 11008, 4096, 128) == gemv
