"""Roofline times of a `Cost`, each value derived by hand in the test.

A made-up GPU (2·10^12 FLOP/s in bf16, 10^12 B/s, 10^11 B/s links) and a cost with
6·10^12 FLOPs, 4·10^12 bytes of weights, 2·10^12 of KV cache and 10^12 of activations keep the
arithmetic small enough to check by eye. Over a ``tp = T`` group the FLOPs and every byte but
the activations are split over the T GPUs (`symroof.analysis.timing.memory_time`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy

import symroof
from symroof.analysis.timing import (
    Comm,
    combine,
    kv_capacity,
    latency,
    memory_time,
    time_per_output_token,
    time_to_first_token,
)
from symroof.symbols import B

GPU = symroof.Hardware("g", {"bf16": 2 * 10**12, "fp8": 4 * 10**12}, 10**12, interconnect_bytes_per_s=10**11)
COST = symroof.Cost(flops={"matmul": 6 * 10**12},
                    bytes={"weights": 4 * 10**12, "kv": 2 * 10**12, "activations": 10**12})
R = sympy.Rational


def test_one_gpu_is_memory_bound():
    t = latency(COST, GPU)
    assert t.compute_s == 3                     # 6e12 / 2e12
    assert t.memory_s == 7                      # (4 + 2 + 1)e12 / 1e12
    assert t.comm_s == 0 and t.total_s == 7 and t.bound == "memory"
    assert t.tokens == 1 and t.per_token_s == 7 and float(t) == 7.0


def test_two_gpus_split_all_but_the_activations():
    t = latency(COST, GPU, tp=2, comm_s=R(1, 2), tokens=4)
    assert t.compute_s == R(3, 2)               # 6e12 / (2 · 2e12)
    assert t.memory_s == 4                      # (4 + 2)e12 / 2 / 1e12 + 1e12 / 1e12
    assert t.total_s == R(9, 2)                 # max(3/2, 4) + 1/2
    assert t.per_token_s == R(9, 8)             # 9/2 over 4 tokens
    assert latency(COST, GPU, tp=2, comm_s=R(1, 2), model="sum").total_s == 6   # 3/2 + 4 + 1/2


def test_compute_bound_and_undetermined():
    heavy = symroof.Cost(flops={"matmul": 30 * 10**12}, bytes={"weights": 10**12})
    t = latency(heavy, GPU)
    assert (t.compute_s, t.memory_s, t.total_s, t.bound) == (15, 1, 15, "compute")
    sym = latency(symroof.Cost(flops={"matmul": B * 2 * 10**12}, bytes={"weights": 5 * 10**12}), GPU)
    assert sym.bound == "undetermined"
    assert sym.total_s.subs(B, 1) == 5 and sym.total_s.subs(B, 9) == 9


def test_the_dtype_chooses_the_peak():
    t = latency(COST, GPU, dtype="fp8")
    assert t.compute_s == R(3, 2)               # 6e12 / 4e12
    assert memory_time(COST, GPU, dtype="fp8") == 7   # bandwidth does not depend on the dtype


def test_a_comm_object_adds_its_total():
    comm = Comm(latency_s=R(1, 4), throughput_s=R(1, 4), total_s=R(1, 2))
    assert latency(COST, GPU, comm_s=comm).total_s == R(15, 2)   # 7 + 1/2


def test_memory_time_of_one_prefix_over_a_group():
    assert memory_time(COST, GPU) == 7
    assert memory_time(COST, GPU, tp=4) == R(5, 2)                  # 6/4 + 1
    assert memory_time(COST, GPU, tp=4, prefix="weights") == 1      # 4/4
    assert memory_time(COST, GPU, tp=4, prefix="activations") == 1  # never split
    assert memory_time(COST, GPU, tp=2, prefix="kv") == 1           # 2/2


def test_combine_adds_the_communication_after_the_max():
    # max(3, 4) + 1 = 5; the communication is not a candidate for the max
    assert combine(3, 4, 1) == 5 and combine(4, 3, 1) == 5
    assert combine(3, 4, 1, model="sum") == 8
    got = combine(np.array([3.0, 6.0]), np.array([4.0, 2.0]), np.array([1.0, 0.5]))
    assert got.tolist() == [5.0, 6.5]
    got = combine(np.array([3.0, 6.0]), np.array([4.0, 2.0]), 1.0, model="sum")
    assert got.tolist() == [8.0, 9.0]
    assert combine(B, 5) == sympy.Max(B, 5)


def test_time_per_output_token_of_several_new_tokens():
    """``per_token_s`` divides the step by its ``B·S_i`` tokens; ``total_s`` is the step."""
    llama = symroof.models.get("llama-3-8b")
    one = time_per_output_token(llama, "exact", GPU, B=2, S_c=100, S_i=1)
    three = time_per_output_token(llama, "exact", GPU, B=2, S_c=100, S_i=3)
    assert one.tokens == 2 and three.tokens == 6
    assert three.per_token_s == three.total_s / 6 and one.per_token_s == one.total_s / 2
    # this GPU has few FLOP/s: six tokens through 8B parameters (~10^11 FLOPs at 2·10^12 FLOP/s)
    # outlast reading its 16 GB at 10^12 B/s, so the step is the FLOPs over the peak
    step = symroof.decode(llama, "exact", B=2, S_c=100, S_i=3)
    assert step.flops / (2 * 10**12) > step.bytes / 10**12
    assert three.bound == "compute" and three.total_s == step.flops / (2 * 10**12)
    assert three.memory_s == step.bytes / 10**12
    first = time_to_first_token(llama, "exact", GPU, B=2, S=100)
    assert first.tokens == 2 and first.per_token_s == first.total_s / 2


def test_tensor_parallel_step_pays_its_allreduces():
    """Megatron's 2 all-reduces per layer, ring: 2(T−1)/T · B·S_i·H·b_a bytes over A_c each, and
    N·2·(6.6 µs + 2(T−1)·0.6 µs) of latency (module docstring)."""
    llama = symroof.models.get("llama-3-8b")    # N = 32, H = 4096, 2-byte activations
    t = time_per_output_token(llama, "exact", GPU, B=4, S_c=0, tp=2)
    message = 4 * 4096 * 2                      # B·S_i·H·b_a
    throughput = 32 * 2 * R(2 * 1, 2) * message / 10**11
    lat = 32 * 2 * (R(66, 10**7) + 2 * 1 * R(6, 10**7))
    assert t.comm_s == throughput + lat
    assert t.total_s == sympy.Max(t.compute_s, t.memory_s) + throughput + lat


@pytest.mark.parametrize("model", ["max", "sum"])
def test_conventions_choose_the_rule(model):
    llama = symroof.models.get("llama-3-8b")
    t = time_per_output_token(llama, "exact", GPU, B=1, S_c=10, model=model)
    want = sympy.Max(t.compute_s, t.memory_s) if model == "max" else t.compute_s + t.memory_s
    assert t.total_s == want


# ---- communication options reach the model they belong to ----------------------------------------------


def test_step_latency_goes_to_the_chosen_model():
    from symroof.analysis.timing import communication

    llama = symroof.models.get("llama-3-8b")    # 32 layers, H = 4096, b_a = 2
    us = R(1, 10**6)
    # 003: 4 messages per layer, each step_latency_s: 32·4·1 µs; tokens·N·4·H·b_a / link
    c = communication(llama, GPU, "exact", tp=2, tokens=3, comm="003", step_latency_s=us)
    assert c.latency_s == 128 * us and c.throughput_s == R(3 * 32 * 4 * 4096 * 2, 10**11)
    # allreduce: 64 all-reduces of 6.6 µs plus 64·2(T−1) = 128 ring steps of 1 µs at T = 2
    a = communication(llama, GPU, "exact", tp=2, tokens=3, comm="allreduce", step_latency_s=us)
    assert a.latency_s == 64 * R(66, 10**7) + 128 * us
    assert a.throughput_s == R(64 * (2 * 1 * 3 * 4096 * 2) // 2, 10**11)   # 64 · 2(T−1)/T · B·H·b_a
    # the same options through the step times: TTFT of B·S tokens, TPOT of B·S_i tokens
    ttft = time_to_first_token(llama, "exact", GPU, B=1, S=3, tp=2, comm="003", step_latency_s=us,
                               bytes_per_element=1)
    assert ttft.comm_s == 128 * us + R(3 * 32 * 4 * 4096, 10**11)
    tpot = time_per_output_token(llama, "exact", GPU, B=3, S_c=10, tp=2, comm="003", step_latency_s=us,
                                 bytes_per_element=1, dtype="fp8")
    assert tpot.comm_s == 128 * us + R(3 * 32 * 4 * 4096, 10**11)
    step = symroof.decode(llama, "exact", B=3, S_c=10)
    assert tpot.compute_s == step.flops / (2 * 4 * 10**12)             # fp8 peak, split over 2 GPUs


# ---- KV capacity -----------------------------------------------------------------------------------------

ONE_GB = symroof.Hardware("m", {"bf16": 10**12}, 10**12, capacity_bytes=10**9, usable_fraction=1)


def test_weights_may_fill_all_but_one_byte():
    llama = symroof.models.get("llama-3-8b")
    assert kv_capacity(llama, ONE_GB, weight_bytes=10**9 - 1).free_bytes == 1
    with pytest.raises(ValueError, match=r"^weights of 1000000000 bytes do not fit in gpus=1 × 1000000000 usable"):
        kv_capacity(llama, ONE_GB, weight_bytes=10**9)


def test_an_attention_free_model_is_limited_by_its_state():
    """Mamba-130m (tests/data/mamba-130m-hf.json: 24 layers, intermediate 1536, state 16, conv 4,
    float32): transformers' cache holds per layer an SSM state of 1536·16 and a conv state of
    1536·4 values, 4 bytes each: 24 · 30,720 · 4 = 2,949,120 bytes per sequence, and no KV per token."""
    from symroof.model.hf import from_hf_config

    mamba = from_hf_config(Path(__file__).parent / "data" / "mamba-130m-hf.json")
    cap = kv_capacity(mamba, ONE_GB, weight_bytes=0)
    assert cap.state_bytes_per_sequence == 2_949_120 and cap.kv_bytes_per_token == 0
    assert cap.tokens == sympy.oo
    assert cap.batch == 10**9 // 2_949_120 == 339
    assert kv_capacity(mamba, ONE_GB, weight_bytes=0, context=10**6).batch == 339   # no cache grows


def test_frozen_results():
    import dataclasses

    from symroof.analysis.timing import tp_allreduce

    llama = symroof.models.get("llama-3-8b")
    for value in (latency(COST, GPU), tp_allreduce(llama, tp=2, B=1, S_i=1),
                  kv_capacity(llama, ONE_GB, weight_bytes=0), Comm(1, 1, 2)):
        field = dataclasses.fields(value)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, 0)


def test_time_to_first_token_uses_the_dtype_peak():
    llama = symroof.models.get("llama-3-8b")
    t = time_to_first_token(llama, "exact", GPU, B=1, S=8, dtype="fp8")
    assert t.compute_s == symroof.prefill(llama, "exact", B=1, S=8).flops / (4 * 10**12)   # the fp8 peak


def test_a_tied_head_is_not_read_when_no_logits_are_computed():
    """Gemma-3-1B ties its LM head to the embedding (tests/data/gemma-3-1b-it.json,
    tie_word_embeddings): with ``lm_head="none"`` no logits are computed, so no head rows are read;
    with the last position's logits the whole 262,144 × 1152 table is read once."""
    from symroof.cost.components import lm_head
    from symroof.cost.step import Step
    from symroof.model.hf import from_hf_config

    gemma = from_hf_config(Path(__file__).parent / "data" / "gemma-3-1b-it.json")
    conv = symroof.conventions.get("exact")
    assert "weights/lm_head" not in lm_head(gemma, conv.replace(lm_head="none"), Step(1, 1, 0)).byte_terms
    assert lm_head(gemma, conv, Step(1, 1, 0)).byte_terms["weights/lm_head"] == 262144 * 1152 * 2
