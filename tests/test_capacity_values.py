"""What fits (`symroof.analysis.capacity`) and the layer value types' rules, values by hand.

A tiny model (hidden 64, 2 layers, 4 heads of 16, gated FFN of 96, vocabulary 100, 2-byte
activations and cache) on a made-up GPU of exactly 10^6 usable bytes: a token's K and V over both
layers are 2 · 2 · 64 = 256 elements, 512 bytes; a step's working activations per sequence are
(2·64 + 2·96)·2 = 640 bytes of hidden and FFN state plus 100 · 4 bytes of fp32 logits.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import symroof
from symroof.analysis.capacity import activation_bytes, fit
from symroof.model.arch import Arch
from symroof.model.layers import FFN, Attention, Layer

GPU = symroof.Hardware("m", {"bf16": 10**12}, 10**12, capacity_bytes=10**6, usable_fraction=1)


def tiny() -> Arch:
    return Arch(hidden=64, layers=2, heads=4, ffn_dim=96, ffn_kind="gated", vocab=100,
                weight_bytes=2, act_bytes=2, kv_bytes=2)


def test_activation_bytes_of_a_step():
    assert activation_bytes(tiny(), 3, 2) == 3 * 2 * (2 * 64 + 2 * 96) * 2 + 3 * 100 * 4   # 5040


def test_an_ffn_free_model_holds_only_its_hidden_state_and_logits():
    # Mamba-130m (tests/data): hidden 768, vocabulary 50280, float32; no FFN
    from symroof.model.hf import from_hf_config

    mamba = from_hf_config(Path(__file__).parent / "data" / "mamba-130m-hf.json")
    assert activation_bytes(mamba, 1) == 2 * 768 * 4 + 50280 * 4


def test_a_fit_exactly_at_the_capacity():
    kv = 2 * 512 * 100                        # 2 sequences of 100 tokens
    acts = 2 * 640 + 2 * 400                  # 2080
    weights = 10**6 - kv - acts               # 895,520: everything fills the GPU to the byte
    f = fit(tiny(), GPU, batch=2, context=100, weight_bytes=weights)
    assert (f.kv_bytes, f.activation_bytes, f.needed_bytes) == (kv, acts, 10**6)
    assert f.fits and f.shortfall_bytes == 0 and f.gpus_needed == 1
    assert f.max_batch == (10**6 - weights) // (512 * 100 + 1040)        # 104,480 // 52,240 = 2
    over = fit(tiny(), GPU, batch=2, context=100, weight_bytes=weights + 1)
    assert not over.fits and over.shortfall_bytes == 1 and over.gpus_needed == 2
    assert over.describe().startswith("does not fit by 1e-09 GB: ")


def test_weight_bytes_are_a_number_never_text():
    with pytest.raises(ValueError, match=r"^weight_bytes='10\*\*6' must be"):
        fit(tiny(), GPU, batch=1, context=1, weight_bytes="10**6")


# ---- the layer value types' rules -------------------------------------------------------------------------


def test_cached_heads_set_the_cache_width():
    assert Attention(8, kv_heads=2, head_dim=16).cached_kv_width == 2 * 16
    assert Attention(8, kv_heads=2, head_dim=16, cached_heads=4).cached_kv_width == 4 * 16


def test_experts_per_token_may_equal_but_not_exceed_the_experts():
    assert FFN(32, experts=2, experts_per_token=2).experts_per_token == 2
    with pytest.raises(ValueError, match=r"^experts_per_token=3 must not exceed experts=2$"):
        FFN(32, experts=2, experts_per_token=3)


def test_a_layer_may_have_no_norms():
    assert Layer(Attention(4, head_dim=16), FFN(32), norms=0).norms == 0


def test_latent_attention_has_no_window_or_chunk():
    mla = dict(kv_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16)
    Attention(4, head_dim=24, **mla)
    for kind in ({"window": 8}, {"chunk": 8}):
        with pytest.raises(ValueError, match=r"^latent attention with a window or chunk is not modelled$"):
            Attention(4, head_dim=24, **mla, **kind)
    with pytest.raises(ValueError, match=r"^window=8 and chunk=4: an attention layer is sliding or chunked$"):
        Attention(4, head_dim=16, window=8, chunk=4)


def test_rotary_positions_by_default_and_frozen_layers():
    att = Attention(4, head_dim=16)
    assert att.rope is True and att.rotary_width == 16
    for value in (att, FFN(32), Layer(att, FFN(32))):
        field = dataclasses.fields(value)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, getattr(value, field))
