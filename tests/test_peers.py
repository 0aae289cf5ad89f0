"""Published numbers of other tools, recomputed by symroof under the conventions each tool uses.

Every expected value is the tool's own printed number (or a hand derivation from its source),
never symroof's output. Where symroof cannot express one of the tool's choices, the test says so
and computes the difference by hand.
"""

from __future__ import annotations

import sympy

import symroof
from symroof import hardware
from symroof.analysis import fit
from symroof.cost.conventions import get

# ---- llm-analysis (cli99/llm-analysis) -------------------------------------------------------------
#
# The LLaMA-7B inference example, examples/llama/outputs_infer/decapoda-research_llama-7b-hf-a100-sxm-80gb-
# w16a16e16-tp1-pp1-dp1-sp1-fe0.7-hbme0.9-summary-readable.txt (and the -summary.json beside it, which
# holds the unrounded numbers), produced at commit b60b392 of llm_analysis/analysis.py:
#   kv_cache_memory_per_gpu: 285.21 MB       (json 285212672)
#   embedding_memory_per_gpu: 262.14 MB      (json 262144000)
#   weight_memory_per_gpu: 13.15 GB          (json 13147045888)
#   prefill_num_flops_fwd_total: 6.87 T      (json 6868726448128)
#   decode_num_flops_fwd_total: 13.15 G      (json 13147570176)
PRINTED = {"kv": "285.21 M", "embedding": "262.14 M", "weights": "13.15 G",
           "prefill": "6.87 T", "decode": "13.15 G"}
JSON = {"kv": 285_212_672, "embedding": 262_144_000, "weights": 13_147_045_888,
        "prefill": 6_868_726_448_128, "decode": 13_147_570_176}


def _num_to_string(num):
    """llm-analysis's printing at b60b392 (llm_analysis/utils.py `_num_to_string`, precision 2):
    decimal prefixes, 10^12 / 10^9 / 10^6 / 10^3 (later versions print memory in powers of 1024)."""
    num = float(num)
    for power, prefix in ((12, "T"), (9, "G"), (6, "M"), (3, "K")):
        if num // 10**power > 0:
            return f"{round(num / 10.0**power, 2)} {prefix}"
    return str(num)


# llm-analysis's model of LLaMA-7B: its config llm_analysis/model_configs/decapoda-research_llama-7b-hf.json
# (num_layers 32, n_head 32, hidden_dim 4096, vocab_size 32000, ffn_embed_dim 16384), and at b60b392
# analysis.py hard-codes a GPT-style two-matrix MLP of 4h: get_num_params_per_layer_mlp = 8·h^2 ("4+4"),
# get_num_flops_fwd_per_layer_mlp = 16·B·s·h^2. The embedding is counted once
# (get_num_params_embedding(shared_embedding=True)): a tied LM head. symroof expresses this as an
# architecture, not a convention: Llama-2-7B's shape with a dense 16384 FFN and tied embeddings.
LLAMA_7B_LLM_ANALYSIS = symroof.models.get("llama-2-7b").replace(
    ffn_dim=16384, ffn_kind="dense", tied_embeddings=True, name="llama-7b (llm-analysis)")

# Its FLOP conventions are symroof's "matmul" preset, field for field:
#   scores="dense": get_num_flops_fwd_per_layer_attn = 8·B·s·h^2 + 4·B·s^2·h, every one of the s^2
#       query-key pairs for QK^T and for A·V (no causal halving);
#   keys="cached+new": a prefill's s queries attend to the s prompt tokens;
#   lm_head="all": get_num_flops_fwd_total adds 2·B·s·h·V, the logits of every position;
#   no FLOPs for norms, softmax, activation functions or RoPE (symroof counts none either);
#   weights="all" with embedding_read="table": the input embedding is read whole every pass
#       (get_latency_fwd_input_embedding: vocab·h·bytes) and, tied, counted once.
# Not a named preset: it would be "matmul" under another name, and two of the tool's choices are not
# conventions symroof has (the decode context and the weights without norms, below).
LLM_ANALYSIS = get("matmul").replace(name="llm-analysis")


def test_llm_analysis_conventions_are_the_matmul_preset():
    matmul = get("matmul")
    for field in ("flops", "scores", "keys", "lm_head", "weights", "embedding_read", "kv_read"):
        assert getattr(LLM_ANALYSIS, field) == getattr(matmul, field)
    assert (LLM_ANALYSIS.scores, LLM_ANALYSIS.keys, LLM_ANALYSIS.lm_head) == ("dense", "cached+new", "all")
    assert (LLM_ANALYSIS.weights, LLM_ANALYSIS.embedding_read, LLM_ANALYSIS.units) == ("all", "table", "decimal")


def test_llm_analysis_llama_7b_prefill_flops():
    """prefill_num_flops_fwd_total = get_num_flops_fwd_total(B=1, seq_len=512) (analysis.py, `inference`):
    32 · (24·512·4096^2 + 4·512^2·4096) + 2·512·4096·32000 = 6,868,726,448,128."""
    by_hand = 32 * (24 * 512 * 4096**2 + 4 * 512**2 * 4096) + 2 * 512 * 4096 * 32000
    assert by_hand == JSON["prefill"]
    cost = symroof.prefill(LLAMA_7B_LLM_ANALYSIS, LLM_ANALYSIS, B=1, S=512)
    assert cost.flops == JSON["prefill"]
    assert _num_to_string(cost.flops) == PRINTED["prefill"]
    assert cost.flop_terms["lm_head"] == 2 * 512 * 4096 * 32000
    assert cost.flop_terms["attention/scores"] + cost.flop_terms["attention/values"] == 32 * 4 * 512**2 * 4096


def test_llm_analysis_llama_7b_decode_flops_ignore_the_cache():
    """decode_num_flops_fwd_total = get_num_flops_fwd_total(B, 1 if use_kv_cache else ...) (analysis.py,
    `inference`): a pass of one token with seq_len=1, so its query attends to a single key, itself, and
    the 512..543 cached tokens are not counted: 32·(24·4096^2 + 4·4096) + 2·4096·32000 = 13,147,570,176.

    symroof has no convention that drops the cached keys of a decode step (keys="cached" drops the new
    ones instead); the tool's number is symroof's decode step over an empty cache, S_c = 0."""
    by_hand = 32 * (24 * 4096**2 + 4 * 4096) + 2 * 4096 * 32000
    assert by_hand == JSON["decode"]
    cost = symroof.decode(LLAMA_7B_LLM_ANALYSIS, LLM_ANALYSIS, B=1, S_c=0)
    assert cost.flops == JSON["decode"]
    assert _num_to_string(cost.flops) == PRINTED["decode"]
    # The difference by hand: the first decode step after the 512-token prompt also scores and
    # weighs 512 cached keys, 4·S_c·h FLOPs per layer: 32·4·512·4096 = 268,435,456 (13.42 G printed).
    first = symroof.decode(LLAMA_7B_LLM_ANALYSIS, LLM_ANALYSIS, B=1, S_c=512)
    assert first.flops - JSON["decode"] == 32 * 4 * 512 * 4096 == 268_435_456
    assert _num_to_string(first.flops) == "13.42 G"
    # over the 32 generated tokens (S_c = 512 ... 543) the mean step is 32·4·527.5·4096 FLOPs more
    mean = sum(symroof.decode(LLAMA_7B_LLM_ANALYSIS, LLM_ANALYSIS, B=1, S_c=c).flops
               for c in range(512, 544)) / 32
    assert mean - JSON["decode"] == 32 * 4 * sympy.Rational(1055, 2) * 4096 == 276_561_920


def test_llm_analysis_llama_7b_weights_and_embedding():
    """weight_memory_per_gpu = get_memory_weight_per_layer · 32 + embedding_memory_per_gpu (analysis.py
    at b60b392, `inference`), with 12·h^2 parameters per layer (4h^2 attention + 8h^2 MLP) and no norm
    weights: (32·12·4096^2 + 4096·32000)·2 = 13,147,045,888 bytes; the embedding
    (get_memory_embedding) 4096·32000·2 = 262,144,000.

    symroof's weights="all" also counts the RMSNorm weights, two per layer and a final one:
    2·(2·32·4096 + 4096) = 532,480 bytes (0.004%) more. No convention leaves out only the norms
    ("matrices" leaves out the embedding too). Later llm-analysis versions count the norms
    (get_num_params_per_layer_layernorm, get_num_params_last_layernorm), and then agree exactly."""
    assert JSON["weights"] == (32 * 12 * 4096**2 + 4096 * 32000) * 2
    cost = symroof.decode(LLAMA_7B_LLM_ANALYSIS, LLM_ANALYSIS, B=1, S_c=512)
    weights = {k: v for k, v in cost.byte_terms.items() if k.startswith("weights/")}
    assert weights["weights/embedding"] == JSON["embedding"] == 4096 * 32000 * 2
    assert _num_to_string(weights["weights/embedding"]) == PRINTED["embedding"]
    norms = weights["weights/norm"] + weights["weights/final_norm"]
    assert norms == 2 * (2 * 32 * 4096 + 4096) == 532_480
    assert sum(weights.values()) - norms == JSON["weights"]
    assert sum(weights.values()) == JSON["weights"] + 532_480
    assert _num_to_string(sum(weights.values())) == PRINTED["weights"]     # the same at the printed rounding
    # the memory a fit holds: every parameter once, 2 bytes each
    f = fit(LLAMA_7B_LLM_ANALYSIS, "A100-80GB", batch=1, context=544)
    assert f.weights_bytes == 2 * symroof.total_parameters(LLAMA_7B_LLM_ANALYSIS) == JSON["weights"] + 532_480
    assert _num_to_string(f.weights_bytes) == PRINTED["weights"]


def test_llm_analysis_llama_7b_kv_cache():
    """kv_cache_memory_per_gpu = get_memory_kv_cache_per_layer(B, seq_len + num_tokens_to_generate) · 32
    (analysis.py, `inference`): 2·B·s·h·2 bytes per layer at s = 512 + 32 = 544:
    32 · 2 · 544 · 4096 · 2 = 285,212,672 (the cache when the last token is generated)."""
    assert JSON["kv"] == 32 * 2 * 4096 * 2 * (512 + 32)
    f = fit(LLAMA_7B_LLM_ANALYSIS, "A100-80GB", batch=1, context=512 + 32)
    assert f.kv_bytes == JSON["kv"]
    assert _num_to_string(f.kv_bytes) == PRINTED["kv"]
    # the same bytes are what a decode step over those 544 cached tokens reads (kv_read="k+v")
    cost = symroof.decode(LLAMA_7B_LLM_ANALYSIS, LLM_ANALYSIS, B=1, S_c=544)
    assert cost.bytes_of("kv/read") == JSON["kv"]


def test_llm_analysis_model_against_the_real_llama_7b():
    """What llm-analysis's LLaMA-7B leaves out, by hand: the real model (LLaMA-1 7B has Llama-2-7B's shape)
    has a SwiGLU FFN of 3·4096·11008 = 135,266,304 parameters per layer, not 8·4096^2 = 134,217,728
    (+1,048,576), and an untied LM head (+4096·32000)."""
    real = symroof.models.get("llama-2-7b")
    d_real = symroof.decode(real, LLM_ANALYSIS, B=1, S_c=0)
    assert d_real.flops - JSON["decode"] == 2 * 32 * (3 * 4096 * 11008 - 8 * 4096**2) == 67_108_864
    assert 2 * symroof.total_parameters(real) - (JSON["weights"] + 532_480) == (
        2 * 32 * (3 * 4096 * 11008 - 8 * 4096**2) + 2 * 4096 * 32000)


# ---- scaling-book (jax-ml/scaling-book, inference.md) ----------------------------------------------
def test_scaling_book_llama_2_13b_step_time_from_the_model():
    """scaling-book, 'How to Scale Your Model', Part 7 (inference.md), LLaMA 2-13B on 8 TPU v5e: the
    step time is (26e9 + B·6.7e9) / 6.56e12 s, memory-bound at every batch in its table.
    tests/test_hardware.py checks the formula on a hand-built Cost; this derives both coefficients from
    the architecture.

    Conventions: "inference-arithmetic" (2·P FLOPs per token, weight bytes b_w·Z·10^9 from the nominal
    Z = 13: 13e9 parameters × 2 bytes = 26e9) with kv_read="k+v" (the book reads the whole K and V cache,
    8192 · 2 · 40 · 5120 · 2 = 6,710,886,400 bytes per sequence, which it writes 6.7e9) and comms="none"
    (the formula has no communication). Bandwidth: the book's 8.2e11 B/s per v5e (the datasheet says
    819 GB/s), 8 × 8.2e11 = 6.56e12."""
    arch = symroof.models.get("llama-2-13b").replace(params_b=13)
    conventions = get("inference-arithmetic").replace(kv_read="k+v", comms="none")
    B = sympy.Symbol("B", positive=True)
    cost = symroof.decode(arch, conventions, B=B, S_c=8192)
    assert cost.bytes_of("weights") == 26 * 10**9
    per_sequence = cost.bytes_of("kv/read") / B
    assert per_sequence == 8192 * 2 * 40 * 5120 * 2 == 6_710_886_400
    assert round(float(per_sequence) / 1e9, 1) == 6.7          # the book's 6.7e9, at its rounding
    assert cost.bytes == 26 * 10**9 + B * 6_710_886_400          # nothing else: no activations, no KV write
    assert cost.flops == 2 * 13 * 10**9 * B
    v5e = hardware.get("TPU v5e").replace(bandwidth_bytes_per_s=8.2e11)
    t = symroof.latency(cost, v5e, tp=8)
    assert t.bound == "memory" and t.comm_s == 0
    assert sympy.simplify(t.memory_s - (26 * 10**9 + B * 6_710_886_400) / sympy.Rational(656, 100) / 10**12) == 0
    # The book's table (ms) uses the rounded 6.7e9; the exact KV adds B·10,886,400 / 6.56e12 s, by hand
    # 1.66 µs per sequence: 249.09 → 249.49 ms at B = 240, and 4.98 → 4.99 ms at B = 1 (4.9848 → 4.9864).
    book = {1: 4.98, 8: 12.13, 16: 20.30, 32: 36.65, 64: 69.33, 240: 249.09}
    for b, ms in book.items():
        exact_ms = float(t.total_s.subs(B, b)) * 1000
        hand_ms = (26e9 + b * 6.7e9) / 6.56e12 * 1000 + b * 10_886_400 / 6.56e12 * 1000
        assert abs(exact_ms - hand_ms) < 1e-9
        assert round((26e9 + b * 6.7e9) / 6.56e12 * 1000, 2) == ms
        assert abs(exact_ms / ms - 1) < 0.0017                  # within 0.17% at every batch
