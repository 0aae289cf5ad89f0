"""The ``symroof`` command line, run in-process through `symroof.cli.main` (and twice as a console script).

Expected numbers are derived by hand in the tests (the arithmetic is written out) or come from seed 000's
formulas; none is the code's own output pasted back.
"""

import json
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import sympy
from sympy.parsing.sympy_parser import auto_number, parse_expr

from symroof import symbols
from symroof.output.cli import main

DATA = Path(__file__).parent / "data"
H100_BALANCE = 989e12 / 3.35e12             # H100 SXM datasheet: 989 TFLOP/s bf16 dense, 3.35 TB/s (the default GPU)
A100_BALANCE = Fraction(312_000, 2039)      # A100 80GB SXM datasheet: 312 TFLOP/s, 2,039 GB/s


def parse(text: str) -> sympy.Expr:
    """An expression symroof printed, read with a whitelist: symroof's symbols and numbers, no builtins."""
    allowed = {"__builtins__": {}, "Integer": sympy.Integer, "Float": sympy.Float, "Rational": sympy.Rational}
    return parse_expr(text, local_dict=dict(symbols.ALL), global_dict=allowed, transformations=(auto_number,))


def bisect(f, lo: float, hi: float) -> float:
    """The root of an increasing float64 function on [lo, hi]."""
    assert f(lo) < 0 < f(hi)
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)
    return (lo + hi) / 2


def test_parse_refuses_names_outside_the_whitelist():
    assert parse("2*B*S_c/3") == sympy.Rational(2, 3) * symbols.B * symbols.S_c
    for text in ("__import__('os')", "open('x')", "x + 1"):
        with pytest.raises(NameError):
            parse(text)


# One token through a decoder layer, `exact` conventions: each weight it is multiplied by costs 2 FLOPs;
# each query-key pair costs 2·n_h·d_qk for the score and 2·n_h·d_v for the value; the LM head 2·H·V on the
# last position. Norms, biases, activation functions and the embedding lookup are not matmuls.
def layer_flops(tokens, pairs, *, H, n_h, n_kv, d_h, ffn_weights):
    attention_weights = H * n_h * d_h + 2 * H * n_kv * d_h + n_h * d_h * H      # W_Q, W_K, W_V, W_O
    return 2 * tokens * (attention_weights + ffn_weights) + 2 * 2 * n_h * d_h * pairs


def llama_3_8b_flops(tokens, pairs):
    """Llama-3-8B (tests/data/llama-3-8b.json): 32 layers, H 4096, 32/8 heads of 128, gated FFN 14336, V 128256."""
    return 32 * layer_flops(tokens, pairs, H=4096, n_h=32, n_kv=8, d_h=128, ffn_weights=3 * 4096 * 14336) \
        + 2 * 4096 * 128256


def _deepseek_v3():
    """tests/data/deepseek-v3.json: 61 layers, H 7168, MLA with 128 heads (q_lora 1536, kv_lora 512, qk 128 + 64
    rope, v 128), the first 3 FFNs dense (18432 gated), then 8 of 256 routed experts + 1 shared (2048 gated) and
    a (7168, 256) router; vocab 129280. MLA projections as written (naive): q_a, q_b, kv_a, kv_b, o."""
    H, n_h, qk, v = 7168, 128, 128 + 64, 128
    mla = H * 1536 + 1536 * n_h * qk + H * (512 + 64) + 512 * n_h * (128 + v) + n_h * v * H
    attention = 2 * mla + 2 * n_h * qk + 2 * n_h * v                  # one query-key pair
    return (3 * (attention + 2 * 3 * H * 18432) + 58 * (attention + 2 * (9 * 3 * H * 2048 + H * 256))
            + 2 * H * 129280)


# decode of one token over an empty cache: one query-key pair per head
DECODE_ONE_TOKEN = {
    "llama-3-8b": llama_3_8b_flops(1, 1),
    "mistral-7b": 32 * layer_flops(1, 1, H=4096, n_h=32, n_kv=8, d_h=128, ffn_weights=3 * 4096 * 14336)
    + 2 * 4096 * 32000,
    "qwen2.5-7b": 28 * layer_flops(1, 1, H=3584, n_h=28, n_kv=4, d_h=128, ffn_weights=3 * 3584 * 18944)
    + 2 * 3584 * 152064,
    "gpt2": 12 * layer_flops(1, 1, H=768, n_h=12, n_kv=12, d_h=64, ffn_weights=2 * 768 * 3072)
    + 2 * 768 * 50257,                                   # the tied LM head is still a matmul
    "mixtral-8x7b": 32 * layer_flops(1, 1, H=4096, n_h=32, n_kv=8, d_h=128,
                                     ffn_weights=2 * 3 * 4096 * 14336 + 4096 * 8)   # 2 of 8 experts, router
    + 2 * 4096 * 32000,
    "gemma-2b": 18 * layer_flops(1, 1, H=2048, n_h=8, n_kv=1, d_h=256, ffn_weights=3 * 2048 * 16384)
    + 2 * 2048 * 256000,                                 # MQA
    "pythia-160m": 12 * layer_flops(1, 1, H=768, n_h=12, n_kv=12, d_h=64, ffn_weights=2 * 768 * 3072)
    + 2 * 768 * 50304,
    "qwen3-0.6b": 28 * layer_flops(1, 1, H=1024, n_h=16, n_kv=8, d_h=128, ffn_weights=3 * 1024 * 3072)
    + 2 * 1024 * 151936,                                 # n_h·d_h = 2048, twice H
    "deepseek-v3": _deepseek_v3(),
}


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def report_phase(capsys, *argv):
    """`report --phase P --json`: the header fields and those of the one phase (nested under ``phases``)."""
    r = run_json(capsys, *argv)
    (phase,) = r["phases"].values()
    return {**r, **phase}


# ---- report -----------------------------------------------------------------------------------------


def test_quick_start_report(capsys):
    """README's quick start: Llama-3-8B on an H100 SXM, prefill and decode, each with its bound."""
    code, out, err = run(capsys, "report")
    assert code == 0 and err == ""
    assert "llama-3-8b on H100-SXM" in out
    lines = out.splitlines()
    prefill = next(line for line in lines if line.startswith("prefill"))
    decode = next(line for line in lines if line.startswith("decode"))
    # 002: a 1024-token prompt is compute-bound, one decoded token at batch 1 is memory-bound
    assert "compute-bound" in prefill and "memory-bound" in decode
    assert "FLOPs" in out and "bytes" in out and "intensity" in out
    # the prefill row's numbers by hand: one 1024-token prompt (causal pairs 1024·1025/2); bytes the bf16
    # weights but the embedding table, of which 1024 rows are gathered, the prompt's K and V written
    # (131,072 bytes a token) and fused activations 3·32·4096·2 a token; compute-bound at 989 TFLOP/s
    flops = llama_3_8b_flops(1024, 1024 * 1025 // 2)
    nbytes = 2 * (8_030_261_248 - 128256 * 4096) + 1024 * (4096 * 2 + 131_072 + 3 * 32 * 4096 * 2)
    assert nbytes == 15_957_762_048
    seconds = flops / 989e12
    fields = prefill.split()
    assert fields[:3] == ["prefill", "B=1,", "S=1024"]
    assert fields[3:7] == [f"{flops / 1e12:.4g}", "TFLOP", f"{nbytes / 1e9:.4g}", "GB"] == ["14.57", "TFLOP",
                                                                                            "15.96", "GB"]
    assert fields[7] == f"{flops / nbytes:.4g}" == "913"
    assert fields[9:11] == [f"{seconds * 1e3:.4g}", "ms"] == ["14.73", "ms"]
    assert float(fields[11]) == float(f"{1024 / seconds:.4g}")              # 1024 tokens in 14.73 ms
    # what must fit: the weights, the KV of 1024 tokens and the prefill's activations, 1024 tokens of
    # (2·4096 + 2·14336)·2 bytes and the last position's fp32 logits, 128256·4
    kv, act = 1024 * 131_072, 1024 * (2 * 4096 + 2 * 14336) * 2 + 128256 * 4
    assert f"KV cache {kv / 1e6:.4g} MB at B=1, 1024 tokens" in out and act == 76_010_496
    assert (f"fits: weights 16.06 GB + KV 134.2 MB + activations {act / 1e6:.4g} MB = "
            f"{(2 * 8_030_261_248 + kv + act) / 1e9:.4g} GB of 77.31 GB usable on 1 GPU") in out


def test_dtype_replaces_a_checkpoints_quantisation(capsys, tmp_path):
    # DeepSeek-V3's config ships fp8 block-quantised weights; --dtype bf16 must price every tensor
    # at 2 bytes, exactly as the same config without its quantization_config (torch_dtype bf16)
    config = json.loads((DATA / "deepseek-v3.json").read_text())
    assert config["quantization_config"]["quant_method"] == "fp8"
    plain = tmp_path / "deepseek-v3-bf16.json"
    plain.write_text(json.dumps({k: v for k, v in config.items() if k != "quantization_config"}))
    args = ("report", "--phase", "decode", "--batch", "1", "--cached", "0")
    quantised = report_phase(capsys, *args, "--hf-config", str(DATA / "deepseek-v3.json"))
    forced = report_phase(capsys, *args, "--hf-config", str(DATA / "deepseek-v3.json"), "--dtype", "bf16")
    unquantised = report_phase(capsys, *args, "--hf-config", str(plain))
    assert forced["bytes"] == unquantised["bytes"]
    assert quantised["bytes"] < forced["bytes"]     # fp8 matrices: about half the weight bytes
    # by hand: each fp8 matrix a decode step of one token reads stores 1 byte per weight and one fp32 scale per
    # 128x128 block (FP8Linear's weight_scale_inv), against 2 bytes per weight in bf16; the embedding, LM head,
    # router and norms are bf16 either way. One token reads, per layer, the MLA matrices q_a (H -> 1536),
    # q_b (1536 -> 128·192), kv_a (H -> 512 + 64), kv_b (512 -> 128·256) and o (128·128 -> H); the 3 dense
    # FFNs (18432 wide); and in the 58 MoE layers its 8 routed experts and the shared one (2048 wide)
    H = 7168

    def saved(n_in, n_out):                         # 2·in·out − (in·out + 4·ceil(in/128)·ceil(out/128))
        return n_in * n_out - 4 * -(-n_in // 128) * -(-n_out // 128)

    attention = saved(H, 1536) + saved(1536, 128 * 192) + saved(H, 576) + saved(512, 128 * 256) + saved(128 * 128, H)
    ffn = 2 * saved(H, 18432) + saved(18432, H)
    expert = 2 * saved(H, 2048) + saved(2048, H)
    assert forced["bytes"] - quantised["bytes"] == 61 * attention + 3 * ffn + 58 * 9 * expert == 35_582_791_328


def test_hf_config_decode_json_equals_hand_computation(capsys):
    """Llama-2-7B (tests/data/llama-2-7b.json), decode, B=8 over S_c=1024 cached tokens, `exact` conventions.

    Per layer, t = B·S_i = 8 tokens, H = n_h·d_h = 4096 (MHA), F = 11008:
      projections q, k, v, o: 4 · 2·t·H·H        = 4 · 2·8·4096·4096     = 1,073,741,824
      scores + values, causal: S_i·S_c + S_i(S_i+1)/2 = 1025 query-key pairs per sequence and head,
                               2 · 2·B·n_h·1025·d_h = 2 · 2·8·32·1025·128  =   134,348,800
      gated FFN: 3 · 2·t·H·F                      = 3 · 2·8·4096·11008    = 2,164,260,864
      layer total                                                          = 3,372,351,488
    32 layers: 107,915,247,616; LM head on the last position: 2·B·H·V = 2·8·4096·32000 = 2,097,152,000.
    """
    layer = 4 * 2 * 8 * 4096 * 4096 + 2 * 2 * 8 * 32 * 1025 * 128 + 3 * 2 * 8 * 4096 * 11008
    assert layer == 3_372_351_488
    expected = 32 * layer + 2 * 8 * 4096 * 32000
    assert expected == 110_012_399_616
    r = report_phase(capsys, "report", "--hf-config", str(DATA / "llama-2-7b.json"), "--phase", "decode",
                 "--batch", "8", "--cached", "1024")
    assert r["flops"] == expected and isinstance(r["flops"], int)
    # bytes by hand: every fp16 weight of the 6,738,415,616 (the published count) but the 32000·4096 embedding
    # table, of which the lookup gathers B = 8 rows; K and V (MHA: 4096 wide) of 1024 cached tokens read and of
    # the new one written, 2·32·4096·2 = 524,288 bytes per token and sequence; fused activations 3·N·B·H·2
    kv_per_token = 2 * 32 * 4096 * 2
    nbytes = (2 * (6_738_415_616 - 32000 * 4096) + 8 * 4096 * 2 + 8 * 1024 * kv_per_token + 8 * kv_per_token
              + 3 * 32 * 8 * 4096 * 2)
    assert nbytes == 17_520_205_824
    assert r["bytes"] == nbytes and isinstance(r["bytes"], int)
    assert r["terms"]["bytes"]["kv/read"] == 8 * 1024 * kv_per_token
    assert sum(r["terms"]["flops"].values()) == r["flops"]
    assert sum(r["terms"]["bytes"].values()) == r["bytes"]
    assert r["terms"]["flops"]["lm_head"] == 2_097_152_000
    p, q = map(int, r["intensity_exact"].split("/"))
    assert Fraction(p, q) == Fraction(r["flops"], r["bytes"])
    assert r["intensity"] == pytest.approx(r["flops"] / r["bytes"])
    assert r["bound"] == "memory" and r["values"] == {"B": 8, "S_c": 1024}


def test_gpt2_under_seed_000_formulas(capsys):
    """GPT-2 is MHA with an FFN of 4H, so 000's decode formulas apply exactly (N=12, H=768, B=8, S_c=1024, S_i=1).

    FLOPs = N(24·B·S_i·H² + 4·B·S_i·S_c·H)          = 12·(24·8·768² + 4·8·1024·768) = 1,660,944,384
    bytes = 2·Z·10⁹ + 4·N·B·S_i·H + N(B·S_c·H + 2·B·S_i·H)·2, with Z·10⁹ = 124,439,808 parameters (no params_b)
    """
    flops = 12 * (24 * 8 * 768**2 + 4 * 8 * 1024 * 768)
    nbytes = 2 * 124_439_808 + 4 * 12 * 8 * 768 + 12 * (8 * 1024 * 768 + 2 * 8 * 768) * 2
    assert (flops, nbytes) == (1_660_944_384, 400_464_384)
    r = report_phase(capsys, "report", "--model", "gpt2", "--conventions", "000", "--phase", "decode",
                 "--batch", "8", "--cached", "1024")
    assert (r["flops"], r["bytes"]) == (flops, nbytes)
    assert r["conventions"] == "arithmetic-intensity"


@pytest.mark.parametrize("name", sorted(DECODE_ONE_TOKEN))
def test_report_reads_every_family(capsys, name):
    """Decode FLOPs of one token over an empty cache, counted by hand from each config (above)."""
    r = report_phase(capsys, "report", "--hf-config", str(DATA / f"{name}.json"), "--phase", "decode",
                 "--batch", "1", "--cached", "0")
    assert r["flops"] == DECODE_ONE_TOKEN[name] and isinstance(r["flops"], int)
    # about 2 FLOPs per 2-byte weight read: intensity near 1, far below the H100's 295
    assert r["bound"] == "memory"


def test_quick_report_json_has_both_phases(capsys):
    """Llama-3-8B at batch 1: a 1024-token prompt (causal: 1024·1025/2 query-key pairs per head), then one
    token over those 1024 (1025 pairs, its own key included); the LM head on the last position each time."""
    r = run_json(capsys, "report")
    assert set(r["phases"]) == {"prefill", "decode"}
    assert r["phases"]["prefill"]["values"] == {"B": 1, "S": 1024}
    assert r["phases"]["prefill"]["flops"] == llama_3_8b_flops(1024, 1024 * 1025 // 2) == 14_569_848_176_640
    assert r["phases"]["decode"]["flops"] == llama_3_8b_flops(1, 1025) == 15_546_712_064
    assert r["balance_exact"] == "19780/67"          # 989 TFLOP/s / 3.35 TB/s (H100 SXM datasheet)


def test_symbolic_report_keeps_sizes_as_symbols(capsys):
    r = report_phase(capsys, "report", "--model", "symbolic", "--conventions", "000", "--phase", "decode")
    B, H, N, S_c = symbols.B, symbols.H, symbols.N, symbols.S_c
    flops = parse(r["flops"])
    assert sympy.expand(flops - N * (24 * B * H**2 + 4 * B * S_c * H)) == 0      # 000's decode FLOPs, S_i = 1
    assert r["bound"] is None and set(r["symbols"]) >= {"B", "S_c", "H", "N"}
    code, out, _ = run(capsys, "report", "--phase", "decode")
    assert code == 0 and "symbols: B, S_c" in out


def test_symbolic_in_batch_only_reports_the_crossover(capsys):
    code, out, _ = run(capsys, "report", "--phase", "decode", "--cached", "0", "--gpu", "A100-80GB",
                       "--conventions", "002")
    assert code == 0 and "symbols: B" in out and "compute-bound" in out
    r = report_phase(capsys, "report", "--phase", "decode", "--cached", "0", "--gpu", "A100-80GB",
                     "--conventions", "002")
    p, q = map(int, r["crossover_batch"]["value"].split("/"))
    assert Fraction(p, q) == LLAMA_3_8B_DECODE_CROSSOVER          # worked out in test_crossover_batch_by_hand


def test_dtype_sets_bytes_and_peak(capsys):
    base = report_phase(capsys, "report", "--phase", "decode", "--batch", "1", "--cached", "0")
    fp8 = report_phase(capsys, "report", "--phase", "decode", "--batch", "1", "--cached", "0", "--dtype", "fp8")
    assert fp8["terms"]["bytes"]["weights/attention/q"] * 2 == base["terms"]["bytes"]["weights/attention/q"]
    # W_Q of 32 layers, 4096·4096 weights: 2 bytes each in bf16, 1 in fp8
    assert base["terms"]["bytes"]["weights/attention/q"] == 32 * 4096 * 4096 * 2
    assert fp8["terms"]["bytes"]["weights/attention/q"] == 32 * 4096 * 4096
    assert fp8["dtype"] == "fp8" and fp8["peak_flops_per_s"] == 1_979_000_000_000_000   # H100 SXM fp8 dense


def test_tp_splits_the_time(capsys):
    one = report_phase(capsys, "report", "--phase", "prefill", "--batch", "1", "--seq", "512")
    two = report_phase(capsys, "report", "--phase", "prefill", "--batch", "1", "--seq", "512", "--tp", "2")
    assert two["time_s"]["compute"] == pytest.approx(one["time_s"]["compute"] / 2)
    # the prompt's FLOPs (512 tokens, causal: 512·513/2 query-key pairs per head) at 989 TFLOP/s, on 1 and 2 GPUs
    assert one["time_s"]["compute"] == pytest.approx(llama_3_8b_flops(512, 512 * 513 // 2) / 989e12, rel=1e-12)
    assert two["time_s"]["compute"] == pytest.approx(llama_3_8b_flops(512, 512 * 513 // 2) / (2 * 989e12),
                                                     rel=1e-12)
    # Megatron's split: 2 all-reduces per layer of the (512, 4096) bf16 hidden state, 4,194,304 bytes; a ring
    # over 2 GPUs sends 2·(2 − 1)/2 of it in 2·(2 − 1) steps, over the H100 SXM's 450 GB/s NVLink each way,
    # each all-reduce paying NCCL's 6.6 µs and 0.6 µs per step: 0.5965 ms + 0.4992 ms
    all_reduces, message = 2 * 32, 512 * 4096 * 2
    comm = all_reduces * (2 * 1 / 2 * message / 450e9 + 6.6e-6 + 2 * 1 * 0.6e-6)
    assert two["time_s"]["comm"] == pytest.approx(comm, rel=1e-12) and one["time_s"]["comm"] == 0


def test_comm_chooses_the_communication_model(capsys):
    # Llama-3-8B (32 layers, H = 4096, bf16) decoding one token on 8 H100 SXM (NVLink 450 GB/s each way)
    args = ("report", "--phase", "decode", "--batch", "1", "--cached", "0", "--tp", "8")
    none = report_phase(capsys, *args, "--comm", "none")
    assert none["time_s"]["comm"] == 0 and none["time_s"]["comm_model"] == "none"
    # 2 all-reduces per layer of 4096·2 = 8,192 bytes, 2·7/8 of it sent in 14 ring steps:
    # 64 · (14,336 / 450e9 + 6.6 µs + 14 · 0.6 µs)
    ring = report_phase(capsys, *args, "--comm", "allreduce")
    assert ring["time_s"]["comm"] == pytest.approx(64 * (14_336 / 450e9 + 6.6e-6 + 14 * 0.6e-6), rel=1e-12)
    # 003's model under the exact conventions: 32 layers · 4 messages · 10 µs, and 32·4·4096 values of
    # 2 bytes; under its own conventions, as 003 prints it, values counted as bytes (one per value)
    seed = report_phase(capsys, *args, "--comm", "003")
    assert seed["time_s"]["comm"] == pytest.approx(32 * 4 * 10e-6 + 2 * 32 * 4 * 4096 / 450e9, rel=1e-12)
    printed = report_phase(capsys, *args, "--conventions", "003")
    assert printed["time_s"]["comm"] == pytest.approx(32 * 4 * 10e-6 + 32 * 4 * 4096 / 450e9, rel=1e-12)
    assert ring["time_s"]["total"] == pytest.approx(none["time_s"]["total"] + ring["time_s"]["comm"], rel=1e-12)


def test_rich_table_on_a_terminal(capsys, monkeypatch):
    pytest.importorskip("rich")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code, out, _ = run(capsys, "models")
    assert code == 0 and "llama-3-8b" in out and ("━" in out or "─" in out)


# ---- latex, crossover, catalogues -----------------------------------------------------------------------


def test_latex_general_decode(capsys):
    code, out, err = run(capsys, "latex", "--phase", "decode")
    assert code == 0 and err == ""
    assert all(line.startswith(r"\[ ") and line.endswith(r" \]") for line in out.splitlines())  # all math
    assert r"\text{FLOPs} = " in out and r"\text{Intensity} = \frac{" in out and "S_c" in out
    code, out, _ = run(capsys, "latex", "--model", "symbolic", "--conventions", "000", "--only", "intensity")
    assert code == 0 and out.startswith(r"\frac{") and len(out.splitlines()) == 1
    r = run_json(capsys, "latex", "--model", "symbolic", "--phase", "prefill", "--batch", "1")
    assert set(r) >= {"flops", "bytes", "intensity"} and "S" in r["flops"] and "B" not in r["flops"]


def _plain(tex: str) -> str:
    """LaTeX without spacing, braces and \\left/\\right, to compare with a seed's text."""
    for old, new in ((r"\left", ""), (r"\right", ""), (r"\text{e}^{9}", "10^9"), ("{", ""), ("}", ""), (" ", "")):
        tex = tex.replace(old, new)
    return tex


@pytest.mark.parametrize("phase,seed_line", [
    # seed 000, lines 144 and 153 (prefill and decode intensity, fp16)
    ("prefill", r"\frac{N (24 B S H^2 + 4 B S^2 H)}{2 Z 10^9 + 4 N B S H}"),
    ("step", r"\frac{N (24 B S_i H^2 + 4 B S_i S_c H)}{2 Z \text{e}^{9} + 8 N B S_i H + 2 N B S_c H}"),
])
def test_latex_prints_seed_000s_intensity(capsys, phase, seed_line):
    code, out, _ = run(capsys, "latex", "--model", "symbolic", "--conventions", "000", "--dtype", "fp16",
                       "--phase", phase, "--only", "intensity")
    assert code == 0 and _plain(out.strip()) == _plain(seed_line)


def test_latex_document(capsys):
    code, out, err = run(capsys, "latex", "--document", "--gpu", "H100-SXM", "--cached", "1024", "--seq", "512")
    assert code == 0 and err == ""
    assert out.startswith(r"\documentclass") and out.rstrip().endswith(r"\end{document}")
    assert "prefill" in out.lower() and "decode" in out.lower()


LLAMA_3_8B_DECODE_CROSSOVER = Fraction(312000 * 436_207_616, 436_224_000 * 2039 - 312000 * 28_672)


def test_crossover_batch_by_hand(capsys):
    """Llama-3-8B decode over an empty cache, roofline-notes (002), A100-80GB (balance 312000/2039).

    Per layer and per sequence: FLOPs 2·(H² + 2·H·1024 + H²) + 6·H·F + 2·2·n_h·d_h (one query-key pair)
    = 83,886,080 + 352,321,536 + 16,384 = 436,224,000; weight bytes (per layer, not per sequence)
    2·(2·H² + 2·H·1024 + 3·H·F) = 436,207,616; per sequence 3·H·2 activation and 2·1024·2 KV-write bytes
    = 28,672. Intensity 436,224,000·B / (436,207,616 + 28,672·B) = 312000/2039 at
    B* = 312000·436,207,616 / (436,224,000·2039 − 312000·28,672).
    """
    H, F = 4096, 14336
    assert 2 * (H * H + 2 * H * 1024 + H * H) + 6 * H * F + 4 * 32 * 128 == 436_224_000
    assert 2 * (2 * H * H + 2 * H * 1024 + 3 * H * F) == 436_207_616
    assert 3 * H * 2 + 2 * 1024 * 2 == 28_672
    expected = LLAMA_3_8B_DECODE_CROSSOVER
    r = run_json(capsys, "crossover", "--cached", "0", "--gpu", "A100-80GB", "--conventions", "002")
    p, q = map(int, r["value"].split("/"))
    assert Fraction(p, q) == expected and r["ceiling"] == 155 and r["above"] == "compute"
    code, out, _ = run(capsys, "crossover", "--cached", "0", "--gpu", "A100-80GB", "--conventions", "002")
    assert code == 0 and "B* = 154.56" in out


def test_crossover_without_one(capsys):
    """Llama-3-8B decode over 32,768 cached tokens (002): per sequence and layer, FLOPs 436,207,616 +
    2·2·n_h·d_h·32,769 keys; bytes 3·H·2 of activations + 32,768·2·1024·2 of KV read + 2·1024·2 written.
    As B grows the intensity tends to their ratio, 7.25, below the A100's 153: no crossover."""
    flops = 436_207_616 + 4 * 32 * 128 * 32_769
    nbytes = 3 * 4096 * 2 + 32_768 * 2 * 1024 * 2 + 2 * 1024 * 2
    assert (flops, nbytes) == (973_094_912, 134_246_400) and Fraction(flops, nbytes) < A100_BALANCE
    r = run_json(capsys, "crossover", "--cached", "32768", "--gpu", "A100-80GB", "--conventions", "002")
    assert r["exists"] is False and r["value"] is None and "no crossover" in r["reason"]
    p, q = map(int, r["limit"].split("/"))
    assert Fraction(p, q) == Fraction(flops, nbytes)


@pytest.mark.parametrize("H, N, Z, S_c, b_w, b_a, b_kv", [
    (5120, 40, 13, 0, 2, 2, 2), (5120, 40, 13, 128, 2, 2, 2), (4096, 32, 8, 64, 1, 2, 1), (8192, 80, 70, 256, 2, 2, 1),
])
def test_symbolic_crossover_closed_form_against_bisection(capsys, H, N, Z, S_c, b_w, b_a, b_kv):
    """000's decode (S_i = 1) on the default H100 SXM, every size a symbol. By hand:
    FLOPs(B) = N(24·B·H² + 4·B·S_c·H); bytes(B) = b_w·Z·10⁹ (weights) + 2·N·B·H·b_a (each layer's input
    read, output written) + N·B·S_c·H·b_kv (000 reads one of cached K, V) + 2·N·B·H·b_kv (new K, V written).
    The printed closed form, with numbers put in, is where FLOPs/bytes meets the balance (float64 bisection)."""
    r = run_json(capsys, "crossover", "--model", "symbolic", "--conventions", "000")
    value = parse(r["value"])
    sizes = dict(H=H, N=N, Z=Z, S_c=S_c, b_w=b_w, b_a=b_a, b_kv=b_kv)
    assert {s.name for s in value.free_symbols} == set(sizes)

    def excess(batch):
        flops = N * (24 * batch * H**2 + 4 * batch * S_c * H)
        nbytes = b_w * Z * 1e9 + 2 * N * batch * H * b_a + N * batch * S_c * H * b_kv + 2 * N * batch * H * b_kv
        return flops / nbytes - H100_BALANCE

    expected = bisect(excess, 1e-9, 1e9)
    assert float(value.subs({symbols.by_name(k): v for k, v in sizes.items()})) == pytest.approx(expected, rel=1e-9)


def test_speculative_crossover_against_bisection(capsys):
    """Llama-3-8B, one sequence over 4096 cached tokens, S_i new tokens per step (002 conventions, A100).
    Per layer: FLOPs 436,207,616·S_i (the matmuls, as in test_crossover_batch_by_hand) + 2·2·n_h·d_h·S_i·(4096
    + S_i) (dense scores and values over the cache and the new tokens); bytes 436,207,616 of weights +
    3·H·2·S_i of activations + 4096·2·1024·2 of KV read + 2·1024·2·S_i written."""
    def excess(s_i):
        flops = 436_207_616 * s_i + 4 * 32 * 128 * s_i * (4096 + s_i)
        nbytes = 436_207_616 + 3 * 4096 * 2 * s_i + 4096 * 2 * 1024 * 2 + 2 * 1024 * 2 * s_i
        return flops / nbytes - float(A100_BALANCE)

    r = run_json(capsys, "crossover", "--phase", "step", "--unknown", "S_i", "--batch", "1", "--cached", "4096",
                 "--gpu", "A100-80GB", "--conventions", "002")
    assert r["unknown"] == "S_i" and r["exists"] is True
    assert r["approx"] == pytest.approx(bisect(excess, 1e-9, 1e6), rel=1e-9)


def test_models_and_hardware_lists(capsys):
    rows = run_json(capsys, "models")["models"]
    assert [r["name"] for r in rows] == sorted(r["name"] for r in rows)
    names = {r["name"] for r in rows}
    assert {"llama-3-8b", "llama-3-70b", "llama-2-7b", "llama-2-13b", "mistral-7b", "qwen2.5-7b", "gpt2"} <= names
    assert all(r["source"] for r in rows)
    assert next(r for r in rows if r["name"] == "gpt2")["parameters"] == 124_439_808
    gpus = run_json(capsys, "hardware")["hardware"]
    assert all(g["source"] for g in gpus)
    a100 = next(g for g in gpus if g["name"] == "A100-80GB")
    assert a100["balance_exact"] == "312000/2039"      # 312 TFLOP/s bf16 / 2039 GB/s (datasheet)
    code, out, _ = run(capsys, "hardware")
    assert code == 0 and "H100-SXM" in out and "source" in out


@pytest.mark.parametrize("kind,suffix", [("roofline", "png"), ("intensity-vs-batch", "svg"),
                                         ("time-per-token", "png")])
def test_plot_writes_each_kind(capsys, tmp_path, kind, suffix):
    out = tmp_path / f"figure.{suffix}"
    axis = [] if kind == "roofline" else ["--max-batch", "256"]       # a roofline has no batch axis
    code, printed, err = run(capsys, "plot", "--kind", kind, "--hf-config", str(DATA / "mistral-7b.json"),
                             "--gpu", "A100-80GB", "--cached", "512", *axis, "--out", str(out))
    assert code == 0 and err == "" and printed.strip() == str(out)
    head = out.read_bytes()[:8]
    assert head.startswith({"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}[suffix])


def test_plot_time_per_token_on_tensor_parallel_gpus(capsys, tmp_path):
    out = tmp_path / "tp.png"
    code, printed, err = run(capsys, "plot", "--kind", "time-per-token", "--gpu", "H100-SXM", "--tp", "8",
                             "--comm", "003", "--out", str(out))
    assert code == 0 and err == "" and printed.strip() == str(out) and out.read_bytes().startswith(b"\x89PNG")
    code, _, err = run(capsys, "plot", "--kind", "roofline", "--tp", "2", "--out", str(tmp_path / "r.png"))
    assert code == 2 and "--tp and --comm apply to --kind time-per-token, not roofline" in err
    assert err.count("\n") == 1 and not (tmp_path / "r.png").exists()


def test_no_command_prints_help(capsys):
    code, out, _ = run(capsys)
    assert code == 0 and "report" in out and "crossover" in out


# ---- errors: exit 2, one line, no traceback ------------------------------------------------------------


BAD = [
    (["report", "--model", "llama-3-8"], "did you mean llama-3-8b"),
    (["report", "--gpu", "H100-SX"], "did you mean H100-SXM"),
    (["report", "--phase", "training"], "invalid choice: 'training'"),
    (["report", "--batch", "0"], "'0' must be positive"),
    (["report", "--batch", "eight"], "'eight' is not a whole number"),
    (["report", "--cached", "-1"], "'-1' must be non-negative"),
    (["report", "--model", "gpt2", "--hf-config", "x.json"], "not allowed with argument"),
    (["report", "--hf-config", "no/such/config.json"], "cannot read config file"),
    (["report", "--conventions", "vibes"], "unknown conventions 'vibes'"),
    (["report", "--dtype", "float12"], "--dtype='float12' is not a known dtype"),
    (["report", "--gpu", "A100-80GB", "--dtype", "fp8"], "A100-80GB has no fp8 peak"),
    (["report", "--phase", "prefill", "--cached", "10"], "--cached does not apply to prefill"),
    (["report", "--phase", "decode", "--seq", "10"], "--seq does not apply to decode"),
    (["latex", "--phase", "step", "--seq", "10"], "--seq does not apply to step"),
    (["latex", "--document", "--only", "flops"], "it does not combine with --only or --json"),
    (["latex", "--gpu", "H100"], "--gpu and the hardware options apply to latex --document only"),
    (["latex", "--document", "--phase", "prefill", "--cached", "8"], "--cached does not apply to prefill"),
    (["crossover", "--batch", "8"], "--batch gives B a value, but B is the unknown"),
    (["crossover", "--unknown", "S"], "--unknown S is not a size of decode"),
    (["crossover", "--model", "nope"], "unknown model 'nope'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["models", "--gpu", "H100"], "unrecognized arguments: --gpu H100"),
    (["plot", "--model", "symbolic"], "plot needs a model with numbers"),
    (["plot", "--out", "no/such/folder/figure.png"], "cannot write 'no/such/folder/figure.png': no folder"),
    (["plot", "--out", "figure.xyz"], "the format 'xyz' is not one of"),
    (["plot", "--kind", "pie"], "invalid choice: 'pie'"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_options_exit_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("symroof: error: ")
    assert message in err and "Traceback" not in err


def test_bad_hf_config_file(capsys, tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps({"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32,
                               "num_attention_heads": 30, "intermediate_size": 1, "vocab_size": 10}))
    code, out, err = run(capsys, "report", "--hf-config", str(bad))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "num_attention_heads=30 must divide hidden_size=4096" in err
    bad.write_text("[]")
    code, _, err = run(capsys, "latex", "--hf-config", str(bad))
    assert code == 2 and "must hold a JSON object" in err


# ---- the console script --------------------------------------------------------------------------------


def _script() -> list[str]:
    exe = Path(sys.executable).with_name("symroof")
    return [str(exe)] if exe.exists() else [shutil.which("symroof") or sys.executable, *(
        [] if shutil.which("symroof") else ["-m", "symroof"])]


def test_console_script(tmp_path):
    done = subprocess.run([*_script(), "report", "--hf-config", str(DATA / "gpt2.json"), "--phase", "decode",
                           "--batch", "8", "--cached", "1024", "--conventions", "000", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["phases"]["decode"]["flops"] == 1_660_944_384          # 000's formula, as above
    bad = subprocess.run([*_script(), "report", "--gpu", "H100-SX"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr


def test_report_time_is_the_library_time_per_output_token(capsys):
    """The CLI has no latency formula of its own: its decode time is timing.time_per_output_token
    (the exact conventions' Megatron all-reduces, 2 bytes per bf16 activation)."""
    import symroof

    out = report_phase(capsys, "report", "--phase", "decode", "--batch", "8", "--cached", "1024", "--tp", "8")
    t = symroof.time_per_output_token(symroof.models.get("llama-3-8b"), "exact", "H100-SXM", B=8, S_c=1024,
                                      tp=8, bytes_per_element=2)
    assert out["time_s"]["total"] == pytest.approx(float(t.total_s), rel=1e-12)
    assert out["time_s"]["comm"] == pytest.approx(float(t.comm_s), rel=1e-12)
    # and both by hand. Comm: 2 all-reduces per layer of B·H·2 = 65,536 bytes, a ring over 8 GPUs sending 2·7/8
    # of each over 450 GB/s NVLink, plus NCCL's 6.6 µs per all-reduce and 0.6 µs per each of its 14 steps.
    comm = 64 * (2 * 7 / 8 * 65_536 / 450e9 + 6.6e-6 + 14 * 0.6e-6)
    # Memory: each GPU moves 1/8 of the weights and KV and the whole (fused) activations, 3·N·B·H·2 bytes;
    # the weights are every bf16 parameter but the embedding table, of which 8 rows are gathered; K and V of
    # 1024 cached tokens read and one written per sequence, 2·32·8·128·2 = 131,072 bytes each.
    act = 3 * 32 * 8 * 4096 * 2
    split = 2 * (8_030_261_248 - 128256 * 4096) + 8 * 4096 * 2 + 8 * 1025 * 131_072
    memory = (split / 8 + act) / 3.35e12
    compute = (32 * layer_flops(8, 8 * 1025, H=4096, n_h=32, n_kv=8, d_h=128, ffn_weights=3 * 4096 * 14336)
               + 8 * 2 * 4096 * 128256) / (8 * 989e12)
    assert compute < memory and out["bound"] == "memory"
    assert out["time_s"]["comm"] == pytest.approx(comm, rel=1e-12)
    assert out["time_s"]["memory"] == pytest.approx(memory, rel=1e-12)
    assert out["time_s"]["compute"] == pytest.approx(compute, rel=1e-12)
    assert out["time_s"]["total"] == pytest.approx(memory + comm, rel=1e-12)
