"""Latency on the roofline, tensor-parallel communication, and KV-cache capacity.

All times are exact (seconds as Rationals when the inputs are numbers) and all
functions accept symbols too.

* ``latency``: compute time ``FLOPs/(T·π)`` and memory time ``bytes/(T·β)``
  (activations are not split: every GPU of a tensor-parallel group reads and
  writes the full hidden state), combined as ``max`` (roofline, overlapped) or
  ``sum``, plus communication (003 adds it: "I summed the comms and compute time").
  `combine` is that rule, the one place it is written, for expressions and for
  float64 arrays alike (serving, speculative and plot curves use it).
* ``communication``: the tensor-parallel communication of one forward pass, by the
  model that ``Conventions.comms`` names (or ``comm=`` overrides). It is the one
  place that decides: `time_to_first_token`, `time_per_output_token`,
  `symroof.serving`, `symroof.speculative`, `symroof.parallel.pipeline_latency`,
  `symroof.plot.time_per_token` and the command line all take ``comm=None``,
  meaning the conventions' choice.
* ``kv_capacity``: tokens (and batch at a context) whose KV cache fits beside the weights.

Tensor-parallel communication models (``comm``)
-----------------------------------------------
``"allreduce"`` (every preset but 003's): Megatron-LM's split (Shoeybi et al. 2019,
arXiv 1909.08053, §3 and Fig. 4; Narayanan et al. 2021, arXiv 2104.04473, §2.3).
Attention is split by heads (Q, K, V column-parallel, the output projection
row-parallel) and the FFN by its inner width (up/gate column-parallel, down
row-parallel). The row-parallel matmuls leave each GPU with a partial sum of the
hidden state, so the forward pass of a layer needs exactly **2 all-reduces**
(Megatron's "g", after the attention output projection and after the FFN down
projection), each of the ``(B·S_i, H)`` activations, ``B·S_i·H·b_a`` bytes. A ring
all-reduce of ``n`` bytes over T GPUs is a reduce-scatter and an all-gather, each of
T − 1 steps sending ``n/T`` bytes, so every GPU sends (and receives)
``2(T − 1)/T · n`` bytes in ``2(T − 1)`` steps (Patarasuk & Yuan 2009, "Bandwidth
optimal all-reduce algorithms for clusters of workstations", J. Parallel Distrib.
Comput. 69(2); NCCL tests' ``doc/PERFORMANCE.md``: AllReduce bus bandwidth =
algorithm bandwidth · ``2(n − 1)/n``). Each all-reduce also pays a latency, taken
from NCCL's own cost model (``src/graph/tuning.cc``: ``baseLat`` 6.6 µs for the ring
algorithm with the low-latency LL protocol, plus ``hwLat`` 0.6 µs per ring step over
NVLink). Per forward pass and GPU:

    throughput_s = N · 2 · 2(T − 1)/T · B·S_i·H·b_a / A_c
    latency_s    = N · 2 · (6.6 µs + 2(T − 1) · 0.6 µs)

This is the idealised α–β model: LL's latency and the link's full one-way bandwidth
``A_c`` (``interconnect_bytes_per_s``), each the best case of NCCL's choices, so it
is a lower bound, as the roofline is. Not counted: the vocab-parallel embedding's
all-reduce and the gather of the LM head's logits (one each per pass), and sequence
parallelism (which replaces each all-reduce by a reduce-scatter plus an all-gather
of the same volume).

``"003"`` (the ``inference-arithmetic`` preset, so that seed 003 is reproduced exactly):
kipply's model, ``tp_communication``: 4 messages per layer ("once for our qkv ... once
after computing the output projection ... once after the layer norm ... once after the
MLP"), 10 µs each ("10 microseconds is a good bet"), each of ``tokens·H`` *elements*
(003 divides elements by bytes/s; `communication` counts ``b_a`` bytes each unless the
conventions themselves choose ``"003"``, and ``bytes_per_element=`` overrides), with no ring
factor: ``latency_s = N·4·10 µs``, ``throughput_s = tokens·N·4·H / A_c``. The QKV and
layer-norm messages do not exist in Megatron's split (heads stay on their GPU; the
norm runs on the all-reduced, replicated hidden state); counted physically, each of
the two remaining messages is in bytes and moves almost twice through the ring:
``(T − 1)/T · b_a`` times 003's throughput time (1.875× at T = 16, 2-byte activations).

``"none"``: no communication.

Examples
--------
>>> import symroof
>>> gopher = symroof.models.get("gopher-280b").replace(params_b=260)   # 003 drops 20B positional
>>> a100 = symroof.Hardware("A100 (003)", {"bf16": 312e12}, 1.5e12, interconnect_bytes_per_s=300e9)
>>> t = time_per_output_token(gopher, "003", a100, B=1, S_c=0, tp=16)
>>> t.memory_s, round(float(t.memory_s) * 1000)          # 003: 2·260e9/(16·1.5e12) ≈ 22 ms
(13/600, 22)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy

from symroof import symbols as sym
from symroof._values import as_amount, as_count, choice
from symroof.cost import Cost
from symroof.cost.base import _under
from symroof.cost.conventions import Conventions, resolve
from symroof.cost.phases import decode, nominal_parameters, prefill
from symroof.hardware import Hardware, hardware_of
from symroof.model.arch import Arch

__all__ = [
    "ALLREDUCE_LATENCY_S",
    "ALL_REDUCES_PER_LAYER",
    "COMMS",
    "MODELS",
    "RING_STEP_LATENCY_S",
    "AllReduce",
    "Capacity",
    "Comm",
    "Latency",
    "activation_bytes",
    "combine",
    "communication",
    "kv_capacity",
    "kv_replication",
    "latency",
    "memory_time",
    "ring_allreduce_bytes",
    "ring_allreduce_steps",
    "time_per_output_token",
    "time_to_first_token",
    "tp_allreduce",
    "tp_allreduce_time",
    "tp_communication",
]

MODELS = ("max", "sum")
COMMS = ("allreduce", "003", "none")             # tensor-parallel communication models (module docstring)
MESSAGE_LATENCY_S = sympy.Rational(1, 100_000)   # 003: "10 microseconds is a good bet"
MESSAGES_PER_LAYER = 4                          # 003: after qkv, out projection, layer norm, MLP
# Megatron-LM (arXiv 1909.08053, §3, Fig. 4): "g" after the attention output projection and
# after the MLP's second linear layer, in the forward pass of every transformer layer.
ALL_REDUCES_PER_LAYER = 2
# NCCL's cost model (src/graph/tuning.cc), ring algorithm, LL protocol, within a node over NVLink:
# baseLat 6.6 µs per collective, hwLat 0.6 µs per step.
ALLREDUCE_LATENCY_S = sympy.Rational(66, 10_000_000)
RING_STEP_LATENCY_S = sympy.Rational(6, 10_000_000)


@dataclass(frozen=True)
class Comm:
    """Tensor-parallel communication of one forward pass: latency and throughput parts, seconds."""

    latency_s: sympy.Expr
    throughput_s: sympy.Expr
    total_s: sympy.Expr


def _link(hardware: Hardware | str, link_bytes_per_s: Any, why: str) -> sympy.Expr:
    """The one-way interconnect bandwidth: ``link_bytes_per_s`` or the hardware's."""
    if link_bytes_per_s is not None:
        return as_amount(link_bytes_per_s, "link_bytes_per_s")
    hw = hardware_of(hardware)
    if hw.interconnect_bytes_per_s is None:
        raise ValueError(f"{hw.name} has no interconnect_bytes_per_s; {why} needs one (or give link_bytes_per_s)")
    return hw.interconnect_bytes_per_s


def _no_comm() -> Comm:
    zero = sympy.Integer(0)
    return Comm(zero, zero, zero)


def tp_communication(arch: Arch, hardware: Hardware | str, *, tp: Any, tokens: Any,
                     messages_per_layer: Any = MESSAGES_PER_LAYER,
                     message_latency_s: Any = MESSAGE_LATENCY_S,
                     bytes_per_element: Any = None, link_bytes_per_s: Any = None) -> Comm:
    """003's communication time for ``tokens`` tokens over ``tp`` GPUs (zero when ``tp = 1``).

    ``latency_s = N·4·10 µs`` (003's small-batch "comms") and
    ``throughput_s = tokens·N·4·H·bytes_per_element / A_c`` (003's large-batch
    "comms"); ``bytes_per_element=None`` keeps 003's count of elements.

    >>> import symroof
    >>> gopher = symroof.models.get("gopher-280b")
    >>> c = tp_communication(gopher, "A100-40GB", tp=16, tokens=512)
    >>> round(float(c.throughput_s) * 1000), float(c.latency_s)   # 003: ≈ 9 ms; 80·4·10 µs
    (9, 0.0032)
    """
    T = as_count(tp, "tp")
    n_tokens = as_count(tokens, "tokens")
    messages = arch.layers * as_count(messages_per_layer, "messages_per_layer")
    if T == 1:
        return _no_comm()
    link = _link(hardware, link_bytes_per_s, f"tp={tp}")
    width = 1 if bytes_per_element is None else as_amount(bytes_per_element, "bytes_per_element")
    lat = messages * as_amount(message_latency_s, "message_latency_s", allow_zero=True)
    # each message carries the hidden state of every token: tokens·H elements
    thr = n_tokens * messages * arch.hidden * width / link
    return Comm(lat, thr, lat + thr)


def activation_bytes(arch: Arch, *, B: Any = sym.B, S_i: Any = sym.S_i, bytes_per_element: Any = None) -> sympy.Expr:
    """Bytes of the hidden state of one pass, ``B·S_i·H·b_a``: the activations of shape
    ``(B·S_i, H)`` that a pipeline stage sends to the next, or that one TP all-reduce reduces.

    >>> import symroof
    >>> activation_bytes(symroof.Arch.symbolic())
    B*H*S_i*b_a
    """
    width = arch.act_bytes if bytes_per_element is None else as_amount(bytes_per_element, "bytes_per_element")
    return as_count(B, "B") * as_count(S_i, "S_i") * arch.hidden * width


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
                 all_reduces_per_layer: Any = ALL_REDUCES_PER_LAYER, bytes_per_element: Any = None) -> AllReduce:
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
    message = activation_bytes(arch, B=B, S_i=S_i, bytes_per_element=bytes_per_element)
    return AllReduce(T, count, message, count * ring_allreduce_bytes(message, T),
                     count * ring_allreduce_steps(T))


def tp_allreduce_time(arch: Arch, hardware: Hardware | str, *, tp: Any, B: Any = sym.B, S_i: Any = sym.S_i,
                      step_latency_s: Any = RING_STEP_LATENCY_S, base_latency_s: Any = ALLREDUCE_LATENCY_S,
                      link_bytes_per_s: Any = None, bytes_per_element: Any = None) -> Comm:
    """Time of a forward pass's all-reduces, as a `Comm` (zero when ``tp = 1``).

    ``throughput_s = bytes_per_gpu / link`` (``link``: the hardware's one-way
    ``interconnect_bytes_per_s`` unless given; each GPU sends and receives at once);
    ``latency_s = all_reduces · base_latency_s + steps · step_latency_s`` (the α of the
    α–β model: NCCL's 6.6 µs per all-reduce and 0.6 µs per ring step by default, module
    docstring). ``bytes_per_element`` overrides the activations' ``b_a``.

    >>> import symroof
    >>> c = tp_allreduce_time(symroof.models.get("llama-3-8b"), "H100-SXM", tp=8, B=1, S_i=1)
    >>> c.throughput_s                                    # 917,504 B / 450 GB/s
    896/439453125
    >>> c.latency_s, float(c.latency_s) * 1e6             # 64 · 6.6 µs + 896 · 0.6 µs
    (3/3125, 960.0)
    >>> tp_allreduce_time(symroof.models.get("llama-3-8b"), "H100-SXM", tp=1, B=1, S_i=1).total_s
    0
    """
    ar = tp_allreduce(arch, tp=tp, B=B, S_i=S_i, bytes_per_element=bytes_per_element)
    if ar.tp == 1:
        return _no_comm()
    link = _link(hardware, link_bytes_per_s, f"tp={tp}")
    lat = (ar.all_reduces * as_amount(base_latency_s, "base_latency_s", allow_zero=True)
           + ar.steps * as_amount(step_latency_s, "step_latency_s", allow_zero=True))
    thr = ar.bytes_per_gpu / link
    return Comm(lat, thr, lat + thr)


def communication(arch: Arch, hardware: Hardware | str, conventions: Conventions | str | None = None, *,
                  tp: Any, tokens: Any, comm: str | None = None, bytes_per_element: Any = None,
                  step_latency_s: Any = None, link_bytes_per_s: Any = None) -> Comm:
    """Tensor-parallel communication of one forward pass of ``tokens`` tokens over ``tp`` GPUs.

    ``comm`` is ``"allreduce"``, ``"003"`` or ``"none"`` (module docstring); ``None`` takes the
    conventions' ``comms``. ``bytes_per_element`` is the width of an activation on the wire
    (default: ``b_a``; but 003's count of elements, which divides elements by bytes/s, when the
    conventions themselves choose ``comms="003"``: the ``inference-arithmetic`` preset reproduces
    the post as printed, and the derivation of seed 003 flags the missing factor ``b_a``);
    ``step_latency_s`` the latency per ring step (``allreduce``, default 0.6 µs) or per
    message (``003``, default 10 µs).

    Llama-3-8B (32 layers, H = 4096, b_a = 2) at B = 8 on 8 H100s (450 GB/s):

    >>> import symroof
    >>> llama = symroof.models.get("llama-3-8b")
    >>> c = communication(llama, "H100-SXM", "exact", tp=8, tokens=8)    # Megatron all-reduces
    >>> round(float(c.latency_s) * 1e6, 1), round(float(c.throughput_s) * 1e6, 2)   # µs
    (960.0, 16.31)
    >>> c = communication(llama, "H100-SXM", "003", tp=8, tokens=8)      # 32·4·10 µs; 8·32·4·4096 / 450e9
    >>> round(float(c.latency_s) * 1e6, 1), round(float(c.throughput_s) * 1e6, 2)
    (1280.0, 9.32)
    >>> c = communication(llama, "H100-SXM", "exact", tp=8, tokens=8, comm="003")  # 003's model, in bytes
    >>> round(float(c.throughput_s) * 1e6, 2)                            # 2 bytes · 8·32·4·4096 / 450e9
    18.64
    >>> communication(llama, "H100-SXM", "003", tp=8, tokens=8, comm="none").total_s
    0
    """
    chosen = resolve(conventions).comms
    how = chosen if comm is None else comm
    choice(how, "comm", COMMS)
    if how == "none":
        as_count(tp, "tp")                                  # still reject bad values
        as_count(tokens, "tokens")
        return _no_comm()
    key = "message_latency_s" if how == "003" else "step_latency_s"
    alpha = {} if step_latency_s is None else {key: step_latency_s}
    if how == "003":
        if bytes_per_element is None and chosen != "003":
            bytes_per_element = arch.act_bytes  # 003's model, chosen over correct conventions: in bytes
        return tp_communication(arch, hardware, tp=tp, tokens=tokens, bytes_per_element=bytes_per_element,
                                link_bytes_per_s=link_bytes_per_s, **alpha)
    return tp_allreduce_time(arch, hardware, tp=tp, B=tokens, S_i=1, bytes_per_element=bytes_per_element,
                             link_bytes_per_s=link_bytes_per_s, **alpha)


@dataclass(frozen=True)
class Latency:
    """Time of one forward pass, seconds: compute, memory, communication, total, and the bound.

    ``tokens`` is how many tokens the pass yields, so ``per_token_s = total_s / tokens``.
    """

    compute_s: sympy.Expr
    memory_s: sympy.Expr
    comm_s: sympy.Expr
    total_s: sympy.Expr
    bound: str
    tokens: sympy.Expr = sympy.S.One

    @property
    def per_token_s(self) -> sympy.Expr:
        return self.total_s / self.tokens

    def __float__(self) -> float:
        return float(self.total_s)


def combine(compute: Any, memory: Any, comm: Any = 0, *, model: str = "max") -> Any:
    """Step time from its parts: ``max(compute, memory) + comm`` or ``compute + memory + comm``.

    Exact (``sympy.Max``) for expressions; elementwise for numpy arrays (float64 curves).

    >>> import numpy as np
    >>> from symroof.symbols import B
    >>> combine(B / 500_000, sympy.Rational(1, 500)), combine(1, 2, 3, model="sum")
    (Max(1/500, B/500000), 6)
    >>> combine(np.array([1.0, 4.0]), np.array([2.0, 3.0]), 0.5).tolist()
    [2.5, 4.5]
    """
    import numpy as np  # here: import symroof does not load numpy

    choice(model, "model", MODELS)
    if any(isinstance(x, np.ndarray) for x in (compute, memory, comm)):
        both = np.maximum(compute, memory) if model == "max" else compute + memory
    else:
        both = sympy.Max(compute, memory) if model == "max" else compute + memory
    return both + comm


def latency(cost: Cost, hardware: Hardware | str, *, tp: Any = 1, model: str = "max", comm_s: Any = 0,
            dtype: str | None = None, tokens: Any = 1) -> Latency:
    """Roofline time of a `Cost`: ``max(compute, memory) + comm`` or ``compute + memory + comm``.

    With ``tp = T``, FLOPs and all bytes but activations are split over T GPUs.
    ``comm_s`` is a number of seconds or a `Comm`.

    >>> import symroof
    >>> cost = symroof.Cost(flops={"x": 312 * 10**12}, bytes={"weights": 3 * 10**12})
    >>> t = latency(cost, symroof.Hardware("g", {"bf16": 312e12}, 1.5e12))
    >>> t.compute_s, t.memory_s, t.total_s, t.bound
    (1, 2, 2, 'memory')
    >>> latency(cost, symroof.Hardware("g", {"bf16": 312e12}, 1.5e12), model="sum").total_s
    3
    """
    hw = hardware_of(hardware, dtype)
    T = as_count(tp, "tp")
    choice(model, "model", MODELS)
    comm = comm_s.total_s if isinstance(comm_s, Comm) else as_amount(comm_s, "comm_s", allow_zero=True)
    compute = cost.flops / (T * hw.peak_flops)
    memory = memory_time(cost, hw, tp=T)
    ge = sympy.Ge(compute, memory)
    bound = "compute" if ge is sympy.true else "memory" if ge is sympy.false else "undetermined"
    return Latency(compute, memory, comm, combine(compute, memory, comm, model=model), bound,
                   as_count(tokens, "tokens"))


def memory_time(cost: Cost, hardware: Hardware | str, *, tp: Any = 1, prefix: str | None = None,
                dtype: str | None = None) -> sympy.Expr:
    """Seconds for one GPU of a ``tp`` group to move the bytes under ``prefix`` (all if None).

    Every byte term is split over the T GPUs except activations: each GPU reads and writes the
    full hidden state. `latency`'s memory time is ``memory_time(cost, hw, tp=T)``.

    >>> import symroof
    >>> cost = symroof.Cost(bytes={"weights": 8 * 10**12, "activations": 10**12})
    >>> g = symroof.Hardware("g", {"bf16": 1e15}, 1e12)
    >>> memory_time(cost, g, tp=4), memory_time(cost, g, tp=4, prefix="weights")   # 8/4 + 1; 8/4
    (3, 2)
    """
    hw = hardware_of(hardware, dtype)
    T = as_count(tp, "tp")
    terms = [(n, v) for n, v in cost.byte_terms.items() if prefix is None or _under(n, prefix)]
    split = sympy.Add(*(v for n, v in terms if not _under(n, "activations")))
    replicated = sympy.Add(*(v for n, v in terms if _under(n, "activations")))
    return (split / T + replicated) / hw.bandwidth


def _model(model: str | None, conv: Conventions) -> str:
    return conv.latency if model is None else model


def time_to_first_token(arch: Arch, conv: Conventions | str | None, hardware: Hardware | str, *,
                        B: Any, S: Any, tp: Any = 1, model: str | None = None, comm: str | None = None,
                        bytes_per_element: Any = None, step_latency_s: Any = None,
                        dtype: str | None = None) -> Latency:
    """Prefill of ``B`` prompts of ``S`` tokens.

    ``model`` (``max``/``sum``) and ``comm`` (`communication`) default to the conventions'
    ``latency`` and ``comms``; ``bytes_per_element`` and ``step_latency_s`` go to `communication`.
    """
    c = resolve(conv)
    B, S = as_count(B, "B"), as_count(S, "S")
    comms = communication(arch, hardware, c, tp=tp, tokens=B * S, comm=comm, bytes_per_element=bytes_per_element,
                          step_latency_s=step_latency_s)
    return latency(prefill(arch, c, B=B, S=S), hardware, tp=tp, model=_model(model, c), comm_s=comms,
                   dtype=dtype, tokens=B)


def time_per_output_token(arch: Arch, conv: Conventions | str | None, hardware: Hardware | str, *,
                          B: Any, S_c: Any, tp: Any = 1, S_i: Any = 1, model: str | None = None,
                          comm: str | None = None, bytes_per_element: Any = None, step_latency_s: Any = None,
                          dtype: str | None = None) -> Latency:
    """One decode step of ``B`` sequences over ``S_c`` cached tokens (each yields ``S_i`` tokens).

    ``total_s`` is the step time, the time per output token of each sequence;
    ``per_token_s`` divides it by the ``B·S_i`` tokens of the step. Options as for
    `time_to_first_token`; ``B`` and ``S_c`` may stay symbols.
    """
    c = resolve(conv)
    B, S_i = as_count(B, "B"), as_count(S_i, "S_i")
    comms = communication(arch, hardware, c, tp=tp, tokens=B * S_i, comm=comm,
                          bytes_per_element=bytes_per_element, step_latency_s=step_latency_s)
    return latency(decode(arch, c, B=B, S_c=S_c, S_i=S_i), hardware, tp=tp, model=_model(model, c),
                   comm_s=comms, dtype=dtype, tokens=B * S_i)


def kv_replication(arch: Arch, tp: Any) -> sympy.Expr:
    """How many copies of each token's KV cache a ``tp``-way tensor-parallel group holds.

    Megatron splits attention by KV heads; with more GPUs than KV heads each head is
    replicated on ``T/n_kv`` GPUs (as vLLM does for GQA when ``tp > num_key_value_heads``).
    An MLA latent is shared by all heads, so every GPU holds all of it: ``T`` copies.

    >>> import symroof
    >>> llama = symroof.models.get("llama-3-8b")              # 8 KV heads
    >>> kv_replication(llama, 8), kv_replication(llama, 16), kv_replication(symroof.Arch.symbolic(), 4)
    (1, 2, Max(1, 4/n_h))
    """
    T = as_count(tp, "tp")
    if arch.is_mla:
        return T
    return sympy.Max(1, T / arch.kv_heads)


@dataclass(frozen=True)
class Capacity:
    """Memory left for the KV cache, bytes per cached token, and how many tokens (sequences) fit.

    ``state_bytes_per_sequence``: the fixed state of one sequence (state-space and linear-attention
    layers, `symroof.model.arch.Arch.state_elements`), 0 for an attention-only model; ``tokens``
    counts attention KV only (∞ without attention layers)."""

    free_bytes: sympy.Expr
    kv_bytes_per_token: sympy.Expr
    tokens: sympy.Expr
    batch: sympy.Expr | None = None
    state_bytes_per_sequence: Any = 0


def kv_capacity(arch: Arch, hardware: Hardware | str, *, gpus: Any = 1, weight_bytes: Any = None,
                context: Any = None) -> Capacity:
    """KV-cache tokens that fit beside the weights on ``gpus`` GPUs (and the batch at ``context``).

    The ``gpus`` form one tensor-parallel group; each offers its ``usable_bytes``
    (capacity × ``usable_fraction``, 9/10 by default: the runtime's reserve is kept).
    Weights default to ``b_w`` times the nominal parameter count (``params_b·10^9``). A
    token costs ``2·N·n_kv·d_h·b_kv`` bytes (K and V of every layer) times the copies the
    group holds (`kv_replication`: more GPUs than KV heads, or an MLA latent, replicate the cache);
    ``tokens`` counts them at full attention. A sequence of ``context`` tokens keeps
    `Arch.kv_cache_elements` of them (a sliding layer at most ``W − 1`` tokens) and, with
    state-space or linear-attention layers, its fixed state (`Capacity.state_bytes_per_sequence`)
    once: ``batch = floor(free / (KV of the context + state))``.

    >>> import symroof
    >>> a100_003 = symroof.hardware.get("A100-40GB").replace(capacity_bytes=40 * 10**9, usable_fraction=1)
    >>> cap = kv_capacity(symroof.models.get("kipply-52b"), a100_003, gpus=3, context=200)
    >>> cap.free_bytes, cap.kv_bytes_per_token, cap.tokens, cap.batch   # 003: 16 GB, 2,097,152 B
    (16000000000, 2097152, 7629, 38)
    >>> kv_capacity(symroof.models.get("kipply-52b"), "A100-40GB", gpus=3).free_bytes  # 0.9 · 3 · 40 GiB − 104e9
    11964116992
    """
    hw = hardware_of(hardware)
    if hw.capacity_bytes is None:
        raise ValueError(f"{hw.name} has no capacity_bytes")
    G = as_count(gpus, "gpus")
    weights = (arch.weight_bytes * nominal_parameters(arch) if weight_bytes is None
               else as_amount(weight_bytes, "weight_bytes", allow_zero=True))
    free = G * hw.usable_bytes - weights
    if free.is_number and free <= 0:
        raise ValueError(f"weights of {weights} bytes do not fit in gpus={gpus} × {hw.usable_bytes} usable bytes "
                         f"of {hw.name}; use more GPUs")
    copies = kv_replication(arch, G)
    per_token = arch.kv_elements_per_token * arch.kv_bytes * copies
    # the fixed state of a sequence (state-space layers), split over the group's GPUs as its heads are
    state = arch.state_memory()
    tokens = sympy.oo if per_token == 0 else sympy.floor(free / per_token)
    if context is not None:
        # each attention layer keeps what its kind keeps (a window at most W − 1 tokens)
        kv = arch.kv_cache_elements(as_count(context, "context")) * arch.kv_bytes * copies
        batch = sympy.floor(free / (kv + state))
    else:
        batch = sympy.floor(free / state) if per_token == 0 else None
    return Capacity(free, per_token, tokens, batch, state)
