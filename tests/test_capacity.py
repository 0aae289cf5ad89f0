"""What fits: weights, KV cache and activations against the GPUs' usable memory (symroof.analysis.fit).

Expected values by hand from the configs (tests/data) and the datasheet capacities in GiB."""

from __future__ import annotations

import pytest
import sympy

import symroof
from symroof.analysis import fit

GIB = 2**30
USABLE_80 = 80 * GIB * 9 // 10          # A100/H100 80GB: 80 GiB, 9/10 of it usable (vLLM's default reserve)


def test_llama_2_7b_kv_alone_does_not_fit():
    # 64 sequences of 4096 tokens: 32 layers · 2 (K, V) · 4096 (32 heads · 128) · 2 bytes per token
    f = fit(symroof.models.get("llama-2-7b"), "A100-80GB", batch=64, context=4096)
    assert f.kv_bytes == 64 * 4096 * 32 * 2 * 4096 * 2 == 137_438_953_472
    assert f.weights_bytes == 2 * 6_738_415_616           # the published 6.74B parameters in fp16
    assert f.available_bytes == USABLE_80 and not f.fits
    assert f.shortfall_bytes == f.needed_bytes - USABLE_80
    # one sequence: its KV, its two hidden states and gated FFN vector (2·4096 + 2·11008) at 2 bytes, 32000 fp32 logits
    one = 4096 * 32 * 2 * 4096 * 2 + (2 * 4096 + 2 * 11008) * 2 + 32000 * 4
    assert f.max_batch == (USABLE_80 - 2 * 6_738_415_616) // one == 29
    assert "does not fit by" in f.describe() and "2 GPUs would hold it" in f.describe()


def test_mixtral_in_bf16_needs_two_80gb_gpus():
    f = fit(symroof.models.get("mixtral-8x7b"), "H100-SXM", batch=1, context=1024)
    assert f.weights_bytes == 2 * 46_702_792_704 > USABLE_80
    assert not f.fits and f.gpus_needed == 2 and f.max_batch == 0
    two = fit(symroof.models.get("mixtral-8x7b"), "H100-SXM", batch=1, context=1024, gpus=2)
    # 1024 tokens of K and V, 32 layers · 2 · 8 heads · 128 · 2 bytes; the step's activations: the hidden state
    # in and out (2·4096) and the gated inner vectors of the 2 experts the token runs (2 · 2·14336), 2 bytes
    # each, and the fp32 logits (32000 · 4)
    assert two.kv_bytes == 1024 * 32 * 2 * 8 * 128 * 2 == 134_217_728
    assert two.activation_bytes == (2 * 4096 + 2 * 2 * 14336) * 2 + 32000 * 4 == 259_072
    assert two.available_bytes == 2 * USABLE_80 and two.fits
    assert two.needed_bytes == 2 * 46_702_792_704 + 134_217_728 + 259_072
    # the largest batch on the two: (2 · usable − weights) // (KV + activations of one sequence)
    assert two.max_batch == (2 * USABLE_80 - 2 * 46_702_792_704) // (134_217_728 + 259_072) == 455


def test_sliding_window_kv_stops_at_the_window():
    """Mistral-7B keeps at most 4095 tokens per layer: at 32768 tokens its KV is that of 4095."""
    mistral = symroof.models.get("mistral-7b")
    per_token = 32 * 2 * 8 * 128 * 2
    assert fit(mistral, "H100-SXM", batch=8, context=32768).kv_bytes == 8 * 4095 * per_token
    assert fit(mistral, "H100-SXM", batch=8, context=1000).kv_bytes == 8 * 1000 * per_token
    # kv_capacity's batch at a context follows the same rule
    cap = symroof.kv_capacity(mistral, "H100-SXM", context=32768)
    assert cap.batch == (USABLE_80 - 2 * 7_241_732_096) // (4095 * per_token)


def test_scaling_book_llama_2_13b_kv_cache():
    """scaling-book (inference chapter): LLaMA-2-13B holds 6.71e9 bytes of KV for 8192 tokens:
    2 · 40 layers · 5120 · 2 bytes = 819,200 bytes per token."""
    f = fit(symroof.models.get("llama-2-13b"), "H100-SXM", batch=1, context=8192)
    assert f.kv_bytes == 8192 * 2 * 40 * 5120 * 2 == 6_710_886_400
    assert round(int(f.kv_bytes) / 1e9, 2) == 6.71


def test_tensor_parallel_replicates_kv_beyond_the_kv_heads():
    # Llama-3-8B has 8 KV heads: on 16 GPUs each head is held twice
    llama = symroof.models.get("llama-3-8b")
    one = fit(llama, "H100-SXM", batch=2, context=100, gpus=8).kv_bytes
    assert fit(llama, "H100-SXM", batch=2, context=100, gpus=16).kv_bytes == 2 * one == 2 * 2 * 100 * 32 * 2 * 1024 * 2


def test_bad_fit_arguments():
    with pytest.raises(ValueError, match="batch=0 must be a positive integer"):
        fit(symroof.models.get("gpt2"), "H100-SXM", batch=0, context=1)
    with pytest.raises(ValueError, match="has no capacity_bytes"):
        fit(symroof.models.get("gpt2"), symroof.Hardware("x", {"bf16": 1e12}, 1e9), batch=1, context=1)


def test_nominal_size_and_dense_activations_by_hand():
    """003's 52B (params_b = 52, no per-tensor count): 2 bytes × 52e9 = 104 GB of weights (003: "104GB").
    GPT-2's dense FFN holds one inner vector of 3072 per token, not two: (2·768 + 3072)·2 bytes per token
    (the default: one new token each) and the fp32 logits 50257·4, for 4 sequences."""
    from symroof.analysis.capacity import activation_bytes

    kipply = symroof.models.get("kipply-52b")
    assert fit(kipply, "A100-80GB", batch=1, context=10).weights_bytes == 104 * 10**9
    assert fit(kipply.replace(weight_bytes=1), "A100-80GB", batch=1, context=10).weights_bytes == 52 * 10**9
    assert activation_bytes(symroof.models.get("gpt2"), 4) == 4 * (2 * 768 + 3072) * 2 + 4 * 50257 * 4 == 840_976
    assert activation_bytes(symroof.models.get("gpt2"), 4, 3) == 12 * (2 * 768 + 3072) * 2 + 4 * 50257 * 4


def test_activations_alone_can_need_another_gpu():
    """Llama-3-8B, one sequence at 467,291 tokens: weights 16,060,522,496 + KV 467,291 · 131,072 =
    77,309,288,448 bytes, 122,880 short of one H100's usable 77,309,411,328; the step's activations,
    (2·4096 + 2·14336)·2 + 128256·4 = 586,752 bytes, do not fit in what is left: two GPUs."""
    f = fit(symroof.models.get("llama-3-8b"), "H100-SXM", batch=1, context=467_291)
    assert f.weights_bytes + f.kv_bytes == USABLE_80 - 122_880
    assert f.activation_bytes == 586_752 and not f.fits
    assert f.gpus_needed == 2 and f.max_batch == 0


def test_gpus_needed_when_every_gpu_holds_the_latent_cache():
    """DeepSeek-V3 (bf16, 2 · 671,026,404,352 bytes of weights) on H200s (141 GiB, 9/10 usable), 64 sequences
    of 4096 tokens: an MLA latent (512 + 64 elements of 2 bytes per layer and token) is on every GPU of the
    group, so g GPUs hold the weights once and the cache g times. By brute force, the fewest g with
    weights + g · KV + activations <= g · usable."""
    usable = sympy.Rational(9, 10) * 141 * GIB
    weights = 2 * 671_026_404_352
    kv = 64 * 4096 * 61 * 576 * 2                              # 18,421,383,168
    # activations: 64 tokens of (2·7168 + the widest FFN's inner vectors, 2·18432 dense) · 2 and fp32 logits
    acts = 64 * (2 * 7168 + 2 * 18432) * 2 + 64 * 129280 * 4
    g = next(g for g in range(1, 100) if weights + g * kv + acts <= g * usable)
    assert g == 12
    f = fit(symroof.models.get("deepseek-v3"), "H200", batch=64, context=4096)
    assert (f.kv_bytes, f.activation_bytes) == (kv, acts)
    assert f.gpus_needed == g
    on_g = fit(symroof.models.get("deepseek-v3"), "H200", batch=64, context=4096, gpus=g)
    assert on_g.fits and on_g.kv_bytes == g * kv
    assert not fit(symroof.models.get("deepseek-v3"), "H200", batch=64, context=4096, gpus=g - 1).fits


def test_symbolic_batch_leaves_the_gpu_count_open():
    B = symroof.symbols.B
    f = fit(symroof.models.get("llama-3-8b"), "H100-SXM", batch=B, context=1024)
    assert f.kv_bytes == B * 1024 * 131_072 and f.activation_bytes == B * 586_752
    assert f.gpus_needed is None


def test_gpus_needed_when_the_latent_cache_nearly_fills_a_gpu():
    """As test_gpus_needed_when_every_gpu_holds_the_latent_cache, with 379 sequences: the cache, 379 · 4096 ·
    61 · 576 · 2 = 109,089,128,448 bytes, is 80% of an H200's usable bytes, so g GPUs need
    g · (usable − KV) >= weights + activations: g = 50 by brute force."""
    usable = sympy.Rational(9, 10) * 141 * GIB
    weights, kv = 2 * 671_026_404_352, 379 * 4096 * 61 * 576 * 2
    acts = 379 * (2 * 7168 + 2 * 18432) * 2 + 379 * 129280 * 4
    g = next(g for g in range(1, 1000) if weights + g * kv + acts <= g * usable)
    assert g == 50
    deepseek = symroof.models.get("deepseek-v3")
    assert fit(deepseek, "H200", batch=379, context=4096, gpus=g).fits
    assert not fit(deepseek, "H200", batch=379, context=4096, gpus=g - 1).fits
    assert fit(deepseek, "H200", batch=379, context=4096).gpus_needed == g


def test_no_gpu_count_holds_a_latent_cache_larger_than_a_gpu():
    """Every GPU holds the whole MLA latent: 480 · 4096 · 61 · 576 · 2 = 138,160,373,760 bytes is more
    than an H200's usable 0.9 · 141 GiB = 136,263,018,086 bytes, so adding GPUs never helps."""
    assert sympy.Rational(9, 10) * 141 * GIB < 480 * 4096 * 61 * 576 * 2
    f = fit(symroof.models.get("deepseek-v3"), "H200", batch=480, context=4096)
    assert f.kv_bytes == 480 * 4096 * 61 * 576 * 2
    assert f.gpus_needed is None
    assert "no number of these GPUs holds it" in f.describe()


def test_gpus_needed_past_the_kv_heads():
    """Llama-3-8B has 8 KV heads: beyond 8 GPUs each head is copied on g/8 of them, so each GPU holds
    1/8 of the cache. 570 sequences of 8192 tokens: KV 570 · 8192 · 32 · 2 · 8 · 128 · 2 = 612,032,839,680
    bytes (one copy); weights 2 · 8,030,261,248; activations 570 · (2·4096 + 2·14336) · 2 + 570 · 128256 · 4.
    Up to 8 GPUs: ⌈(W + A + KV)/usable⌉ = 9 > 8; beyond, g ≥ (W + A)/(usable − KV/8): brute force below."""
    usable = sympy.Rational(9, 10) * 80 * GIB
    weights, kv = 2 * 8_030_261_248, 570 * 8192 * 32 * 2 * 8 * 128 * 2
    acts = 570 * (2 * 4096 + 2 * 14336) * 2 + 570 * 128256 * 4
    copies = lambda g: max(1, sympy.Rational(g, 8))
    g = next(g for g in range(1, 1000) if weights + kv * copies(g) + acts <= g * usable)
    assert g > 9
    f = fit(symroof.models.get("llama-3-8b"), "H100-SXM", batch=570, context=8192)
    assert f.kv_bytes == kv
    assert f.gpus_needed == g
    # 525 sequences: (W + A + KV)/usable = 7.5..., so 8 GPUs, each KV head once (no copies yet)
    kv, acts = 525 * 8192 * 32 * 2 * 8 * 128 * 2, 525 * (2 * 4096 + 2 * 14336) * 2 + 525 * 128256 * 4
    assert 7 * usable < weights + kv + acts <= 8 * usable
    assert fit(symroof.models.get("llama-3-8b"), "H100-SXM", batch=525, context=8192).gpus_needed == 8
