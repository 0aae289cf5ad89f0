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

from symroof import symbols
from symroof.cli import main

DATA = Path(__file__).parent / "data"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


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
    r = run_json(capsys, "report", "--hf-config", str(DATA / "llama-2-7b.json"), "--phase", "decode",
                 "--batch", "8", "--cached", "1024")
    assert r["flops"] == expected and isinstance(r["flops"], int)
    assert isinstance(r["bytes"], int)
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
    r = run_json(capsys, "report", "--model", "gpt2", "--conventions", "000", "--phase", "decode",
                 "--batch", "8", "--cached", "1024")
    assert (r["flops"], r["bytes"]) == (flops, nbytes)
    assert r["conventions"] == "arithmetic-intensity"


@pytest.mark.parametrize("name", ["llama-3-8b", "mistral-7b", "qwen2.5-7b", "gpt2", "mixtral-8x7b", "gemma-2b",
                                  "pythia-160m", "qwen3-0.6b", "deepseek-v3"])
def test_report_reads_every_family(capsys, name):
    r = run_json(capsys, "report", "--hf-config", str(DATA / f"{name}.json"), "--phase", "decode",
                 "--batch", "8", "--cached", "1024")
    assert isinstance(r["flops"], int) and r["flops"] > 0 and r["bound"] in ("compute", "memory")


def test_quick_report_json_has_both_phases(capsys):
    r = run_json(capsys, "report")
    assert set(r["phases"]) == {"prefill", "decode"}
    assert r["phases"]["prefill"]["values"] == {"B": 1, "S": 1024}
    assert r["balance_exact"] == "19780/67"          # 989 TFLOP/s / 3.35 TB/s (H100 SXM datasheet)


def test_symbolic_report_keeps_sizes_as_symbols(capsys):
    r = run_json(capsys, "report", "--model", "symbolic", "--conventions", "000", "--phase", "decode")
    B, H, N, S_c = symbols.B, symbols.H, symbols.N, symbols.S_c
    flops = sympy.sympify(r["flops"], locals=symbols.ALL)
    assert sympy.expand(flops - N * (24 * B * H**2 + 4 * B * S_c * H)) == 0      # 000's decode FLOPs, S_i = 1
    assert r["bound"] is None and set(r["symbols"]) >= {"B", "S_c", "H", "N"}
    code, out, _ = run(capsys, "report", "--phase", "decode")
    assert code == 0 and "symbols: B, S_c" in out


def test_symbolic_in_batch_only_reports_the_crossover(capsys):
    code, out, _ = run(capsys, "report", "--phase", "decode", "--cached", "0", "--gpu", "A100-80GB",
                       "--conventions", "002")
    assert code == 0 and "symbols: B" in out and "compute-bound" in out


def test_dtype_sets_bytes_and_peak(capsys):
    base = run_json(capsys, "report", "--phase", "decode", "--batch", "1", "--cached", "0")
    fp8 = run_json(capsys, "report", "--phase", "decode", "--batch", "1", "--cached", "0", "--dtype", "fp8")
    assert fp8["terms"]["bytes"]["weights/attention/q"] * 2 == base["terms"]["bytes"]["weights/attention/q"]
    assert fp8["dtype"] == "fp8" and fp8["peak_flops_per_s"] == 1_979_000_000_000_000   # H100 SXM fp8 dense


def test_tp_splits_the_time(capsys):
    one = run_json(capsys, "report", "--phase", "prefill", "--batch", "1", "--seq", "512")
    two = run_json(capsys, "report", "--phase", "prefill", "--batch", "1", "--seq", "512", "--tp", "2")
    assert two["time_s"]["compute"] == pytest.approx(one["time_s"]["compute"] / 2)
    assert two["time_s"]["comm"] > 0 == one["time_s"]["comm"]


def test_rich_table_on_a_terminal(capsys, monkeypatch):
    pytest.importorskip("rich")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code, out, _ = run(capsys, "models")
    assert code == 0 and "llama-3-8b" in out and ("━" in out or "─" in out)


# ---- latex, crossover, catalogues -----------------------------------------------------------------------


def test_latex_general_decode(capsys):
    code, out, err = run(capsys, "latex", "--phase", "decode")
    assert code == 0 and err == ""
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
    expected = Fraction(312000 * 436_207_616, 436_224_000 * 2039 - 312000 * 28_672)
    r = run_json(capsys, "crossover", "--cached", "0", "--gpu", "A100-80GB", "--conventions", "002")
    p, q = map(int, r["value"].split("/"))
    assert Fraction(p, q) == expected and r["ceiling"] == 155 and r["above"] == "compute"
    code, out, _ = run(capsys, "crossover", "--cached", "0", "--gpu", "A100-80GB", "--conventions", "002")
    assert code == 0 and "B* = 154.56" in out


def test_crossover_without_one_and_symbolic(capsys):
    r = run_json(capsys, "crossover", "--cached", "32768", "--gpu", "A100-80GB", "--conventions", "002")
    assert r["exists"] is False and r["value"] is None and "no crossover" in r["reason"]
    r = run_json(capsys, "crossover", "--model", "symbolic", "--conventions", "000")
    assert r["value"] is not None and "S_c" in r["value"] and "Z" in r["value"]
    r = run_json(capsys, "crossover", "--phase", "step", "--unknown", "S_i", "--batch", "1", "--cached", "4096",
                 "--gpu", "A100-80GB", "--conventions", "002")
    assert r["unknown"] == "S_i" and r["exists"] is True


def test_models_and_hardware_lists(capsys):
    rows = run_json(capsys, "models")
    names = {r["name"] for r in rows}
    assert {"llama-3-8b", "llama-3-70b", "llama-2-7b", "llama-2-13b", "mistral-7b", "qwen2.5-7b", "gpt2"} <= names
    assert all(r["source"] for r in rows)
    assert next(r for r in rows if r["name"] == "gpt2")["parameters"] == 124_439_808
    gpus = run_json(capsys, "hardware")
    assert all(g["source"] for g in gpus)
    a100 = next(g for g in gpus if g["name"] == "A100-80GB")
    assert a100["balance_exact"] == "312000/2039"      # 312 TFLOP/s bf16 / 2039 GB/s (datasheet)
    code, out, _ = run(capsys, "hardware")
    assert code == 0 and "H100-SXM" in out and "source" in out


@pytest.mark.parametrize("kind,suffix", [("roofline", "png"), ("intensity-vs-batch", "svg"),
                                         ("time-per-token", "png")])
def test_plot_writes_each_kind(capsys, tmp_path, kind, suffix):
    out = tmp_path / f"figure.{suffix}"
    code, printed, err = run(capsys, "plot", "--kind", kind, "--hf-config", str(DATA / "mistral-7b.json"),
                             "--gpu", "A100-80GB", "--cached", "512", "--max-batch", "256", "--out", str(out))
    assert code == 0 and err == "" and printed.strip() == str(out)
    head = out.read_bytes()[:8]
    assert head.startswith({"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}[suffix])


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
    (["latex", "--gpu", "H100"], "--gpu applies to latex --document only"),
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
    assert json.loads(done.stdout)["flops"] == 1_660_944_384          # 000's formula, as above
    bad = subprocess.run([*_script(), "report", "--gpu", "H100-SX"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr


def test_report_time_is_the_library_time_per_output_token(capsys):
    """The CLI has no latency formula of its own: its decode time is timing.time_per_output_token
    with communication counted in bytes (2 per bf16 activation)."""
    import symroof

    out = run_json(capsys, "report", "--phase", "decode", "--batch", "8", "--cached", "1024", "--tp", "8")
    t = symroof.time_per_output_token(symroof.models.get("llama-3-8b"), "exact", "H100-SXM", B=8, S_c=1024,
                                      tp=8, bytes_per_element=2)
    assert out["time_s"]["total"] == pytest.approx(float(t.total_s), rel=1e-12)
    assert out["time_s"]["comm"] == pytest.approx(float(t.comm_s), rel=1e-12)
