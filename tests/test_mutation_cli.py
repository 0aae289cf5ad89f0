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

import json
import re
import struct
from fractions import Fraction
from pathlib import Path

import pytest
import sympy

from symroof.output import cli

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


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
