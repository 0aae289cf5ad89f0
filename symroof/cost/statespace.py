"""The cost of state-space and linear-attention mixers (`symroof.model.statespace`), one layer.

FLOP terms: the mixer's projections (``mixer/in``, ``mixer/x``, ``mixer/dt``, ``mixer/out``; the
delta rule's ``mixer/qkvz``, ``mixer/ba``, ``mixer/out``), ``2·B·S_i·in·out`` each from the layer's
matrix table; ``mixer/conv``, the depthwise causal convolution; ``mixer/scan``, the recurrence.
Byte terms: the weights, and ``state/read`` and ``state/write``: the layer's recurrent state and
conv cache of every sequence (`StateSpace.recurrent_elements` + ``conv_elements``, at ``b_kv``; the
recurrent state at ``Arch.state_bytes`` where given),
read and written once per step, whatever ``S_c`` (a prefill starts from a zero state and reads none).

Under ``state_scan="algorithm"`` (every preset but ``matmul``):

* conv: ``2·d_conv`` FLOPs per channel and token;
* Mamba's selective scan (arXiv 2312.00752, Algorithm 2, eq. 2a-2b), prefill and decode alike:
  per token and state element ``exp(Δ·A)`` (1 multiply), ``Δ·B`` (1), ``·x`` (1), ``h·Ā`` (1),
  ``+`` (1) and the readout ``C·h`` (2): ``7·d_inner·d_state`` (the hardware-aware kernel runs the
  same recurrence as a parallel scan in SRAM: the same work);
* Mamba2 decode: the recurrence ``h = exp(Δ·A)·h + Δ·B·x``, ``y = C·h`` per head: 3 FLOPs per
  state element for the update and 2 for the readout, ``5·n_heads·head_dim·d_state`` per token;
  prefill (and any step of more than one token): SSD, the chunked algorithm of arXiv 2405.21060
  (§6, Listing 1 "ssd_minimal_discrete", which transformers' ``mamba2_chunk_scan`` follows), over
  ``c = ceil(S_i/Q)`` chunks of ``Q`` tokens per head: ``C·Bᵀ`` within each chunk (``2cQ²N``),
  the masked scores times x (``2cQ²P``), the chunk states ``Bᵀ·x`` (``2cQPN``), the recurrence
  over chunk states (``2(c+1)²PN``: the listing's ``(c+1)×(c+1)`` decay matrix) and the state
  readout ``C·h`` (``2cQNP``);
* the gated delta rule (arXiv 2412.06464, eq. 10), decode: per value head ``S ← α·S`` (``d_k·d_v``),
  ``Sᵀk`` (``2d_k·d_v``), the rank-1 update ``S += k·(β(v − Sᵀk))ᵀ`` (``2d_k·d_v``) and the readout
  ``Sᵀq`` (``2d_k·d_v``): ``7·d_k·d_v`` per head and token; prefill: the chunked form
  (flash-linear-attention's ``chunk_gated_delta_rule``; transformers' ``torch_chunk_gated_delta_rule``)
  per head and chunk: ``(kβ)kᵀ`` and ``qkᵀ`` (``4Q²d_k``), the two unit-triangular solves of the
  UT transform (``Q(Q−1)(d_k + d_v)``), ``W·S`` and ``q·S`` (``4Q·d_k·d_v``), the intra-chunk
  output (``2Q²d_v``) and the state update ``kᵀ·v_new`` (``2Q·d_k·d_v``).

Under ``state_scan="counter"`` (the ``matmul`` preset): what ``FlopCounterMode`` sees in
transformers 5.24's torch implementation on CPU (no ``mamba_ssm``, ``causal_conv1d`` or ``fla``
kernels): only ``mm``/``bmm`` (einsums become ``bmm``) and convolutions. Mamba's scan: the
per-token readout ``bmm`` only, ``2·d_inner·d_state`` per token; Mamba2: the five SSD einsums
over the padded chunks (prefill) or the readout ``bmm`` (decode); the delta rule: the chunked
form's matmuls without the triangular solves (``linalg.solve_triangular`` is not counted) and
nothing in decode (its recurrence is elementwise). The conv is counted over its padded output:
``L_in + d_conv − 1`` positions (``padding = d_conv − 1``) of an input of ``max(S_i, d_conv)``
columns in a prefill and ``d_conv + S_i`` over a cache, and 2 positions in a one-token decode
(``causal_conv1d_update``: ``d_conv + 1`` columns, no padding).
"""

from __future__ import annotations

import sympy

from symroof.cost.base import Cost
from symroof.cost.conventions import Conventions
from symroof.cost.step import Step
from symroof.model.arch import Arch
from symroof.model.layers import Layer, matrices
from symroof.model.statespace import LinearAttention, StateSpace

__all__ = ["conv_flops", "mixer", "recurrent_step", "scan_flops", "state_bytes"]


def recurrent_step(step: Step) -> bool:
    """A one-token step over a cache: the mixers run their recurrence (else the chunked form)."""
    return bool(step.new == 1) and not step.empty_cache


def conv_flops(m: StateSpace | LinearAttention, conv: Conventions, step: Step) -> sympy.Expr:
    """The depthwise causal convolution, ``2·d_conv`` FLOPs per channel and output position."""
    k = m.conv
    if conv.state_scan == "algorithm":
        positions = step.new
    elif step.empty_cache:
        positions = sympy.Max(step.new, k) + k - 1
    elif recurrent_step(step):
        positions = sympy.Integer(2)
    else:
        positions = step.new + 2 * k - 1
    return 2 * step.batch * m.conv_channels * k * positions


def _ssd(m: StateSpace, step: Step) -> sympy.Expr:
    Q, N, P, h = m.chunk, m.state, m.head_dim, m.heads
    c = sympy.ceiling(step.new / Q)
    per_head = 2 * c * Q**2 * N + 2 * c * Q**2 * P + 2 * c * Q * P * N + 2 * (c + 1) ** 2 * P * N + 2 * c * Q * N * P
    return step.batch * h * per_head


def _chunked_delta(m: LinearAttention, step: Step, solves: bool) -> sympy.Expr:
    Q, dk, dv = m.chunk, m.key_dim, m.value_dim
    c = sympy.ceiling(step.new / Q)
    per_chunk = 4 * Q**2 * dk + 2 * Q**2 * dv + 6 * Q * dk * dv + (Q * (Q - 1) * (dk + dv) if solves else 0)
    return step.batch * m.value_heads * c * per_chunk


def scan_flops(m: StateSpace | LinearAttention, conv: Conventions, step: Step) -> sympy.Expr:
    """The recurrence (decode) or its chunked form (prefill), see the module's docstring."""
    counter = conv.state_scan == "counter"
    if isinstance(m, LinearAttention):
        if recurrent_step(step):
            return sympy.Integer(0) if counter else 7 * step.tokens * m.value_heads * m.key_dim * m.value_dim
        return _chunked_delta(m, step, solves=not counter)
    if m.version == 1:
        return (2 if counter else 7) * step.tokens * m.inner * m.state
    if recurrent_step(step):
        return (2 if counter else 5) * step.tokens * m.inner * m.state
    return _ssd(m, step)


def state_bytes(arch: Arch, m: StateSpace | LinearAttention, conv: Conventions, step: Step) -> dict[str, sympy.Expr]:
    """The recurrent state and conv cache of the ``B`` sequences, read (unless the cache is empty) and
    written once per step, at ``b_kv`` bytes per element (the recurrent state at ``Arch.state_bytes``
    where given; ``kv_read`` / ``kv_write`` say whether)."""
    if arch.state_bytes is None:
        one = step.batch * (m.recurrent_elements + m.conv_elements) * arch.kv_bytes
    else:
        one = step.batch * (m.recurrent_elements * arch.state_bytes + m.conv_elements * arch.kv_bytes)
    read = conv.kv_read != "none" and not step.empty_cache
    write = conv.kv_write == "always" or (conv.kv_write == "decode" and not step.empty_cache)
    return {"state/read": one if read else 0, "state/write": one if write else 0}


def mixer(arch: Arch, conv: Conventions, step: Step, *, layer: Layer) -> Cost:
    """One layer's state-space or linear-attention mixer: projections, conv, scan, weights, state."""
    m = layer.mixer
    if m is None:
        return Cost()
    t = step.tokens
    flops: dict[str, sympy.Expr] = {}
    weights: dict[str, sympy.Expr] = {}
    for mat in matrices(layer, arch.hidden):
        if not mat.name.startswith("mixer/"):
            continue
        flops[mat.name] = 2 * t * mat.rows * mat.cols
        if conv.weights in ("matrices", "all"):
            bias = mat.cols * arch.bytes_of("bias") if conv.weights == "all" and mat.bias else 0
            weights[f"weights/{mat.name}"] = mat.rows * mat.cols * arch.bytes_of(mat.name) + bias
    flops["mixer/conv"] = conv_flops(m, conv, step)
    flops["mixer/scan"] = scan_flops(m, conv, step)
    if conv.weights == "all":
        weights["weights/mixer/conv"] = m.conv_parameters * arch.bytes_of("mixer/conv")
        weights["weights/mixer/ssm"] = m.ssm_parameters * arch.bytes_of("mixer/ssm")
    return Cost(flops, {**weights, **state_bytes(arch, m, conv, step)})
