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
Fig. 4). Attention is split by heads (Q, K, V column-parallel, the output projection
row-parallel) and the FFN by its inner width (up/gate column-parallel, down row-parallel).
The row-parallel matmuls leave each GPU with a partial sum of the full hidden state, so the
forward pass of a layer needs exactly **2 all-reduces**: after the attention output
projection and after the FFN down projection; each reduces the ``(B·S_i, H)`` activations,
``B·S_i·H·b_a`` bytes. A ring all-reduce of ``n`` bytes over T GPUs is a reduce-scatter and
an all-gather, each of T − 1 steps sending ``n/T`` bytes, so every GPU sends (and receives)
``2(T − 1)/T · n`` bytes in ``2(T − 1)`` steps (Patarasuk & Yuan 2009, "Bandwidth optimal
all-reduce algorithms for clusters of workstations", J. Parallel Distrib. Comput. 69(2);
NCCL tests' ``doc/PERFORMANCE.md``: AllReduce bus bandwidth = algorithm bandwidth ·
``2(n − 1)/n``). Per forward pass and GPU:

    bytes = N · 2 · 2(T − 1)/T · B·S_i·H·b_a

**003's model, compared.** `symroof.timing.tp_communication` reproduces 003 (kipply): 4
messages per layer ("once for our qkv ... once after computing the output projection ...
once after the layer norm ... once after the MLP"), each of ``B·H`` *elements* (003 divides
elements by bytes/s), with no ring factor: ``B·N·4·H / A_c``. Counted physically (this
module) the time is ``B·N·2·2(T−1)/T·H·b_a / A_c``, that is ``(T − 1)/T · b_a`` times 003's:
at T = 16 and 2-byte activations, 1.875×. The QKV and layer-norm messages of 003 do not
exist in Megatron's split (attention heads stay on their GPU; the norm runs on the
all-reduced, replicated hidden state), but each of the two remaining messages is in bytes
and each GPU moves almost twice the message through the ring.

Not counted: the vocab-parallel embedding's all-reduce and the gather of the LM head's
logits (one each per pass, ``B·S_i·H·b_a`` and ``B·S_i·V·b_a``-sized), the backward pass
(two more all-reduces per layer), and sequence parallelism (which replaces each all-reduce
by a reduce-scatter plus an all-gather of the same total volume).

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
from symroof.arch import Arch
from symroof.conventions import Conventions, resolve
from symroof.hardware import Hardware, hardware_of
from symroof.phases import step
from symroof.timing import Comm, Latency, latency

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

# Megatron-LM (arXiv 1909.08053, §3, Fig. 4): "g" after the attention output projection and
# after the MLP's second linear layer, in the forward pass of every transformer layer.
ALL_REDUCES_PER_LAYER = 2


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


def activation_bytes(arch: Arch, *, B: Any = sym.B, S_i: Any = sym.S_i) -> sympy.Expr:
    """Bytes of the hidden state of one pass, ``B·S_i·H·b_a``: the activations of shape
    ``(B·S_i, H)`` that a pipeline stage sends to the next, or that one TP all-reduce reduces.

    >>> import symroof
    >>> activation_bytes(symroof.Arch.symbolic())
    B*H*S_i*b_a
    """
    return as_count(B, "B") * as_count(S_i, "S_i") * arch.hidden * arch.act_bytes


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
                     tp: Any = 1, model: str | None = None, link_bytes_per_s: Any = None,
                     link_latency_s: Any = 0, dtype: str | None = None) -> PipelineLatency:
    """Time for ``B`` sequences' ``S_i`` new tokens over ``S_c`` cached to traverse ``stages`` stages.

    The pass's `Cost` is split evenly over the P stages (balanced stages of ``N/P`` layers; the
    embedding and LM head are spread with them, an approximation), each stage is timed on the
    roofline (`symroof.timing.latency`, ``tp`` GPUs per stage, plus ``1/P`` of the pass's
    tensor-parallel all-reduces, `tp_allreduce_time`), and the ``(B·S_i, H)`` hidden
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
    comm = tp_allreduce_time(arch, hardware, tp=tp, B=B, S_i=S_i, link_bytes_per_s=link_bytes_per_s)
    stage = latency(cost * (1 / P), hardware, tp=tp, model=model or c.latency, dtype=dtype,
                    comm_s=comm.total_s / P)
    nbytes = activation_bytes(arch, B=B, S_i=S_i)
    link = _link(hardware, link_bytes_per_s, f"stages={stages}")
    send = nbytes / link + as_amount(link_latency_s, "link_latency_s", allow_zero=True)
    transfer = send if P != 1 else sympy.Integer(0)
    return PipelineLatency(P, stage, nbytes, transfer, P * stage.total_s + (P - 1) * transfer)


def _link(hardware: Hardware | str, link_bytes_per_s: Any, why: str) -> sympy.Expr:
    if link_bytes_per_s is not None:
        return as_amount(link_bytes_per_s, "link_bytes_per_s")
    hw = hardware_of(hardware)
    if hw.interconnect_bytes_per_s is None:
        raise ValueError(f"{hw.name} has no interconnect_bytes_per_s; {why} needs one (or give link_bytes_per_s)")
    return hw.interconnect_bytes_per_s


# ---- tensor parallelism ----------------------------------------------------------------------
def ring_allreduce_bytes(message_bytes: Any, tp: Any) -> sympy.Expr:
    """Bytes each GPU sends (and receives) in a ring all-reduce of ``n`` bytes: ``2(T − 1)/T · n``.

    Reduce-scatter then all-gather, each ``T − 1`` steps of ``n/T`` bytes (Patarasuk & Yuan 2009).

    >>> ring_allreduce_bytes(8192, 8), ring_allreduce_bytes(8192, 1)
    (14336, 0)
    """
    T = as_count(tp, "tp")
    return 2 * (T - 1) * as_amount(message_bytes, "message_bytes", allow_zero=True) / T


def ring_allreduce_steps(tp: Any) -> sympy.Expr:
    """Sequential send/receive steps of a ring all-reduce over ``T`` GPUs: ``2(T − 1)``."""
    return 2 * (as_count(tp, "tp") - 1)


@dataclass(frozen=True)
class AllReduce:
    """Tensor-parallel all-reduce traffic of one forward pass (Megatron-style, ring algorithm).

    ``all_reduces`` per pass (2 per layer), ``message_bytes`` each (``B·S_i·H·b_a``),
    ``bytes_per_gpu`` sent by each GPU over the pass (``all_reduces · 2(T−1)/T · message_bytes``),
    ``steps`` sequential ring steps over the pass (``all_reduces · 2(T − 1)``).
    """

    tp: sympy.Expr
    all_reduces: sympy.Expr
    message_bytes: sympy.Expr
    bytes_per_gpu: sympy.Expr
    steps: sympy.Expr


def tp_allreduce(arch: Arch, *, tp: Any = sym.T, B: Any = sym.B, S_i: Any = sym.S_i,
                 all_reduces_per_layer: Any = ALL_REDUCES_PER_LAYER) -> AllReduce:
    """All-reduce traffic of one forward pass over ``tp`` GPUs (see the module docstring).

    Llama-3-8B at T = 8, B = 1, S_i = 1: 2 all-reduces × 32 layers of 4096·2 bytes, each GPU
    moving 2·7/8 of every message: 64 · 8192 · 7/4 = 917,504 bytes.

    >>> import symroof
    >>> ar = tp_allreduce(symroof.models.get("llama-3-8b"), tp=8, B=1, S_i=1)
    >>> ar.all_reduces, ar.message_bytes, ar.bytes_per_gpu, ar.steps
    (64, 8192, 917504, 896)
    """
    T = as_count(tp, "tp")
    per_layer = as_count(all_reduces_per_layer, "all_reduces_per_layer")
    count = per_layer * arch.layers
    message = activation_bytes(arch, B=B, S_i=S_i)
    return AllReduce(T, count, message, count * ring_allreduce_bytes(message, T),
                     count * ring_allreduce_steps(T))


def tp_allreduce_time(arch: Arch, hardware: Hardware | str, *, tp: Any, B: Any = sym.B, S_i: Any = sym.S_i,
                      step_latency_s: Any = 0, link_bytes_per_s: Any = None) -> Comm:
    """Time of a forward pass's all-reduces, as a `symroof.timing.Comm` (plugs into ``latency(comm_s=)``).

    ``throughput_s = bytes_per_gpu / link`` (``link``: the hardware's one-way
    ``interconnect_bytes_per_s`` unless given; each GPU sends and receives at once);
    ``latency_s = steps · step_latency_s`` (the α of the α–β model, per ring step; 0 by
    default, as no datasheet gives it; 003 guesses 10 µs per message).

    >>> import symroof
    >>> c = tp_allreduce_time(symroof.models.get("llama-3-8b"), "H100-SXM", tp=8, B=1, S_i=1)
    >>> c.throughput_s, c.latency_s                       # 917,504 B / 450 GB/s
    (896/439453125, 0)
    >>> tp_allreduce_time(symroof.models.get("llama-3-8b"), "H100-SXM", tp=1, B=1, S_i=1).total_s
    0
    """
    ar = tp_allreduce(arch, tp=tp, B=B, S_i=S_i)
    if ar.tp == 1:
        zero = sympy.Integer(0)
        return Comm(zero, zero, zero)
    link = _link(hardware, link_bytes_per_s, f"tp={tp}")
    lat = ar.steps * as_amount(step_latency_s, "step_latency_s", allow_zero=True)
    thr = ar.bytes_per_gpu / link
    return Comm(lat, thr, lat + thr)
