"""The serving view: time per output token and throughput against batch size, their Pareto
frontier, and the largest batch whose KV cache fits.

A decode step of ``B`` sequences over ``S_c`` cached tokens takes ``t(B)`` seconds on the
roofline (`symroof.timing.latency`: ``max(FLOPs/(T·π), bytes/(T·β))`` plus tensor-parallel
communication); every sequence gets one token per step, so

* time per output token (TPOT) = ``t(B)``,
* throughput = ``B / t(B)`` tokens/s (of the whole T-GPU deployment).

Both grow with ``B``: batching trades latency for throughput. While the step is memory-bound
``t(B)`` barely moves (the weights are read once for the whole batch) and throughput grows
almost linearly; once it is compute-bound ``t(B)`` grows linearly and throughput saturates at
``T·π`` over the FLOPs per token. A batch is only possible if its KV cache fits beside the
weights (`max_batch`, from `symroof.timing.kv_capacity`).

`serving_curve` evaluates all of this over an array of batch sizes in float64 (the exact
expressions in ``B`` are compiled once, `symroof.compile`) and `pareto_front` picks the batches that no other
batch beats on both TPOT and throughput.

A step is `symroof.timing.time_per_output_token`, the one latency path: tensor-parallel
communication (``comm``) is the conventions' ``comms`` unless given (`symroof.timing.communication`:
``"allreduce"``, Megatron's two ring all-reduces per layer in bytes with NCCL's latency, the
default of every preset but 003's; ``"003"``, 003's four messages per layer of ``B·H`` values
plus 10 µs each, in bytes, or as 003 prints them (one byte per value) under 003's own conventions;
``"none"``), so timing's TPOT and `decode_latency` agree for every preset.

Examples
--------
>>> import symroof
>>> from symroof.symbols import B
>>> llama = symroof.models.get("llama-3-8b")
>>> t = decode_latency(llama, "roofline-notes", "H100-SXM", S_c=0)
>>> t.total_s.subs(B, 1) == t.memory_s.subs(B, 1)           # batch 1 is memory-bound
True
>>> curve = serving_curve(llama, "roofline-notes", "H100-SXM", S_c=1024, batches=[1, 64, 512])
>>> [round(float(x) * 1000, 2) for x in curve.tpot_s]      # ms per token; B = 512 reads 69 GB of KV
[4.21, 6.75, 24.82]
>>> curve.max_batch, curve.fits.tolist()      # (0.9·80 GiB − 2·8,030,261,248) // (131,072 B · 1025 tokens)
(455, [True, True, False])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sympy

from symroof import symbols as sym
from symroof._values import as_count
from symroof.analysis.timing import COMMS, Latency, combine, kv_capacity, kv_replication, time_per_output_token
from symroof.cost.conventions import Conventions, resolve
from symroof.hardware import Hardware, hardware_of
from symroof.model.arch import Arch

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "COMMS",
    "ServingCurve",
    "decode_latency",
    "kv_replication",
    "max_batch",
    "pareto_front",
    "serving_curve",
    "step_latency",
    "throughput",
]


def step_latency(arch: Arch, conventions: Conventions | str | None, hardware: Hardware | str, *,
                 B: Any = sym.B, S_i: Any = 1, S_c: Any = sym.S_c, tp: Any = 1, comm: str | None = None,
                 model: str | None = None, dtype: str | None = None, step_latency_s: Any = None,
                 bytes_per_element: Any = None) -> Latency:
    """Roofline time of one pass of ``B`` sequences, ``S_i`` new tokens each over ``S_c`` cached, exact.

    `symroof.timing.time_per_output_token` with symbols left as symbols unless given: ``tp``
    GPUs split FLOPs and weight/KV bytes (`symroof.timing.latency`) and communicate as ``comm``
    says (``None``: the conventions' ``comms``; `symroof.timing.communication`, which also takes
    ``step_latency_s`` and ``bytes_per_element``). ``model`` is ``"max"`` or ``"sum"`` (default:
    the conventions' ``latency``).
    """
    return time_per_output_token(arch, resolve(conventions), hardware, B=B, S_c=S_c, S_i=S_i, tp=tp,
                                 model=model, comm=comm, bytes_per_element=bytes_per_element,
                                 step_latency_s=step_latency_s, dtype=dtype)


def decode_latency(arch: Arch, conventions: Conventions | str | None, hardware: Hardware | str, *,
                   B: Any = sym.B, S_c: Any = sym.S_c, **options: Any) -> Latency:
    """Roofline time of one decode step (`step_latency` at ``S_i = 1``): the time per output token.

    >>> import symroof
    >>> gopher = symroof.models.get("gopher-280b").replace(params_b=260)     # 003's 260B
    >>> a100 = symroof.Hardware("A100 (003)", {"bf16": 312e12}, 1.5e12, interconnect_bytes_per_s=300e9)
    >>> t = decode_latency(gopher, "003", a100, B=1, S_c=0, tp=16, comm="003")
    >>> round(float(t.memory_s) * 1000), round(float(t.comm_s) * 1000, 1)   # 003: 22 ms, 3.2 ms comms
    (22, 3.2)
    """
    return step_latency(arch, conventions, hardware, B=B, S_i=1, S_c=S_c, **options)


def throughput(arch: Arch, conventions: Conventions | str | None, hardware: Hardware | str, *,
               B: Any = sym.B, S_c: Any = sym.S_c, **options: Any) -> sympy.Expr:
    """Tokens per second of the deployment, ``B / t(B)`` (``options`` as for `decode_latency`).

    >>> import symroof
    >>> from symroof.symbols import B
    >>> g = symroof.Hardware("g", {"bf16": 10**15}, 10**12)
    >>> tiny = symroof.Arch(hidden=64, layers=2, heads=4, vocab=128, params_b=1)
    >>> throughput(tiny, "003", g, S_c=0)        # 003: 2e9 bytes at 1e12 B/s; 2e9·B FLOPs at 1e15
    B/Max(1/500, B/500000)
    """
    return as_count(B, "B") / decode_latency(arch, conventions, hardware, B=B, S_c=S_c, **options).total_s


def max_batch(arch: Arch, hardware: Hardware | str, *, S_c: Any, tp: Any = 1, S_i: Any = 1,
              weight_bytes: Any = None) -> sympy.Expr:
    """The largest batch whose KV cache fits beside the weights on ``tp`` GPUs, exact.

    After the step each sequence holds ``S_c + S_i`` tokens of K and V
    (`symroof.timing.kv_capacity`: ``2·N·n_kv·d_h·b_kv`` bytes per token, times the
    copies of `kv_replication`), and a state-space model's fixed state per sequence once
    (`Capacity.state_bytes_per_sequence`); weights default to ``b_w·params_b·10^9``.

    >>> import symroof
    >>> max_batch(symroof.models.get("kipply-52b"), "A100-40GB", S_c=199, tp=3)   # 0.9·3·40 GiB − 104 GB
    28
    """
    context = as_count(S_c, "S_c", allow_zero=True) + as_count(S_i, "S_i")
    return kv_capacity(arch, hardware, gpus=as_count(tp, "tp"), weight_bytes=weight_bytes, context=context).batch


# ---- numeric curves --------------------------------------------------------------------------
def _batches(batches: Any) -> np.ndarray:
    import numpy as np  # here: import symroof does not load numpy

    try:
        b = np.asarray(batches, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"batches={batches!r} must be positive integers") from None
    if b.ndim != 1 or b.size == 0:
        raise ValueError(f"batches must be a non-empty 1-D sequence of positive integers, got shape {b.shape}")
    bad = ~(np.isfinite(b) & (b >= 1) & (np.floor(b) == b))
    if bad.any():
        raise ValueError(f"batches[{int(np.flatnonzero(bad)[0])}]={b[bad][0]:g} must be a positive integer")
    return b


def _numeric(expr: sympy.Expr, b: np.ndarray, what: str) -> np.ndarray:
    """``expr`` (a function of ``B`` only) at every batch size, float64."""
    import numpy as np

    from symroof.evaluate import compile as compile_expr
    extra = sorted(s.name for s in expr.free_symbols - {sym.B})
    if extra:
        raise ValueError(f"{what} depends on {', '.join(extra)}; give them values (e.g. S_c=1024)")
    ev = compile_expr(expr)
    value = ev(B=b) if ev.names else ev()
    return np.broadcast_to(np.asarray(value, dtype=np.float64), b.shape).copy()


@dataclass(frozen=True, eq=False)
class ServingCurve:
    """Decode over a grid of batch sizes: TPOT, throughput and their parts, float64 arrays.

    ``throughput`` is tokens/s of the ``tp`` GPUs together; ``max_batch`` is the largest batch
    that fits (None if the hardware has no capacity); ``fits`` marks the batches that do.
    """

    batch: np.ndarray
    tpot_s: np.ndarray
    throughput: np.ndarray
    compute_s: np.ndarray
    memory_s: np.ndarray
    comm_s: np.ndarray
    max_batch: int | None
    tp: int

    @property
    def fits(self) -> np.ndarray:
        import numpy as np
        if self.max_batch is None:
            return np.ones(self.batch.shape, dtype=bool)
        return self.batch <= self.max_batch

    @property
    def throughput_per_gpu(self) -> np.ndarray:
        return self.throughput / self.tp

    @property
    def compute_bound(self) -> np.ndarray:
        return self.compute_s >= self.memory_s

    def frontier(self, *, fits_only: bool = True) -> np.ndarray:
        """Indices of the Pareto-optimal batches (`pareto_front`), among those that fit by default."""
        import numpy as np
        keep = np.flatnonzero(self.fits) if fits_only else np.arange(self.batch.size)
        return keep[pareto_front(self.tpot_s[keep], self.throughput[keep])]

    def best(self, *, tpot_s: float, fits_only: bool = True) -> int | None:
        """Index of the highest-throughput batch whose TPOT is at most ``tpot_s`` (None if none)."""
        import numpy as np
        ok = (self.tpot_s <= tpot_s) & (self.fits if fits_only else True)
        if not ok.any():
            return None
        idx = np.flatnonzero(ok)
        return int(idx[np.argmax(self.throughput[idx])])


def serving_curve(arch: Arch, conventions: Conventions | str | None, hardware: Hardware | str, *,
                  S_c: Any, batches: Any, tp: Any = 1, comm: str | None = None, model: str | None = None,
                  dtype: str | None = None, step_latency_s: Any = None, weight_bytes: Any = None,
                  bytes_per_element: Any = None) -> ServingCurve:
    """TPOT and throughput of decode at context ``S_c`` for every batch size in ``batches``.

    The exact step time is built once with ``B`` symbolic and compiled (`symroof.compile`; float64).

    >>> import symroof
    >>> g = symroof.Hardware("g", {"bf16": 10**15}, 10**12)
    >>> tiny = symroof.Arch(hidden=64, layers=2, heads=4, vocab=128, params_b=1)
    >>> c = serving_curve(tiny, "003", g, S_c=0, batches=[1, 500, 1000, 2000])
    >>> c.tpot_s.tolist(), c.throughput.tolist()    # 003: max(2e9 B / 1e12 B/s, B·2e9 FLOP / 1e15 FLOP/s)
    ([0.002, 0.002, 0.002, 0.004], [500.0, 250000.0, 500000.0, 500000.0])
    >>> c.frontier().tolist()                       # B = 1000 beats the smaller batches and B = 2000
    [2]
    """
    b = _batches(batches)
    c = resolve(conventions)
    how = model or c.latency
    t = decode_latency(arch, c, hardware, S_c=S_c, tp=tp, comm=comm, model=how, dtype=dtype,
                       step_latency_s=step_latency_s, bytes_per_element=bytes_per_element)
    compute, memory = _numeric(t.compute_s, b, "compute time"), _numeric(t.memory_s, b, "memory time")
    comm_s = _numeric(t.comm_s, b, "communication time")
    tpot = combine(compute, memory, comm_s, model=how)
    hw = hardware_of(hardware)
    fit = None if hw.capacity_bytes is None else max_batch(arch, hw, S_c=S_c, tp=tp, weight_bytes=weight_bytes)
    if fit is not None and not fit.is_Integer:
        raise ValueError(f"max_batch is symbolic ({fit}); give numbers for its symbols")
    return ServingCurve(b, tpot, b / tpot, compute, memory, comm_s, None if fit is None else int(fit),
                        int(as_count(tp, "tp")))


def pareto_front(tpot_s: Any, throughput: Any) -> np.ndarray:
    """Indices of the non-dominated points (low TPOT, high throughput), in increasing TPOT.

    A point is dominated if another has TPOT ≤ and throughput ≥, one of them strictly.
    Equal points do not dominate each other (both are kept). ``O(n log n)``: sort by TPOT
    (ties by decreasing throughput); a point is on the front if it is the best of its TPOT
    and beats every point of smaller TPOT.

    >>> pareto_front([1.0, 2.0, 2.0, 3.0, 4.0], [10.0, 30.0, 20.0, 30.0, 40.0]).tolist()
    [0, 1, 4]
    """
    import numpy as np

    t = np.asarray(tpot_s, dtype=np.float64)
    h = np.asarray(throughput, dtype=np.float64)
    if t.ndim != 1 or t.shape != h.shape:
        raise ValueError(f"tpot_s and throughput must be 1-D of the same length, got {t.shape} and {h.shape}")
    if not (np.isfinite(t).all() and np.isfinite(h).all()):
        raise ValueError("tpot_s and throughput must be finite (no NaN or inf)")
    if t.size == 0:
        return np.zeros(0, dtype=np.intp)
    order = np.lexsort((-h, t))                      # by TPOT, then by decreasing throughput
    ts, hs = t[order], h[order]
    starts = np.r_[True, ts[1:] != ts[:-1]]          # first (best) point of each TPOT value
    first = np.flatnonzero(starts)
    group = np.cumsum(starts) - 1
    running = np.maximum.accumulate(hs)
    before = np.where(first > 0, running[np.maximum(first - 1, 0)], -np.inf)   # best at smaller TPOT
    on = (hs == hs[first][group]) & (hs > before[group])
    return order[on]
