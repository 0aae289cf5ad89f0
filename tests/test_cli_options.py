"""The CLI's options and JSON fields (issue 18, and the CLI parts of 14 and 15), each against a number
worked out by hand here: the arithmetic is written in the test, never pasted from the CLI's output.

Llama-3-8B (tests/data/llama-3-8b.json): N = 32 layers, H = 4096, 32 query / 8 KV heads of 128, a gated
FFN of 14336, vocabulary 128256, untied embeddings, bf16. The H100 SXM: 989 TFLOP/s bf16, 3.35 TB/s,
80 GiB of which 9/10 usable.
"""

import argparse
import json
import struct
import tomllib
from fractions import Fraction
from pathlib import Path

import jsonschema
import pytest

from symroof.output.cli import build_parser, main

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
SCHEMA = json.loads((ROOT / "docs" / "cli-schema.json").read_text())

N, H, HEADS, KV, D_H, FFN, VOCAB = 32, 4096, 32, 8, 128, 14336, 128256
# parameters: per layer W_Q, W_O (H·H each), W_K, W_V (H·8·128 each), a gated FFN (3·H·F), two norms (2·H);
# the embedding and the untied LM head (V·H each) and the final norm (H)
LAYER = 2 * H * H + 2 * H * KV * D_H + 3 * H * FFN + 2 * H
LLAMA_3_8B_PARAMS = N * LAYER + 2 * VOCAB * H + H
assert LLAMA_3_8B_PARAMS == 8_030_261_248                      # the model card's count
WEIGHT_BYTES = 2 * LLAMA_3_8B_PARAMS                           # bf16
KV_PER_TOKEN = 2 * N * KV * D_H * 2                            # K and V, every layer, 2 bytes
assert KV_PER_TOKEN == 131_072
H100_CAPACITY = 80 * 2**30
H100_USABLE = Fraction(9, 10) * H100_CAPACITY                  # 80·2^30·9/10, a whole number of bytes
assert H100_USABLE == 77_309_411_328


def activation_bytes(batch: int, new: int = 1) -> int:
    """analysis.fit's working activations: B·S_i·(2H + 2F)·2 bytes (gated FFN) + the last logits B·V·4."""
    return batch * new * (2 * H + 2 * FFN) * 2 + batch * VOCAB * 4


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    data = json.loads(out)
    jsonschema.validate(data, SCHEMA)                          # every JSON output checked against the schema
    return data


def refused(capsys, *argv) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("symroof: error: "), (code, err)
    return err


# ---- the JSON schema -------------------------------------------------------------------------------------


def test_the_schema_is_a_draft_2020_12_schema():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("argv", [
    ["report"],
    ["report", "--phase", "decode"],                                          # symbols left
    ["report", "--phase", "prefill", "-b", "2", "-s", "64"],
    ["report", "--phase", "step", "--batch", "2", "--cached", "8", "--new", "4"],
    ["report", "--model", "symbolic", "--phase", "decode", "--conventions", "000"],
    ["report", "--prompt", "128", "--gen", "3", "--tp", "2", "--gpu", "H100"],
    ["report", "--hf-config", str(DATA / "deepseek-v3.json"), "--batch", "4"],
    ["report", "--model", "mixtral-8x7b", "--batch", "64"],
    ["latex"], ["latex", "--only", "bytes", "--phase", "prefill"],
    ["crossover"], ["crossover", "--cached", "0"], ["crossover", "--cached", "4096", "--conventions", "002"],
    ["crossover", "--phase", "prefill", "--unknown", "S", "--batch", "1"],
    ["models"], ["models", "--hf-config", str(DATA / "gpt2.json")], ["hardware"],
])
def test_every_command_json_validates_against_the_schema(capsys, argv):
    data = run_json(capsys, *argv)
    assert data["command"] == argv[0]


def test_report_nests_phases_the_same_way_with_or_without_phase(capsys):
    quick = run_json(capsys, "report")
    one = run_json(capsys, "report", "--phase", "decode", "--batch", "1", "--cached", "1024")
    assert set(quick["phases"]) == {"prefill", "decode"} and set(one["phases"]) == {"decode"}
    assert quick["phases"]["decode"]["flops"] == one["phases"]["decode"]["flops"]
    # balance: the float, and the exact FLOPs/byte beside it, the same in report and crossover
    cross = run_json(capsys, "crossover", "--cached", "0")
    for data in (quick, one, cross):
        assert data["balance_exact"] == "19780/67" and data["balance"] == pytest.approx(989e12 / 3.35e12)


# ---- report: parameters, memory, fit, throughput, request times, not-modelled notes -----------------------


def test_report_parameters_and_memory(capsys):
    r = run_json(capsys, "report")
    assert r["parameters"] == {"total": LLAMA_3_8B_PARAMS, "active": LLAMA_3_8B_PARAMS}    # dense: all active
    assert r["memory"]["weights_bytes"] == WEIGHT_BYTES == 16_060_522_496
    assert r["memory"]["kv_bytes_per_token"] == KV_PER_TOKEN
    assert r["capacity_bytes"] == H100_CAPACITY and r["usable_bytes"] == H100_USABLE
    _code, out, _ = run(capsys, "report")
    assert "parameters: 8,030,261,248 (8.03 B) total, 8,030,261,248 (8.03 B) active" in out
    assert "weights 16.06 GB" in out and "131.1 kB of KV per token" in out


def test_report_mixture_of_experts_active_parameters(capsys):
    # Mixtral-8x7B: 32 layers of H 4096, 8 experts of a gated 14336 FFN, 2 active; 32/8 heads of 128; V 32000
    expert = 3 * 4096 * 14336
    layer_rest = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 8 * 4096 + 2 * 4096       # attention, router, norms
    total = 32 * (layer_rest + 8 * expert) + 2 * 32000 * 4096 + 4096
    assert total == 46_702_792_704
    r = run_json(capsys, "report", "--model", "mixtral-8x7b")
    assert r["parameters"] == {"total": total, "active": total - 32 * 6 * expert}


def test_report_fit_says_by_how_much_and_how_many_gpus(capsys):
    """B = 512 at S_c = 4096 on one H100: the KV cache of 512 · 4097 tokens alone is 275 GB."""
    B, S_c = 512, 4096
    kv = B * (S_c + 1) * KV_PER_TOKEN
    needed = WEIGHT_BYTES + kv + activation_bytes(B)
    assert needed == 291_305_955_328
    gpus = -(-needed // H100_USABLE)                                    # ceil: 3.77 -> 4
    per_sequence = (S_c + 1) * KV_PER_TOKEN + activation_bytes(1)
    largest = (H100_USABLE - WEIGHT_BYTES) // per_sequence               # 113
    r = run_json(capsys, "report", "--phase", "decode", "--batch", str(B), "--cached", str(S_c))
    f = r["phases"]["decode"]["fit"]
    assert r["fits"] is False and r["phases"]["decode"]["fits"] is False and r["fit"] == f
    assert (f["kv_bytes"], f["needed_bytes"], f["available_bytes"]) == (kv, needed, H100_USABLE)
    assert f["shortfall_bytes"] == needed - H100_USABLE
    assert (f["gpus_needed"], f["max_batch"]) == (gpus, largest) == (4, 113)
    _code, out, _ = run(capsys, "report", "--phase", "decode", "--batch", str(B), "--cached", str(S_c))
    assert f"does not fit by {(needed - H100_USABLE) / 1e9:.4g} GB" in out and "4 GPUs would hold it" in out
    assert "the largest batch that fits is 113" in out
    # on --tp 4 GPUs the memory of four: it fits (8 KV heads split 4 ways: no copies)
    r = run_json(capsys, "report", "--phase", "decode", "--batch", str(B), "--cached", str(S_c), "--tp", "4")
    assert r["fits"] is True and r["fit"]["available_bytes"] == 4 * H100_USABLE


def test_report_tokens_per_second(capsys):
    """Decode at B = 8 over S_c = 1024, memory-bound: 8 tokens per step of bytes / 3.35 TB/s. `exact` bytes:
    the weights but the embedding table, of which 8 rows are gathered; K and V read and one written; fused
    activations 3·N·B·H·2."""
    B, S_c = 8, 1024
    nbytes = (WEIGHT_BYTES - 2 * VOCAB * H + B * 2 * H + B * S_c * KV_PER_TOKEN + B * KV_PER_TOKEN
              + 3 * N * B * H * 2)
    r = run_json(capsys, "report", "--phase", "decode", "--batch", str(B), "--cached", str(S_c))
    d = r["phases"]["decode"]
    assert d["bytes"] == nbytes and d["bound"] == "memory"
    assert d["tokens_per_s"] == pytest.approx(B / (nbytes / 3.35e12), rel=1e-12)


def _prefill_flops(S: int) -> int:
    """`exact` prefill FLOPs of one prompt: 2 per weight per token, causal scores and values, LM head once."""
    pairs = S * (S + 1) // 2
    weights = 2 * H * H + 2 * H * KV * D_H + 3 * H * FFN
    return N * (2 * S * weights + 2 * 2 * HEADS * D_H * pairs) + 2 * H * VOCAB


def _decode_bytes(S_c: int) -> int:
    return (WEIGHT_BYTES - 2 * VOCAB * H + 2 * H + S_c * KV_PER_TOKEN + KV_PER_TOKEN + 3 * N * H * 2)


def test_report_request_ttft_tpot_end_to_end(capsys):
    """--prompt 512 --gen 3: TTFT the prefill (compute-bound: FLOPs / 989 TFLOP/s); three decode steps over
    S_c = 512, 513, 514 (memory-bound: bytes / 3.35 TB/s); TPOT their mean; end-to-end TTFT + their sum."""
    S, G = 512, 3
    ttft = _prefill_flops(S) / 989e12
    steps = [_decode_bytes(S + j) / 3.35e12 for j in range(G)]
    r = run_json(capsys, "report", "--prompt", str(S), "--gen", str(G))
    q = r["request"]
    assert (q["batch"], q["prompt"], q["gen"]) == (1, S, G)
    assert q["ttft_s"] == pytest.approx(ttft, rel=1e-12)
    assert q["tpot_s"] == pytest.approx(sum(steps) / G, rel=1e-12)
    assert q["e2e_s"] == pytest.approx(ttft + sum(steps), rel=1e-12)
    assert q["tokens_per_s"] == pytest.approx(G / (ttft + sum(steps)), rel=1e-12)
    assert q["method"].startswith("exact") and q["fits"] is True and q["fit"]["context"] == S + G
    assert r["phases"]["prefill"]["values"] == {"B": 1, "S": S}
    _code, out, _ = run(capsys, "report", "--prompt", str(S), "--gen", str(G))
    assert f"TTFT {ttft * 1e3:.4g} ms" in out and f"TPOT {sum(steps) / G * 1e3:.4g} ms" in out


def test_report_long_generation_says_how_tpot_was_taken(capsys):
    r = run_json(capsys, "report", "--prompt", "16", "--gen", "5000")
    # every step is memory-bound and linear in S_c, so the mean of evenly spaced steps is close to the middle one's
    assert "4096 evenly spaced" in r["request"]["method"]
    middle = (_decode_bytes(16) + _decode_bytes(16 + 4999)) / 2 / 3.35e12
    assert r["request"]["tpot_s"] == pytest.approx(middle, rel=1e-4)


def test_report_not_modelled_notes_in_text_and_json(capsys):
    args = ("report", "--hf-config", str(DATA / "deepseek-v3.json"))
    r = run_json(capsys, *args)
    assert r["not_modelled"] == ["num_nextn_predict_layers=1 (the multi-token-prediction module)"]
    _code, out, _ = run(capsys, *args)
    assert "note: not modelled: num_nextn_predict_layers=1 (the multi-token-prediction module)" in out.splitlines()


def test_report_request_options_refused_where_they_do_not_apply(capsys):
    assert "do not combine with --phase" in refused(capsys, "report", "--gen", "4", "--phase", "decode")
    assert "give one" in refused(capsys, "report", "--prompt", "4", "--seq", "8")
    assert "'0' must be positive" in refused(capsys, "report", "--gen", "0")
    assert "needs a model with numbers" in refused(capsys, "report", "--model", "symbolic", "--gen", "4")


# ---- conventions from the command line -------------------------------------------------------------------


def test_set_changes_one_convention(capsys):
    """--set lm_head=all: the LM head on all 512 prompt positions, 2·512·H·V FLOPs, not 2·H·V."""
    base = run_json(capsys, "report", "--phase", "prefill", "--batch", "1", "--seq", "512")
    every = run_json(capsys, "report", "--phase", "prefill", "--batch", "1", "--seq", "512", "--set", "lm_head=all")
    assert base["phases"]["prefill"]["terms"]["flops"]["lm_head"] == 2 * H * VOCAB
    assert every["phases"]["prefill"]["terms"]["flops"]["lm_head"] == 2 * 512 * H * VOCAB
    assert every["conventions"] == "exact+lm_head=all"


def test_set_parses_counts_and_refuses_bad_values(capsys):
    r = run_json(capsys, "report", "--phase", "prefill", "-b", "1", "-s", "256", "--set", "attention_kernel=flash",
                 "--set", "query_block=64")
    assert r["conventions"] == "exact+attention_kernel=flash+query_block=64"
    assert "did you mean experts_read" in refused(capsys, "report", "--set", "expert_read=all")
    assert "is not one of all, touched" in refused(capsys, "report", "--set", "experts_read=some")
    for value in ("0", "1e3", "-4", "__import__('os')", "2**10"):
        assert "must be a positive whole number" in refused(capsys, "report", "--set", f"query_block={value}")
    assert "must be FIELD=VALUE" in refused(capsys, "report", "--set", "lm_head")


def test_conventions_file(capsys, tmp_path):
    path = tmp_path / "serving.toml"
    path.write_text('lm_head = "all"\nquery_block = 64\n')
    r = run_json(capsys, "report", "--phase", "prefill", "--batch", "1", "--seq", "512",
                 "--conventions-file", str(path))
    assert r["phases"]["prefill"]["terms"]["flops"]["lm_head"] == 2 * 512 * H * VOCAB
    # --set comes after the file
    r = run_json(capsys, "report", "--phase", "prefill", "--batch", "1", "--seq", "512", "--conventions-file",
                 str(path), "--set", "lm_head=last")
    assert r["phases"]["prefill"]["terms"]["flops"]["lm_head"] == 2 * H * VOCAB
    bad = tmp_path / "bad.toml"
    bad.write_text('lm_heads = "all"\n')
    assert f"{bad}: key 'lm_heads': unknown convention 'lm_heads'; did you mean lm_head" in refused(
        capsys, "report", "--conventions-file", str(bad))
    bad.write_text("query_block = 1.5\n")
    assert f"{bad}: key 'query_block'" in refused(capsys, "report", "--conventions-file", str(bad))
    bad.write_text("lm_head = \n")
    assert "not valid TOML" in refused(capsys, "report", "--conventions-file", str(bad))
    assert "must be a regular file" in refused(capsys, "report", "--conventions-file", str(tmp_path))
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 70_000 + "\n")
    assert "over the 65536-byte limit" in refused(capsys, "report", "--conventions-file", str(big))
    assert "cannot read conventions file" in refused(capsys, "report", "--conventions-file", str(tmp_path / "no"))


# ---- dtypes by role --------------------------------------------------------------------------------------


def test_kv_dtype_alone_halves_the_kv_cache(capsys):
    args = ("report", "--phase", "decode", "--batch", "1", "--cached", "1024")
    base = run_json(capsys, *args)
    fp8 = run_json(capsys, *args, "--kv-dtype", "fp8")
    assert fp8["phases"]["decode"]["terms"]["bytes"]["kv/read"] == 2 * N * KV * D_H * 1024 * 1    # 1 byte
    assert base["phases"]["decode"]["terms"]["bytes"]["kv/read"] == 2 * N * KV * D_H * 1024 * 2
    same = "weights/attention/q"
    assert fp8["phases"]["decode"]["terms"]["bytes"][same] == base["phases"]["decode"]["terms"]["bytes"][same]
    assert fp8["memory"]["kv_bytes_per_token"] == KV_PER_TOKEN // 2 and fp8["dtype"] == "bf16"


def test_w4a16_weights_at_half_a_byte_compute_in_bf16(capsys):
    r = run_json(capsys, "report", "--phase", "decode", "--batch", "1", "--cached", "0", "--weights-dtype", "int4")
    assert r["phases"]["decode"]["terms"]["bytes"]["weights/attention/q"] == N * H * H // 2     # half a byte each
    assert r["dtype"] == "bf16" and r["peak_flops_per_s"] == 989 * 10**12
    assert r["memory"]["weights_bytes"] == LLAMA_3_8B_PARAMS // 2


def test_w8a8_and_the_compute_dtype(capsys):
    r = run_json(capsys, "report", "--weights-dtype", "fp8", "--act-dtype", "fp8")
    assert r["dtype"] == "fp8" and r["peak_flops_per_s"] == 1979 * 10**12       # H100 SXM fp8 dense
    r = run_json(capsys, "report", "--compute-dtype", "fp8")
    assert r["dtype"] == "fp8" and r["memory"]["weights_bytes"] == WEIGHT_BYTES   # bytes unchanged
    # a role's own option wins over --dtype
    r = run_json(capsys, "report", "--dtype", "fp8", "--kv-dtype", "bf16")
    assert r["memory"]["kv_bytes_per_token"] == KV_PER_TOKEN and r["memory"]["weights_bytes"] == LLAMA_3_8B_PARAMS
    assert "--kv-dtype='fp3' is not a known dtype" in refused(capsys, "report", "--kv-dtype", "fp3")
    assert "A100-80GB has no fp8 peak" in refused(capsys, "report", "--gpu", "A100", "--compute-dtype", "fp8")


# ---- hardware from the command line ----------------------------------------------------------------------


def test_custom_gpu_from_options(capsys):
    """scaling-book's TPU v5e: 197 TFLOP/s bf16, 819 GB/s, 16 GiB."""
    r = run_json(capsys, "report", "--gpu", "custom", "--peak-tflops", "197", "--bandwidth-gbs", "819",
                 "--memory-gib", "16")
    assert r["gpu"] == "custom" and r["peak_flops_per_s"] == 197 * 10**12
    assert r["bandwidth_bytes_per_s"] == 819 * 10**9 and r["balance_exact"] == str(Fraction(197_000, 819))
    assert r["capacity_bytes"] == 16 * 2**30
    assert r["usable_bytes"] == str(Fraction(9, 10) * 16 * 2**30)                 # "77309411328/5"
    assert "--gpu custom needs --bandwidth-gbs" in refused(capsys, "report", "--gpu", "custom", "--peak-tflops", "1")
    assert "'-3' must be positive" in refused(capsys, "report", "--peak-tflops", "-3")
    assert "'nan' is not a number" in refused(capsys, "report", "--bandwidth-gbs", "nan")
    assert "must be a fraction in (0, 1]" in refused(capsys, "report", "--usable-fraction", "1.5")


def test_options_change_a_catalogue_part(capsys):
    r = run_json(capsys, "report", "--gpu", "H100-SXM", "--memory-gib", "94", "--usable-fraction", "1",
                 "--flops-efficiency", "0.5", "--bandwidth-efficiency", "0.8")
    assert r["capacity_bytes"] == r["usable_bytes"] == 94 * 2**30
    assert r["peak_flops_per_s"] == 989 * 10**12 // 2 and r["bandwidth_bytes_per_s"] == 3350 * 10**9 * 4 // 5
    assert r["balance_exact"] == str(Fraction(989 * 10**12 // 2, 3350 * 10**9 * 4 // 5))
    _code, out, _ = run(capsys, "report", "--flops-efficiency", "0.5")
    assert "note: achieved 50% of peak FLOP/s and 100% of bandwidth" in out


def test_hardware_file(capsys, tmp_path):
    path = tmp_path / "tpu.toml"
    path.write_text('["v5e"]\npeak_flops_per_s = 1.97e14\nbandwidth_bytes_per_s = 8.2e11\n'
                    'capacity_bytes = 17179869184\nsource = "scaling-book"\n')
    r = run_json(capsys, "report", "--hardware-file", str(path))
    assert r["gpu"] == "v5e" and r["balance_exact"] == str(Fraction(197, 820) * 1000)   # 9850/41
    listed = run_json(capsys, "hardware", "--hardware-file", str(path))["hardware"]
    assert [h["name"] for h in listed] == ["v5e"] and listed[0]["usable_bytes"] == str(Fraction(9, 10) * 2**34)
    path.write_text(path.read_text() + '["v5p"]\npeak_flops_per_s = 4.59e14\nbandwidth_bytes_per_s = 2.765e12\n')
    assert "has 2 rows (v5e, v5p); pick one with --gpu" in refused(capsys, "report", "--hardware-file", str(path))
    assert run_json(capsys, "report", "--hardware-file", str(path), "--gpu", "v5p")["gpu"] == "v5p"
    assert "no such row" in refused(capsys, "report", "--hardware-file", str(path), "--gpu", "v6e")
    path.write_text('["x"]\npeak_flops_per_s = 1e12\nbandwith_bytes_per_s = 1e9\n')
    assert "unknown field 'bandwith_bytes_per_s'" in refused(capsys, "report", "--hardware-file", str(path))


def test_gpu_alias_is_named(capsys):
    r = run_json(capsys, "report", "--gpu", "H100")
    assert (r["gpu"], r["gpu_alias"]) == ("H100-SXM", "H100")
    _, out, _ = run(capsys, "report", "--gpu", "H100")
    assert "note: --gpu H100 → H100-SXM" in out.splitlines()
    _code, out, _ = run(capsys, "crossover", "--gpu", "H100")
    assert "note: --gpu H100 → H100-SXM" in out.splitlines()
    assert run_json(capsys, "report", "--gpu", "H100-SXM")["gpu_alias"] is None


def test_family_reads_an_unknown_model_type(capsys, tmp_path):
    """Llama-2-7B's config renamed: 32 layers of 4·H² attention + 3·H·11008 FFN + 2 norms, embeddings 2·V·H."""
    config = json.loads((DATA / "llama-2-7b.json").read_text()) | {"model_type": "my_llama"}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    params = 32 * (4 * 4096**2 + 3 * 4096 * 11008 + 2 * 4096) + 2 * 32000 * 4096 + 4096
    assert params == 6_738_415_616
    assert "my_llama" in refused(capsys, "report", "--hf-config", str(path))
    r = run_json(capsys, "report", "--hf-config", str(path), "--family", "llama")
    assert r["parameters"]["total"] == params
    assert "--family applies to --hf-config only" in refused(capsys, "report", "--family", "llama")


# ---- crossover ------------------------------------------------------------------------------------------


def test_crossover_memory_at_b_star(capsys):
    """002 on the A100 80GB at S_c = 0: B* = 154.6 (test_cli), so ceil 155 sequences of 1 token each. On a
    16.65 GiB part: (0.9 · 16.65 · 2^30 − weights) / per sequence, rounded down."""
    per_sequence = 1 * KV_PER_TOKEN + activation_bytes(1)
    args = ("crossover", "--gpu", "A100-80GB", "--conventions", "002", "--cached", "0")
    r = run_json(capsys, *args)
    assert r["ceiling"] == 155 and r["fits"] is True
    assert r["fit"]["needed_bytes"] == WEIGHT_BYTES + 155 * per_sequence
    usable = Fraction(9, 10) * Fraction(1665, 100) * 2**30
    largest = int((usable - WEIGHT_BYTES) // per_sequence)
    assert largest == 41            # (16,090,021,232.64 − 16,060,522,496) / 717,824 = 41.1
    small = run_json(capsys, *args, "--memory-gib", "16.65")
    assert small["fits"] is False and small["max_batch"] == largest
    _code, out, _ = run(capsys, *args, "--memory-gib", "16.65")
    assert "memory at B = 155: does not fit on 1 GPU" in out and "the largest batch that fits is 41" in out


def test_crossover_prints_a_bracket(capsys):
    """DeepSeek-V3's touched experts make the intensity non-polynomial in B: a numeric root in its bracket."""
    args = ("crossover", "--hf-config", str(DATA / "deepseek-v3.json"), "--gpu", "H200", "--cached", "4096")
    r = run_json(capsys, *args)
    lo, hi = r["bracket"]
    assert hi - lo == 1 and lo <= r["approx"] <= hi and r["ceiling"] == hi
    _code, out, _ = run(capsys, *args)
    assert f"bracketed in [{lo}, {hi}]" in out


def test_crossover_closed_form_has_a_positive_denominator(capsys):
    r = run_json(capsys, "crossover")                       # decode, S_c a symbol
    _numerator, _, denominator = r["closed_form"].partition("/")
    assert not r["closed_form"].startswith("-") and not denominator.lstrip("(").startswith("-")
    from tests.test_cli import parse
    assert (parse(r["closed_form"]) - parse(r["value"])).equals(0)
    _code, out, _ = run(capsys, "crossover")
    assert f"B* = {r['closed_form']}" in out


def test_limit_without_bound_is_said_in_words(capsys):
    _code, out, _ = run(capsys, "crossover", "--phase", "prefill", "--unknown", "S", "--batch", "1")
    assert "intensity as S → ∞: ∞ (grows without bound as S grows)" in out and ": oo" not in out


# ---- models and hardware -------------------------------------------------------------------------------


def test_models_hf_config_one_row(capsys):
    rows = run_json(capsys, "models", "--hf-config", str(DATA / "llama-2-7b.json"))["models"]
    assert len(rows) == 1 and rows[0]["parameters"] == 6_738_415_616
    _code, out, _ = run(capsys, "models")
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert names == sorted(names)


def test_hardware_rows_fit_in_120_columns(capsys, tmp_path):
    code, out, _ = run(capsys, "hardware")
    assert code == 0 and max(map(len, out.splitlines())) <= 120
    assert "80 GiB (90% usable)" in out                       # the H100's usable memory
    path = tmp_path / "hw.toml"
    path.write_text('["slow"]\npeak_flops_per_s = 1e12\nbandwidth_bytes_per_s = 1e9\nflops_efficiency = 0.7\n')
    code, out, _ = run(capsys, "hardware", "--hardware-file", str(path))
    assert "70% FLOP/s, 100% B/s" in out                     # efficiency shown when not 1


# ---- command-line habits -------------------------------------------------------------------------------


def test_version(capsys):
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["--version"])
    assert done.value.code == 0
    out, _ = capsys.readouterr()
    assert out == f"symroof {version}\n"
    assert run(capsys, "--version")[:2] == (0, f"symroof {version}\n")


def test_short_options_mean_the_long_ones(capsys):
    short = run_json(capsys, "report", "-m", "gpt2", "-g", "A100", "-b", "8", "-s", "16")
    long = run_json(capsys, "report", "--model", "gpt2", "--gpu", "A100", "--batch", "8", "--seq", "16")
    assert short == long and short["phases"]["prefill"]["values"] == {"B": 8, "S": 16}


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_help_documents_every_option(capsys, name):
    parser = _subcommands()[name]
    code, out, _ = run(capsys, name, "--help")
    assert code == 0
    for action in parser._actions:
        assert action.help and action.help != argparse.SUPPRESS, (name, action.option_strings)
        for option in action.option_strings:
            assert option in out, (name, option)


def test_plot_dpi_and_short_out(capsys, tmp_path):
    out = tmp_path / "r.png"
    code, printed, _err = run(capsys, "plot", "-o", str(out), "--dpi", "50")
    assert code == 0 and printed.strip() == str(out)
    width, height = struct.unpack(">II", out.read_bytes()[16:24])    # the PNG's IHDR
    assert (width, height) == (6.4 * 50, 4.8 * 50)                   # 6.4 × 4.8 in at 50 dpi
    assert "--dpi 5 must be from 10 to 2000" in refused(capsys, "plot", "--dpi", "5", "-o", str(out))


def test_options_that_do_not_apply_are_refused(capsys):
    assert "apply to latex --document only" in refused(capsys, "latex", "--peak-tflops", "100")
    assert "--family applies to --hf-config only" in refused(capsys, "models", "--family", "llama")
    assert "unrecognized arguments: --dpi" in refused(capsys, "report", "--dpi", "100")


# ---- plots: the largest batch that fits ----------------------------------------------------------------


def test_plots_draw_the_largest_batch_that_fits():
    """Llama-3-8B decode at S_c = 1024 on the H100: (0.9 · 80 GiB − weights) // per sequence of 1025 tokens."""
    from symroof.output.plot import intensity_vs_batch, time_per_token

    largest = (H100_USABLE - WEIGHT_BYTES) // (1025 * KV_PER_TOKEN + activation_bytes(1))
    assert largest == 453
    for fig in (intensity_vs_batch("llama-3-8b", "H100-SXM", context=1024),
                time_per_token("llama-3-8b", "H100-SXM", context=1024)):
        (line,) = [ln for ln in fig.axes[0].lines if (ln.get_gid() or "").startswith("max-batch:")]
        assert line.get_xdata()[0] == largest
        assert f"largest batch that fits (H100-SXM): {largest}" in line.get_label()
        assert line.get_label() in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_latex_request_prints_the_sum_of_the_steps():
    """``latex --request``: the request's FLOPs are the prefill of S plus the G decode steps over
    S_c = S .. S+G−1, here summed by a plain loop of symroof.prefill and symroof.decode."""
    import contextlib
    import io
    import json as _json

    import symroof as _symroof
    from symroof.output.cli import main as _main

    llama = _symroof.models.get("llama-3-8b")
    total = _symroof.prefill(llama, "exact", B=2, S=7).flops + sum(
        _symroof.decode(llama, "exact", B=2, S_c=x).flops for x in range(7, 7 + 5))
    # and by hand: per sequence the prefill of 7 tokens, then a step of one token over x = 7..11 cached, each
    # 2 FLOPs per layer weight, 2·2·n_h·d_h per query-key pair (x + 1 of them) and the LM head once
    weights = 2 * H * H + 2 * H * KV * D_H + 3 * H * FFN
    steps = sum(N * (2 * weights + 2 * 2 * HEADS * D_H * (x + 1)) + 2 * H * VOCAB for x in range(7, 12))
    assert total == 2 * (_prefill_flops(7) + steps)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert _main(["latex", "-m", "llama-3-8b", "--request", "--prompt", "7", "--gen", "5", "-b", "2",
                      "--json"]) == 0
    assert _json.loads(out.getvalue())["request"][0] == rf"\text{{FLOPs}}_\text{{request}} = {total}"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert _main(["latex", "-m", "llama-3-8b", "--request", "--prompt", "7", "--gen", "5", "-b", "2"]) == 0
    assert out.getvalue().splitlines()[0] == rf"\[ \text{{FLOPs}}_\text{{request}} = {total} \]"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert _main(["latex", "-m", "llama-3-8b", "--gen", "5"]) == 2
    assert "--prompt and --gen apply to latex --request only" in err.getvalue()
