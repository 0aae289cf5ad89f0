"""Values a mutation run of the command line (benchmarks/mutation.py on symroof/output/cli.py) found
unasserted.

Every expected value is derived by hand in the test (the arithmetic is written out), or comes from a
document: the model's published config in tests/data/, the datasheet rows of symroof/data/hardware.toml,
the Unicode character database, the PNG format. None is the command line's own output pasted back.

GPT-2 (tests/data/gpt2.json): 12 layers, H 768, 12 heads of 64 (no GQA), a plain FFN of 3072 (GELU),
vocabulary 50257, tied embeddings, 1024 positions (learned), fp32 checkpoint read as symroof's default
bf16. The H100 SXM: 989 TFLOP/s bf16 dense, 3.35 TB/s, 80 GiB (9/10 usable), 450 GB/s NVLink each way.
"""

from __future__ import annotations

import errno
import os
import re
import struct
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import sympy

from symroof.cost.conventions import resolve
from symroof.output import cli
from tests.test_cli import run, run_json

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


def refused(capsys, *argv) -> str:
    """The one line of a refused command (exit status 2, nothing on stdout)."""
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("symroof: error: "), (code, out, err)
    return err.strip()


def help_text(capsys, *command) -> str:
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0
    return " ".join(out.split())


# ---- escaping text for a terminal ---------------------------------------------------------------------------


def test_a_non_printable_character_is_escaped_in_four_or_eight_hex_digits():
    """Python's escapes: ``\\uXXXX`` up to U+FFFF, ``\\UXXXXXXXX`` from U+10000 (the first code point
    beyond the Basic Multilingual Plane). U+FFFF is a noncharacter and U+E0001 (LANGUAGE TAG) a format
    character: neither is printable."""
    assert cli._safe("a\uffffb") == "a\\uffffb"
    assert cli._safe("\U000e0001") == "\\U000e0001"
    assert cli._escape_char("\U00010000") == "\\U00010000"         # the first code point with five hex digits
    assert cli._escape_char("\x1b") == "\\u001b"


# ---- plots: the default resolution ----------------------------------------------------------------------------


def test_plot_help_states_the_default_resolution_a_png_gets(capsys, tmp_path):
    """symroof.output.plot: figures are 6.4 x 4.8 in at 200 dpi, a 1280 x 960 PNG. The --dpi help names that
    default, and a plot drawn without --dpi has that many pixels (the PNG's IHDR: width, height at bytes 16..24)."""
    text = help_text(capsys, "plot")
    (default,) = re.findall(r"dots per inch \(default (\d+)\)", text)
    assert int(default) == 1280 / 6.4 == 200
    out = tmp_path / "r.png"
    code, printed, _ = run(capsys, "plot", "-m", "gpt2", "-o", str(out))
    assert (code, printed) == (0, f"{out}\n")
    assert struct.unpack(">II", out.read_bytes()[16:24]) == (6.4 * int(default), 4.8 * int(default))


# ---- help: the names of the values ---------------------------------------------------------------------------


@pytest.mark.parametrize("command,usages", [
    # README ("Command line"): --peak-tflops in TFLOP/s, --bandwidth-gbs and --interconnect-gbs in GB/s,
    # --memory-gib in GiB, the dtypes by name, `--set field=value`, -g/--gpu NAME; the module's synopsis:
    # `--prompt S --gen G`, `--tp T`
    ("report", ["-g NAME, --gpu NAME", "--peak-tflops TFLOPS", "--bandwidth-gbs GB/S", "--memory-gib GIB",
                "--interconnect-gbs GB/S", "--dtype DTYPE", "--weights-dtype DTYPE", "--act-dtype DTYPE",
                "--kv-dtype DTYPE", "--compute-dtype DTYPE", "--conventions NAME", "--set FIELD=VALUE",
                "--prompt S", "--gen G", "--tp T"]),
    ("latex", ["--prompt S", "--gen G"]),
    ("crossover", ["--tp T", "--peak-tflops TFLOPS"]),
    # the synopsis: `-o FILE`, `--dpi DPI`; the sizes as README names them
    ("plot", ["-o FILE, --out FILE", "--dpi DPI", "--seq S", "--cached S_c", "--new S_i", "--max-batch B"]),
])
def test_help_names_each_value_as_the_readme_and_synopsis_do(capsys, command, usages):
    text = help_text(capsys, command)
    for usage in usages:
        assert usage in text, usage


# ---- tensor parallelism: how the heads split -------------------------------------------------------------------


LLAMA = str(DATA / "llama-3-8b.json")     # 32 query heads, 8 KV heads (num_key_value_heads)
QWEN = str(DATA / "qwen2.5-7b.json")      # 28 query heads, 4 KV heads


@pytest.mark.parametrize("tp", [2, 4, 8])
def test_tp_dividing_the_kv_heads_replicates_nothing(capsys, tp):
    """8 KV heads split 8/tp per GPU for tp = 2, 4, 8: nothing is replicated, so no note."""
    data = run_json(capsys, "report", "--hf-config", LLAMA, "--tp", str(tp), "--phase", "decode", "-b", "1",
                    "--cached", "1024")
    assert (data["tp"], data["tp_note"]) == (tp, None)


@pytest.mark.parametrize("tp,copies", [(16, 2), (32, 4)])
def test_tp_a_multiple_of_the_kv_heads_says_how_many_copies(capsys, tp, copies):
    """32 query heads divide by 16 and 32; the 8 KV heads do not, but 16 and 32 are multiples of 8: each KV head
    is held by tp/8 GPUs (16/8 = 2, 32/8 = 4 copies)."""
    data = run_json(capsys, "report", "--hf-config", LLAMA, "--tp", str(tp), "--phase", "decode", "-b", "1",
                    "--cached", "1024")
    assert data["tp_note"] == (f"the 8 KV heads of llama-3-8b are replicated on {tp} GPUs ({copies} copies of "
                               f"each); the time splits KV-cache traffic {tp} ways as if they were not")


def test_tp_neither_dividing_nor_a_multiple_of_the_kv_heads_is_refused(capsys):
    """Qwen2.5-7B: 14 divides the 28 query heads, but neither divides the 4 KV heads nor is a multiple of 4."""
    assert refused(capsys, "report", "--hf-config", QWEN, "--tp", "14") == (
        "symroof: error: --tp 14 must divide the 4 KV heads of qwen2.5-7b, or be a multiple of them "
        "(then each is replicated)")
    assert refused(capsys, "report", "--hf-config", QWEN, "--tp", "8") == (
        "symroof: error: --tp 8 must divide the 28 attention heads of qwen2.5-7b")       # 28 = 8·3 + 4


# ---- a conventions file that grows after it was measured ---------------------------------------------------------


def test_conventions_file_longer_than_its_stat_said_is_refused(capsys, tmp_path, monkeypatch):
    """The file is read up to 64 KiB + 1 = 65537 bytes, so a file that grew past 65536 bytes after `os.stat`
    (here: a stat that reports 10 bytes) is still refused, not read in part."""
    import os

    path = tmp_path / "c.toml"
    path.write_text("#" * (64 * 1024) + "\n")                     # a comment line of 65537 bytes: valid TOML
    real = os.stat

    def stat(p, *a, **k):
        info = real(p, *a, **k)
        if str(p) != str(path):
            return info
        return os.stat_result((info.st_mode, info.st_ino, info.st_dev, info.st_nlink, info.st_uid, info.st_gid,
                               10, int(info.st_atime), int(info.st_mtime), int(info.st_ctime)))

    monkeypatch.setattr(cli.os, "stat", stat)
    assert refused(capsys, "report", "--conventions-file", str(path)) == (
        f"symroof: error: {path}: over the 65536-byte limit for a conventions file")


# ---- numbers beyond float range ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text,expected", [
    # 1.1765000001 to 4 significant digits: what follows 1.176 is 0.0005000001, over half a unit: 1.177
    ("1.1765000001e400", "1.177e+400"),
    ("1.2345000001e400", "1.235e+400"),
    ("-1.1795000001e-400", "-1.18e-400"),         # 1.1795000001 → 1.180, written without the trailing 0
])
def test_sig_of_a_float_beyond_float_range_rounds_once(text, expected):
    assert cli._sig(sympy.Float(text, 30), 4) == expected


@pytest.mark.parametrize("value,text", [
    (0.1234, "0.1234"),         # e = -1: four significant digits are 4 decimals
    (0.01234, "0.01234"),       # e = -2: 5 decimals
    (0.001234, "0.001234"),     # e = -3, the smallest written positionally: 6 decimals
    (0.0012345678, "0.001235"),  # rounded to 4 significant digits: the 5th is 5, up
    (12.345678, "12.35"),       # e = 1: 2 decimals
])
def test_round_keeps_four_significant_digits_below_one(value, text):
    """`_round`: between 10^-3 and 10^3 a number is written positionally with 4 significant digits, i.e.
    3 − e decimals for the exponent e = floor(log10 |x|), trailing zeros dropped."""
    assert cli._round(value) == text


# ---- report: the table's time column names the tensor-parallel degree ---------------------------------------


@pytest.mark.parametrize("tp,header", [(1, "time"), (2, "time (tp=2)"), (4, "time (tp=4)")])
def test_report_time_column_names_tp_only_above_one(capsys, tp, header):
    """GPT-2 has 12 heads (tests/data/gpt2.json: n_head 12), split by 2 and 4; one GPU is the plain time."""
    code, out, err = run(capsys, "report", "-m", "gpt2", "--tp", str(tp))
    assert code == 0, err
    (line,) = [ln for ln in out.splitlines() if ln.startswith("phase ")]
    assert re.split(r"\s{2,}", line) == ["phase", "sizes", "FLOPs", "bytes", "intensity", "bound", header, "tokens/s"]


# ---- crossover: how many GPUs would hold B* ---------------------------------------------------------------------


def test_crossover_says_how_many_gpus_would_hold_b_star(capsys):
    """002 on an A100 80GB changed to 16.65 GiB, S_c = 0 (test_cli_options: B* rounds up to 155 sequences of one
    token). Llama-3-8B needs the bf16 weights 2·8,030,261,248 = 16,060,522,496 bytes, and per sequence of one token
    131,072 bytes of KV + the activations 1·(2·4096 + 2·14336)·2 + 128256·4 = 586,752: 717,824 bytes. In all
    16,060,522,496 + 155·717,824 = 16,171,785,216 bytes over 0.9·16.65·2^30 = 16,090,021,232.64 usable per GPU:
    ceil(1.005) = 2 GPUs (2 is below the 8 KV heads, so nothing is replicated)."""
    args = ("crossover", "--gpu", "A100-80GB", "--conventions", "002", "--cached", "0", "--memory-gib", "16.65")
    need = 2 * 8_030_261_248 + 155 * (131_072 + (2 * 4096 + 2 * 14336) * 2 + 128256 * 4)
    assert need == 16_171_785_216
    gpus = math_ceil(Fraction(need) / (Fraction(9, 10) * Fraction(1665, 100) * 2**30))
    assert gpus == 2
    r = run_json(capsys, *args)
    assert (r["ceiling"], r["fits"], r["fit"]["needed_bytes"], r["fit"]["gpus_needed"]) == (155, False, need, gpus)
    _code, out, _ = run(capsys, *args)
    (line,) = [ln for ln in out.splitlines() if ln.startswith("memory at B = ")]
    assert line.endswith(f"the largest batch that fits is 41; {gpus} GPUs would hold B*")


def math_ceil(x: Fraction) -> int:
    return -(-x.numerator // x.denominator)


# ---- plot: which options each kind takes ------------------------------------------------------------------------


def test_plot_intensity_vs_batch_in_prefill_takes_seq_not_cached(capsys, tmp_path):
    """plot --help: --seq is the prompt length of roofline and intensity-vs-batch --phase prefill; --cached and
    --new are decode's. So a prefill curve takes --phase, --seq and --max-batch."""
    out = tmp_path / "p.png"
    code, printed, err = run(capsys, "plot", "-m", "gpt2", "--kind", "intensity-vs-batch", "--phase", "prefill",
                             "--seq", "512", "--max-batch", "64", "-o", str(out))
    assert (code, printed) == (0, f"{out}\n"), err
    for flag, value in (("--cached", "512"), ("--new", "2")):
        assert refused(capsys, "plot", "-m", "gpt2", "--kind", "intensity-vs-batch", "--phase", "prefill", flag,
                       value, "-o", str(out)) == (
            f"symroof: error: {flag} does not apply to --kind intensity-vs-batch --phase prefill "
            "(it takes --phase, --seq, --max-batch)")


@pytest.mark.parametrize("dpi", ["9.5", "9", "2000.5", "4000"])
def test_plot_dpi_outside_10_to_2000_is_refused_by_name(capsys, tmp_path, dpi):
    assert refused(capsys, "plot", "-m", "gpt2", "--dpi", dpi, "-o", str(tmp_path / "x.png")) == (
        f"symroof: error: --dpi {dpi} must be from 10 to 2000 dots per inch")


@pytest.fixture
def plotted(monkeypatch):
    """The keyword arguments each plot function of symroof.output.plot was called with (the real function
    still draws the figure the command writes)."""
    from symroof.output import plot

    calls: dict[str, dict] = {}
    for name in ("roofline", "intensity_vs_batch", "time_per_token"):
        real = getattr(plot, name)

        def record(*args, _real=real, _name=name, **kwargs):
            calls[_name] = kwargs
            return _real(*args, **kwargs)
        monkeypatch.setattr(plot, name, record)
    return calls


@pytest.mark.parametrize("kind,function,options,passed", [
    ("roofline", "roofline", ["--batch", "4", "--seq", "256", "--cached", "512"],
     {"batch": 4, "seq": 256, "context": 512}),
    ("intensity-vs-batch", "intensity_vs_batch", ["--cached", "512", "--new", "4", "--max-batch", "64"],
     {"context": 512, "new_tokens": 4, "max_batch": 64, "phase": "decode"}),
    ("time-per-token", "time_per_token", ["--cached", "512", "--new", "4", "--max-batch", "64", "--tp", "2"],
     {"context": 512, "new_tokens": 4, "max_batch": 64, "tp": 2}),
])
def test_plot_passes_its_options_on(capsys, tmp_path, plotted, kind, function, options, passed):
    """Each size, the conventions (002) and the resolution (50 dpi: a 6.4 x 4.8 in figure of 320 x 240 pixels)
    reach the plot function; none falls back to its default (1024 cached tokens, 1 new, exact, 200 dpi)."""
    out = tmp_path / "p.png"
    code, printed, err = run(capsys, "plot", "-m", "gpt2", "--kind", kind, "--conventions", "002", "--dpi", "50",
                             *options, "-o", str(out))
    assert (code, printed) == (0, f"{out}\n"), err
    kwargs = plotted[function]
    assert {k: kwargs[k] for k in passed} == passed
    assert kwargs["conventions"] == resolve("002") and kwargs["dpi"] == 50      # 002 is roofline-notes
    assert struct.unpack(">II", out.read_bytes()[16:24]) == (320, 240)


def test_plot_time_per_token_checks_the_heads_and_the_link(capsys, tmp_path):
    """GPT-2's 12 heads do not split 5 ways; the H100 PCIe has no GPU-to-GPU link in symroof/data/hardware.toml."""
    out = str(tmp_path / "t.png")
    assert refused(capsys, "plot", "-m", "gpt2", "--kind", "time-per-token", "--tp", "5", "-o", out) == (
        "symroof: error: --tp 5 must divide the 12 attention heads of gpt2")
    assert refused(capsys, "plot", "-m", "gpt2", "--kind", "time-per-token", "--tp", "2", "--gpu", "H100-PCIe",
                   "-o", out) == (
        "symroof: error: --tp 2: H100-PCIe has no GPU-to-GPU bandwidth for the communication; give "
        "--interconnect-gbs (or --comm none)")


# ---- models: the table ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("config,ffn", [
    ("llama-3-8b.json", "14336 gated"),                    # intermediate_size 14336, SwiGLU, no experts
    ("mixtral-8x7b.json", "14336 gated 2/8 experts"),      # num_experts_per_tok 2 of num_local_experts 8
])
def test_models_table_names_experts_only_for_a_mixture(capsys, config, ffn):
    code, out, _ = run(capsys, "models", "--hf-config", str(DATA / config))
    header, row = out.splitlines()[:2]
    assert code == 0 and re.split(r"\s{2,}", header)[4] == "FFN" and re.split(r"\s{2,}", row)[4] == ffn


def test_models_table_fits_in_120_columns_cutting_the_sources(capsys):
    """As the hardware table: at most 120 characters a line, the sources column cut with "…"."""
    code, out, _ = run(capsys, "models")
    lines = out.splitlines()
    assert code == 0 and max(map(len, lines)) <= 120
    assert any(line.endswith("…") and len(line) == 120 for line in lines)


# ---- exit statuses -------------------------------------------------------------------------------------------


class _Failing:
    """A stdout whose write raises ``error``."""

    def __init__(self, error):
        self.error = error

    def write(self, text):
        raise self.error

    def flush(self):
        pass


@pytest.mark.parametrize("error,reason", [
    (OSError(errno.ENOSPC, ""), "ENOSPC"),                  # no strerror: the errno module's name of errno 28
    (OSError(errno.EIO, "Input/output error"), "Input/output error"),
    (OSError("no errno"), "OSError"),                       # neither: the exception's name
])
def test_output_that_cannot_be_written_is_ex_ioerr_and_one_line(capsys, error, reason):
    """sysexits.h's EX_IOERR is 74 (os.EX_IOERR on Unix); the line says why, by the first of strerror, the errno's
    symbolic name, the exception's type that is there."""
    assert cli._emit("text\n", _Failing(error), 0) == os.EX_IOERR == 74
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"symroof: cannot write the output: {reason}\n")


def test_main_with_a_full_stdout_exits_ex_ioerr(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdout", _Failing(OSError(errno.ENOSPC, "No space left on device")))
    assert cli.main(["hardware"]) == os.EX_IOERR
    assert capsys.readouterr().err == "symroof: cannot write the output: No space left on device\n"


def test_too_deeply_nested_input_exits_2_with_one_line(capsys, monkeypatch):
    """The module's docstring: bad input exits with status 2 and one line on stderr (a RecursionError is input
    nested too deeply to compute with, e.g. a config's expression)."""
    def deep(args):
        raise RecursionError("maximum recursion depth exceeded")
    monkeypatch.setitem(cli._COMMANDS, "models", deep)
    assert refused(capsys, "models") == "symroof: error: the input is too deeply nested to compute with"


def test_sig_of_an_irrational_beyond_float_range():
    """√2 = 1.41421356...: to 4 significant digits 1.414; π = 3.14159265...: 3.142 (the 5th digit, 5, rounds up)."""
    assert cli._sig(sympy.sqrt(2) * 10**400, 4) == "1.414e+400"
    assert cli._sig(sympy.pi / 10**400, 4) == "3.142e-400"
