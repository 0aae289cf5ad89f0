"""Every bad input a user can give gets one clear line naming the bad value (and what is allowed).

The cases below are the source of ``docs/bad-inputs.md``: regenerate it with
``python -m tests.test_bad_input`` after changing a case or a message.

Each case says where the input goes (an `Arch` field, a config key, a phase
argument, an evaluator argument, a CLI option …), what it is, and the words the
error must contain (written by hand: the bad value and the name it was given
under). Python calls must raise a ``ValueError`` (a ``TypeError`` where Python's
own call conventions say so: an unknown keyword argument); the CLI must exit with
status 2 and print one line to stderr. No message may span lines or carry a
traceback. A case whose owner has not landed a fix yet is an ``xfail(strict=True)``
naming the owner; a case whose API has not landed yet is skipped.
"""

from __future__ import annotations

import contextlib
import io
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import sympy

import symroof
from symroof import analysis, conventions, hardware, latex, models
from symroof.symbols import H

DOC = Path(__file__).resolve().parent.parent / "docs" / "bad-inputs.md"


@dataclass(frozen=True)
class Case:
    area: str                                   # where the input goes
    text: str                                   # the call, as shown in the table
    run: Callable[[], Any]
    expect: tuple[str, ...] = ()                # the message must contain each
    errors: tuple[type[BaseException], ...] = (ValueError,)
    needs: Callable[[], bool] | None = None     # the API exists (else: skipped, "not landed yet")
    xfail: str = ""                             # an open problem, naming its owner
    cli: bool = False


def _show(fn: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    parts = [a if isinstance(a, _Raw) else repr(a) for a in args]
    parts += [f"{k}={v if isinstance(v, _Raw) else repr(v)}" for k, v in kwargs.items()]
    return f"{fn}({', '.join(parts)})"


class _Raw(str):
    """An argument shown as written (a variable name such as ``arch``), not as its repr."""


def call(area: str, label: str, fn: Callable[..., Any], *args: Any, expect: tuple[str, ...] = (),
         errors: tuple[type[BaseException], ...] = (ValueError,), needs: Callable[[], bool] | None = None,
         xfail: str = "", **kwargs: Any) -> Case:
    shown_args = tuple(_Raw(a.raw) if isinstance(a, _Var) else a for a in args)
    shown_kwargs = {k: _Raw(v.raw) if isinstance(v, _Var) else v for k, v in kwargs.items()}

    def run() -> Any:
        real_args = [a.value() if isinstance(a, _Var) else a for a in args]
        real_kwargs = {k: v.value() if isinstance(v, _Var) else v for k, v in kwargs.items()}
        return fn(*real_args, **real_kwargs)

    return Case(area, _show(label, shown_args, shown_kwargs), run, expect, errors, needs, xfail)


@dataclass(frozen=True)
class _Var:
    """A value built lazily, shown by name: ``_Var("arch", lambda: ...)``."""

    raw: str
    value: Callable[[], Any]


def cli(argv: list[str], expect: tuple[str, ...] = (), xfail: str = "") -> Case:
    return Case("CLI", "symroof " + shlex.join(argv), lambda: _run_cli(argv), expect, (), None, xfail, cli=True)


def _run_cli(argv: list[str]) -> tuple[int | str | None, str]:
    from symroof.output.cli import main

    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit_:
            status = exit_.code
    return status, err.getvalue()


# ---- shared values ------------------------------------------------------------------------------------------

GOOD = dict(hidden=64, layers=2, heads=4)
ARCH = _Var("arch", lambda: symroof.Arch(**GOOD))


@cache
def _cost() -> symroof.Cost:
    return symroof.decode(models.get("llama-3-8b"), "roofline-notes")


@cache
def _decoded() -> symroof.Cost:
    return _cost().subs(B=1, S_c=5)


COST = _Var("cost", _cost)           # Llama-3-8B decode, roofline-notes; B and S_c left free
AT = _Var("cost_at", _decoded)       # the same at B=1, S_c=5


def _has_compile() -> bool:
    return hasattr(symroof, "compile")


@cache
def _evaluator() -> Any:
    return symroof.compile(_cost().intensity)


EV = _Var("ev", _evaluator)          # symroof.compile(cost.intensity): arguments B, S_c


def _mod(name: str) -> Any:
    import importlib

    return importlib.import_module(f"symroof.{name}")


def _has_hf() -> bool:
    return hasattr(models, "from_hf_config")


LLAMA = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "intermediate_size": 96, "vocab_size": 1000}


def hf(label: str, changes: dict[str, Any], drop: tuple[str, ...] = (), expect: tuple[str, ...] = (),
       xfail: str = "") -> Case:
    config = {k: v for k, v in {**LLAMA, **changes}.items() if k not in drop}
    return Case("config.json", f"from_hf_config(tiny llama, {label})", lambda: models.from_hf_config(config),
                expect, (ValueError,), _has_hf, xfail)


NAN, INF = float("nan"), float("inf")


def _nested() -> Any:
    from symroof.model.hf.config import parse_config

    return parse_config("[" * 200_000 + "]" * 200_000, "deep.json")

CASES: list[Case] = [
    # ---- Arch fields ----
    call("Arch", "Arch", symroof.Arch, hidden=0, layers=2, heads=4, expect=("hidden=0", "positive integer")),
    call("Arch", "Arch", symroof.Arch, hidden=-64, layers=2, heads=4, expect=("hidden=-64",)),
    call("Arch", "Arch", symroof.Arch, hidden="64", layers=2, heads=4, expect=("hidden='64'", "not str")),
    call("Arch", "Arch", symroof.Arch, hidden=64, layers=2.5, heads=4, expect=("layers=2.5", "integer")),
    call("Arch", "Arch", symroof.Arch, hidden=64, layers=None, heads=4, expect=("layers=None",)),
    call("Arch", "Arch", symroof.Arch, hidden=64, layers=2, heads=5, expect=("heads=5", "hidden=64", "divide")),
    call("Arch", "Arch", symroof.Arch, **GOOD, kv_heads=3, expect=("kv_heads=3", "heads=4", "divide")),
    call("Arch", "Arch", symroof.Arch, **GOOD, kv_heads=8, expect=("kv_heads=8", "heads=4")),
    call("Arch", "Arch", symroof.Arch, **GOOD, head_dim=0, expect=("head_dim=0",)),
    call("Arch", "Arch", symroof.Arch, **GOOD, ffn_dim=-1, expect=("ffn_dim=-1",)),
    call("Arch", "Arch", symroof.Arch, **GOOD, vocab=True, expect=("vocab=True", "bool")),
    call("Arch", "Arch", symroof.Arch, **GOOD, vocab=INF, expect=("vocab=inf",)),
    call("Arch", "Arch", symroof.Arch, hidden=sympy.oo, layers=2, heads=4, expect=("hidden=oo",)),
    call("Arch", "Arch", symroof.Arch, hidden=-H, layers=2, heads=4, expect=("hidden=-H",)),
    call("Arch", "Arch", symroof.Arch, **GOOD, weight_bytes=NAN, expect=("weight_bytes=nan", "finite")),
    call("Arch", "Arch", symroof.Arch, **GOOD, kv_bytes=-1, expect=("kv_bytes=-1", "positive")),
    call("Arch", "Arch", symroof.Arch, **GOOD, act_bytes=1j, expect=("act_bytes=1j",)),
    call("Arch", "Arch", symroof.Arch, **GOOD, kv_bytes="fp3", expect=("kv_bytes='fp3'", "bf16")),
    call("Arch", "Arch", symroof.Arch, **GOOD, params_b=0, expect=("params_b=0",)),
    call("Arch", "Arch", symroof.Arch, **GOOD, experts=0, expect=("experts=0",)),
    call("Arch", "Arch", symroof.Arch, **GOOD, experts=2, experts_per_token=3,
         expect=("experts_per_token=3", "experts=2")),
    call("Arch", "Arch", symroof.Arch, **GOOD, shared_experts=-1, expect=("shared_experts=-1",)),
    call("Arch", "Arch", symroof.Arch, **GOOD, max_positions=-5, expect=("max_positions=-5",)),
    call("Arch", "Arch", symroof.Arch, **GOOD, ffn_kind="swiglu", expect=("ffn_kind='swiglu'", "'dense', 'gated'")),
    call("Arch", "Arch", symroof.Arch, **GOOD, norm="batchnorm", expect=("norm='batchnorm'", "'rmsnorm'")),
    call("Arch", "Arch", symroof.Arch, **GOOD, tied_embeddings="yes", expect=("tied_embeddings='yes'",)),
    call("Arch", "Arch", symroof.Arch, **GOOD, name=3, expect=("name=3", "string")),
    call("Arch", "Arch", symroof.Arch, **GOOD, hidden_size=64, expect=("hidden_size",), errors=(TypeError,)),
    call("Arch", "arch.replace", lambda **kw: ARCH.value().replace(**kw), heads=3, expect=("heads=3",)),
    # ---- conventions ----
    call("Conventions", "Conventions", symroof.Conventions, scores="half", expect=("scores='half'", "'causal'")),
    call("Conventions", "Conventions", symroof.Conventions, kv_read="both", expect=("kv_read='both'", "'k+v'")),
    call("Conventions", "Conventions", symroof.Conventions, name=3, expect=("name=3",)),
    call("Conventions", "conventions.get", conventions.get, "fast", expect=("'fast'", "arithmetic-intensity")),
    call("Conventions", "conventions.get", conventions.get, 3, expect=("3", "presets")),
    # ---- phases ----
    call("phase", "prefill", symroof.prefill, ARCH, "exact", B=0, S=3, expect=("B=0",)),
    call("phase", "prefill", symroof.prefill, ARCH, "exact", B=NAN, S=3, expect=("B=nan",)),
    call("phase", "prefill", symroof.prefill, ARCH, "exact", B=INF, S=3, expect=("B=inf",)),
    call("phase", "prefill", symroof.prefill, ARCH, "exact", B=True, S=3, expect=("B=True", "bool")),
    call("phase", "prefill", symroof.prefill, ARCH, "exact", B=1, S=-1, expect=("S=-1",)),
    call("phase", "prefill", symroof.prefill, ARCH, "exact", B=1, S="8", expect=("S='8'",)),
    call("phase", "prefill", symroof.prefill, ARCH, "fast", B=1, S=8, expect=("'fast'",)),
    call("phase", "prefill", symroof.prefill, "llama-3-8b", "exact", B=1, S=8, expect=("arch='llama-3-8b'", "Arch")),
    call("phase", "decode", symroof.decode, ARCH, "exact", B=1, S_c=-1, expect=("S_c=-1", "non-negative")),
    call("phase", "decode", symroof.decode, ARCH, "exact", B=1, S_c=3, S_i=0, expect=("S_i=0",)),
    call("phase", "step", symroof.step, ARCH, "exact", B=1, S_i=1, S_c=1.5, expect=("S_c=1.5",)),
    # ---- Cost ----
    call("Cost", "cost.subs", lambda **kw: _cost().subs(**kw), B=-1, expect=("B=-1",)),
    call("Cost", "cost.subs", lambda **kw: _cost().subs(**kw), B="8", expect=("B='8'", "not str")),
    call("Cost", "cost.subs", lambda **kw: _cost().subs(**kw), B="__import__('math').pi", expect=("B=",)),
    call("Cost", "cost.subs", lambda **kw: _cost().subs(**kw), B=NAN, expect=("B=nan",)),
    call("Cost", "cost.subs", lambda **kw: _cost().subs(**kw), Q=1, expect=("unknown symbol 'Q'", "S_c")),
    call("Cost", "Cost", symroof.Cost, flops={"attention/q": "1+1"}, expect=("'attention/q'", "'1+1'")),
    call("Cost", "Cost", symroof.Cost, flops={"": 1}, expect=("''",)),
    call("Cost", "cost.subs", lambda **kw: _cost().subs(**kw), B=0.5, expect=("B=0.5", "positive integer")),
    call("Cost", "cost.subs", lambda **kw: _cost().subs(**kw), B=0, expect=("B=0", "positive integer")),
    call("Cost", "Cost", symroof.Cost, flops={"ffn/up": -1}, expect=("'ffn/up'=-1", "non-negative")),
    call("Cost", "Cost", symroof.Cost, bytes={"kv": NAN}, expect=("'kv'=nan", "finite")),
    call("Cost", "Cost", symroof.Cost, bytes={"kv": INF}, expect=("'kv'=inf", "finite")),
    call("Cost", "Step", lambda **kw: _mod("cost.components").Step(**kw), cached="__import__('os')",
         expect=("cached=", "not str")),
    call("Cost", "Step", lambda **kw: _mod("cost.components").Step(**kw), batch=0, expect=("batch=0",)),
    # ---- catalogues and symbols ----
    call("catalogue", "models.get", models.get, "llama-4-8b", expect=("'llama-4-8b'", "did you mean")),
    call("catalogue", "models.get", models.get, 3, expect=("int",)),
    call("catalogue", "hardware.get", hardware.get, "H1000", expect=("'H1000'", "did you mean")),
    call("catalogue", "hardware.get('H100-SXM').with_dtype", lambda d: hardware.get("H100-SXM").with_dtype(d), "fp3",
         expect=("'fp3'", "bf16")),
    call("catalogue", "Hardware", symroof.Hardware, name="x", peak_flops_per_s={"bf16": -1},
         bandwidth_bytes_per_s=2e12, expect=("peak_flops_per_s[bf16]=-1",)),
    call("catalogue", "Hardware", symroof.Hardware, name="x", peak_flops_per_s={"bf16": "1e15"},
         bandwidth_bytes_per_s=2e12, expect=("'1e15'", "not str")),
    call("catalogue", "Hardware", symroof.Hardware, name="x", peak_flops_per_s={"bf16": 1e15},
         bandwidth_bytes_per_s=NAN, expect=("bandwidth_bytes_per_s=nan",)),
    call("catalogue", "total_parameters", symroof.total_parameters, "llama-3-8b", expect=("'llama-3-8b'",)),
    call("catalogue", "symbols.by_name", symroof.symbols.by_name, "Q", expect=("'Q'", "S_c"),
         errors=(KeyError,)),
    # ---- config.json (symroof.models.from_hf_config) ----
    hf("no hidden_size", {}, drop=("hidden_size",), expect=("hidden_size",)),
    hf("hidden_size='64'", {"hidden_size": "64"}, expect=("hidden_size='64'",)),
    hf("hidden_size=-1", {"hidden_size": -1}, expect=("hidden_size=-1",)),
    hf("hidden_size=64.5", {"hidden_size": 64.5}, expect=("hidden_size=64.5",)),
    hf("hidden_size=true", {"hidden_size": True}, expect=("hidden_size=True",)),
    hf("hidden_size=NaN", {"hidden_size": NAN}, expect=("hidden_size=nan",)),
    hf("num_hidden_layers=0", {"num_hidden_layers": 0}, expect=("num_hidden_layers=0",)),
    hf("num_attention_heads=3 (64 not divisible)", {"num_attention_heads": 3, "num_key_value_heads": 3},
       expect=("num_attention_heads=3", "64")),
    hf("num_key_value_heads=3 of 4", {"num_key_value_heads": 3}, expect=("num_key_value_heads=3",)),
    hf("model_type='bert'", {"model_type": "bert"}, expect=("'bert'",)),
    hf("torch_dtype='float7'", {"torch_dtype": "float7"}, expect=("'float7'",)),
    hf("tie_word_embeddings='no'", {"tie_word_embeddings": "no"}, expect=("tie_word_embeddings='no'",)),
    hf("num_experts_per_tok=3 of 2 experts", {"model_type": "mixtral", "num_local_experts": 2,
                                              "num_experts_per_tok": 3},
       expect=("num_experts_per_tok=3", "2")),
    Case("config.json", "from_hf_config('no/such/config.json')",
         lambda: models.from_hf_config("no/such/config.json"), ("no/such/config.json",), (ValueError,), _has_hf),
    hf("hidden_size=1e400", {"hidden_size": 1e400}, expect=("hidden_size=inf", "not a float")),
    hf("vocab_size=[1000]", {"vocab_size": [1000]}, expect=("vocab_size=[1000]", "not an array")),
    hf("fp8 modules_to_not_convert=['re:(a)\\\\1']", {"quantization_config": {
        "quant_method": "fp8", "modules_to_not_convert": ["re:(a)\\1"]}}, expect=("'re:(a)\\\\1'", "RE2")),
    Case("config.json", "from_hf_config('/dev/zero')", lambda: models.from_hf_config("/dev/zero"),
         ("'/dev/zero'", "character device", "regular file"), (ValueError,), _has_hf),
    Case("config.json", "from_hf_config('')", lambda: models.from_hf_config(""), ("''", "empty"), (ValueError,),
         _has_hf),
    Case("config.json", "hf.config.parse_config(200,000 nested arrays, 'deep.json')", lambda: _nested(),
         ("nests 200000", "at most 64"), (ValueError,), _has_hf),
    Case("config.json", "from_hf_config(42)", lambda: models.from_hf_config(42), ("int",), (ValueError,), _has_hf),
    # ---- analysis ----
    call("analysis", "balance", analysis.balance, "H1000", expect=("'H1000'",)),
    call("analysis", "balance", analysis.balance, "H100-SXM", "fp3", expect=("'fp3'",)),
    call("analysis", "regime", analysis.regime, COST, "H100-SXM", B=-1, S_c=10, expect=("B=-1",)),
    call("analysis", "regime", analysis.regime, COST, "H100-SXM", B=NAN, S_c=10, expect=("B=nan",)),
    call("analysis", "regime", analysis.regime, COST, "H100-SXM", B="8", S_c=10, expect=("B='8'",)),
    call("analysis", "regime", analysis.regime, COST, "H100-SXM", Q=1, S_c=10, expect=("'Q'",)),
    call("analysis", "regime", analysis.regime, COST, "H100-SXM", S_c=10, expect=("needs values for B",)),
    call("analysis", "intensity_limit", analysis.intensity_limit, COST, "Q", expect=("'Q'",)),
    call("analysis", "intensity_limit", analysis.intensity_limit, "B/(B+1)", "B", expect=("str",)),
    call("analysis", "crossover", analysis.crossover, COST, -1, expect=("balance=-1",)),
    call("analysis", "crossover", analysis.crossover, COST, NAN, expect=("balance=nan",)),
    call("analysis", "crossover", analysis.crossover, COST, "H100-SXM", unknown="Q", expect=("'Q'",)),
    call("analysis", "crossover_batch", analysis.crossover_batch, COST, "H100-SXM", S_c=-5, expect=("S_c=-5",)),
    call("analysis", "latency", analysis.latency, AT, "H100-SXM", tp=0, expect=("tp=0",)),
    call("analysis", "latency", analysis.latency, AT, "H100-SXM", model="avg", expect=("model='avg'", "'max'")),
    call("analysis", "latency", analysis.latency, AT, "H100-SXM", comm_s=-1, expect=("comm_s=-1",)),
    call("analysis", "latency", analysis.latency, AT, "H100-SXM", comm_s=NAN, expect=("comm_s=nan",)),
    call("analysis", "kv_capacity", analysis.kv_capacity, ARCH, "H100-SXM", gpus=0, expect=("gpus=0",)),
    call("analysis", "kv_capacity", analysis.kv_capacity, ARCH, "H100-SXM", gpus=1.5, expect=("gpus=1.5",)),
    call("analysis", "tp_communication", analysis.tp_communication, ARCH, "H100-SXM", tp=-2, tokens=3,
         expect=("tp=-2",)),
    call("analysis", "time_to_first_token", analysis.time_to_first_token, ARCH, "exact", "H100-SXM", B=0, S=3,
         expect=("B=0",)),
    # ---- beyond the seeds: speculative decoding, serving, parallelism, MoE, precision ----
    call("beyond", "speculative.expected_tokens", lambda *a: _mod("speculative").expected_tokens(*a), 1.5, 4,
         expect=("alpha=1.5",)),
    call("beyond", "speculative.expected_tokens", lambda *a: _mod("speculative").expected_tokens(*a), NAN, 4,
         expect=("alpha=nan",)),
    call("beyond", "serving.max_batch", lambda *a, **kw: _mod("serving").max_batch(*a, **kw), ARCH, "H100-SXM",
         S_c=10, tp=0, expect=("tp=0",)),
    call("beyond", "serving.pareto_front", lambda *a: _mod("serving").pareto_front(*a), [1, NAN], [1, 2],
         expect=("finite",)),
    call("beyond", "parallel.bubble_fraction", lambda *a: _mod("parallel").bubble_fraction(*a), 0, 4,
         expect=("stages=0",)),
    call("beyond", "moe.expected_distinct_experts", lambda *a: _mod("moe").expected_distinct_experts(*a), 4, 5, 10,
         expect=("experts_per_token=5", "experts=4")),
    call("beyond", "precision.Layout", lambda *a, **kw: _mod("precision").Layout(*a, **kw), "x", bits=4,
         scale_bytes="__import__('os')", expect=("scale_bytes=", "not str")),
    call("beyond", "precision.Layout", lambda *a, **kw: _mod("precision").Layout(*a, **kw), "x", bits=-4,
         expect=("bits=-4",)),
    call("beyond", "precision.Layout", lambda *a, **kw: _mod("precision").Layout(*a, **kw), "x", bits=4,
         per_tensor=NAN, expect=("per_tensor=nan",)),
    call("beyond", "precision.Layout(...).matrix_bytes",
         lambda *a: _mod("precision").Layout("x", bits=4).matrix_bytes(*a), "64", 64, expect=("in_features='64'",)),
    call("beyond", "precision.ignored", lambda *a: _mod("precision").ignored(*a), "lm_head", ("re:(a)\\1",),
         expect=("'re:(a)\\\\1'", "RE2")),
    call("beyond", "precision.bytes_per_element", lambda *a: _mod("precision").bytes_per_element(*a), "fp3",
         expect=("dtype='fp3'", "'bf16'")),
    # ---- evaluator (symroof.compile) ----
    call("evaluator", "ev", lambda **kw: _evaluator()(**kw), B=NAN, S_c=1, expect=("B=nan",), needs=_has_compile),
    call("evaluator", "ev", lambda **kw: _evaluator()(**kw), B=INF, S_c=1, expect=("B=inf",), needs=_has_compile),
    call("evaluator", "ev", lambda **kw: _evaluator()(**kw), B=-1, S_c=1, expect=("B=-1",), needs=_has_compile),
    call("evaluator", "ev", lambda **kw: _evaluator()(**kw), B=1, S_c=-1, expect=("S_c=-1",), needs=_has_compile),
    call("evaluator", "ev", lambda **kw: _evaluator()(**kw), B=1.5, S_c=1, expect=("B=1.5",), needs=_has_compile),
    call("evaluator", "ev", lambda **kw: _evaluator()(**kw), B=1, S_c=1, Q=3, expect=("'Q'",),
         errors=(ValueError, TypeError), needs=_has_compile),
    call("evaluator", "ev", lambda **kw: _evaluator()(**kw), B=1, expect=("S_c",),
         errors=(ValueError, TypeError), needs=_has_compile),
    call("evaluator", "compile", lambda *a, **kw: symroof.compile(*a, **kw), "B + 1",
         errors=(ValueError, TypeError), needs=_has_compile),
    call("evaluator", "compile", lambda *a, **kw: symroof.compile(*a, **kw), COST, backend="gpu",
         expect=("backend='gpu'",), needs=_has_compile),
    # ---- LaTeX ----
    call("LaTeX", "to_latex", latex.to_latex, "B + 1", errors=(ValueError, TypeError)),
    call("LaTeX", "to_latex", latex.to_latex, "__import__('math').pi", errors=(ValueError, TypeError)),
    call("LaTeX", "to_latex", latex.to_latex, None, expect=("None",), errors=(ValueError, TypeError)),
    # ---- command line ----
    cli(["report", "--batch", "0"], ("--batch", "'0'")),
    cli(["report", "--batch", "abc"], ("--batch", "'abc'")),
    cli(["report", "--batch", "nan"], ("--batch", "'nan'")),
    cli(["report", "--batch", "-3"], ("--batch", "-3")),
    cli(["report", "--seq", "1.5"], ("--seq", "'1.5'")),
    cli(["report", "--model", "llama-4-8b"], ("'llama-4-8b'", "did you mean")),
    cli(["report", "--gpu", "H1000"], ("'H1000'",)),
    cli(["report", "--conventions", "fast"], ("'fast'", "exact")),
    cli(["report", "--phase", "sideways"], ("sideways",)),
    cli(["report", "--tp", "0"], ("--tp", "0")),
    cli(["report", "--cached", "-1"], ("--cached", "-1")),
    cli(["report", "--hf-config", "no/such/config.json"], ("no/such/config.json",)),
    cli(["report", "--dtype", "fp3"], ("'fp3'", "bf16")),
    cli(["crossover", "--unknown", "Q"], ("'Q'",)),
    cli(["latex", "--only", "none"], ("'none'", "flops")),
    cli(["plot", "--out", "/nonexistent/dir/x.png"], ("/nonexistent/dir",)),
    cli(["plot", "--out", "x.unknownext"], ("'x.unknownext'", "png")),
    cli(["frobnicate"], ("frobnicate",)),
    cli(["report", "--model", ""], ("--model", "''", "empty")),
    cli(["report", "--hf-config", ""], ("--hf-config", "''", "empty")),
    cli(["report", "--tp", "3"], ("--tp 3", "32 attention heads")),
    cli(["report", "--model", "llama-2-7b", "--tp", "64"], ("--tp 64", "32 attention heads")),
    cli(["report", "--hf-config", "/dev/zero"], ("'/dev/zero'", "character device")),
    cli(["report", "--hf-config", "/dev"], ("'/dev/config.json'",)),
    cli(["plot", "--kind", "roofline", "--max-batch", "8"], ("--max-batch", "--kind roofline")),
    cli(["plot", "--kind", "roofline", "--phase", "prefill"], ("--phase", "--kind roofline")),
    cli(["plot", "--kind", "time-per-token", "--seq", "8"], ("--seq", "--kind time-per-token")),
    cli(["plot", "--kind", "intensity-vs-batch", "--batch", "8"], ("--batch", "intensity-vs-batch")),
    cli(["report", "--set", "experts=all"], ("unknown convention 'experts'",)),
    cli(["report", "--set", "experts_read=some"], ("experts_read", "all, touched")),
    cli(["report", "--set", "query_block=2**62"], ("query_block", "positive whole number")),
    cli(["report", "--set", "scores"], ("FIELD=VALUE",)),
    cli(["report", "--conventions-file", "/dev"], ("regular file",)),
    cli(["report", "--conventions-file", "no/such.toml"], ("cannot read conventions file",)),
    cli(["report", "--peak-tflops", "inf"], ("'inf' is not a number",)),
    cli(["report", "--bandwidth-gbs", "0"], ("'0' must be positive",)),
    cli(["report", "--usable-fraction", "2"], ("(0, 1]",)),
    cli(["report", "--gpu", "custom"], ("--peak-tflops and --bandwidth-gbs",)),
    cli(["report", "--hardware-file", "/dev"], ("regular file",)),
    cli(["report", "--kv-dtype", "fp7"], ("--kv-dtype='fp7'",)),
    cli(["report", "--family", "llama"], ("--hf-config only",)),
    cli(["report", "--gen", "8", "--phase", "decode"], ("--phase",)),
    cli(["plot", "--dpi", "1e9"], ("--dpi",)),
]


# ---- running a case -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    kind: str                                   # "ValueError", "exit 2", "no error", ...
    message: str
    error: type[BaseException] | None = None


def outcome(case: Case) -> Outcome:
    """What happened and the message (for the CLI: the exit status and stderr)."""
    if case.cli:
        status, err = case.run()
        return Outcome(f"exit {status}", err.strip())
    try:
        result = case.run()
    except Exception as err:          # the table shows whatever happens, right or wrong
        message = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
        return Outcome(type(err).__name__, message.strip(), type(err))
    return Outcome("no error", f"returned {_short(result)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def available(case: Case) -> bool:
    return case.needs is None or case.needs()


def _param(case: Case) -> Any:
    marks = []
    if case.xfail:
        marks.append(pytest.mark.xfail(strict=True, reason=case.xfail))
    return pytest.param(case, marks=marks, id=f"{case.area}: {case.text}")


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input_gets_one_clear_line(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    if not available(case):
        pytest.skip("API not landed yet")
    # a tripwire: SymPy parses text with parse_expr (which evals); no bad input may get that far
    import sympy.parsing.sympy_parser as parser

    def tripwire(text: Any, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"text reached SymPy's parser: {text!r}")

    monkeypatch.setattr(parser, "parse_expr", tripwire)
    got = outcome(case)
    if case.cli:
        assert got.kind == "exit 2", got
    else:
        assert got.error is not None and issubclass(got.error, case.errors), got
    message = got.message
    assert message, "the error must say what is wrong"
    assert "\n" not in message and "Traceback" not in message, message
    assert "SympifyError" not in message and len(message) < 400, message
    for words in case.expect:
        assert words in message, (words, message)


def test_cases_are_distinct() -> None:
    keys = [(c.area, c.text) for c in CASES]
    assert len(keys) == len(set(keys)), [k for k in keys if keys.count(k) > 1]


# ---- the table in docs/bad-inputs.md ---------------------------------------------------------------------------

HEADER = """# Bad inputs and what they get

Generated by `python -m tests.test_bad_input` from the cases of `tests/test_bad_input.py`, which
checks each of them: a Python call raises a `ValueError` (a `TypeError` only where Python's own
call conventions say so, e.g. an unknown keyword argument), the command line exits with status 2,
and either way the message is one line naming the bad value. `tests/test_bad_input.py` also checks
that this file is current. Rows marked **open** are known problems, with the module's owner;
rows marked *not landed* are for an API that does not exist yet.

In the calls, `arch` is `Arch(hidden=64, layers=2, heads=4)`, `cost` is Llama-3-8B's decode under
`roofline-notes` (B and S_c free), `cost_at` is the same at B=1, S_c=5, and `ev` is
`symroof.compile(cost.intensity)`. The `tiny llama` config rows change one key of a Llama config
(`hidden_size` 64, 2 layers, 4 heads, 2 KV heads, `intermediate_size` 96, `vocab_size` 1000).

| where | input | gets | message |
|---|---|---|---|
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ⏎ ")


def render() -> str:
    rows = []
    for case in CASES:
        if not available(case):
            kind, message = "*not landed*", ""
        else:
            got = outcome(case)
            kind, message = got.kind, got.message
            if case.xfail:
                kind = f"**open** ({case.xfail.split(':')[0]}): {kind}"
        rows.append(f"| {case.area} | `{_cell(case.text)}` | {_cell(kind)} | {_cell(message) if message else ''} |")
    return HEADER + "\n".join(rows) + "\n"


def test_doc_is_current() -> None:
    assert DOC.exists(), "docs/bad-inputs.md is missing: run python -m tests.test_bad_input"
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/bad-inputs.md is stale: regenerate it with python -m tests.test_bad_input")


# ---- no text reaches a parser -----------------------------------------------------------------------------------


def test_no_eval_exec_or_parse_expr_in_the_package() -> None:
    """No module evaluates text: no builtin ``eval``/``exec``, no ``parse_expr`` or ``sympy.parsing``.

    The exceptions are ``symroof/evaluate.py`` and ``symroof/_numba.py``, which compile the
    numeric program they generate themselves from a SymPy expression (never text:
    ``compile("B + 1")`` is refused, see the cases above).
    """
    import ast

    generated_code_only = {"evaluate.py", "_numba.py"}
    package = Path(symroof.__file__).parent
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [getattr(node, "module", None) or ""] + [a.name for a in node.names]
                if any("sympy.parsing" in n or n == "parse_expr" for n in names):
                    found.append(f"{path.name}:{node.lineno} imports a parser")
            elif isinstance(node, ast.Call):
                builtin = isinstance(node.func, ast.Name) and node.func.id in ("eval", "exec")
                parser = (node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")) \
                    == "parse_expr"
                if parser or (builtin and path.name not in generated_code_only):
                    found.append(f"{path.name}:{node.lineno} calls {ast.unparse(node.func)}")
    assert not found, found


if __name__ == "__main__":
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
