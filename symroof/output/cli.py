"""The ``symroof`` command line.

::

    symroof report    [MODEL] [GPU] [--phase prefill|decode|step] [SIZES] [--tp T] [--comm C]
                      [--prompt S --gen G] [--json]
    symroof latex     [MODEL] [--phase ...] [SIZES] [--only flops|bytes|intensity | --document [GPU]]
    symroof crossover [MODEL] [GPU] [--phase ...] [SIZES] [--unknown B|S_c|S_i|S] [--tp T]
    symroof plot      [MODEL] [GPU] [--kind roofline|intensity-vs-batch|time-per-token] [SIZES] [--tp T]
                      [--comm C] [-o FILE] [--dpi DPI]
    symroof models    [--hf-config PATH [--family NAME]] [--json]
    symroof hardware  [--hardware-file FILE.toml] [--json]
    symroof --version

MODEL is ``-m/--model NAME`` (a preset of `symroof.models`, or ``symbolic`` for the
all-symbol GPT-style model) or ``--hf-config PATH`` (a Hugging Face ``config.json``;
``--family NAME`` reads an unknown ``model_type`` as a known layout), with the precision
``--weights-dtype``, ``--act-dtype``, ``--kv-dtype``, ``--compute-dtype`` (``--dtype`` sets all
four) and the conventions ``--conventions PRESET``, ``--conventions-file FILE.toml`` and
``--set FIELD=VALUE`` (repeatable; in that order). GPU is ``-g/--gpu NAME`` (a catalogue name or
alias, printed resolved; ``custom``; or a row of ``--hardware-file``), changed by
``--peak-tflops``, ``--bandwidth-gbs``, ``--memory-gib``, ``--usable-fraction``,
``--flops-efficiency``, ``--bandwidth-efficiency`` and ``--interconnect-gbs``. SIZES are
``-b/--batch B``, ``-s/--seq S`` (the prompt in prefill), ``--cached S_c`` and ``--new S_i``; a
size left out stays a symbol, so ``symroof latex --phase decode`` prints the general decode
formulas. ``report`` with no ``--phase`` is the quick look: prefill and decode at batch 1 and
1024 tokens unless sizes are given.

Output is a table (drawn with ``rich`` when it is installed and the output is a terminal) or,
with ``--json``, one JSON object of the schema ``docs/cli-schema.json``: ``command`` names the
command, exact integers stay integers, exact fractions are ``"p/q"`` strings, and a float
(``balance``, ``intensity``) has its exact value beside it (``balance_exact``,
``intensity_exact``); ``report`` nests every phase under ``phases``. Numbers in text follow one
rule (`_round`: integers below 10^6 whole, else four significant digits). Bad options exit with
status 2 and one line on stderr; an output that cannot be written, 74.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import io
import json
import math
import os
import stat
import sys
import tomllib
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import sympy

from symroof import __version__, analysis
from symroof import hardware as _hardware
from symroof import symbols as sym
from symroof._names import suggest as _suggest
from symroof._values import as_expr
from symroof.analysis.capacity import model_bytes
from symroof.analysis.request import request_latex
from symroof.analysis.timing import COMMS
from symroof.cost import Cost
from symroof.cost.conventions import _CHOICES, PRESETS, Conventions, resolve
from symroof.cost.conventions import _COUNTS as _COUNT_FIELDS
from symroof.cost.phases import decode, prefill, step
from symroof.hardware import Hardware
from symroof.model import presets as _models
from symroof.model.arch import Arch
from symroof.model.hf import dtype_bytes, dtype_name
from symroof.model.params import active_parameters, total_parameters
from symroof.model.precision import Precision
from symroof.output.latex import document, formula_lines

__all__ = ["DEFAULT_GPU", "DEFAULT_MODEL", "build_parser", "main"]

DEFAULT_MODEL = "llama-3-8b"
DEFAULT_GPU = "H100-SXM"
DEFAULT_DPI = 200                        # plots: 200 dpi, a size a paper's column takes
MAX_EXACT_STEPS = 4096                   # `report --gen G`: decode steps summed one by one up to this G
_JSON_HELP = "one JSON object instead of text (the schema: docs/cli-schema.json)"
QUICK_BATCH, QUICK_TOKENS = 1, 1024      # `symroof report` with no phase and no sizes
PHASES = ("prefill", "decode", "step")
# Which sizes each phase takes: option -> symbol name.
_SIZES = {"prefill": {"batch": "B", "seq": "S"},
          "decode": {"batch": "B", "cached": "S_c", "new": "S_i"},
          "step": {"batch": "B", "new": "S_i", "cached": "S_c"}}
_FLAGS = {"batch": "--batch", "seq": "--seq", "cached": "--cached", "new": "--new"}


class UsageError(ValueError):
    """A bad combination of options (exit status 2)."""


# ---- parsing ----------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # one clear line, exit status 2
        self.exit(2, f"symroof: error: {_line(message)}\n")

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            _write_err(message, file or sys.stderr)


def _text(text: str) -> str:
    """A name or path option: non-empty (an empty one never falls back to a default)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is empty; give a name")
    return text


def _safe(text: object) -> str:
    """Text from a file or an option, safe on a terminal: every non-printable character (control
    characters, ANSI escapes, newlines, bidi overrides) as a ``\\uXXXX`` escape."""
    return "".join(ch if ch.isprintable() else _escape_char(ch) for ch in str(text))


def _escape_char(ch: str) -> str:
    return f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}"


def _line(message: object) -> str:
    """One line of a message, safe on a terminal, at most 400 characters."""
    text = _safe(" ".join(str(message).split()))
    return text if len(text) <= 400 else text[:397] + "..."


def _write_err(text: str, file: Any) -> None:
    """Write to stderr whatever its encoding; a closed or broken stderr is given up on."""
    try:
        encoding = getattr(file, "encoding", None) or "utf-8"
        file.write(text.encode(encoding, "backslashreplace").decode(encoding))
        file.flush()
    except (OSError, ValueError, AttributeError, LookupError):
        pass


def _count(text: str, *, zero: bool = False) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0 or (value == 0 and not zero):
        raise argparse.ArgumentTypeError(f"{text!r} must be {'non-negative' if zero else 'positive'}")
    return value


def _positive(text: str) -> int:
    return _count(text)


def _non_negative(text: str) -> int:
    return _count(text, zero=True)


def _number(text: str) -> sympy.Expr:
    """A positive finite decimal (``989``, ``1.5e3``, ``3/2``), exactly: read by `fractions.Fraction`, never
    evaluated."""
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return sympy.Rational(value.numerator, value.denominator)


def _fraction_option(text: str) -> sympy.Expr:
    value = _number(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a fraction in (0, 1]")
    return value


def _setting(text: str) -> tuple[str, str]:
    field, eq, value = text.partition("=")
    if not eq or not field.strip():
        raise argparse.ArgumentTypeError(f"{text!r} must be FIELD=VALUE (e.g. experts_read=all)")
    return field.strip(), value.strip()


_DTYPE_HELP = "fp32, tf32, bf16, fp16, fp8, int8, int4, fp4 (or a torch name: bfloat16, ...)"


def _model_options(p: argparse.ArgumentParser, *, gpu: bool = True) -> None:
    which = p.add_mutually_exclusive_group()
    which.add_argument("-m", "--model", type=_text, default=None, metavar="NAME",
                       help=f"a preset (symroof models), or 'symbolic'; default {DEFAULT_MODEL}")
    which.add_argument("--hf-config", type=_text, default=None, metavar="PATH",
                       help="a Hugging Face config.json (or the folder holding it)")
    p.add_argument("--family", type=_text, default=None, metavar="NAME",
                   help="--hf-config: read a model_type symroof does not know as this known layout (e.g. llama)")
    p.add_argument("-g", "--gpu", type=_text, default=None, metavar="NAME",
                   help=f"an accelerator (symroof hardware), a row of --hardware-file, or 'custom' (then "
                        f"--peak-tflops and --bandwidth-gbs are required); default {DEFAULT_GPU}"
                        + ("" if gpu else "; latex --document only"))
    hw = p.add_argument_group("hardware (change the --gpu part, or describe a custom one)")
    hw.add_argument("--hardware-file", type=_text, default=None, metavar="FILE.toml",
                    help="hardware rows laid out as symroof/data/hardware.toml; --gpu picks one (default: "
                         "the file's only row)")
    hw.add_argument("--peak-tflops", type=_number, default=None, metavar="TFLOPS",
                    help="dense peak of the compute dtype, in TFLOP/s (10^12 FLOP/s)")
    hw.add_argument("--bandwidth-gbs", type=_number, default=None, metavar="GB/S",
                    help="memory bandwidth, in GB/s (10^9 bytes/s)")
    hw.add_argument("--memory-gib", type=_number, default=None, metavar="GIB",
                    help="device memory, in GiB (2^30 bytes)")
    hw.add_argument("--usable-fraction", type=_fraction_option, default=None, metavar="F",
                    help="share of the memory the runtime may fill, in (0, 1] (default 0.9)")
    hw.add_argument("--flops-efficiency", type=_fraction_option, default=None, metavar="F",
                    help="achieved fraction of the peak FLOP/s, in (0, 1] (default 1)")
    hw.add_argument("--bandwidth-efficiency", type=_fraction_option, default=None, metavar="F",
                    help="achieved fraction of the bandwidth, in (0, 1] (default 1)")
    hw.add_argument("--interconnect-gbs", type=_number, default=None, metavar="GB/S",
                    help="GPU-to-GPU link bandwidth per direction, in GB/s (tensor-parallel communication)")
    prec = p.add_argument_group("precision")
    prec.add_argument("--dtype", type=_text, default=None, metavar="DTYPE",
                      help="shortcut: weights, activations, KV cache and compute all in DTYPE (replaces a "
                           f"checkpoint's quantisation); {_DTYPE_HELP}")
    prec.add_argument("--weights-dtype", type=_text, default=None, metavar="DTYPE",
                      help="bytes per weight (every weight: replaces a checkpoint's quantisation), e.g. int4 for W4A16")
    prec.add_argument("--act-dtype", type=_text, default=None, metavar="DTYPE", help="bytes per activation")
    prec.add_argument("--kv-dtype", type=_text, default=None, metavar="DTYPE",
                      help="bytes per KV-cache element, e.g. fp8")
    prec.add_argument("--compute-dtype", type=_text, default=None, metavar="DTYPE",
                      help="the dtype whose peak FLOP/s applies (default: --dtype, else the wider of the weights' "
                           "and activations' dtypes, else the GPU's default)")
    conv = p.add_argument_group("conventions")
    conv.add_argument("--conventions", type=_text, default="exact", metavar="NAME",
                      help=f"what to count: {', '.join(PRESETS)} (or 000, 002, 003); default exact")
    conv.add_argument("--conventions-file", type=_text, default=None, metavar="FILE.toml",
                      help="FIELD = VALUE lines changing the preset (fields of symroof.Conventions)")
    conv.add_argument("--set", type=_setting, action="append", default=None, metavar="FIELD=VALUE",
                      dest="settings", help="change one convention (repeatable; after --conventions-file), e.g. "
                                            "--set experts_read=all --set attention_kernel=flash")


def _comm_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--comm", choices=COMMS, default=None,
                   help="tensor-parallel communication: Megatron's ring all-reduces, 003's messages, or none "
                        "(default: the conventions' choice, 003 for inference-arithmetic, allreduce otherwise)")


def _size_options(p: argparse.ArgumentParser, *, phase_default: str | None) -> None:
    p.add_argument("--phase", choices=PHASES, default=phase_default,
                   help="prefill (S new tokens), decode (1 new token over S_c cached), or a general step")
    p.add_argument("-b", "--batch", type=_positive, metavar="B", help="sequences in the batch")
    p.add_argument("-s", "--seq", type=_positive, metavar="S", help="prompt length (prefill)")
    p.add_argument("--cached", type=_non_negative, metavar="S_c", help="tokens already in the KV cache")
    p.add_argument("--new", type=_positive, metavar="S_i",
                   help="new tokens per sequence (decode: 1; speculative decoding: k)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symroof", description="Symbolic performance models of transformer inference.")
    parser.add_argument("--version", action="version", version=f"symroof {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    rep = sub.add_parser("report", help="FLOPs, bytes, intensity, bound and time of prefill and decode",
                         description="With no --phase: prefill and decode at batch 1 and 1024 tokens (or the "
                                     "sizes given). With --phase, a size left out stays a symbol.")
    _model_options(rep)
    _size_options(rep, phase_default=None)
    rep.add_argument("--tp", type=_positive, default=1, metavar="T",
                     help="tensor-parallel GPUs (the time, and the memory they offer together)")
    _comm_option(rep)
    rep.add_argument("--prompt", type=_positive, default=None, metavar="S",
                     help="a request's prompt tokens (no --phase): TTFT, TPOT and end-to-end time; default 1024 "
                          "with --gen")
    rep.add_argument("--gen", type=_positive, default=None, metavar="G",
                     help="a request's generated tokens (no --phase): G decode steps over S_c = S .. S+G-1")
    rep.add_argument("--json", action="store_true", help=_JSON_HELP)

    tex = sub.add_parser("latex", help="LaTeX of the FLOPs, bytes and intensity (sizes left out stay symbols)")
    _model_options(tex, gpu=False)
    _size_options(tex, phase_default=None)
    tex.add_argument("--only", choices=("flops", "bytes", "intensity"), help="print one formula only")
    tex.add_argument("--document", action="store_true",
                     help="a standalone .tex derivation, term by term, with the crossover batch "
                          "(prefill and decode unless --phase is given)")
    tex.add_argument("--request", action="store_true",
                     help="the closed forms of a whole request: a prompt of S (--prompt) and G generated tokens "
                          "(--gen) for B sequences (--batch), summed exactly; sizes left out stay symbols")
    tex.add_argument("--prompt", type=_positive, default=None, metavar="S", help="with --request: the prompt length")
    tex.add_argument("--gen", type=_positive, default=None, metavar="G", help="with --request: tokens generated")
    tex.add_argument("--json", action="store_true", help=_JSON_HELP)

    cro = sub.add_parser("crossover", help="the batch (or length) where a step turns compute-bound")
    _model_options(cro)
    _size_options(cro, phase_default="decode")
    cro.add_argument("--unknown", choices=("B", "S_c", "S_i", "S"), default="B",
                     help="the size to solve for (default B)")
    cro.add_argument("--tp", type=_positive, default=1, metavar="T",
                     help="GPUs whose memory holds the batch (the memory check of B*)")
    cro.add_argument("--json", action="store_true", help=_JSON_HELP)

    plo = sub.add_parser("plot", help="roofline, intensity against batch, or time per token, to an image file")
    _model_options(plo)
    plo.add_argument("--kind", choices=("roofline", "intensity-vs-batch", "time-per-token"), default="roofline",
                     help="roofline (points of prefill and decode under the roofs), intensity-vs-batch (with the "
                          "balance, B* and the largest batch that fits), or time-per-token (decode time by term); "
                          "default roofline")
    plo.add_argument("--phase", choices=("prefill", "decode"), default=None,
                     help="intensity-vs-batch: the phase of the curve (default decode)")
    plo.add_argument("--batch", type=_positive, metavar="B", help="roofline: batch of the points (default 1)")
    plo.add_argument("--seq", type=_positive, metavar="S",
                     help="roofline, intensity-vs-batch --phase prefill: prompt length (default 1024)")
    plo.add_argument("--cached", type=_non_negative, metavar="S_c",
                     help="roofline, decode curves: tokens in the KV cache (default 1024)")
    plo.add_argument("--new", type=_positive, metavar="S_i",
                     help="intensity-vs-batch (decode), time-per-token: new tokens per decode step (default 1)")
    plo.add_argument("--max-batch", type=_positive, default=None, metavar="B",
                     help="intensity-vs-batch, time-per-token: right end of the batch axis (default 2048)")
    plo.add_argument("--tp", type=_positive, default=None, metavar="T",
                     help="time-per-token: tensor-parallel GPUs (draws the communication term)")
    _comm_option(plo)
    plo.add_argument("-o", "--out", type=_text, default=None, metavar="FILE",
                     help="png, pdf or svg (default symroof-KIND.png)")
    plo.add_argument("--dpi", type=_number, default=None, metavar="DPI",
                     help=f"resolution of a png, dots per inch (default {DEFAULT_DPI})")

    mod = sub.add_parser("models", help="the model presets, with their sources (sorted by name)")
    mod.add_argument("--hf-config", type=_text, default=None, metavar="PATH",
                     help="one row for this Hugging Face config.json instead of the presets")
    mod.add_argument("--family", type=_text, default=None, metavar="NAME",
                     help="--hf-config: read an unknown model_type as this known layout")
    mod.add_argument("--json", action="store_true", help=_JSON_HELP)
    hw = sub.add_parser("hardware", help="the accelerator catalogue, with sources")
    hw.add_argument("--hardware-file", type=_text, default=None, metavar="FILE.toml",
                    help="list the rows of this file instead of the catalogue")
    hw.add_argument("--json", action="store_true", help=_JSON_HELP)
    return parser


# ---- resolving options --------------------------------------------------------------------------------


def _symbolic_model(args: argparse.Namespace) -> bool:
    return args.hf_config is None and args.model is not None and args.model.strip().lower() == "symbolic"


def _arch(args: argparse.Namespace) -> Arch:
    family = getattr(args, "family", None)
    if family is not None and args.hf_config is None:
        raise UsageError("--family applies to --hf-config only (it says how to read the config's model_type)")
    if args.hf_config is not None:
        arch = _models.from_hf_config(args.hf_config, family=family)
    elif _symbolic_model(args):
        arch = Arch.symbolic()
    else:
        arch = _models.get(args.model or DEFAULT_MODEL)
    dtypes = _dtypes(args)
    if "weights" in dtypes:     # every weight at one dtype: a checkpoint's per-tensor (quantised) bytes no longer apply
        arch = arch.replace(weight_bytes=dtype_bytes(dtypes["weights"]), tensor_bytes=())
    if "activations" in dtypes:
        arch = arch.replace(act_bytes=dtype_bytes(dtypes["activations"]))
    if "kv" in dtypes:
        arch = arch.replace(kv_bytes=dtype_bytes(dtypes["kv"]))
    return arch


_DTYPE_OPTIONS = {"weights": "--weights-dtype", "activations": "--act-dtype", "kv": "--kv-dtype",
                  "compute": "--compute-dtype"}


def _dtypes(args: argparse.Namespace) -> dict[str, str]:
    """The dtypes the options give, by role (weights, activations, kv, compute), as symroof's short names:
    ``--dtype`` sets every role, a role's own option wins over it."""
    out: dict[str, str] = {}
    if getattr(args, "dtype", None) is not None:
        name = dtype_name(args.dtype, "--dtype")
        out = dict.fromkeys(_DTYPE_OPTIONS, name)
    for role, flag in _DTYPE_OPTIONS.items():
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if value is not None:
            out[role] = dtype_name(value, flag)
    return out


def _compute_dtype(args: argparse.Namespace, default: str) -> str | None:
    """The dtype of the matmuls: --compute-dtype, else --dtype, else `Precision`'s rule (the wider of the
    weights' and the activations' dtypes, the missing one at the GPU's ``default``), else None."""
    d = _dtypes(args)
    if "compute" in d:
        return d["compute"]
    if "weights" in d or "activations" in d:
        return Precision(weights=d.get("weights", default), activations=d.get("activations", default)).compute_dtype
    return None


_HW_OPTIONS = {"peak_tflops": "--peak-tflops", "bandwidth_gbs": "--bandwidth-gbs", "memory_gib": "--memory-gib",
               "usable_fraction": "--usable-fraction", "flops_efficiency": "--flops-efficiency",
               "bandwidth_efficiency": "--bandwidth-efficiency", "interconnect_gbs": "--interconnect-gbs",
               "hardware_file": "--hardware-file"}


def _hardware_given(args: argparse.Namespace) -> list[str]:
    return [flag for option, flag in _HW_OPTIONS.items() if getattr(args, option, None) is not None]


def _gpu_alias(args: argparse.Namespace) -> tuple[Hardware, str | None]:
    """The part, and the alias the user typed when it is not the part's own name (``H100`` -> H100-SXM)."""
    name = args.gpu or DEFAULT_GPU
    alias: str | None = None
    if args.hardware_file is not None:
        rows = _hardware.load(args.hardware_file)
        if args.gpu is None:
            if len(rows) != 1:
                raise UsageError(f"--hardware-file {args.hardware_file} has {len(rows)} rows "
                                 f"({', '.join(rows)}); pick one with --gpu")
            gpu = next(iter(rows.values()))
        elif args.gpu in rows:
            gpu = rows[args.gpu]
        else:
            raise UsageError(f"--gpu {args.gpu}: no such row in {args.hardware_file}"
                             + _suggest(args.gpu, list(rows)))
    elif name.strip().lower() == "custom":
        missing = [f for o, f in (("peak_tflops", "--peak-tflops"), ("bandwidth_gbs", "--bandwidth-gbs"))
                   if getattr(args, o) is None]
        if missing:
            raise UsageError(f"--gpu custom needs {' and '.join(missing)}")
        gpu = _hardware.custom("custom", {"bf16": args.peak_tflops * 10**12}, args.bandwidth_gbs * 10**9,
                               source="from the command line")
    else:
        gpu, used = _hardware.resolve(name)
        alias = name if used else None
    changes: dict[str, Any] = {}
    if args.bandwidth_gbs is not None:
        changes["bandwidth_bytes_per_s"] = args.bandwidth_gbs * 10**9
    if args.memory_gib is not None:
        changes["capacity_bytes"] = args.memory_gib * 2**30
    if args.interconnect_gbs is not None:
        changes["interconnect_bytes_per_s"] = args.interconnect_gbs * 10**9
    for field in ("usable_fraction", "flops_efficiency", "bandwidth_efficiency"):
        if getattr(args, field) is not None:
            changes[field] = getattr(args, field)
    if changes:
        gpu = gpu.replace(**changes)
    compute = _compute_dtype(args, gpu.dtype)
    if compute is not None:
        if compute not in gpu.peak_flops_per_s and args.peak_tflops is None:
            flag = "--compute-dtype" if "compute" in _dtypes(args) and args.compute_dtype else (
                "--dtype" if args.dtype is not None else "the compute dtype")
            raise UsageError(f"{flag} {compute}: {_safe(gpu.name)} has no {compute} peak; it has "
                             f"{', '.join(gpu.peak_flops_per_s)}")
        if compute not in gpu.peak_flops_per_s:
            gpu = gpu.replace(peak_flops_per_s={**gpu.peak_flops_per_s, compute: args.peak_tflops * 10**12})
        gpu = gpu.with_dtype(compute)
    if args.peak_tflops is not None:      # the peak of the dtype in use
        gpu = gpu.replace(peak_flops_per_s={**gpu.peak_flops_per_s, gpu.dtype: args.peak_tflops * 10**12})
    return gpu, alias


def _gpu(args: argparse.Namespace) -> Hardware:
    return _gpu_alias(args)[0]


def _check_link(gpu: Hardware, tp: int, comm: str | None) -> None:
    if tp > 1 and gpu.interconnect_bytes_per_s is None and comm != "none":
        raise UsageError(f"--tp {tp}: {_safe(gpu.name)} has no GPU-to-GPU bandwidth for the communication; give "
                         "--interconnect-gbs (or --comm none)")


def _check_tp(arch: Arch, tp: int) -> str | None:
    """Refuse a tensor-parallel degree the heads cannot be split by; say what is replicated."""
    if tp == 1 or not (arch.heads.is_Integer and arch.kv_heads.is_Integer):
        return None
    heads, kv, name = int(arch.heads), int(arch.kv_heads), _safe(arch.name)
    if heads % tp:
        raise UsageError(f"--tp {tp} must divide the {heads} attention heads of {name}")
    if arch.is_mla or kv % tp == 0:
        return None
    if tp % kv == 0:
        return (f"the {kv} KV heads of {name} are replicated on {tp} GPUs ({tp // kv} copies of each); "
                "the time splits KV-cache traffic {tp} ways as if they were not").replace("{tp}", str(tp))
    raise UsageError(f"--tp {tp} must divide the {kv} KV heads of {name}, or be a multiple of them "
                     "(then each is replicated)")


def _conventions(args: argparse.Namespace) -> Conventions:
    """The preset, changed by --conventions-file, then by each --set (in order)."""
    conv = resolve(args.conventions)
    changes: dict[str, Any] = {}
    if getattr(args, "conventions_file", None) is not None:
        changes.update(_conventions_file(args.conventions_file))
    for field, value in getattr(args, "settings", None) or ():
        changes[field] = _convention_value(field, value, "--set")
    if not changes:
        return conv
    name = conv.name + "".join(f"+{k}={v}" for k, v in changes.items() if k != "name")
    return conv.replace(**{"name": name, **changes})


_CONVENTION_FIELDS = [f.name for f in dataclasses.fields(Conventions) if f.name != "name"]
MAX_CONVENTIONS_FILE_BYTES = 64 * 1024


def _convention_value(field: str, value: Any, where: str) -> Any:
    """A convention's value, by the field's type: one of its choices, or a positive integer (never evaluated)."""
    if field not in _CONVENTION_FIELDS:
        raise UsageError(f"{where}: unknown convention {field!r}" + _suggest(field, _CONVENTION_FIELDS))
    if field in _COUNT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise UsageError(f"{where}: {field} must be a positive whole number, not {value!r}")
        text = str(value).strip()
        if not text.isdigit() or int(text) == 0:
            raise UsageError(f"{where}: {field}={_safe(repr(value))} must be a positive whole number")
        return int(text)
    allowed = _CHOICES[field]
    if not isinstance(value, str) or value not in allowed:
        raise UsageError(f"{where}: {field}={_safe(repr(value))} is not one of {', '.join(allowed)}")
    return value


def _conventions_file(path: str) -> dict[str, Any]:
    """``FIELD = VALUE`` lines of a TOML file: a regular file of at most 64 KiB; each error one line naming the
    file and the key."""
    try:
        info = os.stat(path)
    except OSError as err:
        raise UsageError(f"{path}: cannot read conventions file ({err.strerror or err})") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{path}: a conventions file must be a regular file")
    if info.st_size > MAX_CONVENTIONS_FILE_BYTES:
        raise UsageError(f"{path}: {info.st_size} bytes is over the {MAX_CONVENTIONS_FILE_BYTES}-byte limit "
                         "for a conventions file")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONVENTIONS_FILE_BYTES + 1)
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as err:
        raise UsageError(f"{path}: cannot read conventions file ({err.strerror or err})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: a conventions file must be UTF-8 text") from None
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"{path}: not valid TOML ({err})") from None
    except RecursionError:
        raise UsageError(f"{path}: nested too deeply for a conventions file") from None
    if len(raw) > MAX_CONVENTIONS_FILE_BYTES:
        raise UsageError(f"{path}: over the {MAX_CONVENTIONS_FILE_BYTES}-byte limit for a conventions file")
    return {key: _convention_value(key, value, f"{path}: key {key!r}") for key, value in data.items()}


def _sizes(args: argparse.Namespace, *phases: str) -> dict[str, int]:
    """The sizes given, by symbol name; a size that none of ``phases`` takes is an error."""
    allowed = {o: name for phase in phases for o, name in _SIZES[phase].items()}
    values: dict[str, int] = {}
    for option, flag in _FLAGS.items():
        value = getattr(args, option, None)
        if value is None:
            continue
        if option not in allowed:
            takes = ", ".join(_FLAGS[o] for o in allowed)
            raise UsageError(f"{flag} does not apply to {' or '.join(phases)} (it takes {takes})")
        values[allowed[option]] = value
    return values


def _cost(arch: Arch, conv: Conventions, phase: str, values: dict[str, int], keep: str | None = None) -> Cost:
    """The phase's cost with ``values`` substituted and every other size a symbol (``keep`` included)."""
    given = {k: v for k, v in values.items() if k != keep}
    if phase == "prefill":
        return prefill(arch, conv, B=given.get("B", sym.B), S=given.get("S", sym.S))
    if phase == "decode":
        return decode(arch, conv, B=given.get("B", sym.B), S_c=given.get("S_c", sym.S_c),
                      S_i=given.get("S_i", sym.S_i if keep == "S_i" else 1))
    return step(arch, conv, B=given.get("B", sym.B), S_i=given.get("S_i", sym.S_i), S_c=given.get("S_c", sym.S_c))


def _workloads(args: argparse.Namespace) -> list[tuple[str, dict[str, int]]]:
    """(phase, sizes) pairs of `report`: the given phase, or the quick look at prefill and decode."""
    if args.phase is not None:
        return [(args.phase, _sizes(args, args.phase))]
    batch = args.batch or QUICK_BATCH
    cached = args.cached if args.cached is not None else (args.seq or QUICK_TOKENS)
    return [("prefill", {"B": batch, "S": args.seq or QUICK_TOKENS}),
            ("decode", {"B": batch, "S_c": cached, "S_i": args.new or 1})]


# ---- values for people and for JSON -----------------------------------------------------------------------


def _exact(expr: sympy.Expr) -> Any:
    """JSON value of an exact result: int, ``"p/q"`` string, float (only from a finite float), or the
    expression as a string."""
    expr = as_expr(expr, "value")
    if expr.is_Integer:
        return int(expr)
    if expr.is_Rational:
        return f"{expr.p}/{expr.q}"
    if expr.is_Float and expr.is_finite:
        approx = _approx(expr)
        return approx if isinstance(approx, float) else str(expr)
    return str(expr)


def _approx(expr: sympy.Expr) -> float | str | None:
    """A float of a finite number; beyond float range, the number in decimal as a string (JSON has
    no ``Infinity``); None for a symbolic or infinite value."""
    expr = as_expr(expr, "value")
    if not (expr.is_number and expr.is_finite and expr.is_extended_real):
        return None
    try:
        x = float(expr)
    except (OverflowError, TypeError, ValueError):
        x = math.inf
    if math.isfinite(x) and (x != 0 or expr.is_zero):
        return x
    return _sig(expr, 17)


def _sig(value: sympy.Expr, digits: int) -> str:
    """``value`` to ``digits`` significant digits, in float's style when it fits (``'0.5'``,
    ``'1.5e+12'``), else exactly from the exact value (``'1.234e+400'``, beyond float's range)."""
    try:
        x = float(value)
    except (OverflowError, TypeError, ValueError):
        x = math.inf
    if math.isfinite(x) and (x != 0 or value == 0):
        return f"{x:.{digits}g}"
    mantissa, exponent = _sci(value, digits)
    return f"{mantissa}e{exponent:+d}"


def _sci(value: sympy.Expr, digits: int) -> tuple[str, int]:
    """Mantissa (``digits`` significant digits) and exponent of a number beyond float range, exactly
    (integer arithmetic: no float, no decimal string of a huge integer)."""
    exact = value if value.is_Rational else sympy.Rational(value if value.is_Float else value.evalf(digits + 5))
    r = Fraction(int(exact.p), int(exact.q))
    sign, r = ("-" if r < 0 else ""), abs(r)
    if r == 0:
        return "0", 0
    exponent = int((r.numerator.bit_length() - r.denominator.bit_length()) * math.log10(2))
    scaled = r / Fraction(10) ** exponent if exponent >= 0 else r * Fraction(10) ** -exponent
    while scaled >= 10:
        scaled, exponent = scaled / 10, exponent + 1
    while scaled < 1:
        scaled, exponent = scaled * 10, exponent - 1
    m = round(float(scaled), digits - 1)
    if m >= 10:
        m, exponent = m / 10, exponent + 1
    return sign + (f"{m:.{digits - 1}f}".rstrip("0").rstrip(".")), exponent


def _fixed(value: sympy.Expr) -> str:
    """A balance, FLOPs/byte, by the one rounding rule (`_round`); beyond float range, significant digits."""
    try:
        x = float(value)
    except (OverflowError, TypeError, ValueError):
        x = math.inf
    return _round(as_expr(value, "value") if as_expr(value, "value").is_Integer else x) if math.isfinite(x) \
        else f"{_sig(value, 4)} (beyond float range)"


_PREFIXES = ((10**18, "E"), (10**15, "P"), (10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k"))


def _value(value: Any) -> sympy.Expr:
    """A JSON value of `_exact` back as a number: an int, a ``"p/q"`` string, a float."""
    if isinstance(value, str):
        fraction = Fraction(value)
        return sympy.Rational(fraction.numerator, fraction.denominator)
    return as_expr(value, "value")


def _si(value: Any, unit: str) -> str:
    """``16.49 TFLOP``: decimal prefixes, four significant digits; exact beyond float range."""
    value = _value(value)
    try:
        x = float(value)
    except (OverflowError, TypeError, ValueError):
        x = math.inf
    if not math.isfinite(x):
        return f"{_sig(value, 4)} {unit} (beyond float range)".replace("  ", " ")
    for scale, prefix in _PREFIXES:
        if abs(x) >= scale:
            return f"{x / scale:.4g} {prefix}{unit}"
    return f"{x:.4g} {unit}"


def _beyond(text: str) -> str:
    """A number `_approx` gave as a string (beyond float range), to four significant digits."""
    mantissa, _, exponent = text.partition("e")
    return f"{float(mantissa):.4g}e{exponent} (beyond float range)"


def _seconds(value: Any) -> str:
    if isinstance(value, str):               # `_approx` beyond float range
        return _beyond(value).replace(" (", " s (", 1)
    x = float(value)
    for scale, unit in ((1, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if x >= scale:
            return f"{x / scale:.4g} {unit}"
    return f"{x * 1e9:.4g} ns"


def _round(x: Any) -> str:
    """The one rounding rule of numbers in text: an integer below 10^6 whole; any other number to 4
    significant digits, positional between 10^-3 and 10^6 (``857.3``, ``0.9600``→``0.96``), else ``1.235e+07``."""
    if isinstance(x, str):                   # `_approx` beyond float range
        return _beyond(x)
    if isinstance(x, sympy.Basic):
        if x.is_Integer and abs(x) < 10**6:
            return str(int(x))
        x = float(x)
    if isinstance(x, int) and abs(x) < 10**6:
        return str(x)
    x = float(x)
    if x == int(x) and abs(x) < 10**6:
        return str(int(x))
    if not math.isfinite(x) or x == 0:
        return f"{x:g}"
    x = float(f"{x:.3e}")                    # 4 significant digits first: 999999.5 is 1.000e+06, as 10^6 is
    e = math.floor(math.log10(abs(x)))
    if -3 <= e < 6:
        if e >= 3:
            return str(int(round(x, 3 - e)))
        text = f"{round(x, 3 - e):.{3 - e}f}"
        return text.rstrip("0").rstrip(".")
    return f"{x:.3e}"


def _num(x: Any) -> str:
    return _round(x)


def _count_text(value: sympy.Expr) -> str:
    """A count: exactly, with thousands separators, and its size in words (``8,030,261,248 (8.03 B)``)."""
    if not as_expr(value, "count").is_Integer:
        return str(value)
    n = int(value)
    if n.bit_length() > 1000:
        return f"{_sig(as_expr(value, 'count'), 4)} (beyond float range)"
    for scale, word in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "k")):
        if abs(n) >= scale:
            return f"{n:,} ({_round(n / scale)} {word})"
    return f"{n:,}"


def _sizes_text(values: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]], title: str = "", width: int | None = None) -> None:
    """Print rows under column headers: a rich table on a terminal (if rich is installed), else plain text.

    With ``width``, a column left empty in every row is dropped and the last column (sources) is cut
    with ``…`` so that no line is wider."""
    if width is not None:
        keep = [i for i in range(len(columns)) if i == 0 or any(str(r[i]) for r in rows)]
        columns = [columns[i] for i in keep]
        rows = [[r[i] for i in keep] for r in rows]
        fixed = [max(len(str(c)), *(len(str(r[i])) for r in rows)) for i, c in enumerate(columns[:-1])]
        room = max(len(columns[-1]), width - sum(fixed) - 2 * (len(columns) - 1))
        rows = [[*r[:-1], str(r[-1]) if len(str(r[-1])) <= room else str(r[-1])[:room - 1] + "…"] for r in rows]
    if sys.stdout.isatty():
        try:
            from rich.console import Console
            from rich.markup import escape
            from rich.table import Table
        except ImportError:
            pass
        else:
            table = Table(title=title or None, title_justify="left")
            for i, column in enumerate(columns):   # every column whole; the last (sources) folds
                last = i == len(columns) - 1
                table.add_column(column, no_wrap=not last, overflow="fold" if last else "ellipsis")
            for row in rows:                        # cells are text, not rich markup
                table.add_row(*(escape(str(cell)) for cell in row))
            Console(file=sys.stdout).print(table)
            return
    if title:
        print(title)
    widths = [max(len(str(c)), *(len(str(r[i])) for r in rows)) for i, c in enumerate(columns)]
    for line in (columns, *rows):
        print("  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def _dump(obj: Any) -> None:
    # always valid JSON: no NaN or Infinity (`_approx` gives out-of-range numbers as strings)
    print(json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False))


# ---- report ---------------------------------------------------------------------------------------------


def _not_modelled(arch: Arch) -> list[str]:
    """The "not modelled: a; b" notes of an arch's ``source``, one item each."""
    _, found, notes = str(arch.source).partition("not modelled: ")
    return [n.strip() for n in notes.split("; ") if n.strip()] if found else []


def _header(arch: Arch, gpu: Hardware | None, conv: Conventions, alias: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"model": arch.name, "model_source": arch.source, "not_modelled": _not_modelled(arch),
                           "conventions": conv.name}
    if gpu is not None:
        out.update(gpu=gpu.name, gpu_alias=alias, dtype=gpu.dtype, peak_flops_per_s=_exact(gpu.peak_flops),
                   bandwidth_bytes_per_s=_exact(gpu.bandwidth), balance=_approx(gpu.balance),
                   balance_exact=_exact(gpu.balance),
                   capacity_bytes=None if gpu.capacity is None else _exact(gpu.capacity),
                   usable_bytes=None if gpu.usable_bytes is None else _exact(gpu.usable_bytes),
                   flops_efficiency=_approx(gpu.flops_efficiency),
                   bandwidth_efficiency=_approx(gpu.bandwidth_efficiency))
    return out


def _alias_note(gpu: Hardware, alias: str | None) -> str | None:
    return None if alias is None else f"--gpu {_safe(alias)} → {_safe(gpu.name)}"


def _fit(arch: Arch, gpu: Hardware, *, batch: Any, context: Any, gpus: int, new: Any = 1) -> Any:
    """`analysis.fit` when every size is a number and the part has a capacity, else None."""
    if gpu.usable_bytes is None or not all(as_expr(v, "size").is_Integer for v in (batch, context, new)):
        return None
    if not all(as_expr(v, "size").is_number for v in (arch.hidden, arch.layers, arch.vocab)):
        return None
    f = analysis.fit(arch, gpu, batch=batch, context=context, gpus=gpus, new=new)
    if f.gpus_needed is not None and not f.fits:
        # the count is settled by a few passes over the KV replication; trust it only if that many hold it
        again = analysis.fit(arch, gpu, batch=batch, context=context, gpus=f.gpus_needed, new=new)
        if not again.fits:
            f = dataclasses.replace(f, gpus_needed=None)
    return f


def _fit_json(f: Any, batch: Any, context: Any) -> dict[str, Any]:
    return {"fits": f.fits, "batch": _exact(batch), "context": _exact(context),
            "weights_bytes": _exact(f.weights_bytes), "kv_bytes": _exact(f.kv_bytes),
            "activation_bytes": _exact(f.activation_bytes), "needed_bytes": _exact(f.needed_bytes),
            "available_bytes": _exact(f.available_bytes), "shortfall_bytes": _exact(f.shortfall_bytes),
            "gpus": _exact(f.gpus), "gpus_needed": None if f.gpus_needed is None else _exact(f.gpus_needed),
            "max_batch": None if f.max_batch is None else _exact(f.max_batch), "text": _fit_text(f)}


def _fit_text(f: Any) -> str:
    """`Fit.describe` in the CLI's units: fits, or by how much it does not and how many GPUs would hold it."""
    gpus = f"{f.gpus} GPU{'s' if f.gpus != 1 else ''}"
    held = (f"weights {_si(f.weights_bytes, 'B')} + KV {_si(f.kv_bytes, 'B')} + activations "
            f"{_si(f.activation_bytes, 'B')} = {_si(f.needed_bytes, 'B')} of {_si(f.available_bytes, 'B')} usable "
            f"on {gpus}")
    if f.fits:
        return f"fits: {held}"
    more = f"; {f.gpus_needed} GPUs would hold it" if f.gpus_needed is not None else ""
    largest = (f"; the largest batch that fits is {f.max_batch}" if f.max_batch else
               "; not even batch 1 fits" if f.max_batch is not None else "")
    return f"does not fit by {_si(f.shortfall_bytes, 'B')}: {held}{more}{largest}"


def _phase_fit(arch: Arch, gpu: Hardware, phase: str, values: dict[str, int], tp: int) -> Any:
    """(fit, batch, context) of a phase's memory: prefill holds S tokens of S new; a step S_c + S_i of S_i new."""
    B = values.get("B", 1)
    if phase == "prefill":
        if "S" not in values:
            return None
        context, new = values["S"], values["S"]
    else:
        if "S_c" not in values:
            return None
        new = values.get("S_i", 1)
        context = values["S_c"] + new
    f = _fit(arch, gpu, batch=B, context=context, gpus=tp, new=new)
    return None if f is None else (f, B, context)


def _phase_result(arch: Arch, conv: Conventions, gpu: Hardware, phase: str, values: dict[str, int],
                  tp: int, comm: str | None = None) -> dict[str, Any]:
    cost = _cost(arch, conv, phase, values)
    free = sorted(s.name for s in cost.free_symbols)
    out: dict[str, Any] = {"phase": phase, "values": values, "symbols": free}
    if free:
        flops, nbytes = sympy.factor(cost.flops), sympy.factor(cost.bytes)
        intensity = flops / nbytes
        out.update(flops=str(flops), bytes=str(nbytes), intensity=str(intensity))
        out["bound"] = None
        if free == ["B"]:
            c = analysis.crossover_batch(cost, gpu)
            out["crossover_batch"] = {"value": _exact(c.value) if c.value is not None else None,
                                      "approx": _approx(c.value) if c.value is not None else None,
                                      "above": c.above, "reason": c.reason}
    else:
        intensity = cost.intensity
        out.update(flops=_exact(cost.flops), bytes=_exact(cost.bytes), intensity=_approx(intensity),
                   intensity_exact=_exact(intensity), bound=analysis.regime(cost, gpu))
        # one latency path for the library and the CLI: timing's TTFT / TPOT, the conventions' comms
        common: dict[str, Any] = dict(B=values.get("B", 1), tp=tp, comm=comm)
        if phase == "prefill":
            t = analysis.time_to_first_token(arch, conv, gpu, S=values["S"], **common)
            tokens = values.get("B", 1) * values["S"]
        else:
            t = analysis.time_per_output_token(arch, conv, gpu, S_c=values.get("S_c", 0),
                                               S_i=values.get("S_i", 1), **common)
            tokens = values.get("B", 1) * values.get("S_i", 1)
        out["time_s"] = {"compute": _approx(t.compute_s), "memory": _approx(t.memory_s),
                         "comm": _approx(t.comm_s), "total": _approx(t.total_s), "bound": t.bound, "tp": tp,
                         "comm_model": comm or conv.comms}
        out["tokens_per_s"] = _approx(tokens / t.total_s) if t.total_s.is_number and t.total_s != 0 else None
    fitted = _phase_fit(arch, gpu, phase, values, tp)
    out["fits"] = None if fitted is None else fitted[0].fits
    out["fit"] = None if fitted is None else _fit_json(*fitted)
    out["terms"] = {kind: {name: _exact(v) for name, v in terms.items()} for kind, terms in cost.terms.items()}
    return out


def _request_times(arch: Arch, conv: Conventions, gpu: Hardware, *, batch: int, prompt: int, gen: int, tp: int,
                   comm: str | None = None) -> dict[str, Any]:
    """TTFT, TPOT and end-to-end time of ``batch`` requests of ``prompt`` tokens generating ``gen``.

    TTFT is the prefill's latency at (B, S). The G decode steps run over S_c = S, S+1, ..., S+G−1 cached
    tokens; TPOT is their mean and the end-to-end time TTFT + their sum. Each step's time is
    `timing.time_per_output_token` (i.e. `timing.latency` of the decode `Cost`), built once with S_c a
    symbol and evaluated exactly at every step when G ≤ `MAX_EXACT_STEPS`; beyond, at that many evenly
    spaced steps, whose mean stands for all G (the method says which). A closed-form request model can
    replace the body of this one function.
    """
    ttft = analysis.time_to_first_token(arch, conv, gpu, B=batch, S=prompt, tp=tp, comm=comm)
    one = analysis.time_per_output_token(arch, conv, gpu, B=batch, S_c=sym.S_c, tp=tp, comm=comm)
    if gen <= MAX_EXACT_STEPS:
        steps = list(range(prompt, prompt + gen))
        method = f"exact: the sum of the {gen} decode steps' latencies, S_c = {prompt}..{prompt + gen - 1}"
    else:
        n = MAX_EXACT_STEPS
        steps = [prompt + (j * (gen - 1)) // (n - 1) for j in range(n)]
        method = (f"the mean of {n} evenly spaced decode steps (exact each) over S_c = {prompt}..{prompt + gen - 1}, "
                  f"times G = {gen}")
    step_time = _step_times(one, conv.latency)
    times = [step_time(k) for k in steps]
    mean = sum(times, Fraction(0)) / len(times)
    decode_s = mean * gen
    first = _frac(ttft.total_s)
    total = first + decode_s
    f = _fit(arch, gpu, batch=batch, context=prompt + gen, gpus=tp)
    rat = lambda x: sympy.Rational(x.numerator, x.denominator)
    return {"batch": batch, "prompt": prompt, "gen": gen, "ttft_s": _approx(rat(first)), "tpot_s": _approx(rat(mean)),
            "decode_s": _approx(rat(decode_s)), "e2e_s": _approx(rat(total)),
            "tokens_per_s": _approx(rat(batch * gen / total)), "decode_tokens_per_s": _approx(rat(batch / mean)),
            "method": method, "fits": None if f is None else f.fits,
            "fit": None if f is None else _fit_json(f, batch, prompt + gen)}


def _step_times(t: Any, model: str) -> Callable[[int], Fraction]:
    """Seconds of the decode step at S_c = k, exactly: compute, memory and communication as polynomials in
    S_c (Horner on fractions) when they are, else the latency substituted at each k."""
    def coefficients(expr: sympy.Expr) -> list[Fraction] | None:
        try:
            poly = sympy.Poly(expr, sym.S_c)
        except sympy.PolynomialError:
            return None
        if poly.free_symbols - {sym.S_c} or not all(c.is_Rational for c in poly.all_coeffs()):
            return None
        return [Fraction(int(c.p), int(c.q)) for c in poly.all_coeffs()]

    parts = [coefficients(_rational(x)) for x in (t.compute_s, t.memory_s, t.comm_s)]
    if all(p is not None for p in parts):
        def horner(cs: list[Fraction], k: int) -> Fraction:
            value = Fraction(0)
            for c in cs:
                value = value * k + c
            return value

        def at(k: int) -> Fraction:
            c, m, comm = (horner(p, k) for p in parts)  # type: ignore[arg-type]
            return (max(c, m) if model == "max" else c + m) + comm
        return at

    total = _rational(t.total_s)
    return lambda k: _frac(total.subs(sym.S_c, k))


def _rational(expr: Any) -> sympy.Expr:
    """``expr`` with each float (a latency constant such as 6.6e-6 s) as the rational of its decimal."""
    expr = as_expr(expr, "value")
    return expr.xreplace({f: sympy.Rational(str(f)) for f in expr.atoms(sympy.Float)})


def _frac(expr: Any) -> Fraction:
    """A number as an exact `Fraction` (floats read as their decimal)."""
    v = _rational(expr)
    if not v.is_Rational:
        v = sympy.Rational(str(sympy.Float(v, 30)))
    return Fraction(int(v.p), int(v.q))


def _numbers_only(arch: Arch) -> bool:
    return not decode(arch, PRESETS["exact"], B=1, S_c=1).free_symbols


def _report(args: argparse.Namespace) -> int:
    arch, conv = _arch(args), _conventions(args)
    gpu, alias = _gpu_alias(args)
    note = _check_tp(arch, args.tp)
    _check_link(gpu, args.tp, args.comm)
    if (args.prompt is not None or args.gen is not None) and args.phase is not None:
        raise UsageError("--prompt and --gen describe a request (prefill, then decode steps); they do not "
                         "combine with --phase")
    if args.prompt is not None and args.seq is not None:
        raise UsageError("--prompt and --seq both give the prompt length; give one")
    if args.prompt is not None:
        args.seq = args.prompt
    results = [_phase_result(arch, conv, gpu, phase, values, args.tp, args.comm)
               for phase, values in _workloads(args)]
    request = None
    if args.gen is not None and not _numbers_only(arch):
        raise UsageError("--gen needs a model with numbers (a preset or --hf-config), not symbols")
    if args.gen is not None:
        request = _request_times(arch, conv, gpu, batch=args.batch or QUICK_BATCH, prompt=args.seq or QUICK_TOKENS,
                                 gen=args.gen, tp=args.tp, comm=args.comm)
    numeric_arch = all(as_expr(v, "size").is_number for v in (arch.hidden, arch.layers, arch.vocab, arch.heads))
    total = active = None
    if numeric_arch:
        total, active = total_parameters(arch), active_parameters(arch)
    fits = [r["fit"] for r in results if r.get("fit") is not None]
    if request is not None and request["fit"] is not None:
        fits.append(request["fit"])
    worst = max(fits, key=lambda f: Fraction(str(f["needed_bytes"]))) if fits else None
    kv_token = arch.kv_elements_per_token * arch.kv_bytes
    summary: dict[str, Any] = {
        "parameters": {"total": None if total is None else _exact(total),
                       "active": None if active is None else _exact(active)},
        "memory": {"weights_bytes": _exact(model_bytes(arch)) if numeric_arch else None,
                   "kv_bytes_per_token": _exact(kv_token),
                   "kv_bytes": None if worst is None else worst["kv_bytes"],
                   "context": None if worst is None else worst["context"]},
        "fits": None if not fits else all(f["fits"] for f in fits),
        "fit": worst,
    }
    if args.json:
        head = _header(arch, gpu, conv, alias) | {"command": "report", "tp": args.tp, "tp_note": note}
        _dump(head | summary | {"phases": {r["phase"]: r for r in results}, "request": request})
        return 0
    print(f"{_safe(arch.name)} on {_safe(gpu.name)} ({gpu.dtype}: {_si(gpu.peak_flops, 'FLOP/s')}, "
          f"{_si(gpu.bandwidth, 'B/s')}), conventions {_safe(conv.name)}")
    if alias:
        print(f"note: {_alias_note(gpu, alias)}")
    if not gpu.efficient:
        print(f"note: achieved {_round(gpu.flops_efficiency * 100)}% of peak FLOP/s and "
              f"{_round(gpu.bandwidth_efficiency * 100)}% of bandwidth")
    print(f"balance: {_fixed(gpu.balance)} FLOPs/byte")
    if total is not None:
        print(f"parameters: {_count_text(total)} total, {_count_text(active)} active")
        kv = (f", KV cache {_si(worst['kv_bytes'], 'B')} at B={worst['batch']}, "
              f"{worst['context']} tokens" if worst is not None else "")
        print(f"memory: weights {_si(model_bytes(arch), 'B')}{kv} "
              f"({_si(kv_token, 'B')} of KV per token)")
    if worst is not None:
        print(worst["text"])
    numeric = [r for r in results if not r["symbols"]]
    if numeric:
        rows = []
        for r in numeric:
            cost_time = r["time_s"]
            rate = "" if r["tokens_per_s"] is None else _num(r["tokens_per_s"])
            rows.append([r["phase"], _sizes_text(r["values"]), _si(r["flops"], "FLOP"), _si(r["bytes"], "B"),
                         _num(r["intensity"]), f"{r['bound']}-bound", _seconds(cost_time["total"]), rate])
        tp = f" (tp={args.tp})" if args.tp > 1 else ""
        _table(("phase", "sizes", "FLOPs", "bytes", "intensity", "bound", f"time{tp}", "tokens/s"), rows)
        if note:
            print(f"note: {note}")
    if request is not None:
        print(f"request: B={request['batch']}, prompt {request['prompt']}, generate {request['gen']}: "
              f"TTFT {_seconds(request['ttft_s'])}, TPOT {_seconds(request['tpot_s'])}, end-to-end "
              f"{_seconds(request['e2e_s'])}, {_num(request['tokens_per_s'])} tokens/s")
        if request["gen"] > MAX_EXACT_STEPS:
            print(f"  (TPOT: {request['method']})")
    for r in results:
        if r["symbols"]:
            given = f" at {_sizes_text(r['values'])}" if r["values"] else ""
            print(f"\n{r['phase']}{given}; symbols: {', '.join(r['symbols'])}")
            for key in ("flops", "bytes", "intensity"):
                print(f"  {key:<9} = {r[key]}")
            cb = r.get("crossover_batch")
            if cb is not None:
                print(f"  bound     : {cb['reason']}")
            else:
                print(f"  bound     : depends on {', '.join(r['symbols'])} (solve for one with `symroof crossover`)")
    for item in _not_modelled(arch):
        print(f"note: not modelled: {_safe(item)}")
    return 0


# ---- latex ----------------------------------------------------------------------------------------------


def _latex(args: argparse.Namespace) -> int:
    arch, conv = _arch(args), _conventions(args)
    if not args.request and (args.prompt is not None or args.gen is not None):
        raise UsageError("--prompt and --gen apply to latex --request only")
    if args.request:
        if args.document or args.only or args.phase or args.gpu is not None or _hardware_given(args):
            raise UsageError("--request prints a request's closed forms; it does not combine with --document, "
                             "--only, --phase, --gpu or hardware options")
        sizes = _sizes(args, "decode")
        if set(sizes) - {"B"}:
            raise UsageError("latex --request takes --batch, --prompt and --gen (not --cached, --new or --seq)")
        lines = request_latex(arch, conv, S=args.prompt or sym.S, G=args.gen or sym.S_g, B=sizes.get("B", sym.B))
        if args.json:
            _dump(_header(arch, None, conv) | {"command": "latex", "request": lines})
        else:
            print("\n".join(rf"\[ {line} \]" for line in lines))      # display math, as formula_lines prints
        return 0
    if args.document:
        if args.only or args.json:
            raise UsageError("--document prints a whole .tex file; it does not combine with --only or --json")
        gpu: Hardware | None = None
        alias: str | None = None
        if args.gpu is not None or _hardware_given(args):
            gpu, alias = _gpu_alias(args)
        if alias and gpu is not None:
            _write_err(f"symroof: {_alias_note(gpu, alias)}\n", sys.stderr)
        phases = (args.phase,) if args.phase else ("prefill", "decode")
        values: dict[str, Any] = _sizes(args, *phases)
        # a name from a config may hold control characters, which printing.escape keeps: shown escaped
        text = document(arch, conv, gpu, phases=phases, **values)
        print("\n".join(_safe(line) for line in text.split("\n")), end="")
        return 0
    if args.gpu is not None or _hardware_given(args):
        raise UsageError("--gpu and the hardware options apply to latex --document only")
    phase = args.phase or "decode"
    values = _sizes(args, phase)
    cost = _cost(arch, conv, phase, values)
    if args.json:
        keys = [args.only] if args.only else ["flops", "bytes", "intensity"]
        formulas = dict(zip(keys, (formula_lines(cost, k, bare=True)[0] for k in keys), strict=True))
        _dump(_header(arch, None, conv) | {"command": "latex", "phase": phase, "values": values} | formulas)
        return 0
    # every line is display math (what it is of is the command line itself; --json names it)
    for line in formula_lines(cost, args.only, bare=bool(args.only)):
        print(line)
    return 0


# ---- crossover ------------------------------------------------------------------------------------------


def _positive_denominator(expr: sympy.Expr) -> str:
    """A closed form as text with a positive-looking denominator: ``a/(32*(c - b*S_c))``, not
    ``-a/(32*(b*S_c - c))``."""
    if expr.is_number:
        return str(expr)
    num, den = sympy.fraction(sympy.factor(expr))
    if den == 1:
        return str(expr)
    if den.could_extract_minus_sign() or num.could_extract_minus_sign():
        num, den = -num, sympy.expand(-den)
    wrap = lambda e, t: t if (e.is_Atom or e.is_Pow or e.is_Function) else f"({t})"
    return f"{wrap(num, str(num)) if num.is_Add else num}/{wrap(den, str(den))}"


def _limit_text(limit: sympy.Expr, unknown: str) -> str:
    if limit is sympy.oo:
        return f"∞ (grows without bound as {unknown} grows)"
    if limit is sympy.S.Zero:
        return "0"
    approx = _round(limit) if limit.is_number and not limit.is_Integer and limit.is_finite else None
    return f"{limit}" + (f" ≈ {approx}" if approx is not None else "")


def _crossover(args: argparse.Namespace) -> int:
    arch, conv = _arch(args), _conventions(args)
    gpu, alias = _gpu_alias(args)
    unknown = args.unknown
    allowed = set(_SIZES[args.phase].values())
    if unknown not in allowed:
        raise UsageError(f"--unknown {unknown} is not a size of {args.phase} (it has {', '.join(sorted(allowed))})")
    values = _sizes(args, args.phase)
    if unknown in values:
        flag = next(f for o, f in _FLAGS.items() if _SIZES[args.phase].get(o) == unknown)
        raise UsageError(f"{flag} gives {unknown} a value, but {unknown} is the unknown to solve for")
    _check_tp(arch, args.tp)
    cost = _cost(arch, conv, args.phase, values, keep=unknown)
    c = analysis.crossover(cost, gpu, unknown)
    # the memory B* needs: `analysis.fit` at batch ceil(B*), context S_c + S_i, on the --tp GPUs
    memory = None
    if unknown == "B" and c.exists and c.value is not None and c.value.is_number and args.phase != "prefill" \
            and "S_c" in values:
        new = values.get("S_i", 1)
        memory = _fit(arch, gpu, batch=sympy.ceiling(c.value), context=values["S_c"] + new, gpus=args.tp, new=new)
    result = {
        "command": "crossover", "phase": args.phase, "values": values, "unknown": unknown, "exists": c.exists,
        "value": None if c.value is None else _exact(c.value),
        "closed_form": None if c.value is None or c.value.is_number else _positive_denominator(c.value),
        "approx": None if c.value is None else _approx(c.value),
        "ceiling": _exact(c.ceiling) if c.ceiling is not None and c.ceiling.is_number else None,
        "bracket": None if c.bracket is None else [_exact(c.bracket[0]), _exact(c.bracket[1])],
        "above": c.above, "reason": c.reason, "limit": _exact(c.limit),
        "limit_approx": _approx(c.limit), "tp": args.tp,
        "fits": None if memory is None else memory.fits,
        "fit": None if memory is None else _fit_json(memory, sympy.ceiling(c.value),
                                                     values["S_c"] + values.get("S_i", 1)),
        "max_batch": None if memory is None or memory.max_batch is None else _exact(memory.max_batch),
    }
    if args.json:
        _dump(_header(arch, gpu, conv, alias) | result)
        return 0
    given = f" at {_sizes_text(values)}" if values else ""
    print(f"{_safe(arch.name)} {args.phase}{given} on {_safe(gpu.name)} ({gpu.dtype}, balance "
          f"{_fixed(gpu.balance)} FLOPs/byte), conventions {_safe(conv.name)}")
    if alias:
        print(f"note: {_alias_note(gpu, alias)}")
    if c.value is None:
        print(f"{unknown}* : none")
    elif c.value.is_number:
        exact = f"exact: {c.value}; " if c.bracket is None else f"bracketed in [{c.bracket[0]}, {c.bracket[1]}]; "
        print(f"{unknown}* = {_sig(c.value, 6)}   ({exact}first integer beyond: {c.ceiling})")
    else:
        print(f"{unknown}* = {result['closed_form']}")
    print(c.reason if c.value is None or c.value.is_number else c.reason.replace(str(c.value), result["closed_form"]))
    print(f"intensity as {unknown} → ∞: {_limit_text(c.limit, unknown)}")
    if memory is not None:
        gpus = f"{args.tp} GPU{'s' if args.tp > 1 else ''}"
        if memory.fits:
            print(f"memory at B = {c.ceiling}: fits on {gpus} ({_fit_text(memory).removeprefix('fits: ')})")
        else:
            largest = memory.max_batch
            most = (f"the largest batch that fits is {largest}" if largest else
                    "not even batch 1 fits (the weights alone need more)")
            more = (f"; {memory.gpus_needed} GPUs would hold B*" if memory.gpus_needed is not None else
                    "; no tensor-parallel group of these GPUs holds B* (each keeps a copy of the cache it cannot split)"
                    if arch.is_mla or memory.max_batch is not None else "")
            print(f"memory at B = {c.ceiling}: does not fit on {gpus} (needs {_si(memory.needed_bytes, 'B')}, "
                  f"{_si(memory.available_bytes, 'B')} usable); {most}{more}")
    return 0


# ---- plot -----------------------------------------------------------------------------------------------


# the options each kind of plot uses (any other is refused, not silently ignored)
_PLOT_OPTIONS = {"roofline": ("batch", "seq", "cached"),  # and in every kind: model, gpu, hardware, dtypes, out, dpi
                 "intensity-vs-batch": ("phase", "seq", "cached", "new", "max_batch"),
                 "time-per-token": ("cached", "new", "max_batch", "tp", "comm")}


def _plot(args: argparse.Namespace) -> int:
    from symroof.output import plot as _plotting

    used = _PLOT_OPTIONS[args.kind]
    if args.kind == "intensity-vs-batch":
        used = tuple(o for o in used if o != ("cached" if args.phase == "prefill" else "seq")
                     and not (o == "new" and args.phase == "prefill"))
    for option in ("phase", "batch", "seq", "cached", "new", "max_batch", "tp", "comm"):
        if getattr(args, option) is not None and option not in used:
            flag = "--" + option.replace("_", "-")
            if option in ("tp", "comm") and args.kind != "time-per-token":
                raise UsageError(f"--tp and --comm apply to --kind time-per-token, not {args.kind}")
            phase = args.phase or "decode"
            where = f"--kind {args.kind}" + (f" --phase {phase}" if args.kind == "intensity-vs-batch" else "")
            takes = ", ".join("--" + o.replace("_", "-") for o in used)
            raise UsageError(f"{flag} does not apply to {where} (it takes {takes})")
    arch, conv = _arch(args), _conventions(args)
    gpu, alias = _gpu_alias(args)
    if _symbolic_model(args):
        raise UsageError("plot needs a model with numbers (a preset or --hf-config), not 'symbolic'")
    dpi = None if args.dpi is None else float(args.dpi)
    if dpi is not None and not 10 <= dpi <= 2000:
        raise UsageError(f"--dpi {args.dpi if args.dpi.is_Integer else dpi} must be from 10 to 2000 dots per inch")
    tp = args.tp or 1
    if args.kind == "time-per-token":
        _check_tp(arch, tp)
        _check_link(gpu, tp, args.comm)
    out = args.out or f"symroof-{args.kind}.png"
    _check_image_path(out)
    new, seq = args.new or 1, args.seq or QUICK_TOKENS
    cached = args.cached if args.cached is not None else QUICK_TOKENS
    max_batch = args.max_batch or 2048
    if args.kind == "roofline":
        fig = _plotting.roofline(gpu, arch, conventions=conv, batch=args.batch or QUICK_BATCH, seq=seq,
                                 context=cached, dpi=dpi)
    elif args.kind == "intensity-vs-batch":
        phase = args.phase or "decode"
        context = seq if phase == "prefill" else cached
        fig = _plotting.intensity_vs_batch(arch, gpu, conventions=conv, context=context, phase=phase,
                                           new_tokens=new, max_batch=max_batch, dpi=dpi)
    else:
        fig = _plotting.time_per_token(arch, gpu, conventions=conv, context=cached, new_tokens=new,
                                       max_batch=max_batch, tp=tp, comm=args.comm, dpi=dpi)
    if alias:        # stdout is the file's name: the alias goes to stderr
        _write_err(f"symroof: {_alias_note(gpu, alias)}\n", sys.stderr)
    try:
        fig.savefig(out, dpi=dpi or "figure")
    except (OSError, ValueError, OverflowError) as err:
        raise UsageError(f"cannot write {out!r}: {' '.join(str(err).split())}") from None
    print(out)
    return 0


def _check_image_path(out: str) -> None:
    """Refuse an output path matplotlib cannot write, before drawing anything."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    folder = os.path.dirname(out) or "."
    if not os.path.isdir(folder):
        raise UsageError(f"cannot write {out!r}: no folder {folder!r}")
    suffix = os.path.splitext(out)[1].lstrip(".").lower()
    formats = FigureCanvasAgg(Figure()).get_supported_filetypes()
    if suffix not in formats:
        raise UsageError(f"cannot write {out!r}: the format {suffix!r} is not one of {', '.join(sorted(formats))}")


# ---- catalogues -----------------------------------------------------------------------------------------


def _models_list(args: argparse.Namespace) -> int:
    if args.family is not None and args.hf_config is None:
        raise UsageError("--family applies to --hf-config only (it says how to read the config's model_type)")
    if args.hf_config is not None:
        arch = _models.from_hf_config(args.hf_config, family=args.family)
        archs = {arch.name: arch}
    else:
        archs = dict(sorted(_models.catalogue().items()))
    rows = []
    for name, arch in archs.items():
        rows.append({
            "name": name, "hidden": _exact(arch.hidden), "layers": _exact(arch.layers),
            "heads": _exact(arch.heads), "kv_heads": _exact(arch.kv_heads), "head_dim": _exact(arch.head_dim),
            "ffn_dim": _exact(arch.ffn_dim), "ffn_kind": arch.ffn_kind, "experts": _exact(arch.experts),
            "experts_per_token": _exact(arch.experts_per_token), "vocab": _exact(arch.vocab),
            "tied_embeddings": arch.tied_embeddings, "parameters": _exact(total_parameters(arch)),
            "active_parameters": _exact(active_parameters(arch)),
            "params_b": None if arch.params_b is None else _exact(arch.params_b), "source": arch.source,
            "not_modelled": _not_modelled(arch),
        })
    if args.json:
        _dump({"command": "models", "models": rows})
        return 0
    table = []
    for r in rows:
        heads = f"{r['heads']}/{r['kv_heads']}x{r['head_dim']}"
        ffn = f"{r['ffn_dim']} {r['ffn_kind']}"
        if r["experts"] != 1:
            ffn += f" {r['experts_per_token']}/{r['experts']} experts"
        table.append([_safe(r["name"]), str(r["hidden"]), str(r["layers"]), heads, ffn, str(r["vocab"]),
                      _si(r["parameters"], ""), _safe(r["source"])])
    _table(("model", "H", "N", "heads/kv x d_h", "FFN", "vocab", "params", "source"), table, width=120)
    for r in rows if args.hf_config is not None else ():
        for item in r["not_modelled"]:
            print(f"note: not modelled: {_safe(item)}")
    return 0


def _percent_text(x: sympy.Expr) -> str:
    return f"{_round(x * 100)}%"


def _hardware_list(args: argparse.Namespace) -> int:
    parts = (_hardware.load(args.hardware_file) if args.hardware_file is not None else _hardware.catalogue())
    rows = []
    for hw in parts.values():
        rows.append({
            "name": hw.name, "dtype": hw.dtype, "aliases": list(hw.aliases),
            "peak_flops_per_s": {d: _exact(v) for d, v in hw.peak_flops_per_s.items()},
            "bandwidth_bytes_per_s": _exact(hw.bandwidth),
            "capacity_bytes": None if hw.capacity is None else _exact(hw.capacity),
            "usable_bytes": None if hw.usable_bytes is None else _exact(hw.usable_bytes),
            "usable_fraction": _approx(hw.usable_fraction),
            "flops_efficiency": _approx(hw.flops_efficiency), "bandwidth_efficiency": _approx(hw.bandwidth_efficiency),
            "interconnect_bytes_per_s": (None if hw.interconnect_bytes_per_s is None
                                         else _exact(hw.interconnect_bytes_per_s)),
            "balance": _approx(hw.balance), "balance_exact": _exact(hw.balance), "source": hw.source,
        })
    if args.json:
        _dump({"command": "hardware", "hardware": rows})
        return 0
    table = []
    for r, hw in zip(rows, parts.values(), strict=True):
        memory = "" if hw.capacity is None else _binary(hw.capacity)
        if hw.capacity is not None:
            memory += f" ({_percent_text(hw.usable_fraction)} usable)" if hw.usable_fraction != 1 else ""
        efficiency = "" if hw.efficient else (f"{_percent_text(hw.flops_efficiency)} FLOP/s, "
                                              f"{_percent_text(hw.bandwidth_efficiency)} B/s")
        table.append([_safe(r["name"]), _si(hw.peak_flops, "FLOP/s") + f" {r['dtype']}", _si(hw.bandwidth, "B/s"),
                      memory, _fixed(hw.balance), efficiency, _safe(r["source"])])
    _table(("GPU", "peak", "bandwidth", "memory", "balance", "achieved", "source"), table, width=120)
    print("(sources in full: symroof hardware --json)")
    return 0


def _binary(nbytes: sympy.Expr) -> str:
    gib = as_expr(nbytes, "bytes") / 2**30
    return f"{int(gib)} GiB" if gib.is_integer else f"{_round(gib)} GiB"


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "report": _report, "latex": _latex, "crossover": _crossover, "plot": _plot,
    "models": _models_list, "hardware": _hardware_list,
}


EX_IOERR = 74          # sysexits.h: an input/output error (stdout closed, full, broken, or its encoding)
EX_SOFTWARE = 70       # sysexits.h: an internal error (a bug: please report it)


class _Output(io.StringIO):
    """The command's output, held until it is complete (so that an error prints nothing but its
    line, and a failure to write is told apart from a bad option); a terminal if stdout is one."""

    def __init__(self, tty: bool):
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status: 0; 2 for bad options (one line on stderr);
    74 when the output cannot be written (stdout closed, full, a broken pipe, or an encoding that
    cannot show it; one line); 70 for an internal error (one line, no traceback)."""
    stdout = sys.stdout
    try:
        tty = bool(stdout is not None and stdout.isatty())
    except (ValueError, OSError, AttributeError):
        tty = False
    buffer = _Output(tty)
    with contextlib.redirect_stdout(buffer):
        status = _run(argv)
    text = buffer.getvalue()
    if text:
        status = _emit(text, stdout, status)
    return status


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:            # --help (0) or a parse error (2), already printed
        return done.code if isinstance(done.code, int) else 2
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return _COMMANDS[args.command](args)
    except (ValueError, KeyError) as err:
        message = err.args[0] if err.args else type(err).__name__
        return _fail(f"symroof: error: {_line(message)}", 2)
    except OverflowError as err:
        return _fail(f"symroof: error: a result is too large for a float ({_line(err)}); give smaller sizes", 2)
    except RecursionError:
        return _fail("symroof: error: the input is too deeply nested to compute with", 2)
    except MemoryError:
        return _fail("symroof: error: out of memory (the sizes given are too large to compute with)", 1)
    except Exception as err:              # a bug: one line, never a traceback
        return _fail(f"symroof: internal error: {type(err).__name__}: {_line(err)} (please report it)", EX_SOFTWARE)


def _fail(line: str, status: int) -> int:
    """Print one line to stderr and drop the output held so far (a failed command prints nothing)."""
    out = sys.stdout
    if isinstance(out, _Output):
        out.seek(0)
        out.truncate()
    _write_err(line + "\n", sys.stderr)
    return status


def _emit(text: str, stdout: Any, status: int) -> int:
    """Write the command's output; a failure to write gets its own line and status `EX_IOERR`."""
    try:
        if stdout is None or getattr(stdout, "closed", False):
            raise ValueError("closed")
        stdout.write(text)
        stdout.flush()
        return status
    except BrokenPipeError:
        reason = "the reader closed the pipe"
        if stdout is sys.__stdout__:      # so that the interpreter's final flush is silent
            with contextlib.suppress(OSError):
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    except UnicodeEncodeError as err:
        encoding = getattr(stdout, "encoding", None) or err.encoding
        reason = (f"its encoding {encoding} cannot show {err.object[err.start:err.end]!r} "
                  "(set PYTHONIOENCODING=utf-8)")
    except OSError as err:
        reason = err.strerror or errno.errorcode.get(err.errno or 0, "") or type(err).__name__
    except (ValueError, AttributeError):
        reason = "standard output is closed"
    _write_err(f"symroof: cannot write the output: {_line(reason)}\n", sys.stderr)
    return EX_IOERR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
