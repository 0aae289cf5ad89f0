"""The ``symroof`` command line.

::

    symroof report    [MODEL] [--gpu NAME] [--phase prefill|decode|step] [SIZES] [--tp T] [--comm C] [--json]
    symroof latex     [MODEL] [--phase ...] [SIZES] [--only flops|bytes|intensity | --document [--gpu NAME]]
    symroof crossover [MODEL] [--gpu NAME] [--phase ...] [SIZES] [--unknown B|S_c|S_i|S]
    symroof plot      [MODEL] [--gpu NAME] [--kind roofline|intensity-vs-batch|time-per-token] [SIZES] [--tp T]
                      [--comm C] [--out FILE]
    symroof models    [--json]
    symroof hardware  [--json]

MODEL is ``--model NAME`` (a preset of `symroof.models`, or ``symbolic`` for the
all-symbol GPT-style model) or ``--hf-config PATH`` (a Hugging Face
``config.json``). SIZES are ``--batch B``, ``--seq S`` (the prompt in prefill),
``--cached S_c`` and ``--new S_i``; a size left out stays a symbol, so
``symroof latex --phase decode`` prints the general decode formulas. ``report``
with no ``--phase`` is the quick look: prefill and decode at batch 1 and 1024
tokens unless sizes are given. ``--dtype`` sets the bytes per element of
weights (all of them: it replaces a checkpoint's quantisation), activations and
KV cache and the GPU's peak to that dtype's.

Output is a table (drawn with ``rich`` when it is installed and the output is a
terminal) or, with ``--json``, one JSON object: exact integers stay integers,
exact fractions are ``"p/q"`` strings beside a float, expressions are strings.
Bad options exit with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import sympy

from symroof import analysis
from symroof import hardware as _hardware
from symroof import symbols as sym
from symroof._values import as_expr
from symroof.analysis.timing import COMMS
from symroof.cost import Cost
from symroof.cost.conventions import PRESETS, Conventions, resolve
from symroof.cost.phases import decode, prefill, step
from symroof.hardware import Hardware
from symroof.model import presets as _models
from symroof.model.arch import Arch
from symroof.model.hf import dtype_bytes, dtype_name
from symroof.model.params import total_parameters

__all__ = ["DEFAULT_GPU", "DEFAULT_MODEL", "build_parser", "main"]

DEFAULT_MODEL = "llama-3-8b"
DEFAULT_GPU = "H100-SXM"
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


def _model_options(p: argparse.ArgumentParser, *, gpu: bool = True) -> None:
    which = p.add_mutually_exclusive_group()
    which.add_argument("--model", type=_text, default=None, metavar="NAME",
                       help=f"a preset (symroof models), or 'symbolic'; default {DEFAULT_MODEL}")
    which.add_argument("--hf-config", type=_text, default=None, metavar="PATH",
                       help="a Hugging Face config.json (or the folder holding it)")
    if gpu:
        p.add_argument("--gpu", type=_text, default=DEFAULT_GPU, metavar="NAME",
                       help=f"an accelerator (symroof hardware); default {DEFAULT_GPU}")
    p.add_argument("--dtype", type=_text, default=None, metavar="DTYPE",
                   help="bytes per element of weights, activations and KV cache, and the GPU peak used "
                        "(bf16, fp16, fp8, int8, fp32, ...)")
    p.add_argument("--conventions", type=_text, default="exact", metavar="NAME",
                   help=f"what to count: {', '.join(PRESETS)} (or 000, 002, 003); default exact")


def _comm_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--comm", choices=COMMS, default=None,
                   help="tensor-parallel communication: Megatron's ring all-reduces, 003's messages, or none "
                        "(default: the conventions' choice, 003 for inference-arithmetic, allreduce otherwise)")


def _size_options(p: argparse.ArgumentParser, *, phase_default: str | None) -> None:
    p.add_argument("--phase", choices=PHASES, default=phase_default,
                   help="prefill (S new tokens), decode (1 new token over S_c cached), or a general step")
    p.add_argument("--batch", type=_positive, metavar="B", help="sequences in the batch")
    p.add_argument("--seq", type=_positive, metavar="S", help="prompt length (prefill)")
    p.add_argument("--cached", type=_non_negative, metavar="S_c", help="tokens already in the KV cache")
    p.add_argument("--new", type=_positive, metavar="S_i",
                   help="new tokens per sequence (decode: 1; speculative decoding: k)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symroof", description="Symbolic performance models of transformer inference.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    rep = sub.add_parser("report", help="FLOPs, bytes, intensity, bound and time of prefill and decode",
                         description="With no --phase: prefill and decode at batch 1 and 1024 tokens (or the "
                                     "sizes given). With --phase, a size left out stays a symbol.")
    _model_options(rep)
    _size_options(rep, phase_default=None)
    rep.add_argument("--tp", type=_positive, default=1, metavar="T", help="tensor-parallel GPUs (time only)")
    _comm_option(rep)
    rep.add_argument("--json", action="store_true", help="one JSON object instead of a table")

    tex = sub.add_parser("latex", help="LaTeX of the FLOPs, bytes and intensity (sizes left out stay symbols)")
    _model_options(tex, gpu=False)
    _size_options(tex, phase_default=None)
    tex.add_argument("--only", choices=("flops", "bytes", "intensity"), help="print one formula only")
    tex.add_argument("--document", action="store_true",
                     help="a standalone .tex derivation, term by term, with the crossover batch "
                          "(prefill and decode unless --phase is given)")
    tex.add_argument("--gpu", type=_text, default=None, metavar="NAME",
                     help="--document: solve the crossover on this GPU (default: the symbolic balance pi/beta)")
    tex.add_argument("--json", action="store_true")

    cro = sub.add_parser("crossover", help="the batch (or length) where a step turns compute-bound")
    _model_options(cro)
    _size_options(cro, phase_default="decode")
    cro.add_argument("--unknown", choices=("B", "S_c", "S_i", "S"), default="B",
                     help="the size to solve for (default B)")
    cro.add_argument("--json", action="store_true")

    plo = sub.add_parser("plot", help="roofline, intensity against batch, or time per token, to an image file")
    _model_options(plo)
    plo.add_argument("--kind", choices=("roofline", "intensity-vs-batch", "time-per-token"), default="roofline")
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
    plo.add_argument("--out", type=_text, default=None, metavar="FILE",
                     help="png, pdf or svg (default symroof-KIND.png)")

    mod = sub.add_parser("models", help="the model presets, with their sources")
    mod.add_argument("--json", action="store_true")
    hw = sub.add_parser("hardware", help="the accelerator catalogue, with sources")
    hw.add_argument("--json", action="store_true")
    return parser


# ---- resolving options --------------------------------------------------------------------------------


def _symbolic_model(args: argparse.Namespace) -> bool:
    return args.hf_config is None and args.model is not None and args.model.strip().lower() == "symbolic"


def _arch(args: argparse.Namespace) -> Arch:
    if args.hf_config is not None:
        arch = _models.from_hf_config(args.hf_config)
    elif _symbolic_model(args):
        arch = Arch.symbolic()
    else:
        arch = _models.get(args.model or DEFAULT_MODEL)
    if args.dtype is not None:
        nbytes = dtype_bytes(args.dtype, "--dtype")
        # one dtype for every tensor: a checkpoint's per-tensor (quantised) bytes no longer apply
        arch = arch.replace(weight_bytes=nbytes, act_bytes=nbytes, kv_bytes=nbytes, tensor_bytes=())
    return arch


def _gpu(args: argparse.Namespace) -> Hardware:
    gpu = _hardware.get(args.gpu)
    if args.dtype is not None:
        name = dtype_name(args.dtype, "--dtype")
        if name not in gpu.peak_flops_per_s:
            raise UsageError(f"--dtype {args.dtype}: {gpu.name} has no {name} peak; it has "
                             f"{', '.join(gpu.peak_flops_per_s)}")
        gpu = gpu.with_dtype(name)
    return gpu


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
    return resolve(args.conventions)


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
    exact = value if value.is_Rational else sympy.Rational(sympy.Float(value, digits + 5))
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
    """One decimal (a balance, FLOPs/byte); beyond float range, significant digits and a note."""
    try:
        x = float(value)
    except (OverflowError, TypeError, ValueError):
        x = math.inf
    return f"{x:.1f}" if math.isfinite(x) else f"{_sig(value, 4)} (beyond float range)"


_PREFIXES = ((10**18, "E"), (10**15, "P"), (10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k"))


def _si(value: sympy.Expr, unit: str) -> str:
    """``16.49 TFLOP``: decimal prefixes, four significant digits; exact beyond float range."""
    value = as_expr(value, "value")
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


def _num(x: Any) -> str:
    if isinstance(x, str):                   # `_approx` beyond float range
        return _beyond(x)
    return f"{x:.1f}" if abs(x) >= 100 else f"{x:.3g}"


def _sizes_text(values: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]], title: str = "") -> None:
    """Print rows under column headers: a rich table on a terminal (if rich is installed), else plain text."""
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


def _header(arch: Arch, gpu: Hardware | None, conv: Conventions) -> dict[str, Any]:
    out: dict[str, Any] = {"model": arch.name, "model_source": arch.source, "conventions": conv.name}
    if gpu is not None:
        out.update(gpu=gpu.name, dtype=gpu.dtype, peak_flops_per_s=_exact(gpu.peak_flops),
                   bandwidth_bytes_per_s=_exact(gpu.bandwidth), balance=_approx(gpu.balance),
                   balance_exact=_exact(gpu.balance))
    return out


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
        else:
            t = analysis.time_per_output_token(arch, conv, gpu, S_c=values.get("S_c", 0),
                                               S_i=values.get("S_i", 1), **common)
        out["time_s"] = {"compute": _approx(t.compute_s), "memory": _approx(t.memory_s),
                         "comm": _approx(t.comm_s), "total": _approx(t.total_s), "bound": t.bound, "tp": tp,
                         "comm_model": comm or conv.comms}
    out["terms"] = {kind: {name: _exact(v) for name, v in terms.items()} for kind, terms in cost.terms.items()}
    return out


def _report(args: argparse.Namespace) -> int:
    arch, gpu, conv = _arch(args), _gpu(args), _conventions(args)
    note = _check_tp(arch, args.tp)
    results = [_phase_result(arch, conv, gpu, phase, values, args.tp, args.comm)
               for phase, values in _workloads(args)]
    if args.json:
        head = _header(arch, gpu, conv) | {"tp": args.tp} | ({"tp_note": note} if note else {})
        if args.phase is not None:
            _dump(head | results[0])
        else:
            _dump(head | {"phases": {r["phase"]: r for r in results}})
        return 0
    print(f"{_safe(arch.name)} on {_safe(gpu.name)} ({gpu.dtype}: {_si(gpu.peak_flops, 'FLOP/s')}, "
          f"{_si(gpu.bandwidth, 'B/s')}), conventions {_safe(conv.name)}")
    print(f"balance: {_fixed(gpu.balance)} FLOPs/byte")
    numeric = [r for r in results if not r["symbols"]]
    if numeric:
        rows = []
        for r in numeric:
            cost_time = r["time_s"]
            rows.append([r["phase"], _sizes_text(r["values"]), _si(r["flops"], "FLOP"), _si(r["bytes"], "B"),
                         _num(r["intensity"]), f"{r['bound']}-bound", _seconds(cost_time["total"])])
        tp = f" (tp={args.tp})" if args.tp > 1 else ""
        _table(("phase", "sizes", "FLOPs", "bytes", "intensity", "bound", f"time{tp}"), rows)
        if note:
            print(f"note: {note}")
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
    return 0


# ---- latex ----------------------------------------------------------------------------------------------


def _latex(args: argparse.Namespace) -> int:
    from symroof.output.latex import document, intensity_latex, to_latex

    arch, conv = _arch(args), _conventions(args)
    if args.document:
        if args.only or args.json:
            raise UsageError("--document prints a whole .tex file; it does not combine with --only or --json")
        gpu = None if args.gpu is None else _gpu(args)
        phases = (args.phase,) if args.phase else ("prefill", "decode")
        values: dict[str, Any] = _sizes(args, *phases)
        # a name from a config may hold control characters, which printing.escape keeps: shown escaped
        text = document(arch, conv, gpu, phases=phases, **values)
        print("\n".join(_safe(line) for line in text.split("\n")), end="")
        return 0
    if args.gpu is not None:
        raise UsageError("--gpu applies to latex --document only")
    phase = args.phase or "decode"
    values = _sizes(args, phase)
    cost = _cost(arch, conv, phase, values)
    formulas = {"flops": to_latex(cost.flops), "bytes": to_latex(cost.bytes), "intensity": intensity_latex(cost)}
    if args.only:
        formulas = {args.only: formulas[args.only]}
    if args.json:
        _dump(_header(arch, None, conv) | {"phase": phase, "values": values} | formulas)
        return 0
    names = {"flops": r"\text{FLOPs}", "bytes": r"\text{Bytes}", "intensity": r"\text{Intensity}"}
    if not args.only:
        given = f" at {_sizes_text(values)}" if values else ""
        print(f"% {_safe(arch.name)}, {phase}{given}, conventions {_safe(conv.name)}")
    for key, tex in formulas.items():
        print(tex if args.only else f"{names[key]} = {tex}")
    return 0


# ---- crossover ------------------------------------------------------------------------------------------


def _crossover(args: argparse.Namespace) -> int:
    arch, gpu, conv = _arch(args), _gpu(args), _conventions(args)
    unknown = args.unknown
    allowed = set(_SIZES[args.phase].values())
    if unknown not in allowed:
        raise UsageError(f"--unknown {unknown} is not a size of {args.phase} (it has {', '.join(sorted(allowed))})")
    values = _sizes(args, args.phase)
    if unknown in values:
        flag = next(f for o, f in _FLAGS.items() if _SIZES[args.phase].get(o) == unknown)
        raise UsageError(f"{flag} gives {unknown} a value, but {unknown} is the unknown to solve for")
    cost = _cost(arch, conv, args.phase, values, keep=unknown)
    c = analysis.crossover(cost, gpu, unknown)
    result = {
        "phase": args.phase, "values": values, "unknown": unknown, "exists": c.exists,
        "value": None if c.value is None else _exact(c.value),
        "approx": None if c.value is None else _approx(c.value),
        "ceiling": _exact(c.ceiling) if c.ceiling is not None and c.ceiling.is_number else None,
        "above": c.above, "reason": c.reason, "limit": _exact(c.limit), "balance": _exact(c.balance),
    }
    if args.json:
        _dump(_header(arch, gpu, conv) | result)
        return 0
    given = f" at {_sizes_text(values)}" if values else ""
    print(f"{_safe(arch.name)} {args.phase}{given} on {_safe(gpu.name)} ({gpu.dtype}, balance "
          f"{_fixed(gpu.balance)} FLOPs/byte), conventions {_safe(conv.name)}")
    if c.value is None:
        print(f"{unknown}* : none")
    elif c.value.is_number:
        print(f"{unknown}* = {_sig(c.value, 6)}   (exact: {c.value}; first integer beyond: {c.ceiling})")
    else:
        print(f"{unknown}* = {c.value}")
    print(c.reason)
    limit = _sig(c.limit, 4) if c.limit.is_number and not c.limit.is_Integer and c.limit.is_finite else None
    print(f"intensity as {unknown} → ∞: {c.limit}" + (f" ≈ {limit}" if limit is not None else ""))
    return 0


# ---- plot -----------------------------------------------------------------------------------------------


# the options each kind of plot uses (any other is refused, not silently ignored)
_PLOT_OPTIONS = {"roofline": ("batch", "seq", "cached"),
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
    arch, gpu, conv = _arch(args), _gpu(args), _conventions(args)
    if _symbolic_model(args):
        raise UsageError("plot needs a model with numbers (a preset or --hf-config), not 'symbolic'")
    tp = args.tp or 1
    if args.kind == "time-per-token":
        _check_tp(arch, tp)
    out = args.out or f"symroof-{args.kind}.png"
    _check_image_path(out)
    new, seq = args.new or 1, args.seq or QUICK_TOKENS
    cached = args.cached if args.cached is not None else QUICK_TOKENS
    max_batch = args.max_batch or 2048
    if args.kind == "roofline":
        fig = _plotting.roofline(gpu, arch, conventions=conv, batch=args.batch or QUICK_BATCH, seq=seq,
                                 context=cached)
    elif args.kind == "intensity-vs-batch":
        phase = args.phase or "decode"
        context = seq if phase == "prefill" else cached
        fig = _plotting.intensity_vs_batch(arch, gpu, conventions=conv, context=context, phase=phase,
                                           new_tokens=new, max_batch=max_batch)
    else:
        fig = _plotting.time_per_token(arch, gpu, conventions=conv, context=cached, new_tokens=new,
                                       max_batch=max_batch, tp=tp, comm=args.comm)
    try:
        fig.savefig(out)
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
    rows = []
    for name, arch in _models.catalogue().items():
        rows.append({
            "name": name, "hidden": _exact(arch.hidden), "layers": _exact(arch.layers),
            "heads": _exact(arch.heads), "kv_heads": _exact(arch.kv_heads), "head_dim": _exact(arch.head_dim),
            "ffn_dim": _exact(arch.ffn_dim), "ffn_kind": arch.ffn_kind, "experts": _exact(arch.experts),
            "experts_per_token": _exact(arch.experts_per_token), "vocab": _exact(arch.vocab),
            "tied_embeddings": arch.tied_embeddings, "parameters": _exact(total_parameters(arch)),
            "params_b": None if arch.params_b is None else _exact(arch.params_b), "source": arch.source,
        })
    if args.json:
        _dump(rows)
        return 0
    table = []
    for r in rows:
        heads = f"{r['heads']}/{r['kv_heads']}x{r['head_dim']}"
        ffn = f"{r['ffn_dim']} {r['ffn_kind']}"
        if r["experts"] != 1:
            ffn += f" {r['experts_per_token']}/{r['experts']} experts"
        table.append([_safe(r["name"]), str(r["hidden"]), str(r["layers"]), heads, ffn, str(r["vocab"]),
                      _si(as_expr(r["parameters"], "parameters"), ""), _safe(r["source"])])
    _table(("model", "H", "N", "heads/kv x d_h", "FFN", "vocab", "params", "source"), table)
    return 0


def _hardware_list(args: argparse.Namespace) -> int:
    rows = []
    for hw in _hardware.catalogue().values():
        rows.append({
            "name": hw.name, "dtype": hw.dtype,
            "peak_flops_per_s": {d: _exact(v) for d, v in hw.peak_flops_per_s.items()},
            "bandwidth_bytes_per_s": _exact(hw.bandwidth),
            "capacity_bytes": None if hw.capacity is None else _exact(hw.capacity),
            "interconnect_bytes_per_s": (None if hw.interconnect_bytes_per_s is None
                                         else _exact(hw.interconnect_bytes_per_s)),
            "balance": _approx(hw.balance), "balance_exact": _exact(hw.balance), "source": hw.source,
        })
    if args.json:
        _dump(rows)
        return 0
    table = [[r["name"], _si(as_expr(r["peak_flops_per_s"][r["dtype"]], "peak"), "FLOP/s") + f" {r['dtype']}",
              _si(as_expr(r["bandwidth_bytes_per_s"], "bandwidth"), "B/s"),
              "" if r["capacity_bytes"] is None else _si(as_expr(r["capacity_bytes"], "capacity"), "B"),
              _fixed(as_expr(hw.balance, "balance")), _safe(r["source"])] for r, hw in zip(
                 rows, _hardware.catalogue().values(), strict=True)]
    _table(("GPU", "peak", "bandwidth", "memory", "balance", "source"), table)
    return 0


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
