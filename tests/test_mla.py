"""Multi-head latent attention: parameters, KV cache and FLOPs (naive and absorbed) against hand
derivations, a matmul-by-matmul enumeration, DeepSeek-V3's published counts and, when torch and
transformers are installed, Hugging Face's DeepseekV3 counted by FlopCounterMode."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symroof
from symroof.cost.conventions import get
from symroof.model import params
from tests import oracle_models as om


def deepseek_v3():
    return symroof.models.get("deepseek-v3")


# ---- parameters -------------------------------------------------------------------------------------------


def test_deepseek_v3_attention_parameters_by_hand():
    # config.json: H 7168, n_h 128, q_lora 1536, kv_lora 512, qk_nope 128, qk_rope 64, v_head 128
    got = params.layer_parameters(deepseek_v3())
    assert got["attention/q_down"] == 7168 * 1536 == 11_010_048
    assert got["attention/q_up"] == 1536 * 128 * (128 + 64) == 37_748_736
    assert got["attention/kv_down"] == 7168 * (512 + 64) == 4_128_768
    assert got["attention/kv_up"] == 512 * 128 * (128 + 128) == 16_777_216
    assert got["attention/out"] == 128 * 128 * 7168 == 117_440_512
    # two layer RMSNorms of 7168 plus the latent norms q_a_layernorm (1536) and kv_a_layernorm (512)
    assert got["norm"] == 2 * 7168 + 1536 + 512


def test_deepseek_v3_total_is_671b_and_activated_is_37b():
    """README_WEIGHTS.md (huggingface.co/deepseek-ai/DeepSeek-V3): main model 671B parameters,
    36.6B activated including the 0.9B output head; the README's headline "37B activated".

    By hand, per layer: attention 11,010,048 + 37,748,736 + 4,128,768 + 16,777,216 + 117,440,512
    = 187,105,280, norms 2·7168 + 1536 + 512 = 16,384 -> 187,121,664; 61 layers -> 11,414,421,504.
    MoE FFN (58 layers): (256 + 1) experts · 3 · 7168 · 2048 = 11,318,329,344 plus the router
    256 · 7168 = 1,835,008 -> 11,320,164,352; · 58 = 656,569,532,416.
    Dense FFN (3 layers): 3 · 7168 · 18432 = 396,361,728; · 3 = 1,189,085,184.
    Embedding and untied head: 2 · 129280 · 7168 = 1,853,358,080; final norm 7168.
    Sum: 671,026,404,352. (The 11.5B MTP module of the checkpoint is not in the 671B.)
    """
    arch = deepseek_v3()
    total = 11_414_421_504 + 656_569_532_416 + 1_189_085_184 + 1_853_358_080 + 7168
    assert total == 671_026_404_352
    assert params.total_parameters(arch) == total
    assert round(total / 1e9) == 671
    # activated: routed experts cut from 256 to 8 in the 58 MoE layers: 248 · 3 · 7168 · 2048 each
    activated = total - 58 * 248 * 3 * 7168 * 2048
    assert params.active_parameters(arch) == activated
    head = 129280 * 7168                                   # 926,679,040: "0.9B for the output head"
    without_embedding = params.active_parameters(arch, embeddings=False) + head
    assert without_embedding == activated - head           # the embedding table is a gather, not "activated"
    assert round(without_embedding / 1e8) == 366           # 36.6B
    assert round(without_embedding / 1e9) == 37
    # The checkpoint's MTP module (not in this preset) is one more MoE layer, "11.5B unique parameters":
    # 187,121,664 + 11,320,164,352 = 11,507,286,016 (plus its 2·7168·7168 eh_proj and three norms)
    mtp_layer = sum(params.layer_parameters(arch).values())
    assert mtp_layer == 187_121_664 + 11_320_164_352 == 11_507_286_016
    assert round(mtp_layer / 1e8) == 115


def test_mla_validation():
    base = dict(hidden=64, layers=2, heads=4)
    with pytest.raises(ValueError, match="also needs qk_nope_head_dim, qk_rope_head_dim, v_head_dim"):
        symroof.Arch(**base, kv_lora_rank=16)
    with pytest.raises(ValueError, match="kv_lora_rank=0 must be a positive integer"):
        symroof.Arch(**base, kv_lora_rank=0, qk_nope_head_dim=8, qk_rope_head_dim=4, v_head_dim=8)
    with pytest.raises(ValueError, match="mla='fused' is not allowed; choose one of 'naive', 'absorbed'"):
        get("exact").replace(mla="fused")
    mla = symroof.Arch(hidden=60, layers=2, heads=8, kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=4,
                       v_head_dim=8)                       # heads need not divide hidden under MLA
    assert mla.head_dim == 12 and mla.q_width == 96 and mla.replace(qk_rope_head_dim=2).head_dim == 10


# ---- KV cache ---------------------------------------------------------------------------------------------


def test_latent_cache_bytes_by_hand():
    # per token and layer: kv_lora 512 + rope 64 = 576 elements (MHA with the same heads: 2·128·192 K+V)
    arch = deepseek_v3()
    assert arch.kv_cache_width == 576 and arch.kv_elements_per_token == 61 * 576
    cost = symroof.decode(arch, "exact", B=8, S_c=1000)
    assert cost.bytes_of("kv/read") == 61 * 8 * 1000 * 576 * 2
    assert cost.bytes_of("kv/write") == 61 * 8 * 1 * 576 * 2
    one = symroof.decode(arch, get("exact").replace(kv_read="one"), B=8, S_c=1000)
    assert one.bytes_of("kv/read") == 61 * 8 * 1000 * 288 * 2


# ---- FLOPs against an enumeration of every matmul -----------------------------------------------------------


def enumerate_mla(h, heads, dq, dc, dn, dr, dv, batch, new, cached, *, absorbed, causal):
    """Yield (term, rows, inner, cols) for one MLA layer: every matmul, query by query and head by head."""
    tokens = batch * new
    for _ in range(tokens):
        if dq is None:
            yield "attention/q", 1, h, heads * (dn + dr)
        else:
            yield "attention/q_down", 1, h, dq
            yield "attention/q_up", 1, dq, heads * (dn + dr)
        yield "attention/kv_down", 1, h, dc + dr
    for _seq in range(batch):
        if not absorbed:
            for _key in range(cached + new):           # every cached and new latent is up-projected
                yield "attention/kv_up", 1, dc, heads * (dn + dv)
        for _head in range(heads):
            for q in range(new):
                keys = cached + q + 1 if causal else cached + new
                if absorbed:
                    yield "attention/q_absorb", 1, dn, dc
                    yield "attention/scores", 1, dc + dr, keys
                    yield "attention/values", 1, keys, dc
                    yield "attention/v_absorb", 1, dc, dv
                else:
                    yield "attention/scores", 1, dn + dr, keys
                    yield "attention/values", 1, keys, dv
    for _ in range(tokens):
        yield "attention/out", 1, heads * dv, h


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 9), heads=st.integers(1, 3), dq=st.one_of(st.none(), st.integers(1, 5)),
       dc=st.integers(1, 6), dn=st.integers(1, 4), dr=st.integers(1, 3), dv=st.integers(1, 4),
       batch=st.integers(1, 3), new=st.integers(1, 4), cached=st.integers(0, 5), absorbed=st.booleans(),
       causal=st.booleans())
def test_mla_flops_match_enumeration(h, heads, dq, dc, dn, dr, dv, batch, new, cached, absorbed, causal):
    arch = symroof.Arch(hidden=h, layers=1, heads=heads, head_dim=1, q_lora_rank=dq, kv_lora_rank=dc,
                        qk_nope_head_dim=dn, qk_rope_head_dim=dr, v_head_dim=dv, vocab=3)
    conv = get("matmul").replace(scores="causal" if causal else "dense", lm_head="none",
                                 mla="absorbed" if absorbed else "naive")
    expected: dict[str, int] = {}
    for name, m, k, n in enumerate_mla(h, heads, dq, dc, dn, dr, dv, batch, new, cached,
                                       absorbed=absorbed, causal=causal):
        expected[name] = expected.get(name, 0) + 2 * m * k * n
    cost = symroof.step(arch, conv, B=batch, S_i=new, S_c=cached)
    got = {k: int(v) for k, v in cost.flop_terms.items() if k.startswith("attention/")}
    assert got == expected


def test_absorbed_decode_by_hand():
    """One DeepSeek-V3 layer, one sequence, one new token over S_c = 4095 cached (4096 keys).

    naive: kv_up re-expands 4096 latents: 2·4096·512·128·(128+128) = 137,438,953,472;
    scores 2·128·4096·192, values 2·128·4096·128.
    absorbed: q_absorb 2·128·128·512 and v_absorb 2·128·512·128 = 16,777,216 each;
    scores 2·128·4096·(512+64), values 2·128·4096·512.
    """
    arch = deepseek_v3()
    conv = get("matmul").replace(lm_head="none")
    naive = symroof.decode(arch, conv, B=1, S_c=4095)
    absorbed = symroof.decode(arch, conv.replace(mla="absorbed"), B=1, S_c=4095)
    assert naive.flops_of("attention/kv_up") == 61 * 137_438_953_472
    assert naive.flops_of("attention/scores") == 61 * 2 * 128 * 4096 * 192
    assert naive.flops_of("attention/values") == 61 * 2 * 128 * 4096 * 128
    assert absorbed.flops_of("attention/kv_up") == 0
    assert absorbed.flops_of("attention/q_absorb") == absorbed.flops_of("attention/v_absorb") == 61 * 16_777_216
    assert absorbed.flops_of("attention/scores") == 61 * 2 * 128 * 4096 * 576
    assert absorbed.flops_of("attention/values") == 61 * 2 * 128 * 4096 * 512
    # the projections they share are equal, and so are all bytes (same weights, same latent cache)
    for term in ("attention/q_down", "attention/q_up", "attention/kv_down", "attention/out", "ffn"):
        assert naive.flops_of(term) == absorbed.flops_of(term)
    assert naive.bytes == absorbed.bytes
    assert absorbed.flops < naive.flops


# ---- the Hugging Face oracle ------------------------------------------------------------------------------


def test_tiny_deepseek_v3_matches_flop_counter():
    """A tiny DeepseekV3 (MLA with a query bottleneck, 8 routed experts of which 2 active, a shared
    expert, one dense first layer): symroof's ``matmul`` preset with naive MLA equals the FLOPs
    PyTorch counts for transformers' implementation (which caches the latent and re-expands it
    each step), and its parameter count equals the module's."""
    torch = om.require("torch")
    transformers = om.require("transformers")

    shape = dict(vocab_size=37, hidden_size=24, intermediate_size=40, moe_intermediate_size=8,
                 num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4, n_shared_experts=1,
                 n_routed_experts=8, num_experts_per_tok=2, n_group=2, topk_group=1, first_k_dense_replace=1,
                 kv_lora_rank=6, q_lora_rank=5, qk_rope_head_dim=2, qk_nope_head_dim=3, v_head_dim=4,
                 tie_word_embeddings=False)
    with torch.device("meta"):
        lm = transformers.AutoModelForCausalLM.from_config(
            transformers.DeepseekV3Config(**shape), experts_implementation="batched_mm")
    arch = symroof.Arch(hidden=24, layers=3, heads=4, ffn_dim=40, ffn_kind="gated", experts=8,
                        experts_per_token=2, shared_experts=1, expert_ffn_dim=8, dense_layers=1, vocab=37,
                        tied_embeddings=False, kv_lora_rank=6, q_lora_rank=5, qk_rope_head_dim=2,
                        qk_nope_head_dim=3, v_head_dim=4)
    assert params.total_parameters(arch) == sum(p.numel() for p in lm.parameters())
    for batch, new, cached in [(2, 5, 0), (1, 3, 4), (2, 1, 6)]:
        cost = symroof.step(arch, om.matmul_conventions(), B=batch, S_i=new, S_c=cached)
        assert cost.flops == sum(om.count_step(lm, batch, new, cached)[1].values())
