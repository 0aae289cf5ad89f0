"""Seed 003 (kipply, "Transformer Inference Performance Arithmetic"): every number it prints, as
printed, against symroof's value; expected values worked out by hand here.

Models: the 52B of Anthropic's paper (n_layers 64, d_model 8192, vocab 65536) and Gopher (80
layers, d_model 16384, 260B after dropping 20B positional parameters). Hardware: the post's A100,
312e12 FLOP/s, 1.5e12 B/s, 40 GB, 300 GB/s; the datasheet's 1,555 GB/s where noted.
"""

import math

import pytest
from sympy import Rational

from symroof import analysis
from tests.scripts import ROOT, load_script

L52, D52, V52 = 64, 8192, 65536
LG, DG = 80, 16384
A_F, A_BM, A_C = 312 * 10**12, Rational(15, 10) * 10**12, 300 * 10**9
CORE = 12 * L52 * D52**2                     # 51,539,607,552
EMB = V52 * D52                              # 536,870,912
KV_FLOPS = L52 * 2 * D52**2 * 2              # 17,179,869,184 (= the K, V weight bytes at 2 bytes)
KV_TOKEN = 2 * L52 * D52 * 2                 # 2,097,152 bytes
WEIGHTS = (CORE + EMB) * 2                   # 104,152,956,928 bytes


def load():
    return load_script(ROOT / "derivations" / "seed_003.py", "seed_003_under_test")


@pytest.fixture(scope="module")
def d():
    return load().build()


def test_parameter_counts(d):
    assert (CORE, EMB, CORE + EMB) == (51_539_607_552, 536_870_912, 52_076_478_464)
    for label, value in (("params/52b-core", CORE), ("params/embedding", EMB), ("params/with-embedding", CORE + EMB)):
        assert d[label].value == value and d[label].holds
    # "that half a billion tokens twice ... about 52.5B": 52,613,349,376 is 52.6B
    assert d["params/with-unembedding"].value == CORE + 2 * EMB == 52_613_349_376
    assert not d["params/with-unembedding"].holds and d["params/with-unembedding"].kind == "rounding"
    # Gopher: 280e9 − (12·80·16384² + 32000·16384) = 21.8e9, "some 20B" at one figure
    assert d["params/gopher-positional"].value == 280 * 10**9 - 12 * LG * DG**2 - 32000 * DG
    assert d["params/gopher-positional"].holds
    assert d["params/gpt3-13b"].value == 5140 - 40 * 128 == 20


def test_kv_cache_numbers(d):
    assert KV_FLOPS == 17_179_869_184 and KV_TOKEN == 2_097_152
    assert d["kv/flops-52b"].value == KV_FLOPS and d["kv/flops-52b"].holds
    # memory / compute time of computing k, v: (4·N·d²/1.5e12) / (4·N·d²/312e12) = 208
    assert d["kv/ratio-208"].value == 208 == A_F / A_BM
    assert d["kv/208-tokens"].value == 208
    # "For 52B this is 11.4 milliseconds": 17,179,869,184 / 1.5e12 s = 11.453 ms, 11.5 to one decimal
    t = Rational(KV_FLOPS) / A_BM
    assert d["kv/11.4ms"].value == t and round(float(t) * 1000, 1) == 11.5
    assert not d["kv/11.4ms"].holds and d["kv/11.4ms"].kind == "rounding"
    assert d["kv/4gpus"].holds and float(t / 4) < 0.003
    # "a single token on a 52B on 4 GPUs we need 20ms": 2·52e9/(4·1.5e12) + 64·4·10µs + 64·4·8192/300e9
    tok = Rational(2 * 52 * 10**9) / (4 * A_BM) + Rational(L52 * 4, 100_000) + Rational(L52 * 4 * D52, A_C)
    assert d["kv/20ms"].value == tok and round(float(tok) * 1000) == 20
    assert d["kv/one-sixth"].value == Rational(1, 6) and d["batch/one-sixth-memory"].value == Rational(1, 6)
    assert not d["kv/A100-bandwidth"].holds        # 1.5e12 for the datasheet's 1,555 GB/s


def test_capacity(d):
    assert d["capacity/weights"].value == WEIGHTS == 104_152_956_928
    assert d["capacity/three-gpus"].value == math.ceil(WEIGHTS / 40e9) == 3
    free3 = 3 * 40 * 10**9 - WEIGHTS
    assert d["capacity/16GB"].value == free3 == 15_847_043_072 and d["capacity/16GB"].holds
    assert d["capacity/per-token"].value == KV_TOKEN
    assert d["capacity/8000"].value == free3 // KV_TOKEN == 7556 and d["capacity/8000"].holds
    assert d["capacity/batch-40"].value == free3 // (KV_TOKEN * 200) == 37
    assert not d["capacity/batch-40"].holds
    # "56/0.002 ≈ 23000": 56/0.002 is 28,000; exactly (160e9 − weights) // 2,097,152 = 26,629
    free4 = 4 * 40 * 10**9 - WEIGHTS
    assert Rational(56) / Rational(2, 1000) == 28000
    assert d["capacity/23000"].value == free4 // KV_TOKEN == 26_629 and not d["capacity/23000"].holds
    assert d["capacity/one-gpu"].holds


def test_gopher_small_batch(d):
    memory = Rational(2 * 260 * 10**9) / (16 * A_BM)               # ≈ 0.0217 s ≈ 22 ms
    assert d["gopher/small-compute"].value == memory and d["gopher/small-compute"].holds
    assert d["gopher/small-compute-s"].holds
    # "n_layers·4·10µs = 128·4·10µs = 5120µs ≈ 5ms": n_layers is 80, so 3,200 µs
    assert d["gopher/small-comms-us"].value == Rational(LG * 4, 100_000) == Rational(32, 10_000)
    assert not d["gopher/small-comms-us"].holds and not d["gopher/small-comms"].holds
    total = memory + Rational(LG * 4, 100_000) + Rational(LG * 4 * DG, A_C)
    assert d["gopher/small-total"].value == total and round(float(total) * 1000) == 25   # not 27


def test_gopher_large_batch_and_exercise(d):
    compute = Rational(512 * 2 * 260 * 10**9, 16 * A_F)                  # ≈ 0.053 s
    assert d["gopher/large-compute"].value == compute and d["gopher/large-compute"].holds
    elements = Rational(512 * LG * 4 * DG, A_C)                          # the post's ≈ 9 ms
    assert round(float(elements) * 1000) == 9
    assert d["gopher/large-comms"].value == 2 * elements                # in bytes: 17.9 ms
    assert not d["gopher/large-comms"].holds
    total = compute + 2 * elements + Rational(LG * 4, 100_000)
    assert d["gopher/large-total"].value == total and round(float(total) * 1000, 1) == 74.4
    # the exercise: 52B on 4 GPUs at batch 256: 21 ms of compute, 2 ms of comms in elements (3.6 in bytes)
    assert d["exercise/compute"].value == Rational(256 * 2 * 52 * 10**9, 4 * A_F) and d["exercise/compute"].holds
    assert round(float(Rational(256 * L52 * 4 * D52, A_C)) * 1000) == 2
    assert d["exercise/comms"].value == Rational(256 * L52 * 4 * D52 * 2, A_C)


def test_batch_size_section(d):
    # "min batch size for memory bandwidth bound is A_bw/A_c = 208": A_bw/A_c = 5
    assert d["batch/mislabelled"].value == A_BM / A_C == 5 and d["batch/mislabelled"].kind == "label"
    assert d["batch/208"].value == 208 and d["batch/208"].holds


def test_flop_counting(d):
    f = 64 * 24 * 8192**2
    assert d["flops/number"].value == f == 103_079_215_104 and d["flops/number"].holds
    # the printed expression includes 64·23·8192 more than its printed value
    assert d["flops/expression"].printed == "103,091,273,728" == f"{64 * (24 * 8192**2 + 23 * 8192):,}"
    assert not d["flops/expression"].holds
    assert not d["flops/ffn-terms"].holds and d["flops/ffn"].holds and d["flops/F"].holds
    # "about a 2% difference": 1 − 51,539,607,552 / 52,613,349,376 = 2.04%
    assert d["flops/2-percent"].value == 1 - Rational(CORE, CORE + 2 * EMB) and d["flops/2-percent"].holds
    assert d["leftover/ratio"].value == Rational(1, 208) and not d["leftover/ratio"].holds


def test_latency_comes_from_symroof_analysis(monkeypatch):
    """003's latency and capacity numbers are computed by symroof.analysis, not by the script."""
    calls = {}
    for name in ("latency", "time_per_output_token", "tp_communication", "kv_capacity", "balance",
                 "crossover_batch"):
        real = getattr(analysis, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            calls[_name] = calls.get(_name, 0) + 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(analysis, name, spy)
    assert load().build().problems() == []
    assert set(calls) == {"latency", "time_per_output_token", "tp_communication", "kv_capacity", "balance",
                          "crossover_batch"}


def test_the_errata_of_003(d):
    assert {c.label for c in d.errata} == {
        "params/with-unembedding", "kv/A100-bandwidth", "kv/11.4ms", "capacity/batch-40", "capacity/23000",
        "gopher/small-comms-us", "gopher/small-comms", "gopher/small-total", "gopher/large-comms",
        "gopher/large-total", "exercise/comms", "batch/mislabelled", "flops/W1-shape", "flops/ffn-terms",
        "flops/expression", "leftover/ratio",
    }
    assert d.problems() == []
