"""Token mixers whose per-sequence memory does not grow with the context.

* `StateSpace`: a selective state-space layer. Mamba (arXiv 2312.00752; ``heads=None``):
  ``in_proj (H, 2·d_inner)``, a depthwise causal ``conv1d`` of ``d_conv`` taps per channel (with
  a bias), ``x_proj (d_inner, dt_rank + 2·d_state)``, ``dt_proj (dt_rank, d_inner)`` with a bias,
  ``A_log`` ``(d_inner, d_state)`` and ``D`` ``(d_inner)``, ``out_proj (d_inner, H)``. Mamba2
  (arXiv 2405.21060; ``heads`` given): ``in_proj (H, 2·d_inner + 2·G·d_state + n_heads)`` (gate
  z, x, B, C, dt), the conv over ``d_inner + 2·G·d_state`` channels, ``A_log``, ``D`` and
  ``dt_bias`` per head, a gated RMSNorm of ``d_inner``, ``out_proj (d_inner, H)``.
* `LinearAttention`: gated delta-rule linear attention (Gated DeltaNet, arXiv 2412.06464, as
  Qwen3-Next has it: transformers' ``Qwen3NextGatedDeltaNet``): ``in_proj_qkvz (H, 2·h_k·d_k +
  2·h_v·d_v)``, ``in_proj_ba (H, 2·h_v)``, a conv over ``2·h_k·d_k + h_v·d_v`` channels without
  bias, ``A_log`` and ``dt_bias`` per value head, a gated RMSNorm of ``d_v``, ``out_proj (h_v·d_v, H)``.

Their projections are rows of the layer's one matrix table (`symroof.model.layers.matrices`:
``mixer/in``, ``mixer/x``, ``mixer/dt``, ``mixer/out``; the delta rule's ``mixer/qkvz``,
``mixer/ba``, ``mixer/out``); the conv weights (``mixer/conv``), ``A_log``, ``D`` and ``dt_bias``
(``mixer/ssm``) and the mixer's norms are parameters outside the table.

Each layer keeps, per sequence, a recurrent state (`recurrent_elements`: Mamba ``d_inner·d_state``,
Mamba2 ``n_heads·head_dim·d_state``, the delta rule ``h_v·d_k·d_v``) and a conv cache
(`conv_elements`): ``d_conv`` columns of its conv channels, as transformers'
``LinearAttentionLayer`` (``cache_utils.py``) and ``mamba_ssm``'s ``allocate_inference_cache`` hold
them (the next step needs ``d_conv - 1`` of them).

>>> m = StateSpace(inner=1536, state=16, conv=4, dt_rank=48)      # state-spaces/mamba-130m-hf
>>> m.recurrent_elements, m.conv_elements, m.conv_parameters, m.ssm_parameters
(24576, 6144, 7680, 26112)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import sympy

from symroof._values import as_count

__all__ = ["LinearAttention", "StateSpace"]


def _flag(obj: object, *names: str) -> None:
    for name in names:
        if not isinstance(getattr(obj, name), bool):
            raise ValueError(f"{name}={getattr(obj, name)!r} must be True or False")


@dataclass(frozen=True)
class StateSpace:
    """A selective state-space mixer: Mamba (``heads=None``, needs ``dt_rank``) or Mamba2 (``heads``
    of ``inner/heads`` each, ``groups`` of B and C, SSD chunks of ``chunk`` tokens).

    ``conv``: taps of the depthwise causal convolution (``d_conv``); ``conv_bias``: its bias;
    ``bias``: biases on in_proj and out_proj (``out_bias``, if given, on out_proj instead: Falcon-H1's
    ``projectors_bias`` beside its ``mamba_proj_bias``); ``gated_norm``: Mamba2's gated RMSNorm of
    ``inner``; ``dt_bc_norms``: RMSNorms of ``dt_rank``, ``state`` and ``state`` on dt, B and C (Jamba).
    """

    inner: Any
    state: Any
    conv: Any = 4
    dt_rank: Any = None
    heads: Any = None
    groups: Any = 1
    chunk: Any = 256
    conv_bias: bool = True
    bias: bool = False
    gated_norm: bool = True
    dt_bc_norms: bool = False
    out_bias: bool | None = None        # out_proj's bias, None: as ``bias``

    def __post_init__(self) -> None:
        put = lambda k, v: object.__setattr__(self, k, v)
        if self.out_bias is None:
            put("out_bias", self.bias)
        for name in ("inner", "state", "conv", "groups", "chunk"):
            put(name, as_count(getattr(self, name), name))
        for name in ("dt_rank", "heads"):
            if getattr(self, name) is not None:
                put(name, as_count(getattr(self, name), name))
        if self.heads is None and self.dt_rank is None:
            raise ValueError("a Mamba layer (heads=None) needs dt_rank")
        if self.heads is not None:
            if self.inner.is_Integer and self.heads.is_Integer and self.inner % self.heads:
                raise ValueError(f"heads={self.heads} must divide inner={self.inner}")
            if self.heads.is_Integer and self.groups.is_Integer and self.heads % self.groups:
                raise ValueError(f"groups={self.groups} must divide heads={self.heads}")
        _flag(self, "conv_bias", "bias", "gated_norm", "dt_bc_norms", "out_bias")

    @property
    def version(self) -> int:
        """1 (Mamba) or 2 (Mamba2)."""
        return 1 if self.heads is None else 2

    @property
    def head_dim(self) -> sympy.Expr:
        """Mamba2's ``inner / heads``."""
        return self.inner / self.heads

    @property
    def conv_channels(self) -> sympy.Expr:
        """Channels of the conv: ``inner`` (Mamba); ``inner + 2·groups·state`` (Mamba2: x, B, C)."""
        return self.inner if self.version == 1 else self.inner + 2 * self.groups * self.state

    @property
    def recurrent_elements(self) -> sympy.Expr:
        """The SSM state of one sequence: ``inner·state`` (Mamba2: ``heads·head_dim·state``, the same)."""
        return self.inner * self.state

    @property
    def conv_elements(self) -> sympy.Expr:
        """The conv cache of one sequence: ``conv`` columns of ``conv_channels``."""
        return self.conv * self.conv_channels

    @property
    def conv_parameters(self) -> sympy.Expr:
        return self.conv_channels * self.conv + (self.conv_channels if self.conv_bias else 0)

    @property
    def ssm_parameters(self) -> sympy.Expr:
        """``A_log`` and ``D`` (Mamba: ``inner·state + inner``; Mamba2: one each per head, and ``dt_bias``)."""
        if self.version == 1:
            return self.inner * self.state + self.inner
        return 3 * self.heads

    @property
    def norm_parameters(self) -> sympy.Expr:
        if self.version == 1:
            return (self.dt_rank + 2 * self.state) if self.dt_bc_norms else sympy.Integer(0)
        return self.inner if self.gated_norm else sympy.Integer(0)

    def replace(self, **changes: Any) -> StateSpace:
        if "bias" in changes and "out_bias" not in changes and self.out_bias == self.bias:
            changes["out_bias"] = None          # out_proj's bias still follows ``bias``
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class LinearAttention:
    """Gated delta-rule linear attention (Gated DeltaNet): ``key_heads`` of ``key_dim`` for q and k,
    ``value_heads`` of ``value_dim`` for v and the output gate z; a conv of ``conv`` taps; chunks of
    ``chunk`` tokens in the chunked prefill (transformers' ``torch_chunk_gated_delta_rule``: 64)."""

    key_heads: Any
    value_heads: Any
    key_dim: Any
    value_dim: Any
    conv: Any = 4
    chunk: Any = 64

    def __post_init__(self) -> None:
        for name in ("key_heads", "value_heads", "key_dim", "value_dim", "conv", "chunk"):
            object.__setattr__(self, name, as_count(getattr(self, name), name))
        kh, vh = self.key_heads, self.value_heads
        if kh.is_Integer and vh.is_Integer and vh % kh:
            raise ValueError(f"key_heads={kh} must divide value_heads={vh}")

    @property
    def key_width(self) -> sympy.Expr:
        return self.key_heads * self.key_dim

    @property
    def value_width(self) -> sympy.Expr:
        return self.value_heads * self.value_dim

    @property
    def conv_channels(self) -> sympy.Expr:
        """q, k and v: ``2·h_k·d_k + h_v·d_v``."""
        return 2 * self.key_width + self.value_width

    @property
    def recurrent_elements(self) -> sympy.Expr:
        """One ``(d_k, d_v)`` state per value head."""
        return self.value_heads * self.key_dim * self.value_dim

    @property
    def conv_elements(self) -> sympy.Expr:
        return self.conv * self.conv_channels

    @property
    def conv_parameters(self) -> sympy.Expr:
        return self.conv_channels * self.conv

    @property
    def ssm_parameters(self) -> sympy.Expr:
        """``A_log`` and ``dt_bias``, one each per value head."""
        return 2 * self.value_heads

    @property
    def norm_parameters(self) -> sympy.Expr:
        return sympy.sympify(self.value_dim)

    def replace(self, **changes: Any) -> LinearAttention:
        return dataclasses.replace(self, **changes)

