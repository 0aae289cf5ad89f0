"""Pipeline and tensor parallelism: the pipeline bubble, per-token pipeline latency, and the
all-reduce traffic of Megatron-style tensor parallelism, symbolic and numeric.

**Pipeline parallelism** (P stages, M micro-batches). In the GPipe schedule (Huang et al.
2019, "GPipe: Efficient Training of Giant Neural Networks using Pipeline Parallelism",
arXiv 1811.06965, §2.2: bubble overhead ``O((K−1)/(M+K−1))`` for K partitions) and in
1F1B (Narayanan et al. 2021, "Efficient Large-Scale Language Model Training on GPU Clusters
Using Megatron-LM", arXiv 2104.04473, §2.2.1), a pass of M micro-batches through P equal
stages of time ``t`` takes ``(M + P − 1)·t``: the first micro-batch needs P stage times to
come out of the last stage, each further one a single stage time. Of that, ``M·t`` is work
and ``(P − 1)·t`` is idle, the bubble. Megatron writes the bubble relative to the ideal time,
``t_pb/t_id = (p − 1)/m`` (`bubble_ratio`); as a fraction of the whole pass it is
``(P − 1)/(M + P − 1)`` (`bubble_fraction`). Both hold for forward plus backward alike,
since each stage's forward and backward times scale together.

In inference a token must traverse all P stages one after another, so pipelining does not
shorten the time per token: each stage runs ``1/P`` of the model, and between stages the
hidden state of the pass, ``B·S_i·H·b_a`` bytes, is sent point to point P − 1 times
(`pipeline_latency`). It buys memory (each GPU holds ``N/P`` layers) and, with P or more
micro-batches in flight, throughput.

**Tensor parallelism** (T GPUs, Megatron-LM: Shoeybi et al. 2019, arXiv 1909.08053, §3 and
Fig. 4): two ring all-reduces of the ``(B·S_i, H)`` hidden state per layer in the forward pass,
each GPU sending ``2(T − 1)/T`` of every message. The traffic (`tp_allreduce`,
`ring_allreduce_bytes`), its time (`tp_allreduce_time`) and the comparison with 003's model
live in `symroof.timing` beside the other communication model, so that one function,
`symroof.timing.communication`, decides for every latency; they are re-exported here:

    bytes = N · 2 · 2(T − 1)/T · B·S_i·H·b_a

Examples
--------
>>> from symroof.symbols import B, S_i, T
>>> bubble_fraction(4, 8), bubble_ratio(4, 8)          # (4−1)/(8+4−1), (4−1)/8
(3/11, 3/8)
>>> import symroof
>>> ar = tp_allreduce(symroof.Arch.symbolic(), tp=T)
>>> ar.all_reduces, ar.message_bytes, sympy.factor(ar.bytes_per_gpu)
(2*N, B*H*S_i*b_a, 4*B*H*N*S_i*b_a*(T - 1)/T)
>>> tp_allreduce(symroof.models.get("llama-3-8b"), tp=8, B=1, S_i=1).bytes_per_gpu
917504
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy

from symroof import symbols as sym
from symroof._values import as_amount, as_count
from symroof.analysis.timing import (
    ALL_REDUCES_PER_LAYER,
    AllReduce,
    Latency,
    _link,
    activation_bytes,
    communication,
    latency,
    ring_allreduce_bytes,
    ring_allreduce_steps,
    tp_allreduce,
    tp_allreduce_time,
)
from symroof.cost.conventions import Conventions, resolve
from symroof.cost.phases import step
from symroof.hardware import Hardware
from symroof.model.arch import Arch

__all__ = [
    "ALL_REDUCES_PER_LAYER",
    "AllReduce",
    "PipelineLatency",
    "activation_bytes",
    "bubble_fraction",
    "bubble_ratio",
    "pipeline_latency",
    "pipeline_time",
    "ring_allreduce_bytes",
    "ring_allreduce_steps",
    "tp_allreduce",
    "tp_allreduce_time",
]

# ---- pipeline parallelism --------------------------------------------------------------------
def bubble_fraction(stages: Any, microbatches: Any) -> sympy.Expr:
    """Idle fraction of a pipelined pass, ``(P − 1)/(M + P − 1)`` (GPipe §2.2; Megatron-LM 2021 §2.2.1).

    >>> from symroof.symbols import N
    >>> P, M = sympy.symbols("P M", positive=True, integer=True)
    >>> bubble_fraction(P, M)
    (P - 1)/(M + P - 1)
    >>> bubble_fraction(1, 16), bubble_fraction(8, 1)      # no pipeline; one micro-batch: 7 of 8 idle
    (0, 7/8)
    """
    P = as_count(stages, "stages")
    M = as_count(microbatches, "microbatches")
    return (P - 1) / (M + P - 1)


def bubble_ratio(stages: Any, microbatches: Any) -> sympy.Expr:
    """Bubble time over ideal time, ``t_pb/t_id = (p − 1)/m`` (Megatron-LM 2021, §2.2.1).

    >>> bubble_ratio(4, 8)
    3/8
    """
    P = as_count(stages, "stages")
    M = as_count(microbatches, "microbatches")
    return (P - 1) / M


def pipeline_time(stage_s: Any, stages: Any, microbatches: Any) -> sympy.Expr:
    """Time of ``M`` micro-batches through ``P`` equal stages of ``stage_s`` each: ``(M + P − 1)·t``.

    >>> pipeline_time(sympy.Rational(1, 1000), 4, 8)      # 11 stage times of 1 ms
    11/1000
    """
    t = as_amount(stage_s, "stage_s")
    P = as_count(stages, "stages")
    M = as_count(microbatches, "microbatches")
    return (M + P - 1) * t


@dataclass(frozen=True)
class PipelineLatency:
    """Time of one inference pass through ``stages`` pipeline stages, seconds.

    ``stage_s`` is one stage's roofline time (each stage runs ``1/P`` of the pass),
    ``transfer_s`` one point-to-point send between stages; ``total_s = P·stage_s +
    (P − 1)·transfer_s``.
    """

    stages: sympy.Expr
    stage: Latency
    transfer_bytes: sympy.Expr
    transfer_s: sympy.Expr
    total_s: sympy.Expr

    @property
    def stage_s(self) -> sympy.Expr:
        return self.stage.total_s

    def __float__(self) -> float:
        return float(self.total_s)


def pipeline_latency(arch: Arch, conventions: Conventions | str | None, hardware: Hardware | str, *,
                     stages: Any, B: Any = sym.B, S_c: Any = sym.S_c, S_i: Any = 1,
                     tp: Any = 1, model: str | None = None, comm: str | None = None,
                     link_bytes_per_s: Any = None, link_latency_s: Any = 0,
                     dtype: str | None = None) -> PipelineLatency:
    """Time for ``B`` sequences' ``S_i`` new tokens over ``S_c`` cached to traverse ``stages`` stages.

    The pass's `Cost` is split evenly over the P stages (balanced stages of ``N/P`` layers; the
    embedding and LM head are spread with them, an approximation), each stage is timed on the
    roofline (`symroof.timing.latency`, ``tp`` GPUs per stage, plus ``1/P`` of the pass's
    tensor-parallel communication, `symroof.timing.communication`: the conventions' ``comms``
    unless ``comm`` is given), and the ``(B·S_i, H)`` hidden
    state crosses P − 1 stage boundaries at ``link_bytes_per_s`` (default: the hardware's
    ``interconnect_bytes_per_s``) plus ``link_latency_s`` per send. Under the ``max`` model
    ``P·stage_s`` is the unsplit pass's time, so a pipeline only adds the transfers.

    >>> import symroof
    >>> llama = symroof.models.get("llama-3-8b")
    >>> pp = pipeline_latency(llama, "roofline-notes", "H100-SXM", stages=4, B=1, S_c=1024)
    >>> pp.transfer_bytes, pp.transfer_s                  # 4096 · 2 bytes over 450 GB/s
    (8192, 8/439453125)
    >>> one = symroof.time_per_output_token(llama, "roofline-notes", "H100-SXM", B=1, S_c=1024)
    >>> pp.total_s == one.total_s + 3 * pp.transfer_s
    True
    """
    c = resolve(conventions)
    P = as_count(stages, "stages")
    cost = step(arch, c, B=B, S_i=S_i, S_c=S_c)
    tokens = as_count(B, "B") * as_count(S_i, "S_i")
    comms = communication(arch, hardware, c, tp=tp, tokens=tokens, comm=comm, link_bytes_per_s=link_bytes_per_s)
    stage = latency(cost * (1 / P), hardware, tp=tp, model=model or c.latency, dtype=dtype,
                    comm_s=comms.total_s / P)
    nbytes = activation_bytes(arch, B=B, S_i=S_i)
    link = _link(hardware, link_bytes_per_s, f"stages={stages}")
    send = nbytes / link + as_amount(link_latency_s, "link_latency_s", allow_zero=True)
    transfer = send if P != 1 else sympy.Integer(0)
    return PipelineLatency(P, stage, nbytes, transfer, P * stage.total_s + (P - 1) * transfer)
