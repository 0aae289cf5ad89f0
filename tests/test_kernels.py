"""Attention-kernel memory traffic: ideal (the seeds' accounting), FlashAttention-style re-reads of K
and V per query block, and an unfused kernel that writes and reads the score matrix; against hand
derivations and a block-by-block enumeration."""

from __future__ import annotations

import math

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import symroof
from symroof.cost.components import flash_query_block
from symroof.cost.conventions import PRESETS, get
from symroof.symbols import S_i


@pytest.mark.parametrize("preset", list(PRESETS))
def test_ideal_is_the_default_and_adds_nothing(preset):
    conv = get(preset)
    assert conv.attention_kernel == "ideal"
    cost = symroof.step(symroof.models.get("llama-3-8b"), conv)
    assert cost.bytes_of("attention") == 0


def test_flash_prefill_by_hand():
    """Llama-3-8B prefill of one 4096-token prompt, blocks of 128 queries: 32 blocks per KV head.

    Causal: block j (1..32) reads the K and V of its first 128·j keys: 128·(1 + ... + 32) =
    128·528 = 67,584 key tokens; each is 2 (K, V) · 8 heads · 128 · 2 bytes = 4096 bytes, so
    276,824,064 bytes per layer (the ideal kernel reads no cache in prefill).
    Dense: 32 blocks · 4096 keys = 131,072 key tokens = 536,870,912 bytes per layer.
    """
    llama = symroof.models.get("llama-3-8b")
    flash = get("exact").replace(attention_kernel="flash", query_block=128)
    causal = symroof.prefill(llama, flash, B=1, S=4096)
    assert 128 * sum(range(1, 33)) == 67_584
    assert causal.bytes_of("attention/kv") == 32 * 67_584 * 4096 == 32 * 276_824_064
    dense = symroof.prefill(llama, flash.replace(scores="dense"), B=1, S=4096)
    assert dense.bytes_of("attention/kv") == 32 * 32 * 4096 * 4096
    assert causal.bytes_of("kv") == symroof.prefill(llama, "exact", B=1, S=4096).bytes_of("kv")


def test_flash_decode_reads_the_new_token_once_more():
    """One new token, one block: the kernel reads S_c cached keys (counted in kv/read) and the new one."""
    llama = symroof.models.get("llama-3-8b")
    flash = symroof.decode(llama, get("exact").replace(attention_kernel="flash"), B=4, S_c=1000)
    ideal = symroof.decode(llama, "exact", B=4, S_c=1000)
    assert flash.bytes_of("attention/kv") == 32 * 4 * 1 * 4096
    assert flash.bytes - ideal.bytes == 32 * 4 * 4096
    assert flash.flops == ideal.flops


def test_unfused_prefill_by_hand():
    """Unfused, one 4096-token prompt: each of 32 heads writes a 4096 x 4096 score matrix, the softmax
    reads it and writes the probabilities, A·V reads them: 4 · 32 · 4096² · 2 bytes = 4,294,967,296
    per layer (the mask does not shrink the matrix); K and V are read once: 4096 keys · 4096 bytes."""
    llama = symroof.models.get("llama-3-8b")
    unfused = symroof.prefill(llama, get("exact").replace(attention_kernel="unfused"), B=1, S=4096)
    assert unfused.bytes_of("attention/scores") == 32 * 4 * 32 * 4096 * 4096 * 2 == 32 * 4_294_967_296
    assert unfused.bytes_of("attention/kv") == 32 * 4096 * 4096
    none = symroof.prefill(llama, get("exact").replace(attention_kernel="unfused", scores="none"), B=1, S=4096)
    assert none.bytes_of("attention") == 0


def kernel_kv_bytes(batch, kv_heads, head_dim, new, cached, block, causal, kernel, elem=2):
    """K and V bytes the kernel reads in one layer, walking query block by query block."""
    total = 0
    for _seq in range(batch):
        for _head in range(kv_heads):
            starts = range(0, new, block) if kernel == "flash" else [0]
            for start in starts:
                last = min(start + block, new) if kernel == "flash" else new
                keys = cached + last if causal and kernel == "flash" else cached + new
                total += keys * head_dim * 2 * elem
    return total


@settings(max_examples=80, deadline=None)
@given(kv_heads=st.integers(1, 3), group=st.integers(1, 2), head_dim=st.integers(1, 4), batch=st.integers(1, 3),
       new=st.integers(1, 12), cached=st.integers(0, 9), block=st.integers(1, 5), causal=st.booleans(),
       kernel=st.sampled_from(["flash", "unfused"]))
def test_kernel_traffic_matches_block_walk(kv_heads, group, head_dim, batch, new, cached, block, causal, kernel):
    heads = kv_heads * group
    arch = symroof.Arch(hidden=heads * head_dim, layers=2, heads=heads, kv_heads=kv_heads, vocab=3)
    conv = get("exact").replace(attention_kernel=kernel, query_block=block,
                                scores="causal" if causal else "dense")
    cost = symroof.step(arch, conv, B=batch, S_i=new, S_c=cached)
    walked = kernel_kv_bytes(batch, kv_heads, head_dim, new, cached, block, causal, kernel)
    # kv/read holds the one read of the cache; attention/kv the rest of what the kernel reads
    assert cost.bytes_of("attention/kv") + cost.bytes_of("kv/read") == 2 * walked
    if kernel == "unfused":
        assert cost.bytes_of("attention/scores") == 2 * 4 * batch * heads * new * (cached + new) * 2


def test_flash_with_symbolic_block():
    q = sympy.Symbol("q", positive=True, integer=True)
    arch = symroof.Arch(hidden=8, layers=1, heads=2)
    cost = symroof.step(arch, get("exact").replace(attention_kernel="flash", query_block=q), B=1, S_c=0)
    n = sympy.ceiling(S_i / q)
    assert sympy.simplify(cost.bytes_of("attention/kv") - (q * n * (n - 1) / 2 + S_i) * 16 * 2) == 0
    assert cost.subs(S_i=10).bytes_of("attention/kv").subs(q, 4) == (4 * 3 + 10) * 32   # blocks of 4, 4, 2


def test_flash_query_block_from_sram():
    """FlashAttention (arXiv 2205.14135, Algorithm 1): B_r = min(ceil(M / 4d), d), M elements on chip."""
    # 228 KiB of bf16 = 116,736 elements; d = 128: ceil(116736 / 512) = 228 -> min(228, 128) = 128
    assert flash_query_block(228 * 1024, 128, 2) == min(math.ceil(116_736 / 512), 128) == 128
    # 16 KiB, d = 128: 8192 elements, ceil(8192 / 512) = 16
    assert flash_query_block(16 * 1024, 128) == 16
    # fp32, 100 KB, d = 64: 25,000 elements, ceil(25000 / 256) = 98 -> min(98, 64) = 64
    assert flash_query_block(100_000, 64, 4) == 64
    with pytest.raises(ValueError, match="head_dim=0 must be a positive integer"):
        flash_query_block(1024, 0)


def test_mla_kernel_traffic_by_hand():
    """Tiny MLA (2 heads, d_c 4, d_R 1, d_nope 2, d_v 3), one sequence, 4 new tokens over 2 cached,
    flash with blocks of 2, causal: block 1 reads 2 + 2 keys, block 2 reads 2 + 4 = 10 key tokens.
    absorbed: the latent (4 + 1 elements, 2 bytes) is the K and V of every head: (10 − 2) · 5 · 2 = 80
    beyond the cache read. naive: up-projected K and V, 2·(2 + 1 + 3) = 12 elements per key, written
    once for the 6 keys and read for 10: (6 + 10) · 12 · 2 = 384."""
    arch = symroof.Arch(hidden=8, layers=1, heads=2, kv_lora_rank=4, qk_rope_head_dim=1, qk_nope_head_dim=2,
                        v_head_dim=3)
    flash = get("exact").replace(attention_kernel="flash", query_block=2)
    absorbed = symroof.step(arch, flash.replace(mla="absorbed"), B=1, S_i=4, S_c=2)
    naive = symroof.step(arch, flash.replace(mla="naive"), B=1, S_i=4, S_c=2)
    assert absorbed.bytes_of("attention/kv") == 80
    assert naive.bytes_of("attention/kv") == 384
    assert absorbed.bytes_of("kv") == naive.bytes_of("kv") == (2 + 4) * 5 * 2   # cache read 2, written 4


def test_bad_kernel_options():
    with pytest.raises(ValueError, match="attention_kernel='paged' is not allowed; choose one of 'ideal'"):
        get("exact").replace(attention_kernel="paged")
    with pytest.raises(ValueError, match="query_block=0 must be a positive integer"):
        get("exact").replace(query_block=0)
