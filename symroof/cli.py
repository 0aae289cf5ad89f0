"""The ``symroof`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import sympy

from symroof import hardware as _hardware
from symroof import models as _models
from symroof.conventions import PRESETS, resolve
from symroof.phases import decode, prefill

DEFAULT_MODEL = "llama-3-8b"
DEFAULT_GPU = "H100-SXM"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, exit status 2
        self.exit(2, f"symroof: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symroof", description="Symbolic performance models of transformer inference.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    rep = sub.add_parser("report", help="FLOPs, bytes and intensity of prefill and decode")
    rep.add_argument("--model", default=DEFAULT_MODEL)
    rep.add_argument("--gpu", default=DEFAULT_GPU)
    rep.add_argument("--batch", type=_positive_int, default=1)
    rep.add_argument("--seq", type=_positive_int, default=1024)
    rep.add_argument("--conventions", default="exact", choices=list(PRESETS))
    return parser


def _report(args: argparse.Namespace) -> int:
    arch = _models.get(args.model)
    gpu = _hardware.get(args.gpu)
    conv = resolve(args.conventions)
    print(f"{arch.name} on {gpu.name} ({gpu.dtype}), conventions {conv.name}, batch {args.batch}")
    print(f"balance: {float(gpu.balance):.1f} FLOPs/byte")
    for label, cost in (
        (f"prefill S={args.seq}", prefill(arch, conv, B=args.batch, S=args.seq)),
        (f"decode S_c={args.seq}", decode(arch, conv, B=args.batch, S_c=args.seq)),
    ):
        flops, nbytes = int(cost.flops), int(cost.bytes)
        ai = sympy.Rational(flops, nbytes)
        bound = "compute-bound" if ai > gpu.balance else "memory-bound"
        print(f"{label:>18}: {flops:.4e} FLOPs  {nbytes:.4e} bytes  intensity {float(ai):9.1f}  {bound}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return _report(args)
    except ValueError as err:
        print(f"symroof: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
