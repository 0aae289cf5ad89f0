"""Layer kinds: a decoder layer is a token mixer (`Attention`) and an `FFN`, each described once.

Each kind has one table of its weight matrices (`matrices`): a `Matrix` is ``(name, in, out)``
with its bias, the copies stored and which tokens use it. Parameter counts
(`symroof.model.params`), matmul FLOPs and weight bytes (`symroof.cost.components`) are all
read from that table, so a shape is written in one place.

Attention kinds (`Attention.kind`):

* ``full``: every query sees every earlier key, and the layer keeps the K and V of every token;
* ``sliding``: each query sees at most ``window`` keys, itself included, so the layer keeps the
  last ``window - 1`` tokens (Mistral, Gemma 2/3's local layers, gpt-oss);
* ``chunked``: a query sees the keys of its own chunk of ``chunk`` tokens (Llama 4's local
  layers); the layer keeps at most ``chunk - 1`` tokens, as transformers' cache does
  (``cache_utils.py``: chunked layers use the sliding-window layer with ``sliding_window =
  attention_chunk_size``);
* ``latent``: multi-head latent attention (DeepSeek-V2/V3; `symroof.cost.mla`), which caches one
  latent of ``kv_lora_rank + qk_rope_head_dim`` elements per token.

Examples
--------
>>> from symroof.symbols import H
>>> gqa = Attention(heads=32, kv_heads=8, head_dim=128)
>>> [(m.name, m.rows, m.cols) for m in matrices(Layer(gqa, FFN(14336)), 4096)][:2]
[('attention/q', 4096, 4096), ('attention/k', 4096, 1024)]
>>> Attention(heads=8, kv_heads=4, head_dim=64, window=4096).kind, kept_tokens(Attention(8, window=4096), 10**5)
('sliding', 4095)
>>> moe = FFN(width=2048, experts=256, experts_per_token=8, shared_experts=1)
>>> [(m.name, m.copies, m.use) for m in matrices(Layer(gqa, moe), 7168)][4:7]
[('ffn/router', 1, 'all'), ('ffn/gate', 256, 'routed'), ('ffn/up', 256, 'routed')]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import sympy

from symroof._values import as_count, choice
from symroof.model.statespace import LinearAttention, StateSpace

__all__ = ["FFN", "NAMES", "NORM_KINDS", "QK_NORMS", "Attention", "Layer", "LinearAttention", "Matrix", "StateSpace",
           "cache_width", "kept_tokens", "layer_norm_parameters", "matrices", "norm_parameters"]

NORM_KINDS = ("layernorm", "rmsnorm", "layernorm-nobias")   # parameters per norm: 2·width, width, width
# q/k norms: none; one of head_dim each (Qwen3, Gemma 3); over all heads (OLMo 2)
QK_NORMS = ("none", "head", "full")
USES = ("all", "routed", "shared", "keys")

# Every tensor name a table can hold, plus the per-layer norms and the model-level tensors.
NAMES = ("attention/q", "attention/k", "attention/v", "attention/out", "attention/q_down", "attention/q_up",
         "attention/kv_down", "attention/kv_up", "attention/sinks", "ffn/gate", "ffn/up", "ffn/down", "ffn/router",
         "ffn/shared_gate", "norm", "embedding", "positions", "final_norm", "lm_head",
         # state-space and linear-attention mixers (`symroof.model.statespace`)
         "mixer/in", "mixer/x", "mixer/dt", "mixer/out", "mixer/qkvz", "mixer/ba", "mixer/conv", "mixer/ssm")


@dataclass(frozen=True)
class Matrix:
    """One weight matrix ``(rows, cols)`` = ``(in_features, out_features)`` of a layer kind.

    ``copies`` are stored (the routed experts of a MoE FFN); ``use`` says which tokens multiply it:
    ``all`` (each token, each copy), ``routed`` (each token ``experts_per_token`` of the copies),
    ``shared`` (each token every copy: shared experts), ``keys`` (MLA's ``kv_up``, applied to keys,
    not to the new tokens: `symroof.cost.mla`). ``bias``: one bias of ``cols`` per copy.
    """

    name: str
    rows: sympy.Expr
    cols: sympy.Expr
    bias: bool = False
    copies: Any = 1
    use: str = "all"

    def __post_init__(self) -> None:
        object.__setattr__(self, "copies", sympy.sympify(self.copies))
        choice(self.use, "use", USES)

    @property
    def parameters(self) -> sympy.Expr:
        """Parameters of all copies, biases included."""
        return self.copies * (self.rows * self.cols + (self.cols if self.bias else 0))


@dataclass(frozen=True)
class Attention:
    """An attention token mixer.

    ``kv_heads`` defaults to ``heads`` (MHA); ``head_dim`` must be given unless a hidden size
    divides it (`Layer` and `symroof.model.arch.Arch` fill it in). ``window`` (sliding) or
    ``chunk`` (chunked) limit the keys each query sees; ``kv_lora_rank`` and the other MLA
    widths make it latent attention. ``qk_norm`` adds q/k norms (``head``: ``head_dim`` each;
    ``full``: over all query and all KV heads); ``sinks``: one learned logit per head
    (gpt-oss); ``rope``: rotary positions (False for Llama 4's NoPE layers);
    ``rotary_dim``: the rotated width of a head (default all of ``head_dim``).
    """

    heads: Any
    kv_heads: Any = None
    head_dim: Any = None
    window: Any = None
    chunk: Any = None
    qkv_bias: bool = False
    out_bias: bool = False
    qk_norm: Literal["none", "head", "full"] = "none"
    sinks: bool = False
    rope: bool = True
    rotary_dim: Any = None
    kv_lora_rank: Any = None
    q_lora_rank: Any = None
    qk_nope_head_dim: Any = None
    qk_rope_head_dim: Any = None
    v_head_dim: Any = None
    gate: bool = False                 # an output gate from q_proj (Qwen3-Next): q_proj is (H, 2·n_h·d_h)
    cached_heads: Any = None        # K/V heads the cache holds, default kv_heads (transformers' Falcon: all heads)

    def __post_init__(self) -> None:
        put = lambda k, v: object.__setattr__(self, k, v)
        put("heads", as_count(self.heads, "heads"))
        mla = [n for n in _MLA if getattr(self, n) is not None]
        if mla:
            missing = [n for n in _MLA_REQUIRED if getattr(self, n) is None]
            if missing:
                raise ValueError(f"multi-head latent attention ({', '.join(mla)} given) also needs "
                                 f"{', '.join(missing)}")
            for name in mla:
                put(name, as_count(getattr(self, name), name))
            if self.head_dim is None:
                put("head_dim", self.qk_nope_head_dim + self.qk_rope_head_dim)
        if self.kv_heads is None:
            put("kv_heads", self.heads)
        put("kv_heads", as_count(self.kv_heads, "kv_heads"))
        if self.head_dim is not None:
            put("head_dim", as_count(self.head_dim, "head_dim"))
        for name in ("window", "chunk", "rotary_dim", "cached_heads"):
            if getattr(self, name) is not None:
                put(name, as_count(getattr(self, name), name))
        if self.window is not None and self.chunk is not None:
            raise ValueError(f"window={self.window} and chunk={self.chunk}: an attention layer is sliding or chunked")
        if mla and (self.window is not None or self.chunk is not None):
            raise ValueError("latent attention with a window or chunk is not modelled")
        choice(self.qk_norm, "qk_norm", QK_NORMS)
        for flag in ("qkv_bias", "out_bias", "sinks", "rope", "gate"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag}={getattr(self, flag)!r} must be True or False")
        kv, h = self.kv_heads, self.heads
        if kv.is_Integer and h.is_Integer and h % kv != 0:
            raise ValueError(f"kv_heads={kv} must divide heads={h}")
        if sympy.simplify(kv - h).is_positive:
            raise ValueError(f"kv_heads={kv} must not exceed heads={h}")

    @property
    def kind(self) -> str:
        """``full``, ``sliding``, ``chunked`` or ``latent``."""
        if self.kv_lora_rank is not None:
            return "latent"
        if self.window is not None:
            return "sliding"
        return "chunked" if self.chunk is not None else "full"

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank is not None

    @property
    def span(self) -> sympy.Expr | None:
        """The window or chunk (the keys one query may see at most), None for full attention."""
        return self.window if self.window is not None else self.chunk

    @property
    def q_width(self) -> sympy.Expr:
        """``n_h·d_h`` (MLA: ``n_h·(d_nope + d_R)``)."""
        return self.heads * self.head_dim

    @property
    def kv_width(self) -> sympy.Expr:
        """One of K or V over all KV heads, ``n_kv·d_h``."""
        return self.kv_heads * self.head_dim

    @property
    def rotary_width(self) -> sympy.Expr:
        """The rotated width of one head (0 without rotary positions); MLA: ``qk_rope_head_dim``."""
        if not self.rope:
            return sympy.Integer(0)
        if self.is_mla:
            return self.qk_rope_head_dim
        return self.head_dim if self.rotary_dim is None else self.rotary_dim

    @property
    def cached_kv_width(self) -> sympy.Expr:
        """One of K or V as the cache holds it, ``cached_heads·d_h`` (default `kv_width`)."""
        return self.kv_width if self.cached_heads is None else self.cached_heads * self.head_dim

    def replace(self, **changes: Any) -> Attention:
        return dataclasses.replace(self, **changes)


_MLA = ("kv_lora_rank", "q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")
_MLA_REQUIRED = ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")


@dataclass(frozen=True)
class FFN:
    """A feed-forward block: ``gated`` (gate, up, down: SwiGLU, GeGLU) or not (up, down), of ``width``.

    A mixture of experts has ``experts > 1`` routed experts, ``experts_per_token`` of them active
    per token, a router ``(H, E)`` (``router_bias``: gpt-oss), and ``shared_experts`` that every
    token uses, of ``shared_width`` each (default ``width``; Qwen2-MoE's
    ``shared_expert_intermediate_size``), optionally behind a ``(H, 1)`` gate (``shared_gate``).
    """

    width: Any
    gated: bool = True
    bias: bool = False
    experts: Any = 1
    experts_per_token: Any = 1
    shared_experts: Any = 0
    shared_width: Any = None
    router_bias: bool = False
    shared_gate: bool = False           # a (H, 1) sigmoid gate on the shared experts (Qwen2-MoE)

    def __post_init__(self) -> None:
        put = lambda k, v: object.__setattr__(self, k, v)
        put("width", as_count(self.width, "ffn width"))
        put("experts", as_count(self.experts, "experts"))
        put("experts_per_token", as_count(self.experts_per_token, "experts_per_token"))
        put("shared_experts", as_count(self.shared_experts, "shared_experts", allow_zero=True))
        put("shared_width", self.width if self.shared_width is None else as_count(self.shared_width, "shared_width"))
        for flag in ("gated", "bias", "router_bias", "shared_gate"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag}={getattr(self, flag)!r} must be True or False")
        e, k = self.experts, self.experts_per_token
        if (e - k).is_negative:
            raise ValueError(f"experts_per_token={k} must not exceed experts={e}")
        if e == 1 and self.shared_experts != 0:
            raise ValueError(f"shared_experts={self.shared_experts} needs experts > 1")

    @property
    def is_moe(self) -> bool:
        return self.experts != 1

    def replace(self, **changes: Any) -> FFN:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Layer:
    """One decoder layer: a token mixer and an FFN (either may be None), its norms and how they join.

    ``norms``: norm vectors of width H in the layer (2: pre-attention and pre-FFN; 4: Gemma 2/3's
    sandwich norms; 1: a parallel block with one shared norm, GPT-J); ``norm``: their kind.
    ``parallel``: attention and FFN read the same input and their outputs are summed (GPT-J,
    Falcon, Cohere, GPT-NeoX's parallel residual): the same matmuls, one residual stream.
    ``mixer``: a state-space or linear-attention token mixer (`symroof.model.statespace`), in place
    of the attention or beside it (both set: Falcon-H1's parallel attention and SSM).
    """

    attention: Attention | None
    ffn: FFN | None
    norms: Any = 2
    norm: Literal["layernorm", "rmsnorm", "layernorm-nobias"] = "rmsnorm"
    parallel: bool = False
    mixer: StateSpace | LinearAttention | None = None

    def __post_init__(self) -> None:
        if self.attention is not None and not isinstance(self.attention, Attention):
            raise ValueError(f"attention={self.attention!r} must be a symroof Attention or None")
        if self.ffn is not None and not isinstance(self.ffn, FFN):
            raise ValueError(f"ffn={self.ffn!r} must be a symroof FFN or None")
        object.__setattr__(self, "norms", as_count(self.norms, "norms", allow_zero=True))
        choice(self.norm, "norm", NORM_KINDS)
        if not isinstance(self.parallel, bool):
            raise ValueError(f"parallel={self.parallel!r} must be True or False")
        if self.mixer is not None and not isinstance(self.mixer, (StateSpace, LinearAttention)):
            raise ValueError(f"mixer={self.mixer!r} must be a symroof StateSpace, LinearAttention or None")

    def replace(self, **changes: Any) -> Layer:
        return dataclasses.replace(self, **changes)


def norm_parameters(kind: str, width: Any) -> sympy.Expr:
    """Parameters of one norm of ``width``: LayerNorm's weight and bias, RMSNorm's (or a bias-free
    LayerNorm's) weight."""
    return 2 * width if kind == "layernorm" else sympy.sympify(width)


def matrices(layer: Layer, hidden: Any) -> tuple[Matrix, ...]:
    """The weight matrices of ``layer`` in a model of width ``hidden``, in forward order.

    Attention: ``attention/q``, ``k``, ``v``, ``out`` (``(H, n_h·d_h)``, ``(H, n_kv·d_h)`` twice,
    ``(n_h·d_h, H)``), or MLA's ``q_down``/``q_up`` (or ``q``), ``kv_down``, ``kv_up``, ``out``.
    FFN: ``gate``/``up`` ``(H, F)`` and ``down`` ``(F, H)`` per expert; MoE adds the router
    ``(H, E)``, and the shared experts as second ``ffn/*`` rows (``use="shared"``).
    """
    H = sympy.sympify(hidden)
    out: list[Matrix] = []
    a = layer.attention
    if a is not None and a.is_mla:
        d_c, d_q, d_r = a.kv_lora_rank, a.q_lora_rank, a.qk_rope_head_dim
        qk = a.heads * (a.qk_nope_head_dim + d_r)
        if d_q is None:
            out.append(Matrix("attention/q", H, qk))
        else:
            out += [Matrix("attention/q_down", H, d_q, a.qkv_bias), Matrix("attention/q_up", d_q, qk)]
        out += [Matrix("attention/kv_down", H, d_c + d_r, a.qkv_bias),
                Matrix("attention/kv_up", d_c, a.heads * (a.qk_nope_head_dim + a.v_head_dim), use="keys"),
                Matrix("attention/out", a.heads * a.v_head_dim, H, a.out_bias)]
    elif a is not None:
        out += [Matrix("attention/q", H, a.q_width * (2 if a.gate else 1), a.qkv_bias),
                Matrix("attention/k", H, a.kv_width, a.qkv_bias),
                Matrix("attention/v", H, a.kv_width, a.qkv_bias), Matrix("attention/out", a.q_width, H, a.out_bias)]
    if layer.mixer is not None:
        out += _mixer_matrices(layer.mixer, H)
    f = layer.ffn
    if f is not None:
        names = ("gate", "up", "down") if f.gated else ("up", "down")
        if f.is_moe:
            out.append(Matrix("ffn/router", H, f.experts, f.router_bias))
        copies, use = (f.experts, "routed") if f.is_moe else (sympy.Integer(1), "all")
        for n in names:
            rows, cols = (f.width, H) if n == "down" else (H, f.width)
            out.append(Matrix(f"ffn/{n}", rows, cols, f.bias, copies, use))
        if f.shared_experts != 0:
            for n in names:
                rows, cols = (f.shared_width, H) if n == "down" else (H, f.shared_width)
                out.append(Matrix(f"ffn/{n}", rows, cols, f.bias, f.shared_experts, "shared"))
            if f.shared_gate:
                out.append(Matrix("ffn/shared_gate", H, 1))
    return tuple(out)


def _mixer_matrices(m: StateSpace | LinearAttention, H: sympy.Expr) -> list[Matrix]:
    """A mixer's projections: Mamba's in, x, dt (biased) and out; Mamba2's in (z, x, B, C, dt) and out;
    the delta rule's qkvz, ba and out."""
    if isinstance(m, LinearAttention):
        return [Matrix("mixer/qkvz", H, 2 * m.key_width + 2 * m.value_width), Matrix("mixer/ba", H, 2 * m.value_heads),
                Matrix("mixer/out", m.value_width, H)]
    if m.version == 1:
        return [Matrix("mixer/in", H, 2 * m.inner, m.bias), Matrix("mixer/x", m.inner, m.dt_rank + 2 * m.state),
                Matrix("mixer/dt", m.dt_rank, m.inner, True), Matrix("mixer/out", m.inner, H, bool(m.out_bias))]
    width = 2 * m.inner + 2 * m.groups * m.state + m.heads
    return [Matrix("mixer/in", H, width, m.bias), Matrix("mixer/out", m.inner, H, bool(m.out_bias))]


def layer_norm_parameters(layer: Layer, hidden: Any) -> sympy.Expr:
    """Parameters of a layer's norms: its ``norms`` of width H, q/k norms and MLA's latent norms."""
    total = layer.norms * norm_parameters(layer.norm, hidden)
    a = layer.attention
    if a is not None:
        if a.is_mla:
            total += norm_parameters(layer.norm, a.kv_lora_rank + (a.q_lora_rank or 0))
        if a.qk_norm == "head":
            total += 2 * norm_parameters(layer.norm, a.head_dim)
        elif a.qk_norm == "full":
            total += norm_parameters(layer.norm, a.q_width + a.kv_width)
    if layer.mixer is not None:
        total += layer.mixer.norm_parameters
    return sympy.sympify(total)


def kept_tokens(attention: Attention | None, tokens: Any) -> sympy.Expr:
    """Tokens whose K and V (or latent) a layer keeps after ``tokens`` tokens: all of them, or at most
    ``window - 1`` (``chunk - 1``): what the next query needs beside its own, as transformers'
    ``DynamicSlidingWindowLayer`` keeps them."""
    t = sympy.sympify(tokens)
    if attention is None:
        return sympy.Integer(0)
    span = attention.span
    return t if span is None else sympy.Min(t, span - 1)


def cache_width(attention: Attention | None) -> sympy.Expr:
    """Elements cached per token: ``2·n_kv·d_h`` (K and V); MLA: ``kv_lora_rank + qk_rope_head_dim``."""
    if attention is None:
        return sympy.Integer(0)
    if attention.is_mla:
        return attention.kv_lora_rank + attention.qk_rope_head_dim
    return 2 * attention.cached_kv_width
