"""`Arch`: a decoder-only transformer's shape. Every size may be a number or a symbol.

Examples
--------
>>> from symroof.symbols import H, n_h
>>> gpt = Arch.symbolic()
>>> gpt.q_width, gpt.kv_width, gpt.ffn_dim
(H, H, 4*H)
>>> Arch(hidden=4096, layers=32, heads=32, kv_heads=8, ffn_dim=14336, ffn_kind="gated").kv_width
1024
>>> Arch(hidden=4096, layers=32, heads=32, kv_heads=5)
Traceback (most recent call last):
...
ValueError: kv_heads=5 must divide heads=32

Multi-head latent attention (DeepSeek-V2/V3) caches one latent vector of
``kv_lora_rank + qk_rope_head_dim`` elements per token and layer:

>>> mla = Arch(hidden=7168, layers=61, heads=128, kv_lora_rank=512, q_lora_rank=1536,
...            qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128)
>>> mla.is_mla, mla.q_width, mla.kv_cache_width, mla.kv_elements_per_token
(True, 24576, 576, 35136)

Bytes per element may be given as dtype names (`symroof.precision.BYTES`):

>>> Arch(hidden=64, layers=2, heads=4, weight_bytes="int4", kv_bytes="fp8").weight_bytes
1/2
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import sympy

from symroof import symbols as sym
from symroof._values import as_amount, as_count, choice
from symroof.model import dtypes as _precision
from symroof.model.layers import FFN, NAMES, NORM_KINDS, Attention, Layer, cache_width, kept_tokens

__all__ = ["FFN_KINDS", "NORM_KINDS", "Arch", "require_arch"]

FFN_KINDS = ("dense", "gated")      # dense: up/down (GELU MLP); gated: gate/up/down (SwiGLU, GeGLU)
# the fields that describe the layers; with an explicit ``layout`` they only summarise it
_LAYER_FIELDS = ("layers", "heads", "kv_heads", "head_dim", "ffn_dim", "ffn_kind", "qkv_bias", "out_bias",
                 "mlp_bias", "experts", "experts_per_token", "shared_experts", "expert_ffn_dim", "dense_layers",
                 "kv_lora_rank", "q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "window")

_COUNT_FIELDS = ("hidden", "layers", "heads", "kv_heads", "head_dim", "ffn_dim", "vocab",
                 "experts", "experts_per_token", "expert_ffn_dim")
_ZERO_OK_FIELDS = ("shared_experts", "max_positions", "dense_layers")
# multi-head latent attention (DeepSeek-V2, arXiv 2405.04434 §2.1): all None for ordinary attention
_MLA_FIELDS = ("kv_lora_rank", "q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")
_MLA_REQUIRED = ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")
_AMOUNT_FIELDS = ("weight_bytes", "act_bytes", "kv_bytes")


@dataclass(frozen=True)
class Arch:
    """A decoder-only transformer.

    Sizes are positive integers or SymPy expressions; bytes per element are
    positive rationals (``Fraction(1, 2)`` for int4) or expressions.

    ``head_dim`` defaults to ``hidden / heads`` (which must then divide exactly);
    ``kv_heads`` defaults to ``heads`` (multi-head attention); ``ffn_dim``
    defaults to ``4 * hidden``; ``vocab`` to GPT-2's 50257, tied to the embedding
    table. A mixture-of-experts FFN has ``experts > 1``
    routed experts of width ``expert_ffn_dim`` (default ``ffn_dim``), of which
    ``experts_per_token`` are active per token, plus ``shared_experts``
    always-active experts of the same width. The first ``dense_layers`` layers
    of a MoE model have a dense FFN of width ``ffn_dim`` instead (DeepSeek-V3's
    ``first_k_dense_replace = 3``).

    Multi-head latent attention (MLA, DeepSeek-V2/V3) is on when
    ``kv_lora_rank`` is given: keys and values are compressed to a latent of
    ``kv_lora_rank`` elements plus a shared RoPE key of ``qk_rope_head_dim``;
    each head's query and key have ``qk_nope_head_dim + qk_rope_head_dim``
    elements and its value ``v_head_dim``; queries go through a
    ``q_lora_rank`` bottleneck unless it is None. ``head_dim`` then defaults
    to ``qk_nope_head_dim + qk_rope_head_dim``; ``kv_heads`` is unused.

    Bytes per element are numbers or dtype names (``"bf16"``, ``"int4"``; see
    `symroof.precision`).
    """

    hidden: Any
    layers: Any
    heads: Any
    kv_heads: Any = None
    head_dim: Any = None
    ffn_dim: Any = None
    ffn_kind: Literal["dense", "gated"] = "dense"
    vocab: Any = 50257
    tied_embeddings: bool = True
    weight_bytes: Any = 2
    act_bytes: Any = 2
    kv_bytes: Any = 2
    params_b: Any = None               # nominal size in billions (the seeds' Z); None: from the count
    norm: Literal["layernorm", "rmsnorm"] = "rmsnorm"
    qkv_bias: bool = False             # bias on the Q, K, V projections (GPT-2, Qwen2)
    out_bias: bool = False             # bias on the attention output projection (GPT-2)
    mlp_bias: bool = False             # biases on the FFN matrices (GPT-2)
    max_positions: Any = 0             # learned absolute position embeddings (GPT-2: 1024); 0 for RoPE
    experts: Any = 1
    experts_per_token: Any = 1
    shared_experts: Any = 0
    expert_ffn_dim: Any = None
    name: str = ""
    source: str = field(default="", compare=False)
    dense_layers: Any = 0              # MoE: the first layers with a dense FFN (DeepSeek: first_k_dense_replace)
    kv_lora_rank: Any = None           # MLA: latent width of the compressed keys and values
    q_lora_rank: Any = None            # MLA: latent width of the compressed queries (None: no compression)
    qk_nope_head_dim: Any = None       # MLA: per-head query/key width without RoPE
    qk_rope_head_dim: Any = None       # MLA: per-head query/key width with RoPE (the key part is shared)
    v_head_dim: Any = None             # MLA: per-head value width
    # bytes per element of named parameters (`symroof.params` names, plus "bias" for every bias)
    # that differ from weight_bytes: a quantised checkpoint's matrices and its unquantised
    # embeddings, norms and biases (`symroof.precision.quantize`). A mapping; stored as sorted pairs.
    tensor_bytes: Any = ()
    head_bias: bool = False            # a bias on the LM head (GPT-J)
    window: Any = None                 # sliding window of every layer (each query sees at most W keys)
    # the layer stack, run-length in model order: ((count, Layer), ...); () builds it from the fields above
    layout: Any = ()
    # bytes per element of the state-space mixers' recurrent state (None: kv_bytes); their conv cache stays
    # at kv_bytes. transformers 5.24 keeps the recurrent state in fp32 (Nemotron-H: mamba_ssm_cache_dtype)
    state_bytes: Any = None

    def __post_init__(self) -> None:
        put = lambda k, v: object.__setattr__(self, k, v)
        heads = as_count(self.heads, "heads")
        hidden = as_count(self.hidden, "hidden")
        put("heads", heads)
        put("hidden", hidden)
        given = [n for n in _MLA_FIELDS if getattr(self, n) is not None]
        if given:
            missing = [n for n in _MLA_REQUIRED if getattr(self, n) is None]
            if missing:
                raise ValueError(f"multi-head latent attention ({', '.join(given)} given) also needs "
                                 f"{', '.join(missing)}")
            for name in given:
                put(name, as_count(getattr(self, name), name))
        if self.head_dim is None and given:
            put("head_dim", self.qk_nope_head_dim + self.qk_rope_head_dim)   # MLA: the query/key head width
        if self.head_dim is None:
            if hidden.is_Integer and heads.is_Integer and hidden % heads != 0:
                raise ValueError(
                    f"heads={heads} must divide hidden={hidden} (or give head_dim explicitly)"
                )
            put("head_dim", hidden / heads)
        if self.kv_heads is None:
            put("kv_heads", heads)
        if self.ffn_dim is None:
            put("ffn_dim", 4 * hidden)
        if self.expert_ffn_dim is None:
            put("expert_ffn_dim", self.ffn_dim)
        for name in _COUNT_FIELDS:
            put(name, as_count(getattr(self, name), name))
        for name in _ZERO_OK_FIELDS:
            put(name, as_count(getattr(self, name), name, allow_zero=True))
        for name in _AMOUNT_FIELDS:
            put(name, _amount_or_dtype(getattr(self, name), name))
        if self.params_b is not None:
            put("params_b", as_amount(self.params_b, "params_b"))
        if self.window is not None:
            put("window", as_count(self.window, "window"))
        if self.state_bytes is not None:
            put("state_bytes", _amount_or_dtype(self.state_bytes, "state_bytes"))
        put("tensor_bytes", _tensor_bytes(self.tensor_bytes))
        choice(self.ffn_kind, "ffn_kind", FFN_KINDS)
        choice(self.norm, "norm", NORM_KINDS)
        for flag in ("tied_embeddings", "qkv_bias", "out_bias", "mlp_bias", "head_bias"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag}={getattr(self, flag)!r} must be True or False")
        for text in ("name", "source"):
            if not isinstance(getattr(self, text), str):
                raise ValueError(f"{text}={getattr(self, text)!r} must be a string")
        kv, h = self.kv_heads, self.heads
        if kv.is_Integer and h.is_Integer and h % kv != 0:
            raise ValueError(f"kv_heads={kv} must divide heads={h}")
        if sympy.simplify(kv - h).is_positive:
            raise ValueError(f"kv_heads={kv} must not exceed heads={h}")
        e, k = self.experts, self.experts_per_token
        if (e - k).is_negative:
            raise ValueError(f"experts_per_token={k} must not exceed experts={e}")
        if e == 1 and self.shared_experts != 0:
            raise ValueError(f"shared_experts={self.shared_experts} needs experts > 1")
        if self.dense_layers != 0:
            if e == 1:
                raise ValueError(f"dense_layers={self.dense_layers} needs experts > 1")
            if (self.layers - self.dense_layers).is_negative:
                raise ValueError(f"dense_layers={self.dense_layers} must not exceed layers={self.layers}")
        put("layout", self._check_layout(self.layout))

    def _check_layout(self, layout: object) -> tuple[tuple[sympy.Expr, Layer], ...]:
        if not isinstance(layout, (tuple, list)):
            raise ValueError(f"layout={layout!r} must be a sequence of (count, Layer) pairs")
        out = []
        for item in layout:
            if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[1], Layer)):
                raise ValueError(f"layout item {item!r} must be a (count, Layer) pair")
            out.append((as_count(item[0], "layout count"), item[1]))
        if out:
            total = sympy.Add(*(n for n, _ in out))
            if sympy.simplify(total - self.layers) != 0:
                raise ValueError(f"layout has {total} layers but layers={self.layers}")
            for _, layer in out:
                if layer.attention is not None and layer.attention.head_dim is None:
                    raise ValueError("every Attention of a layout needs its head_dim")
        return tuple(out)

    # ---- the layer stack ----------------------------------------------------------
    @property
    def groups(self) -> tuple[tuple[sympy.Expr, Layer], ...]:
        """The layer stack, run-length in model order: ``((count, Layer), ...)``.

        The explicit ``layout``, or the fields' uniform stack: ``layers`` identical layers (a MoE
        model's first ``dense_layers`` with a dense FFN of width ``ffn_dim``).

        >>> [(n, g.ffn.experts) for n, g in Arch(hidden=64, layers=4, heads=4, experts=8, dense_layers=1).groups]
        [(1, 1), (3, 8)]
        """
        if self.layout:
            return self.layout
        attention = Attention(
            heads=self.heads, kv_heads=self.kv_heads, head_dim=self.head_dim, window=self.window,
            qkv_bias=self.qkv_bias, out_bias=self.out_bias, rope=self.max_positions == 0,
            kv_lora_rank=self.kv_lora_rank, q_lora_rank=self.q_lora_rank, qk_nope_head_dim=self.qk_nope_head_dim,
            qk_rope_head_dim=self.qk_rope_head_dim, v_head_dim=self.v_head_dim)
        gated = self.ffn_kind == "gated"
        dense = Layer(attention, FFN(self.ffn_dim, gated, self.mlp_bias), norm=self.norm)
        if not self.is_moe:
            return ((self.layers, dense),)
        moe = Layer(attention, FFN(self.expert_ffn_dim, gated, self.mlp_bias, self.experts, self.experts_per_token,
                                   self.shared_experts), norm=self.norm)
        if self.dense_layers == 0:
            return ((self.layers, moe),)
        return ((self.dense_layers, dense), (self.layers - self.dense_layers, moe))

    def kv_cache_elements(self, tokens: Any = sym.S_c) -> sympy.Expr:
        """K and V elements (MLA: latent elements) one sequence keeps after ``tokens`` tokens, over all
        layers: a full layer keeps every token, a sliding (chunked) one at most ``W - 1`` (``C - 1``).

        >>> from symroof.symbols import S_c, W
        >>> Arch(hidden=64, layers=2, heads=4, window=W).kv_cache_elements(S_c)
        256*Min(S_c, W - 1)
        """
        return sympy.Add(*(n * kept_tokens(layer.attention, tokens) * cache_width(layer.attention)
                           for n, layer in self.groups))

    @property
    def recurrent_bytes(self) -> sympy.Expr:
        """Bytes per element of the recurrent state: ``state_bytes``, else ``kv_bytes``."""
        return self.kv_bytes if self.state_bytes is None else self.state_bytes

    def state_memory(self) -> sympy.Expr:
        """Bytes of the fixed-size state one sequence keeps (`state_elements`): each mixer's recurrent
        state at `recurrent_bytes` and its conv cache at ``kv_bytes``.

        >>> from symroof.model.layers import Layer, StateSpace
        >>> mamba2 = Layer(None, None, norms=1, mixer=StateSpace(inner=128, state=16, heads=8))
        >>> arch = Arch(hidden=64, layers=2, heads=1, layout=((2, mamba2),), state_bytes="fp32")
        >>> arch.state_memory()          # 2 layers · (128·16 · 4 bytes + 4 taps · (128 + 2·1·16) · 2 bytes)
        18944
        """
        if self.state_bytes is None:                    # one dtype: the form the costs have always had
            return self.state_elements() * self.kv_bytes
        return sympy.Add(*(n * (g.mixer.recurrent_elements * self.state_bytes
                                + g.mixer.conv_elements * self.kv_bytes)
                           for n, g in self.groups if g.mixer is not None))

    def state_elements(self) -> sympy.Expr:
        """Elements of the fixed-size state one sequence keeps, over all layers, whatever its length:
        each state-space or linear-attention mixer's recurrent state and conv cache
        (`symroof.model.statespace`); 0 for an attention-only model.

        >>> from symroof.model.layers import Layer, StateSpace
        >>> mamba = Layer(None, None, norms=1, mixer=StateSpace(inner=128, state=16, dt_rank=8))
        >>> Arch(hidden=64, layers=2, heads=1, layout=((2, mamba),)).state_elements()   # 2·(128·16 + 4·128)
        5120
        """
        return sympy.Add(*(n * (g.mixer.recurrent_elements + g.mixer.conv_elements)
                           for n, g in self.groups if g.mixer is not None))

    def bytes_of(self, name: str) -> sympy.Expr:
        """Bytes per element of the parameter ``name`` (``"embedding"``, ``"ffn/up"``, ``"bias"``):
        its entry in ``tensor_bytes``, else ``weight_bytes``.

        >>> Arch(hidden=64, layers=2, heads=4, weight_bytes="int4", tensor_bytes={"embedding": 2}).bytes_of("embedding")
        2
        """
        return dict(self.tensor_bytes).get(name, self.weight_bytes)

    # ---- derived widths -----------------------------------------------------------
    @property
    def is_mla(self) -> bool:
        """Multi-head latent attention (``kv_lora_rank`` given)."""
        if self.layout:
            return any(g.attention is not None and g.attention.is_mla for _, g in self.layout)
        return self.kv_lora_rank is not None

    @property
    def q_width(self) -> sympy.Expr:
        """Width of all query heads together, ``n_h·d_h`` (= H for GPT-style models).

        MLA: ``n_h·(qk_nope_head_dim + qk_rope_head_dim)``.
        """
        if self.is_mla:
            return self.heads * (self.qk_nope_head_dim + self.qk_rope_head_dim)
        return self.heads * self.head_dim

    @property
    def kv_width(self) -> sympy.Expr:
        """Width of one of K or V over all KV heads, ``n_kv·d_h`` (MLA: see `kv_cache_width`)."""
        return self.kv_heads * self.head_dim

    @property
    def kv_cache_width(self) -> sympy.Expr:
        """Elements cached per token and layer: K and V, ``2·n_kv·d_h``; MLA: the latent and the
        shared RoPE key, ``kv_lora_rank + qk_rope_head_dim``."""
        if self.is_mla:
            return self.kv_lora_rank + self.qk_rope_head_dim
        return 2 * self.kv_width

    @property
    def moe_layers(self) -> sympy.Expr:
        """Layers with a mixture-of-experts FFN (0 for a dense model)."""
        return sympy.Add(*(n for n, g in self.groups if g.ffn is not None and g.ffn.is_moe))

    @property
    def is_moe(self) -> bool:
        if self.layout:
            return any(g.ffn is not None and g.ffn.is_moe for _, g in self.layout)
        return self.experts != 1

    @property
    def kv_elements_per_token(self) -> sympy.Expr:
        """K and V elements cached per token over all layers: ``2·N·n_kv·d_h`` (MLA: ``N·kv_cache_width``).
        A layout with layers that have no attention (state-space mixers) counts only its attention layers."""
        if self.layout and any(g.attention is None or g.mixer is not None for _, g in self.layout):
            return sympy.Add(*(n * cache_width(g.attention) for n, g in self.layout))
        if self.is_mla:
            return self.layers * self.kv_cache_width
        return 2 * self.layers * self.kv_width

    def replace(self, **changes: Any) -> Arch:
        """A copy with some fields changed, validated again.

        Fields that were derived from others (``head_dim = hidden/heads``,
        ``kv_heads = heads``, ``ffn_dim = 4·hidden``, ``expert_ffn_dim = ffn_dim``)
        are derived again from the new values unless given. An `Arch` with an explicit ``layout``
        takes a new ``layout`` rather than changes to the fields that summarise it.
        """
        if self.layout and "layout" not in changes:
            stale = sorted(set(changes) & set(_LAYER_FIELDS))
            if stale:
                raise ValueError(f"{', '.join(stale)}: this Arch has an explicit layout; pass layout=... (its groups) "
                                 "instead")
        derived = {
            "head_dim": (self.qk_nope_head_dim + self.qk_rope_head_dim) if self.is_mla else self.hidden / self.heads,
            "kv_heads": self.heads,
            "ffn_dim": 4 * self.hidden,
            "expert_ffn_dim": self.ffn_dim,
        }
        for name, rule in derived.items():
            if name not in changes and sympy.simplify(getattr(self, name) - rule) == 0:
                changes[name] = None
        return dataclasses.replace(self, **changes)

    @classmethod
    def symbolic(cls, **overrides: Any) -> Arch:
        """The all-symbol GPT-style architecture: MHA (``n_kv = n_h``, ``d_h = H/n_h``), FFN 4H.

        Bytes per element are the symbols ``b_w``, ``b_a``, ``b_kv``; the nominal size is ``Z``.
        Pass overrides to pin some of them: ``Arch.symbolic(weight_bytes=2)``.
        """
        base: dict[str, Any] = dict(
            hidden=sym.H, layers=sym.N, heads=sym.n_h, vocab=sym.V,
            weight_bytes=sym.b_w, act_bytes=sym.b_a, kv_bytes=sym.b_kv,
            params_b=sym.Z, name="symbolic",
        )
        base.update(overrides)
        return cls(**base)


def _amount_or_dtype(value: object, name: str) -> sympy.Expr:
    """Bytes per element: a positive amount, or a dtype name (`symroof.precision.BYTES`)."""
    if isinstance(value, str):
        if value not in _precision.BYTES:
            raise ValueError(f"{name}={value!r} must be a positive number or a SymPy expression, not str, "
                             f"or a dtype name: {', '.join(_precision.DTYPES)}")
        value = _precision.BYTES[value]
    return as_amount(value, name)


def _tensor_bytes(value: object) -> tuple[tuple[str, sympy.Expr], ...]:
    """``tensor_bytes`` as sorted ``(name, bytes)`` pairs (hashable, so `Arch` stays a frozen value);
    each name one of `symroof.params.NAMES` or ``"bias"``."""
    if not isinstance(value, (Mapping, tuple, list)):
        raise ValueError(f"tensor_bytes={value!r} must map parameter names to bytes per element")
    out = {}
    for item in (value.items() if isinstance(value, Mapping) else value):
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)):
            raise ValueError(f"tensor_bytes={value!r} must map parameter names to bytes per element")
        name, nbytes = item
        choice(name, "tensor_bytes name", (*NAMES, "bias"))
        if isinstance(nbytes, str):
            nbytes = _precision.BYTES[choice(nbytes, f"tensor_bytes[{name!r}]", _precision.DTYPES)]
        out[name] = as_amount(nbytes, f"tensor_bytes[{name!r}]")
    return tuple(sorted(out.items()))


def require_arch(arch: object) -> Arch:
    """``arch`` itself if it is an `Arch`; else a ValueError naming it."""
    if not isinstance(arch, Arch):
        raise ValueError(f"arch={arch!r} must be a symroof.Arch (e.g. symroof.models.get(name))")
    return arch
