"""Hostile input (issue 17): text never becomes an expression, downloaded configs are read and
matched in bounded time, and every quantity has one rule on every path. Expected messages are
written by hand from the issue."""

from __future__ import annotations

import json
import os
import time

import pytest
import sympy

import symroof
from symroof import models
from symroof._values import as_term, as_value
from symroof.cost.components import Step
from symroof.model import precision
from symroof.model.hf import config as hfconfig
from symroof.model.precision import Layout, Quantization, ignored, module_pattern
from symroof.symbols import B, S_c, b_w

LLAMA = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "intermediate_size": 96, "vocab_size": 1000}


@pytest.fixture(autouse=True)
def _no_parser(monkeypatch):
    """A tripwire: no case below may reach SymPy's parser (which evaluates Python)."""
    import sympy.parsing.sympy_parser as parser

    def tripwire(text, *args, **kwargs):
        raise AssertionError(f"text reached SymPy's parser: {text!r}")

    monkeypatch.setattr(parser, "parse_expr", tripwire)


# ---- text is never parsed -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["batch", "new", "cached"])
def test_step_refuses_text(field):
    with pytest.raises(ValueError, match=f"{field}=\"__import__.*not str"):
        Step(**{field: "__import__('os')"})


def test_step_rules():
    assert Step(1, 2, 0).empty_cache and not Step().empty_cache
    with pytest.raises(ValueError, match=r"batch=0 must be a positive integer"):
        Step(0, 1, 0)
    with pytest.raises(ValueError, match=r"cached=-1 must be a non-negative integer"):
        Step(1, 1, -1)
    with pytest.raises(ValueError, match=r"new=0.5 must be a positive integer"):
        Step(1, 0.5, 0)


@pytest.mark.parametrize("kwargs, words", [
    (dict(bits="4"), "Layout bits='4'"),
    (dict(bits=4, scale_bytes="__import__('os')"), "Layout scale_bytes="),
    (dict(bits=4, per_tensor="1+1"), "Layout per_tensor='1+1'"),
    (dict(bits=4, flat=(("64", 4),)), "Layout flat elements='64'"),
    (dict(bits=4, block=("128", 128)), "Layout block rows='128'"),
    (dict(bits=-4), "Layout bits=-4 must be a positive integer"),
    (dict(bits=0), "Layout bits=0 must be a positive integer"),
    (dict(bits=4, group_size=0), "Layout group_size (or -1: one group per row)=0"),
    (dict(bits=4, group_size=-2), "=-2 must be a positive integer"),
    (dict(bits=4, scale_bytes=float("nan")), "Layout scale_bytes=nan must be a finite positive number"),
    (dict(bits=4, scale_bytes=0), "Layout scale_bytes=0 must be a positive number"),
    (dict(bits=4, zero_bytes=-1), "Layout zero_bytes=-1 must be a non-negative number"),
    (dict(bits=4, per_output=float("inf")), "Layout per_output=inf must be a finite non-negative number"),
    (dict(bits=4, block=(0, 128)), "Layout block rows=0"),
    (dict(bits=4, block=(1, 2, 3)), "must be two positive integers"),
])
def test_layout_refuses(kwargs, words):
    with pytest.raises(ValueError) as err:
        Layout("x", **kwargs)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_layout_methods_refuse_text_and_keep_exact_values():
    layout = Layout("gptq", bits=4, group_size=128, scale_bytes=2, zero_bytes=sympy.Rational(1, 2), per_input=4)
    assert layout.bytes_per_element(256, 64) == sympy.Rational(149, 256)
    with pytest.raises(ValueError, match="in_features='256'"):
        layout.matrix_bytes("256", 64)
    with pytest.raises(ValueError, match="out_features=\"__import__"):
        layout.bytes_per_element(256, "__import__('os')")
    with pytest.raises(ValueError, match="in_features=0"):
        layout.matrix_bytes(0, 64)


def test_quantization_checks_its_fields():
    layout = Layout("fp8", bits=8)
    with pytest.raises(ValueError, match="Quantization skip='lm_head' must be a tuple"):
        Quantization("fp8", layout, skip="lm_head")
    with pytest.raises(ValueError, match="Quantization layout='x' must be a Layout"):
        Quantization("fp8", "x")
    with pytest.raises(ValueError, match="Quantization lm_head='yes'"):
        Quantization("fp8", layout, lm_head="yes")


@pytest.mark.parametrize("terms, words", [
    ({"ffn/up": -1}, "FLOP term 'ffn/up'=-1 must be a non-negative number"),
    ({"ffn/up": float("nan")}, "FLOP term 'ffn/up'=nan must be finite"),
    ({"ffn/up": float("inf")}, "FLOP term 'ffn/up'=inf must be finite"),
    ({"ffn/up": sympy.oo}, "FLOP term 'ffn/up'=oo must be a finite non-negative number"),
    ({"ffn/up": -B}, "FLOP term 'ffn/up'=-B must be non-negative"),
    ({"ffn/up": B * sympy.nan}, "must be"),
    ({"ffn/up": "B"}, "FLOP term 'ffn/up'='B' must be a number or a SymPy expression, not str"),
    ({"ffn/up": [1]}, "not list"),
])
def test_cost_terms_refused(terms, words):
    with pytest.raises(ValueError) as err:
        symroof.Cost(flops=terms)
    assert words in str(err.value)


def test_cost_scaling_refuses_negative_factors():
    cost = symroof.Cost(flops={"x": B})
    assert (2 * cost).flops == 2 * B
    with pytest.raises(ValueError, match="factor=-1"):
        cost * -1


@pytest.mark.parametrize("values, words", [
    (dict(B=0.5), "B=0.5 must be a positive integer"),
    (dict(B=0), "B=0 must be a positive integer"),
    (dict(S_c=-1), "S_c=-1 must be a non-negative integer"),
    (dict(S_c=2.5), "S_c=2.5 must be a non-negative integer"),
    (dict(b_w=0), "b_w=0 must be a positive number"),
    (dict(b_w="1/2"), "b_w='1/2' must be a positive number or a SymPy expression, not str"),
])
def test_subs_applies_the_rule_of_each_quantity(values, words):
    cost = symroof.decode(models.get("llama-3-8b"), "roofline-notes")
    with pytest.raises(ValueError) as err:
        cost.subs(**values)
    assert words in str(err.value)
    if "b_w" not in values:             # the same rule as the phases
        with pytest.raises(ValueError) as err:
            symroof.decode(models.get("llama-3-8b"), "exact", **values)
        assert words in str(err.value)


def test_subs_keeps_good_values_exact():
    cost = symroof.decode(models.get("llama-3-8b"), "roofline-notes")
    assert cost.subs(B=8, S_c=0) == symroof.decode(models.get("llama-3-8b"), "roofline-notes", B=8, S_c=0)
    assert as_value(S_c, 0) == 0 and as_value(B, 8.0) == 8 and as_value(b_w, 0.5) == sympy.Rational(1, 2)
    assert as_term(sympy.Integer(10) ** 400, "x") == sympy.Integer(10) ** 400


# ---- patterns from configs: linear time -------------------------------------------------------------------


EVIL = ["re:(a+)+$", "re:(a|a)*b", "(x+x+)+y", "re:(.*a){20}", "re:((a*)*)*c", "re:(a|aa)+$"]


@pytest.mark.parametrize("pattern", EVIL)
def test_nested_repetition_is_matched_in_linear_time(pattern):
    start = time.perf_counter()
    for name in precision.HF_MODULES:
        ignored(name, (pattern,))
        module_pattern(pattern)("a" * 5000 + "!")
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize("pattern, words", [
    ("re:(a)\\1", "invalid escape sequence"),
    ("re:(?<=x)y", "invalid perl operator"),
    ("re:((a{100}){100}){100}", "invalid repetition size"),
    ("re:" + "a" * 2000, "at most 1000"),
])
def test_unboundable_patterns_are_refused(pattern, words):
    with pytest.raises(ValueError) as err:
        module_pattern(pattern)
    assert words in str(err.value) and "ignore pattern" in str(err.value)


def test_ignore_semantics():
    assert ignored("lm_head", ("lm_head",))
    assert ignored("ffn/gate", ("re:.*mlp.gate_proj$",))
    assert ignored("ffn/gate", ("model.layers",))            # a prefix up to a module boundary
    assert not ignored("ffn/gate", ("model.lay",))
    assert ignored("attention/q", ("re:model\\.layers\\.\\d+\\.self_attn\\.q_proj",))
    assert ignored("attention/out", ("o_proj",))              # a suffix
    assert not ignored("ffn/gate", ("gate",))


@pytest.fixture()
def no_re2(monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "re2":
            raise ImportError("no re2")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    precision._module_pattern.cache_clear()
    yield
    precision._module_pattern.cache_clear()


def test_without_re2_literal_names_still_match(no_re2):
    assert ignored("lm_head", ("lm_head",)) and ignored("ffn/down", ("model.layers.0.mlp.down_proj",))
    assert not ignored("ffn/up", ("model.layers.0.mlp.down_proj",))


@pytest.mark.parametrize("pattern", ["re:(a+)+$", "re:(a)\\1", "re:.*up_proj$", "re:[ab"])
def test_without_re2_a_regex_is_refused(no_re2, pattern):
    with pytest.raises(ValueError, match="google-re2"):
        module_pattern(pattern)


# ---- reading config files ------------------------------------------------------------------------------


def _refused(path, *words):
    start = time.perf_counter()
    with pytest.raises(ValueError) as err:
        models.from_hf_config(path)
    message = str(err.value)
    assert "\n" not in message, message
    for w in words:
        assert w in message, (w, message)
    assert time.perf_counter() - start < 5
    return message


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    _refused(fifo, "is a FIFO, not a regular file")
    _refused(tmp_path, "is a FIFO")                          # the folder holding it


def test_devices_and_directories_are_refused(tmp_path):
    _refused("/dev/zero", "'/dev/zero' is a character device, not a regular file")
    link = tmp_path / "link.json"
    link.symlink_to("/dev/zero")
    _refused(link, "is a character device")
    empty = tmp_path / "empty"
    empty.mkdir()
    _refused(empty, "config.json", "No such file or directory")
    _refused("", "empty")


def test_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(hfconfig, "MAX_BYTES", 1000)
    big = tmp_path / "config.json"
    big.write_text(json.dumps({**LLAMA, "pad": "x" * 2000}))
    _refused(big, "2", "at most 1000")


def test_deep_nesting_is_one_line(tmp_path):
    deep = tmp_path / "config.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    _refused(deep, "nests 200000 arrays or objects deep; at most 64")
    deep.write_text(json.dumps({**LLAMA, "x": "[" * 200_000}))   # brackets inside a string do not count
    assert models.from_hf_config(deep).hidden == 64


@pytest.mark.parametrize("text, words", [
    ('{"hidden_size": 1e400}', "too large for a float"),
    ('{"hidden_size": NaN}', "NaN is not a number JSON allows"),
    ('{"hidden_size": ' + "9" * 5000 + "}", "not valid JSON"),
    ("[1, 2]", "must hold a JSON object, not an array"),
    ("{", "not valid JSON"),
])
def test_bad_json(tmp_path, text, words):
    path = tmp_path / "config.json"
    path.write_text(text)
    _refused(path, words)


@pytest.mark.parametrize("key, value, words", [
    ("hidden_size", True, "hidden_size=True must be a positive integer, not a boolean"),
    ("hidden_size", "64", "hidden_size='64' must be a positive integer, not a string"),
    ("num_hidden_layers", 2.0, "num_hidden_layers=2.0 must be a positive integer, not a float"),
    ("vocab_size", [1000], "vocab_size=[1000] must be a positive integer, not an array"),
    ("tie_word_embeddings", "false", "tie_word_embeddings='false' must be true or false"),
])
def test_types_are_checked_naming_key_and_file(tmp_path, key, value, words):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**LLAMA, key: value}))
    _refused(path, words, str(path))


# ---- the command line: I/O failures, escaping, exact numbers --------------------------------------------


def _cli(argv, stdout=None):
    import contextlib
    import io

    from symroof.output.cli import main

    out, err = stdout if stdout is not None else io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, (out.getvalue() if stdout is None else ""), err.getvalue()


class _Broken:
    def __init__(self, error):
        self.error, self.encoding, self.closed = error, "ascii", False

    def isatty(self):
        return False

    def write(self, text):
        raise self.error

    def flush(self):
        pass


@pytest.mark.parametrize("error, words", [
    (BrokenPipeError(32, "Broken pipe"), "the reader closed the pipe"),
    (OSError(28, "No space left on device"), "No space left on device"),
    (UnicodeEncodeError("ascii", "→", 0, 1, "ordinal not in range"), "encoding ascii cannot show '→'"),
    (ValueError("I/O operation on closed file."), "standard output is closed"),
])
def test_output_failures_get_their_own_line_and_status(error, words):
    status, _, err = _cli(["crossover"], stdout=_Broken(error))
    assert status == 74 and err.count("\n") == 1 and words in err and "Traceback" not in err, err
    assert err.startswith("symroof: cannot write the output: ")


def test_names_from_a_config_are_escaped(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**LLAMA, "_name_or_path": "evil\x1b[31m\nline2\u202e[bold]x[/bold]$x$"}))
    status, out, err = _cli(["report", "--hf-config", str(path)])
    assert status == 0 and err == ""
    first = out.splitlines()[0]
    assert first.startswith("evil\\u001b[31m\\u000aline2\\u202e[bold]x[/bold]$x$ on H100-SXM"), first
    assert "\x1b" not in out and "\u202e" not in out
    status, out, _ = _cli(["report", "--hf-config", str(path), "--json"])
    assert status == 0 and json.loads(out)["model"] == "evil\x1b[31m\nline2\u202e[bold]x[/bold]$x$"
    status, out, err = _cli(["latex", "--hf-config", str(path)])
    assert status == 0 and out.startswith(r"\[ \text{FLOPs}") and "\x1b" not in out + err   # math only
    status, out, _ = _cli(["latex", "--document", "--hf-config", str(path)])
    assert status == 0 and "\x1b" not in out and "\\u001b[31m" in out and "\u202e" not in out
    from symroof.output.plot import label
    assert label("a$b\x1b") == "a\\$b"               # no mathtext, no control character


def test_huge_exact_sizes_stay_exact_and_json_stays_json(tmp_path):
    path = tmp_path / "config.json"
    hidden = 2**1100                                     # beyond float: 2^1100 > 1.8e308
    path.write_text(json.dumps({**LLAMA, "hidden_size": hidden, "intermediate_size": 96}))
    status, out, err = _cli(["report", "--hf-config", str(path), "--json"])
    assert status == 0, err
    result = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    prefill = result["phases"]["prefill"]
    assert isinstance(prefill["flops"], int) and prefill["flops"] > hidden ** 2   # exact
    assert isinstance(prefill["time_s"]["total"], str) and "e+" in prefill["time_s"]["total"]
    status, out, err = _cli(["report", "--hf-config", str(path)])
    assert status == 0 and "(beyond float range)" in out and "inf" not in out, out


def test_tp_is_checked_against_the_heads():
    status, _, err = _cli(["report", "--tp", "3"])
    assert status == 2 and err == "symroof: error: --tp 3 must divide the 32 attention heads of llama-3-8b\n"
    status, out, _ = _cli(["report", "--tp", "16"])
    assert status == 0 and "note: the 8 KV heads of llama-3-8b are replicated on 16 GPUs (2 copies of each)" in out
    status, out, _ = _cli(["report", "--tp", "16", "--json"])
    assert status == 0 and "replicated" in json.loads(out)["tp_note"]
    status, _, err = _cli(["plot", "--kind", "time-per-token", "--tp", "5"])
    assert status == 2 and "--tp 5 must divide the 32 attention heads" in err
