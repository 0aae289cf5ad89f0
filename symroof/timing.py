"""Latency on the roofline, tensor-parallel communication, and KV-cache capacity.

All times are exact (seconds as Rationals when the inputs are numbers) and all
functions accept symbols too.

* ``latency``: compute time ``FLOPs/(T·π)`` and memory time ``bytes/(T·β)``
  (activations are not split: every GPU of a tensor-parallel group reads and
  writes the full hidden state), combined as ``max`` (roofline, overlapped) or
  ``sum``, plus communication (003 adds it: "I summed the comms and compute time").
  `combine` is that rule, the one place it is written, for expressions and for
  float64 arrays alike (serving, speculative and plot curves use it).
* ``tp_communication``: 003's model, per forward pass: ``n_layers·4`` messages of
  10 µs each (latency) and ``tokens·n_layers·4·d_model`` over the interconnect
  (throughput). 003 divides *elements* by bytes/s; pass
  ``bytes_per_element=arch.act_bytes`` for bytes.
* ``kv_capacity``: tokens (and batch at a context) whose KV cache fits beside the weights.

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

import numpy as np
import sympy

from symroof._values import as_amount, as_count, choice
from symroof.arch import Arch
from symroof.conventions import Conventions, resolve
from symroof.cost import Cost
from symroof.hardware import Hardware, hardware_of
from symroof.phases import decode, nominal_parameters, prefill

__all__ = [
    "MODELS",
    "Capacity",
    "Comm",
    "Latency",
    "combine",
    "kv_capacity",
    "kv_replication",
    "latency",
    "time_per_output_token",
    "time_to_first_token",
    "tp_communication",
]

MODELS = ("max", "sum")
MESSAGE_LATENCY_S = sympy.Rational(1, 100_000)   # 003: "10 microseconds is a good bet"
MESSAGES_PER_LAYER = 4                          # 003: after qkv, out projection, layer norm, MLP


@dataclass(frozen=True)
class Comm:
    """Tensor-parallel communication of one forward pass: latency and throughput parts, seconds."""

    latency_s: sympy.Expr
    throughput_s: sympy.Expr
    total_s: sympy.Expr


def tp_communication(arch: Arch, hardware: Hardware | str, *, tp: Any, tokens: Any,
                     messages_per_layer: Any = MESSAGES_PER_LAYER,
                     message_latency_s: Any = MESSAGE_LATENCY_S,
                     bytes_per_element: Any = None) -> Comm:
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
        zero = sympy.Integer(0)
        return Comm(zero, zero, zero)
    hw = hardware_of(hardware)
    if hw.interconnect_bytes_per_s is None:
        raise ValueError(f"{hw.name} has no interconnect_bytes_per_s; tp={tp} needs one")
    width = 1 if bytes_per_element is None else as_amount(bytes_per_element, "bytes_per_element")
    lat = messages * as_amount(message_latency_s, "message_latency_s", allow_zero=True)
    # each message carries the hidden state of every token: tokens·H elements
    thr = n_tokens * messages * arch.hidden * width / hw.interconnect_bytes_per_s
    return Comm(lat, thr, lat + thr)


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
    replicated = cost.bytes_of("activations")
    memory = ((cost.bytes - replicated) / T + replicated) / hw.bandwidth
    ge = sympy.Ge(compute, memory)
    bound = "compute" if ge is sympy.true else "memory" if ge is sympy.false else "undetermined"
    return Latency(compute, memory, comm, combine(compute, memory, comm, model=model), bound,
                   as_count(tokens, "tokens"))


def _model(model: str | None, conv: Conventions) -> str:
    return conv.latency if model is None else model


def time_to_first_token(arch: Arch, conv: Conventions | str | None, hardware: Hardware | str, *,
                        B: Any, S: Any, tp: Any = 1, model: str | None = None,
                        bytes_per_element: Any = None, dtype: str | None = None) -> Latency:
    """Prefill of ``B`` prompts of ``S`` tokens (latency model from ``conv.latency`` unless given)."""
    c = resolve(conv)
    B, S = as_count(B, "B"), as_count(S, "S")
    comm = tp_communication(arch, hardware, tp=tp, tokens=B * S, bytes_per_element=bytes_per_element)
    return latency(prefill(arch, c, B=B, S=S), hardware, tp=tp, model=_model(model, c), comm_s=comm,
                   dtype=dtype, tokens=B)


def time_per_output_token(arch: Arch, conv: Conventions | str | None, hardware: Hardware | str, *,
                          B: Any, S_c: Any, tp: Any = 1, S_i: Any = 1, model: str | None = None,
                          bytes_per_element: Any = None, dtype: str | None = None) -> Latency:
    """One decode step of ``B`` sequences over ``S_c`` cached tokens (each yields ``S_i`` tokens).

    ``total_s`` is the step time, the time per output token of each sequence;
    ``per_token_s`` divides it by the ``B·S_i`` tokens of the step.
    """
    c = resolve(conv)
    B, S_i = as_count(B, "B"), as_count(S_i, "S_i")
    comm = tp_communication(arch, hardware, tp=tp, tokens=B * S_i, bytes_per_element=bytes_per_element)
    return latency(decode(arch, c, B=B, S_c=S_c, S_i=S_i), hardware, tp=tp, model=_model(model, c),
                   comm_s=comm, dtype=dtype, tokens=B * S_i)


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
    """Memory left for the KV cache, bytes per cached token, and how many tokens (sequences) fit."""

    free_bytes: sympy.Expr
    kv_bytes_per_token: sympy.Expr
    tokens: sympy.Expr
    batch: sympy.Expr | None = None


def kv_capacity(arch: Arch, hardware: Hardware | str, *, gpus: Any = 1, weight_bytes: Any = None,
                context: Any = None) -> Capacity:
    """KV-cache tokens that fit beside the weights on ``gpus`` GPUs (and the batch at ``context``).

    The ``gpus`` form one tensor-parallel group. Weights default to ``b_w`` times the
    nominal parameter count (``params_b·10^9``). A token costs ``2·N·n_kv·d_h·b_kv``
    bytes (K and V of every layer) times the copies the group holds
    (`kv_replication`: more GPUs than KV heads, or an MLA latent, replicate the cache).

    >>> import symroof
    >>> cap = kv_capacity(symroof.models.get("kipply-52b"), "A100-40GB", gpus=3, context=200)
    >>> cap.free_bytes, cap.kv_bytes_per_token, cap.tokens, cap.batch   # 003: 16 GB, 2,097,152 B
    (16000000000, 2097152, 7629, 38)
    """
    hw = hardware_of(hardware)
    if hw.capacity_bytes is None:
        raise ValueError(f"{hw.name} has no capacity_bytes")
    G = as_count(gpus, "gpus")
    weights = (arch.weight_bytes * nominal_parameters(arch) if weight_bytes is None
               else as_amount(weight_bytes, "weight_bytes", allow_zero=True))
    free = G * hw.capacity_bytes - weights
    if free.is_number and free <= 0:
        raise ValueError(f"weights of {weights} bytes do not fit in gpus={gpus} × {hw.capacity_bytes} bytes "
                         f"of {hw.name}; use more GPUs")
    per_token = arch.kv_elements_per_token * arch.kv_bytes * kv_replication(arch, G)
    tokens = sympy.floor(free / per_token)
    batch = None if context is None else sympy.floor(free / (per_token * as_count(context, "context")))
    return Capacity(free, per_token, tokens, batch)
