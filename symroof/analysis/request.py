"""Whole requests on the roofline: time to first token, the decode steps' exact total, throughput,
the mean-context approximation's error, a per-operator latency model, and cost and energy.

A decode step at ``S_c`` takes ``max(compute(S_c), memory(S_c)) + comm`` (`symroof.timing.latency`).
Compute and memory are linear in ``S_c`` (piecewise linear with a sliding window), so the max
switches at most once per piece: where the step crosses the balance, ``crossover_S_c`` for the
given ``B``. `request_time` sums the steps ``S_c = S, ..., S+G-1`` exactly with
`symroof.cost.request.range_sum`, which splits the sum at that crossover (and at a window's
``W - 1``): the total is a closed form, piecewise through ``Min``/``Max``/``floor``, equal to the
step-by-step sum at every integer.

Mean-context approximation (scaling-book's one step at the mean context, times ``G``):
``G · step(S + G/2)``. Its error ``mean_context_s − decode_s`` is exact. Where the whole request
is on one side of the balance and below any window, the step time is linear in ``S_c`` and the
error is ``G/2`` times the step's slope: the steps' mean context is ``S + (G − 1)/2``, not ``S + G/2``.

Per-operator roofline (`operator_time`): LLM-Viewer (hahnyuan/LLM-Viewer,
``analyzers/llm_analyzer.py`` ``_analyze_to_results`` and ``roofline_model.roofline_analyze``:
``inference_time = OPs / min(max_OPS, intensity·bandwidth)`` per layer, summed) and
llm-analysis maximise compute and memory of each operator separately and add the results. A
`Cost`'s terms are paired into operators by name (`OPERATORS`), each operator's
``max(compute, memory)`` summed; since a sum of maxima is at least the max of the sums,
``operator_gap_s = per_operator_s − roofline_s ≥ 0`` is the time the per-operator model adds by
not overlapping one operator's memory traffic with another's compute.

Cost and energy: ``dollars_per_million_tokens`` from a price per GPU-hour and ``joules_per_token``
from a board power (the catalogue's optional ``board_power_w``, the datasheet TDP), both over
the request's wall time on all its GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy

from symroof import symbols as sym
from symroof._values import as_amount, as_count
from symroof.analysis.timing import communication, latency, time_per_output_token
from symroof.cost.base import Cost, _under
from symroof.cost.conventions import Conventions, resolve
from symroof.cost.phases import decode, prefill, step
from symroof.cost.request import mean_context, range_sum
from symroof.cost.request import request as request_cost
from symroof.hardware import Hardware, hardware_of
from symroof.model.arch import Arch
from symroof.printing import to_latex

__all__ = ["OPERATORS", "OperatorTime", "RequestTime", "dollars_per_million_tokens", "joules_per_token",
           "operator_of", "operator_time", "operators", "request_latex", "request_report", "request_time"]

SECONDS_PER_HOUR = 3600
MILLION = 10**6

# How a term's name maps to its operator (the first matching rule wins). A FLOP term's operator is
# its own name (a matrix: attention/q, ffn/up, lm_head, ...); a weight-byte term ``weights/<m>`` belongs
# to the matrix ``<m>``. Attention proper (scores, values, the cached K and V they read, the new K
# and V written, a flash kernel's re-reads, an unfused kernel's score traffic) is one fused operator,
# ``attention``, as LLM-Viewer's ``fused_attention``. MLA absorbed: the folded W_UK and W_UV products
# (q_absorb, v_absorb) use the kv_up weights. Activations and norms stay operators of their own.
OPERATORS: tuple[tuple[str, str], ...] = (
    ("attention/scores", "attention"),
    ("attention/values", "attention"),
    ("kv", "attention"),                        # kv/read, kv/write
    ("attention/kv", "attention"),              # flash: K and V re-read per query block
    ("weights/attention/sinks", "attention"),   # the sinks enter the softmax
    ("attention/q_absorb", "attention/kv_up"),
    ("attention/v_absorb", "attention/kv_up"),
)


def operator_of(name: str, kind: str) -> str:
    """The operator of a FLOP (``kind="flops"``) or byte (``"bytes"``) term (rules: `OPERATORS`)."""
    if kind == "bytes" and name == "attention/scores":   # an unfused kernel's score-matrix traffic
        return "attention"
    for prefix, op in OPERATORS:
        if _under(name, prefix):
            return op
    if kind == "bytes" and _under(name, "weights"):
        return name.removeprefix("weights/")
    return name


def operators(cost: Cost) -> dict[str, Cost]:
    """The cost split by operator: each a `Cost` of its FLOP and byte terms."""
    flops: dict[str, dict[str, sympy.Expr]] = {}
    moved: dict[str, dict[str, sympy.Expr]] = {}
    for name, v in cost.flop_terms.items():
        flops.setdefault(operator_of(name, "flops"), {})[name] = v
    for name, v in cost.byte_terms.items():
        moved.setdefault(operator_of(name, "bytes"), {})[name] = v
    return {op: Cost(flops.get(op), moved.get(op)) for op in sorted({*flops, *moved})}


def _model(model: str | None, conv: Conventions) -> str:
    return conv.latency if model is None else model


def _step_time(cost: Cost, hw: Hardware, tp: Any, model: str, comm_s: Any) -> sympy.Expr:
    return latency(cost, hw, tp=tp, model=model, comm_s=comm_s).total_s


def _operator_step_time(cost: Cost, hw: Hardware, tp: Any, model: str, comm_s: Any) -> dict[str, sympy.Expr]:
    return {op: latency(c, hw, tp=tp, model=model).total_s for op, c in operators(cost).items()} | {"comm": comm_s}


@dataclass(frozen=True)
class RequestTime:
    """A request's time on the roofline, seconds (exact; closed forms when sizes are symbols).

    ``ttft_s``: the prefill; ``decode_s``: the exact sum of the ``G`` decode steps; ``total_s``:
    both. ``tpot_s = decode_s / G`` (the time per output token averaged over the request);
    ``tokens_per_s = B·G / total_s`` (generated tokens per second, all ``B`` sequences) and
    ``decode_tokens_per_s = B·G / decode_s``. ``mean_context_s = G · step(S + G/2)``,
    ``mean_context_error_s = mean_context_s − decode_s``. ``crossover_S_c``: the context where a
    decode step's compute time equals its memory time (None when not linear in ``S_c``: a window).
    ``step_s``: one decode step's time as a function of ``S_c``.
    """

    ttft_s: sympy.Expr
    decode_s: sympy.Expr
    total_s: sympy.Expr
    tpot_s: sympy.Expr
    tokens_per_s: sympy.Expr
    decode_tokens_per_s: sympy.Expr
    mean_context_s: sympy.Expr
    mean_context_error_s: sympy.Expr
    crossover_S_c: sympy.Expr | None
    step_s: sympy.Expr
    gpus: sympy.Expr
    tokens: sympy.Expr


def _prefill_cost_steps(arch: Arch, conv: Conventions, S: sympy.Expr, B: sympy.Expr, chunk: Any,
                        prefix: Any) -> list[tuple[Cost, sympy.Expr, tuple | None]]:
    """The prefill's passes: ``(cost, tokens of the pass, (j, lo, hi) or None)``; a chunked prefill's
    passes ``j = 1 .. n − 1`` are one `Cost` in the chunk index ``j``, summed by `range_sum`."""
    if chunk is not None and prefix is not None:
        raise ValueError("give chunk or prefix, not both")
    if chunk is not None:
        c_p = as_count(chunk, "chunk")
        n = S / c_p
        if n.is_number and not n.is_integer:
            raise ValueError(f"chunk={chunk} must divide S={S}")
        j = sympy.Symbol("j", integer=True, positive=True)
        return [(prefill(arch, conv, B=B, S=c_p), B * c_p, None),
                (step(arch, conv, B=B, S_i=c_p, S_c=j * c_p), B * c_p, (j, 1, n - 1))]
    if prefix is not None:
        p = as_count(prefix, "prefix")
        if (S - p).is_number and S - p <= 0:
            raise ValueError(f"prefix={prefix} must be shorter than S={S}")
        return [(prefill(arch, conv, B=1, S=p), p, None), (step(arch, conv, B=B, S_i=S - p, S_c=p), B * (S - p), None)]
    return [(prefill(arch, conv, B=B, S=S), B * S, None)]


def _comm(arch: Arch, hw: Hardware, conv: Conventions, tp: Any, tokens: Any, comm: str | None) -> sympy.Expr:
    return communication(arch, hw, conv, tp=tp, tokens=tokens, comm=comm).total_s


def _ttft(arch: Arch, conv: Conventions, hw: Hardware, S: sympy.Expr, B: sympy.Expr, tp: Any, model: str,
          comm: str | None, chunk: Any, prefix: Any, per_operator: bool = False) -> Any:
    total: Any = {} if per_operator else sympy.Integer(0)
    for cost, tokens, over in _prefill_cost_steps(arch, conv, S, B, chunk, prefix):
        c = _comm(arch, hw, conv, tp, tokens, comm)
        if per_operator:
            parts = _operator_step_time(cost, hw, tp, model, c)
            for op, t in parts.items():
                total[op] = total.get(op, 0) + (t if over is None else range_sum(t, *over))
        else:
            t = _step_time(cost, hw, tp, model, c)
            total += t if over is None else range_sum(t, *over)
    return total


def request_time(arch: Arch, conventions: Conventions | str | None, hardware: Hardware | str, *, S: Any = sym.S,
                 G: Any = sym.S_g, B: Any = sym.B, tp: Any = 1, model: str | None = None, comm: str | None = None,
                 dtype: str | None = None, chunk: Any = None, prefix: Any = None) -> RequestTime:
    """Time of a request (prefill of ``S``, ``G`` decode steps over ``S_c = S..S+G-1``, ``B`` sequences).

    ``model`` (``max``/``sum``) and ``comm`` default to the conventions' (`symroof.timing`);
    ``chunk``/``prefix`` as in `symroof.cost.request.request`.
    """
    conv = resolve(conventions)
    hw = hardware_of(hardware, dtype)
    S, G, B, T = as_count(S, "S"), as_count(G, "G"), as_count(B, "B"), as_count(tp, "tp")
    how = _model(model, conv)
    ttft = _ttft(arch, conv, hw, S, B, T, how, comm, chunk, prefix)
    one = time_per_output_token(arch, conv, hw, B=B, S_c=sym.S_c, tp=T, model=how, comm=comm)
    step_s = one.total_s
    decode_s = range_sum(step_s, sym.S_c, S, S + G - 1)
    total = ttft + decode_s
    diff = sympy.expand(one.compute_s - one.memory_s)
    crossover = None
    if diff.is_polynomial(sym.S_c) and sympy.degree(diff, sym.S_c) == 1:
        crossover = -diff.coeff(sym.S_c, 0) / diff.coeff(sym.S_c, 1)
    approx = G * step_s.subs(sym.S_c, mean_context(S, G))
    return RequestTime(ttft, decode_s, total, decode_s / G, B * G / total, B * G / decode_s, approx,
                       approx - decode_s, crossover, step_s, T, B * G)


@dataclass(frozen=True)
class OperatorTime:
    """A request under the per-operator roofline: ``by_operator`` (each operator's
    ``Σ max(compute, memory)`` over the prefill and the decode steps, seconds; ``comm``: the
    communication), their sum ``per_operator_s``, the one-roofline-per-step ``roofline_s``
    (`request_time`'s ``total_s``) and ``operator_gap_s = per_operator_s − roofline_s``."""

    by_operator: dict[str, sympy.Expr]
    per_operator_s: sympy.Expr
    roofline_s: sympy.Expr
    operator_gap_s: sympy.Expr
    ttft_s: sympy.Expr


def operator_time(arch: Arch, conventions: Conventions | str | None, hardware: Hardware | str, *,
                  S: Any = sym.S, G: Any = sym.S_g, B: Any = sym.B, tp: Any = 1, model: str | None = None,
                  comm: str | None = None, dtype: str | None = None, chunk: Any = None,
                  prefix: Any = None) -> OperatorTime:
    """The per-operator roofline of a request beside the one roofline per step (module docstring)."""
    conv = resolve(conventions)
    hw = hardware_of(hardware, dtype)
    S, G, B, T = as_count(S, "S"), as_count(G, "G"), as_count(B, "B"), as_count(tp, "tp")
    how = _model(model, conv)
    ops = _ttft(arch, conv, hw, S, B, T, how, comm, chunk, prefix, per_operator=True)
    ttft = sympy.Add(*ops.values())
    one = time_per_output_token(arch, conv, hw, B=B, S_c=sym.S_c, tp=T, model=how, comm=comm)
    parts = _operator_step_time(decode(arch, conv, B=B, S_c=sym.S_c), hw, T, how, one.comm_s)
    for op, t in parts.items():
        ops[op] = ops.get(op, 0) + range_sum(t, sym.S_c, S, S + G - 1)
    per_op = sympy.Add(*ops.values())
    roof = request_time(arch, conv, hw, S=S, G=G, B=B, tp=T, model=how, comm=comm, chunk=chunk,
                        prefix=prefix).total_s
    return OperatorTime(ops, per_op, roof, per_op - roof, ttft)


# ---- cost and energy ---------------------------------------------------------------------------------
def dollars_per_million_tokens(seconds: Any, tokens: Any, *, price_per_gpu_hour: Any, gpus: Any = 1) -> sympy.Expr:
    """Dollars per million tokens: ``price · gpus · seconds / 3600 / tokens · 10^6``, exact.

    >>> dollars_per_million_tokens(36, 1000, price_per_gpu_hour=2.5, gpus=2)   # 2·2.5 $/h · 36 s = 0.05 $
    50
    """
    price = as_amount(price_per_gpu_hour, "price_per_gpu_hour")
    return (price * as_count(gpus, "gpus") * as_amount(seconds, "seconds") / SECONDS_PER_HOUR
            / as_amount(tokens, "tokens") * MILLION)


def joules_per_token(seconds: Any, tokens: Any, *, board_power_w: Any, gpus: Any = 1) -> sympy.Expr:
    """Joules per token at a board power: ``watts · gpus · seconds / tokens``, exact (an upper bound
    when the power is the TDP).

    >>> joules_per_token(2, 1000, board_power_w=700, gpus=2)
    14/5
    """
    return (as_amount(board_power_w, "board_power_w") * as_count(gpus, "gpus") * as_amount(seconds, "seconds")
            / as_amount(tokens, "tokens"))


# ---- one report for the command line --------------------------------------------------------------------
def request_report(arch: Arch, conventions: Conventions | str | None, hardware: Hardware | str, *, S: Any, G: Any,
                   B: Any = 1, tp: Any = 1, price_per_gpu_hour: Any = None, board_power_w: Any = None,
                   model: str | None = None, comm: str | None = None, dtype: str | None = None,
                   chunk: Any = None, prefix: Any = None) -> dict[str, Any]:
    """Everything `symroof report --prompt S --gen G` prints, as exact values (SymPy numbers, or
    expressions where a size stays a symbol), in a flat dict with units in the keys.

    ``board_power_w`` defaults to the hardware's (the catalogue's TDP, when it has one); without a
    price or a power the dollar or joule entries are None.
    """
    conv = resolve(conventions)
    hw = hardware_of(hardware, dtype)
    cost = request_cost(arch, conv, S=S, G=G, B=B, chunk=chunk, prefix=prefix)
    t = request_time(arch, conv, hw, S=S, G=G, B=B, tp=tp, model=model, comm=comm, chunk=chunk, prefix=prefix)
    ops = operator_time(arch, conv, hw, S=S, G=G, B=B, tp=tp, model=model, comm=comm, chunk=chunk, prefix=prefix)
    power = hw.board_power_w if board_power_w is None else as_amount(board_power_w, "board_power_w")
    price = None if price_per_gpu_hour is None else as_amount(price_per_gpu_hour, "price_per_gpu_hour")
    out: dict[str, Any] = {
        "model": getattr(arch, "name", None), "conventions": conv.name, "hardware": hw.name,
        "S": as_count(S, "S"), "G": as_count(G, "G"), "B": as_count(B, "B"), "tp": t.gpus,
        "flops": cost.flops, "bytes": cost.bytes, "kv_bytes": cost.bytes_of("kv"),
        "weight_bytes": cost.bytes_of("weights"),
        "ttft_s": t.ttft_s, "decode_s": t.decode_s, "total_s": t.total_s, "tpot_s": t.tpot_s,
        "tokens_per_s": t.tokens_per_s, "decode_tokens_per_s": t.decode_tokens_per_s,
        "mean_context_s": t.mean_context_s, "mean_context_error_s": t.mean_context_error_s,
        "crossover_S_c": t.crossover_S_c,
        "per_operator_s": ops.per_operator_s, "operator_gap_s": ops.operator_gap_s,
        "dollars_per_million_tokens": None, "joules_per_token": None,
    }
    if price is not None:
        out["dollars_per_million_tokens"] = dollars_per_million_tokens(t.total_s, t.tokens, price_per_gpu_hour=price,
                                                                       gpus=t.gpus)
    if power is not None:
        out["joules_per_token"] = joules_per_token(t.total_s, t.tokens, board_power_w=power, gpus=t.gpus)
    return out



def request_latex(arch: Arch, conventions: Conventions | str | None = None, *, S: Any = sym.S, G: Any = sym.S_g,
                  B: Any = sym.B) -> list[str]:
    r"""The closed forms of a request as display-math lines (what ``symroof latex --request`` prints):
    its FLOPs, bytes and KV-cache bytes, ``S``, ``S_g`` and ``B`` kept as symbols unless given.

    >>> import symroof
    >>> request_latex(symroof.models.get("llama-3-8b"), "exact")[0][:40]
    '\\text{FLOPs}_\\text{request} = 1050673152'
    """
    cost = request_cost(arch, conventions, S=S, G=G, B=B)
    simplify = lambda e: sympy.collect(sympy.expand(e), [sym.B], evaluate=True)
    return [rf"\text{{FLOPs}}_\text{{request}} = {to_latex(simplify(cost.flops))}",
            rf"\text{{bytes}}_\text{{request}} = {to_latex(simplify(cost.bytes))}",
            rf"\text{{KV bytes}}_\text{{request}} = {to_latex(simplify(cost.bytes_of('kv')))}"]
