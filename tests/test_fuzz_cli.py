"""Fuzz the command line (issue 17): arguments and mutated config files, every subcommand.

Whatever the input, ``symroof`` ends in one of two ways: exit status 2 with one line on stderr
naming the bad value, or exit status 0 with a valid result (valid JSON for ``--json``, strict:
no NaN or Infinity). Nothing hangs (each call is bounded), nothing prints a traceback.
Run in-process (`symroof.output.cli.main`) for speed; the examples are bounded so the suite stays fast.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symroof.output.cli import main

DATA = Path(__file__).parent / "data"
CONFIGS = sorted(DATA.glob("*.json"))
EXAMPLES = int(os.environ.get("SYMROOF_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

NASTY_TEXT = ["", " ", "\x1b[31m", "a\nb", "$\\frac{1}{0}$", "\u202e", "[bold]x", "__import__('os')",
              "1e400", "NaN", "-1", "0", "1.5", "9" * 30, "llama-3-8b", "H100-SXM", "symbolic", "x" * 300]
SIZES = ["1", "2", "8", "1024", "0", "-1", "1.5", "nan", "inf", "", "abc", str(2**70), "1e3", "+3"]


def _value(kind: str) -> st.SearchStrategy[Any]:
    """A JSON value to put under a key: the same type, a wrong type, huge, deep, or hostile text."""
    return st.one_of(
        st.sampled_from([True, False, None, 0, -1, 1, 3, 7, 2**64, 2**1100, 10**300, 1.5, 64.0, 1e308, "64", "",
                         "\x1b[2J", [], [1], {}, {"a": 1}]),
        st.integers(min_value=-10, max_value=10**6),
        st.text(max_size=8),
        st.recursive(st.integers(0, 3), lambda inner: st.lists(inner, max_size=2), max_leaves=4),
    )


@st.composite
def configs(draw: Any) -> str:
    """The text of a mutated ``tests/data/*.json``: keys changed, dropped or added; or broken text."""
    data = json.loads(draw(st.sampled_from(CONFIGS)).read_text())
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from([*data, "_name_or_path", "quantization_config", "torch_dtype"]))
        action = draw(st.sampled_from(["set", "drop", "quant"]))
        if action == "drop":
            data.pop(key, None)
        elif action == "quant":
            data["quantization_config"] = draw(st.sampled_from([
                {"quant_method": "fp8", "modules_to_not_convert": ["re:(a+)+$", "lm_head"]},
                {"quant_method": "gptq", "bits": 4, "group_size": draw(st.sampled_from([128, -1, 0, "x"]))},
                {"quant_method": "awq", "bits": True},
                {"quant_method": "bitsandbytes", "load_in_4bit": True, "llm_int8_skip_modules": ["re:(x|x)*y"]},
                {"quant_method": "compressed-tensors", "ignore": ["re:(?<=a)b"], "config_groups": {
                    "g": {"targets": ["Linear"], "weights": {"num_bits": 4, "strategy": "group",
                                                             "group_size": draw(st.sampled_from([128, 0, 1.5]))}}}},
            ]))
        else:
            data[key] = draw(_value(key))
    text = json.dumps(data)
    mangle = draw(st.sampled_from(["none", "none", "none", "deep", "truncate", "nan", "bom"]))
    if mangle == "deep":
        text = text[:-1] + ', "deep": ' + "[" * 5000 + "]" * 5000 + "}"
    elif mangle == "truncate":
        text = text[: len(text) // 2]
    elif mangle == "nan":
        text = text[:-1] + ', "x": NaN}'
    elif mangle == "bom":
        text = "\ufeff" + text
    return text


MODEL = st.one_of(configs().map(lambda t: ["--hf-config", t]),       # the text is written to a file in _run
                  st.sampled_from([[], ["--model", "mixtral-8x7b"], ["--model", "symbolic"], ["--model", "gpt2"],
                                   ["--model", "deepseek-v3"]]),
                  st.sampled_from(NASTY_TEXT).map(lambda t: ["--model", t]))
GOOD_SIZES = ["1", "2", "8", "1024", "4096", str(2**40)]
BAD_SIZES = [s for s in SIZES if s not in GOOD_SIZES]


def _opt(flag: str, good: list[str], bad: list[str], hostile: bool) -> st.SearchStrategy[list[str]]:
    """Absent or good; with ``hostile``, sometimes bad."""
    return st.sampled_from([[]] * 2 + [[flag, v] for v in good] + ([[flag, v] for v in bad] if hostile else []))


def _argv(hostile: bool) -> dict[str, st.SearchStrategy[tuple[list[str], ...]]]:
    """Per subcommand, its arguments; ``hostile=False``: valid options (only the config is mutated)."""
    o = lambda flag, good, bad=(): _opt(flag, list(good), list(bad), hostile)
    json_flag = st.sampled_from([[], ["--json"]])
    model = MODEL if hostile else st.one_of(configs().map(lambda t: ["--hf-config", t]),
                                            st.sampled_from([[], ["--model", "mixtral-8x7b"], ["--model", "gpt2"]]))
    common = [model, o("--gpu", ["H100-SXM", "A100-80GB"], ["", "H1000", "\x1b[31m"]),
              o("--dtype", ["bf16", "fp8", "float8_e4m3fn"], ["", "fp3", "int4"]),
              o("--conventions", ["exact", "000", "roofline-notes"], ["", "fast"])]
    prefill = [st.just(["--phase", "prefill"]), o("--batch", GOOD_SIZES, BAD_SIZES),
               o("--seq", GOOD_SIZES, BAD_SIZES)]
    decode = [st.just(["--phase", "decode"]), o("--batch", GOOD_SIZES, BAD_SIZES),
              o("--cached", [*GOOD_SIZES, "0"], BAD_SIZES), o("--new", GOOD_SIZES, BAD_SIZES)]
    sizes = st.one_of(st.tuples(*prefill), st.tuples(*decode),
                      st.tuples(o("--batch", GOOD_SIZES, BAD_SIZES), o("--seq", GOOD_SIZES, BAD_SIZES)))
    flat = lambda *parts: st.tuples(*parts).map(lambda t: tuple(p for part in t for p in (
        part if isinstance(part, tuple) else (part,))))
    return {
        "report": flat(*common, sizes, o("--tp", ["1", "2", "8"], ["3", "0", "64"]),
                       o("--comm", ["allreduce", "003", "none"], ["bogus"]), json_flag),
        "latex": flat(*common, sizes, o("--only", ["flops", "bytes", "intensity"], ["none"]),
                      st.sampled_from([[], [], ["--document"], ["--json"]])),
        "crossover": flat(*common, st.one_of(st.tuples(*decode), st.tuples(*prefill)),
                          o("--unknown", ["B"], ["Q", "S_c"]), json_flag),
        "plot": flat(model, o("--kind", ["roofline", "intensity-vs-batch", "time-per-token"], ["pie"]),
                     o("--cached", ["0", "512"], ["-1"]), o("--phase", [], ["prefill"]),
                     o("--max-batch", [], ["0", "x", "64"]), o("--tp", [], ["3", "2"]),
                     st.sampled_from([["--out", "OUT.png"], ["--out", "OUT.svg"]]
                                     + ([["--out", ""], ["--out", "/no/such/dir/x.png"], ["--out", "OUT.xyz"]]
                                        if hostile else []))),
        "models": flat(json_flag, o("--model", [], ["x"])),
        "hardware": flat(json_flag, o("--gpu", [], ["x"])),
    }


ARGV, VALID_ARGV = _argv(True), _argv(False)


def _run(command: str, parts: tuple[list[str], ...], folder: Path) -> tuple[list[str], int, str, str]:
    argv = [command]
    for part in parts:
        if part[:1] == ["--hf-config"]:
            path = folder / "config.json"
            path.write_text(part[1], encoding="utf-8")
            part = ["--hf-config", str(path)]
        elif part[:1] == ["--out"] and part[1].startswith("OUT"):
            part = ["--out", str(folder / part[1])]
        argv += part
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    assert time.perf_counter() - start < 20, argv
    return argv, status, out.getvalue(), err.getvalue()


def _strict(constant: str) -> Any:
    raise AssertionError(f"{constant} is not JSON")


@pytest.mark.parametrize("hostile", [True, False], ids=["hostile options", "mutated configs"])
@pytest.mark.parametrize("command", list(ARGV))
def test_every_input_is_refused_in_one_line_or_answered(command: str, hostile: bool) -> None:
    if command in ("models", "hardware") and not hostile:
        pytest.skip("no config to mutate")
    examples = EXAMPLES if command != "plot" else max(10, EXAMPLES // 5)    # drawing is slow

    @settings(FUZZ, max_examples=examples)
    @given((ARGV if hostile else VALID_ARGV)[command])
    def check(parts: tuple[list[str], ...]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            argv, status, out, err = _run(command, parts, Path(folder))
        assert status in (0, 2), (argv, status, err)
        assert "Traceback" not in err and "\x1b" not in err and "\x1b" not in out, (argv, err)
        if status == 2:
            assert out == "" and err.count("\n") == 1 and err.startswith("symroof: error: "), (argv, out, err)
            assert len(err) < 500, (argv, err)
        else:
            assert err == "", (argv, err)
            if "--json" in argv and "--document" not in argv:
                json.loads(out, parse_constant=_strict)
            elif command != "plot":
                assert out.strip(), argv

    check()
