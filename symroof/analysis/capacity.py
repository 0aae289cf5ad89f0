"""Does it fit? The memory a deployment holds, against the memory its GPUs offer.

A batch of ``B`` sequences at ``context`` tokens holds:

* the weights, every parameter at its own bytes (`symroof.model.params.weight_bytes`, or the
  seeds' ``b_w·Z·10^9`` when the model gives only a nominal size);
* the KV cache, ``B · Arch.kv_cache_elements(context) · b_kv`` (each layer keeps what its kind keeps:
  all tokens, at most ``W − 1`` for a sliding window), times the copies tensor parallelism makes
  (`symroof.analysis.timing.kv_replication`);
* the working activations of one step: each new token's hidden state in and out of a layer and the
  FFN's inner vector (``B·S_i·(2H + F_gate)·b_a``, ``F_gate`` = 2F for a gated FFN, the widest layer's),
  and the last position's logits in fp32 (``B·V·4``). An estimate of the peak: no fragmentation,
  no CUDA graphs or workspace, which the usable fraction's reserve stands for.

They are set against ``gpus × usable_bytes`` (the datasheet's capacity times the usable fraction,
9/10 by default: `symroof.hardware`).

>>> import symroof
>>> f = fit(symroof.models.get("llama-2-7b"), "A100-80GB", batch=64, context=4096)
>>> f.fits, f.kv_bytes           # 64 · 32 layers · 2 · 4096 · 4096 tokens · 2 bytes
(False, 137438953472)
>>> # 2 GPUs: 150,927,843,328 needed / 77,309,411,328 usable (0.9 · 80 GiB); batch: (77,309,411,328 −
>>> # 13,476,831,232 weights) / (2,147,483,648 KV + 120,832 activations + 128,000 logits) per sequence
>>> f.gpus_needed, f.max_batch
(2, 29)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy

from symroof._values import as_amount, as_count
from symroof.analysis.timing import kv_replication
from symroof.hardware import Hardware, hardware_of
from symroof.model import params as _params
from symroof.model.arch import Arch, require_arch

__all__ = ["Fit", "activation_bytes", "fit", "model_bytes"]


def model_bytes(arch: Arch) -> sympy.Expr:
    """Bytes of the weights the GPUs hold: every parameter at its bytes, or ``b_w·Z·10^9`` for a nominal size."""
    if arch.params_b is not None:
        return arch.weight_bytes * arch.params_b * sympy.Integer(10) ** 9
    return _params.weight_bytes(arch)


def activation_bytes(arch: Arch, batch: Any, new: Any = 1) -> sympy.Expr:
    """The working activations of one step (see the module docstring): ``B·S_i·(2H + F_gate)·b_a + B·V·4``."""
    widest = sympy.Integer(0)
    for _, layer in arch.groups:
        f = layer.ffn
        if f is not None:
            inner = (2 if f.gated else 1) * f.width * (f.experts_per_token if f.is_moe else 1)
            widest = sympy.Max(widest, inner)
    B, S_i = as_count(batch, "batch"), as_count(new, "new")
    return B * S_i * (2 * arch.hidden + widest) * arch.act_bytes + B * arch.vocab * 4


@dataclass(frozen=True)
class Fit:
    """What a deployment holds against what its GPUs offer, in bytes, exactly."""

    weights_bytes: sympy.Expr
    kv_bytes: sympy.Expr
    activation_bytes: sympy.Expr
    available_bytes: sympy.Expr
    gpus: sympy.Expr
    gpus_needed: sympy.Expr | None      # the fewest GPUs of this kind that hold it (None: not numeric, or none do)
    max_batch: sympy.Expr | None        # the largest batch at this context that fits (0: not even one)

    @property
    def needed_bytes(self) -> sympy.Expr:
        return self.weights_bytes + self.kv_bytes + self.activation_bytes

    @property
    def fits(self) -> bool:
        return bool(self.needed_bytes <= self.available_bytes)

    @property
    def shortfall_bytes(self) -> sympy.Expr:
        """By how much it does not fit (0 when it does)."""
        return sympy.Max(0, self.needed_bytes - self.available_bytes)

    def describe(self) -> str:
        """One line: fits, or by how much it does not and how many GPUs would hold it."""
        gb = lambda v: f"{float(v) / 1e9:.4g} GB"
        held = (f"weights {gb(self.weights_bytes)} + KV {gb(self.kv_bytes)} + activations "
                f"{gb(self.activation_bytes)} = {gb(self.needed_bytes)} of {gb(self.available_bytes)} usable "
                f"on {self.gpus} GPU{'s' if self.gpus != 1 else ''}")
        if self.fits:
            return f"fits: {held}"
        if self.gpus_needed is not None:
            more = f"; {self.gpus_needed} GPUs would hold it"
        elif self.needed_bytes.is_number:  # numeric, yet no count: each GPU's share of the cache fills it
            more = "; no number of these GPUs holds it (the share of the KV cache each must hold fills one)"
        else:
            more = ""
        largest = f"; the largest batch that fits is {self.max_batch}" if self.max_batch else ""
        return f"does not fit by {gb(self.shortfall_bytes)}: {held}{more}{largest}"


def _fewest_gpus(arch: Arch, fixed: sympy.Expr, kv_once: sympy.Expr, usable: sympy.Expr) -> sympy.Expr | None:
    """The least g with ``fixed + kv_once·r(g) <= g·usable`` (None: no g), where r is
    `kv_replication`: 1 up to ``knee`` GPUs (the KV heads; 1 for an MLA latent, which every GPU
    holds), ``g/knee`` beyond. Exact: up to the knee g = ⌈(fixed + kv_once)/usable⌉; beyond it
    each GPU also holds ``kv_once/knee``, so g ≥ (fixed)/(usable − kv_once/knee), and no g at all
    when that per-GPU share fills a GPU."""
    knee = sympy.Integer(1) if arch.is_mla else sympy.Integer(arch.kv_heads)
    flat = sympy.ceiling((fixed + kv_once) / usable)
    if flat <= knee:
        g = sympy.Max(1, flat)
    else:
        room = usable - kv_once / knee
        if room <= 0:
            return None
        g = sympy.ceiling(fixed / room)  # > knee: fixed + kv_once > knee·usable means fixed/room > knee
    assert fixed + kv_once * kv_replication(arch, g) <= g * usable  # the closed form above, checked
    return g


def fit(arch: Arch, hardware: Hardware | str, *, batch: Any, context: Any, gpus: Any = 1, new: Any = 1,
        weight_bytes: Any = None) -> Fit:
    """Whether ``batch`` sequences of ``context`` tokens (each step adding ``new``) fit on ``gpus`` GPUs."""
    require_arch(arch)
    hw = hardware_of(hardware)
    if hw.usable_bytes is None:
        raise ValueError(f"{hw.name} has no capacity_bytes: give the part's memory to check what fits")
    G = as_count(gpus, "gpus")
    B = as_count(batch, "batch")
    tokens = as_count(context, "context", allow_zero=True)
    weights = model_bytes(arch) if weight_bytes is None else as_amount(weight_bytes, "weight_bytes", allow_zero=True)
    per_sequence = arch.kv_cache_elements(tokens) * arch.kv_bytes * kv_replication(arch, G)
    kv = B * per_sequence
    acts = activation_bytes(arch, B, new)
    available = G * hw.usable_bytes
    gpus_needed = max_batch = None
    need = weights + kv + acts
    if need.is_number and hw.usable_bytes.is_number:
        gpus_needed = _fewest_gpus(arch, weights + acts, B * arch.kv_cache_elements(tokens) * arch.kv_bytes,
                                   hw.usable_bytes)
        one = per_sequence + activation_bytes(arch, 1, new)
        max_batch = sympy.Max(0, sympy.floor((available - weights) / one)) if one != 0 else None
    return Fit(weights, kv, acts, available, G, gpus_needed, max_batch)
