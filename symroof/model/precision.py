"""Named dtypes: bytes per element, group-quantisation overhead, and the matching peak FLOP/s.

``BYTES`` maps a dtype name to its storage size in bytes, exactly (int4 is
``1/2``). A group-quantised tensor also stores one scale (and optionally one
zero point) per ``group_size`` elements, so its bytes per element are
``BYTES[dtype] + (BYTES[scale] + BYTES[zero]) / group_size``: int4 with groups
of 128 and an fp16 scale costs ``1/2 + 2/128 = 33/64`` bytes per weight.

`Precision` names the dtypes of a deployment's weights, activations and KV
cache; ``apply(arch)`` sets the architecture's bytes per element and
``hardware(hw)`` picks the peak FLOP/s of the dtype the matmuls run in.

Examples
--------
>>> BYTES["int4"], BYTES["bf16"]
(1/2, 2)
>>> bytes_per_element("int4", group_size=128, scale="fp16")
33/64
>>> w4a16 = Precision(weights="int4", activations="bf16", kv="fp8", group_size=128)
>>> w4a16.weight_bytes, w4a16.kv_bytes, w4a16.compute_dtype
(33/64, 1, 'bf16')
>>> Precision(weights="fp8", activations="fp8").compute_dtype
'fp8'
>>> bytes_per_element("int3")
Traceback (most recent call last):
...
ValueError: dtype='int3' is not allowed; choose one of 'fp32', 'tf32', 'bf16', 'fp16', 'fp8', 'int8', 'int4', 'fp4'
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy

from symroof import hardware as _hardware
from symroof._values import as_amount, as_count, choice
from symroof.hardware import Hardware
from symroof.model import params as _params
from symroof.model.arch import Arch
from symroof.model.dtypes import BYTES, DTYPES, bytes_per_element
from symroof.model.layers import matrices

__all__ = ["BYTES", "DTYPES", "HF_MODULES", "Layout", "Precision", "Quantization", "bytes_per_element", "ignored",
           "linear_shapes"]



@dataclass(frozen=True)
class Precision:
    """The dtypes of a deployment: ``weights`` (optionally group-quantised), ``activations``, ``kv``.

    ``compute`` is the dtype the matmuls run in: by default the wider of the
    weights' and the activations' dtypes (weight-only quantisation, e.g. W4A16,
    dequantises to the activations' dtype and runs bf16 tensor cores; W8A8 in
    fp8 runs fp8 tensor cores). On a tie of width, the activations' dtype.
    """

    weights: str = "bf16"
    activations: str = "bf16"
    kv: str = "bf16"
    group_size: Any = None        # weights: elements per quantisation group (None: no per-group scales)
    scale: str = "fp16"           # dtype of one group's scale
    zero: str | None = None       # dtype of one group's zero point (asymmetric quantisation), or None
    compute: str | None = None    # override the dtype of the matmuls

    def __post_init__(self) -> None:
        for name in ("weights", "activations", "kv", "scale"):
            choice(getattr(self, name), name, DTYPES)
        if self.zero is not None:
            choice(self.zero, "zero", DTYPES)
        if self.compute is not None:
            choice(self.compute, "compute", DTYPES)
        if self.group_size is not None:
            object.__setattr__(self, "group_size", as_count(self.group_size, "group_size"))

    @property
    def weight_bytes(self) -> sympy.Expr:
        return bytes_per_element(self.weights, group_size=self.group_size, scale=self.scale, zero=self.zero)

    @property
    def act_bytes(self) -> sympy.Expr:
        return BYTES[self.activations]

    @property
    def kv_bytes(self) -> sympy.Expr:
        return BYTES[self.kv]

    @property
    def compute_dtype(self) -> str:
        """The dtype whose peak FLOP/s applies (see the class docstring)."""
        if self.compute is not None:
            return self.compute
        return self.weights if BYTES[self.weights] > BYTES[self.activations] else self.activations

    def apply(self, arch: Arch) -> Arch:
        """``arch`` with its bytes per element of weights (all of them, dropping any per-tensor
        bytes), activations and KV cache set from these dtypes."""
        return arch.replace(weight_bytes=self.weight_bytes, act_bytes=self.act_bytes, kv_bytes=self.kv_bytes,
                            tensor_bytes=())

    def hardware(self, hw: Hardware | str) -> Hardware:
        """``hw`` at the peak of ``compute_dtype``; a clear ``ValueError`` if the part has no such peak."""
        part = _hardware.get(hw) if isinstance(hw, str) else hw
        if self.compute_dtype not in part.peak_flops_per_s:
            known = ", ".join(part.peak_flops_per_s)
            raise ValueError(f"{part.name} has no peak FLOP/s for compute dtype {self.compute_dtype!r}; "
                             f"known: {known}")
        return part.with_dtype(self.compute_dtype)


# ---- quantised checkpoints -------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """How a quantised checkpoint stores one linear weight of ``in_features -> out_features``.

    A matrix of ``in·out`` elements takes ``in·out·bits/8`` bytes, plus:

    * ``group_size``: one scale (``scale_bytes``) and zero point (``zero_bytes``) per
      ``group_size`` consecutive input features of each output row, ``out·ceil(in/g)`` of
      each (``-1``: one per row, as GPTQ writes it);
    * ``padded_groups``: ``(word, multiple)``: each row's group count rounded up to whole
      words of ``word`` groups, and the words to a multiple of ``multiple`` (AutoAWQ's
      ``WQLinear_GEMV``, whose int32 ``qzeros`` hold eight 4-bit zeros per word);
    * ``block``: one scale per ``(rows, cols)`` block, ``ceil(out/rows)·ceil(in/cols)``;
    * ``flat``: ``(elements, bytes)`` pairs, one value of ``bytes`` per ``elements`` of the
      flattened matrix (bitsandbytes' absmax per 64 weights);
    * ``per_input``, ``per_output``, ``per_tensor``: bytes per input feature (GPTQ's
      ``g_idx``), per output feature (bitsandbytes int8's row scale) and per matrix.

    >>> gptq = Layout("gptq", bits=4, group_size=128, scale_bytes=2, zero_bytes=sympy.Rational(1, 2), per_input=4)
    >>> gptq.matrix_bytes(256, 64)     # 256·64/2 + 64·2·(2 + 1/2) + 256·4: qweight, scales+qzeros, g_idx
    9536
    >>> gptq.bytes_per_element(256, 64)
    149/256
    """

    name: str
    bits: Any
    group_size: Any = None
    block: tuple[int, int] | None = None
    scale_bytes: Any = 2
    zero_bytes: Any = 0
    flat: tuple[tuple[int, Any], ...] = ()
    per_input: Any = 0
    per_output: Any = 0
    per_tensor: Any = 0
    padded_groups: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        # every field by its rule (`symroof._values`): text is refused, never parsed; a size is
        # positive (a zero point or per-feature metadata may be absent: zero), finite, exact
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Layout name={_shown(self.name)} must be a non-empty string")
        put = lambda field, value: object.__setattr__(self, field, value)
        put("bits", as_count(self.bits, "Layout bits"))
        if self.group_size is not None:
            if isinstance(self.group_size, int) and not isinstance(self.group_size, bool) and self.group_size == -1:
                put("group_size", sympy.Integer(-1))
            else:
                put("group_size", as_count(self.group_size, "Layout group_size (or -1: one group per row)"))
        if self.block is not None:
            if not isinstance(self.block, (tuple, list)) or len(self.block) != 2:
                raise ValueError(f"Layout block={_shown(self.block)} must be two positive integers (rows, cols)")
            put("block", (as_count(self.block[0], "Layout block rows"), as_count(self.block[1], "Layout block cols")))
        if self.padded_groups is not None:
            if (not isinstance(self.padded_groups, (tuple, list)) or len(self.padded_groups) != 2
                    or self.group_size is None):
                raise ValueError(f"Layout padded_groups={_shown(self.padded_groups)} must be two positive "
                                 "integers (groups per word, words' multiple), with a group_size")
            put("padded_groups", (as_count(self.padded_groups[0], "Layout padded_groups word"),
                                  as_count(self.padded_groups[1], "Layout padded_groups multiple")))
        put("scale_bytes", as_amount(self.scale_bytes, "Layout scale_bytes"))
        put("zero_bytes", as_amount(self.zero_bytes, "Layout zero_bytes", allow_zero=True))
        if not isinstance(self.flat, (tuple, list)) or not all(
                isinstance(pair, (tuple, list)) and len(pair) == 2 for pair in self.flat):
            raise ValueError(f"Layout flat={_shown(self.flat)} must be (elements, bytes) pairs")
        put("flat", tuple((as_count(e, "Layout flat elements"), as_amount(b, "Layout flat bytes"))
                          for e, b in self.flat))
        for field in ("per_input", "per_output", "per_tensor"):
            put(field, as_amount(getattr(self, field), f"Layout {field}", allow_zero=True))

    def matrix_bytes(self, in_features: Any, out_features: Any) -> sympy.Expr:
        """Bytes the checkpoint stores for one ``in_features -> out_features`` weight, exactly."""
        n_in, n_out = as_count(in_features, "in_features"), as_count(out_features, "out_features")
        total = n_in * n_out * self.bits / 8
        if self.group_size is not None:
            groups = 1 if self.group_size == -1 else sympy.ceiling(n_in / self.group_size)
            if self.padded_groups is not None:
                word, multiple = self.padded_groups
                words = sympy.ceiling(sympy.ceiling(sympy.floor(n_in / self.group_size) / word) / multiple) * multiple
                groups = words * word
            total += n_out * groups * (self.scale_bytes + self.zero_bytes)
        if self.block is not None:
            rows, cols = self.block
            total += sympy.ceiling(n_out / rows) * sympy.ceiling(n_in / cols) * self.scale_bytes
        for elements, nbytes in self.flat:
            total += sympy.ceiling(n_in * n_out / elements) * nbytes
        return total + n_in * self.per_input + n_out * self.per_output + self.per_tensor

    def bytes_per_element(self, in_features: Any, out_features: Any) -> sympy.Expr:
        """`matrix_bytes` per weight element, an exact rational."""
        n_in, n_out = as_count(in_features, "in_features"), as_count(out_features, "out_features")
        return self.matrix_bytes(n_in, n_out) / (n_in * n_out)


def linear_shapes(arch: Arch) -> dict[str, tuple[sympy.Expr, sympy.Expr]]:
    """``(in_features, out_features)`` of each per-layer linear weight, by `symroof.params` name.

    A MoE layer's experts have width ``expert_ffn_dim`` (a DeepSeek model's leading dense
    layers share the names ``ffn/*``; their width ``ffn_dim`` is not listed).

    >>> from symroof.model.arch import Arch
    >>> linear_shapes(Arch(hidden=64, layers=1, heads=4, kv_heads=2, ffn_dim=96, ffn_kind="gated"))["attention/k"]
    (64, 32)
    """
    groups = sorted(arch.groups, key=lambda g: bool(g[1].ffn is not None and g[1].ffn.is_moe))
    out: dict[str, tuple[sympy.Expr, sympy.Expr]] = {}
    for _, layer in groups:                    # the MoE layers' shapes win over the dense ones'
        for m in matrices(layer, arch.hidden):
            if m.name != "ffn/router" and m.use != "shared":
                out[m.name] = (m.rows, m.cols)
    return out


# Hugging Face module names of each symroof tensor, as the families of `symroof.hf` name them
# (Llama-style, Mixtral's block_sparse_moe, DeepSeek's MLA, GPT-2, GPT-NeoX). An ignore pattern
# that matches any of them leaves the tensor unquantised.
_LAYER = "model.layers.0."
HF_MODULES: dict[str, tuple[str, ...]] = {
    "attention/q": (_LAYER + "self_attn.q_proj", "transformer.h.0.attn.c_attn",
                    "gpt_neox.layers.0.attention.query_key_value"),
    "attention/k": (_LAYER + "self_attn.k_proj", "transformer.h.0.attn.c_attn",
                    "gpt_neox.layers.0.attention.query_key_value"),
    "attention/v": (_LAYER + "self_attn.v_proj", "transformer.h.0.attn.c_attn",
                    "gpt_neox.layers.0.attention.query_key_value"),
    "attention/out": (_LAYER + "self_attn.o_proj", "transformer.h.0.attn.c_proj",
                      "gpt_neox.layers.0.attention.dense"),
    "attention/q_down": (_LAYER + "self_attn.q_a_proj",),
    "attention/q_up": (_LAYER + "self_attn.q_b_proj",),
    "attention/kv_down": (_LAYER + "self_attn.kv_a_proj_with_mqa",),
    "attention/kv_up": (_LAYER + "self_attn.kv_b_proj",),
    "ffn/gate": (_LAYER + "mlp.gate_proj", _LAYER + "mlp.experts.0.gate_proj",
                 _LAYER + "mlp.shared_experts.gate_proj", _LAYER + "block_sparse_moe.experts.0.w1"),
    "ffn/up": (_LAYER + "mlp.up_proj", _LAYER + "mlp.experts.0.up_proj", _LAYER + "mlp.shared_experts.up_proj",
               _LAYER + "block_sparse_moe.experts.0.w3", "transformer.h.0.mlp.c_fc",
               "gpt_neox.layers.0.mlp.dense_h_to_4h"),
    "ffn/down": (_LAYER + "mlp.down_proj", _LAYER + "mlp.experts.0.down_proj",
                 _LAYER + "mlp.shared_experts.down_proj", _LAYER + "block_sparse_moe.experts.0.w2",
                 "transformer.h.0.mlp.c_proj", "gpt_neox.layers.0.mlp.dense_4h_to_h"),
    "lm_head": ("lm_head", "embed_out"),
}


def ignored(name: str, patterns: tuple[str, ...]) -> bool:
    """Whether an ignore list (``modules_to_not_convert``, compressed-tensors' ``ignore``) names
    symroof tensor ``name``: a pattern matches a module name from its start up to a module
    boundary, or as a regex with ``re:`` (compressed-tensors), or as a suffix (the rule of
    ``transformers.quantizers.quantizers_utils.should_convert_module``).

    Patterns come from downloaded files, so they are matched in linear time (`module_pattern`):
    never by a backtracking engine, which a 60-byte pattern can keep busy for hours.

    >>> ignored("ffn/gate", ("gate",)), ignored("ffn/gate", ("re:.*mlp.gate$",)), ignored("lm_head", ("lm_head",))
    (False, False, True)
    >>> ignored("lm_head", ("re:(a+)+$",))
    False
    """
    if isinstance(patterns, str) or not all(isinstance(p, str) for p in patterns):
        raise ValueError(f"ignore patterns {_shown(patterns)} must be a tuple of strings")
    for pattern in patterns:
        matcher = module_pattern(pattern)
        for module in HF_MODULES.get(name, ()):
            if matcher(module) or (not pattern.startswith("re:") and module.endswith(pattern)):
                return True
    return False


MAX_PATTERN = 1000          # characters of one ignore pattern
_METACHARACTERS = set("\\^$*+?{}[]()|")


def module_pattern(pattern: str) -> Callable[[str], bool]:
    r"""A linear-time test of whether ``pattern`` (a regex; ``re:`` prefix dropped) matches a module
    name from its start up to a module boundary (a ``.``, or the end).

    google-re2 (a dependency of symroof) matches any pattern RE2 accepts; a backreference or a
    look-around is refused with one line. Without it (an install that left it out), only literal
    module names match and any other pattern is refused, naming the package.

    >>> module_pattern(r"re:model.layers.\d+.mlp")("model.layers.0.mlp.up_proj")
    True
    >>> module_pattern("re:(a)\\1")("aa")
    Traceback (most recent call last):
    ...
    ValueError: quantization_config: ignore pattern 're:(a)\\1' is not a valid regex in RE2's syntax ...: \1
    """
    if not isinstance(pattern, str):
        raise ValueError(f"quantization_config: ignore pattern {_shown(pattern)} must be a string")
    return _module_pattern(pattern)


@functools.lru_cache(maxsize=1024)
def _module_pattern(pattern: str) -> Callable[[str], bool]:
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"quantization_config: ignore pattern {_shown(pattern)} is {len(pattern)} characters; "
                         f"at most {MAX_PATTERN} are matched")
    regex = pattern.removeprefix("re:")
    full = _compile_linear(regex, pattern)

    def matches(module: str) -> bool:
        # a prefix ending at a boundary: just after a '.', just before one, or the whole name
        ends = [i for i in range(len(module) + 1)
                if i == len(module) or module[i] == "." or (i > 0 and module[i - 1] == ".")]
        return any(full(module[:i]) for i in ends)

    return matches


def _compile_linear(regex: str, pattern: str) -> Any:
    """``regex`` as a whole-string test in linear time: RE2, or without it a literal name only."""
    try:
        import re2
    except ImportError:
        if any(ch in _METACHARACTERS for ch in regex.replace(".", "")):
            raise ValueError(f"quantization_config: ignore pattern {_shown(pattern)} is a regex, which symroof "
                             "matches only with google-re2 installed (pip install google-re2)") from None
        return lambda text: text == regex           # a module name, its dots taken literally
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 8 << 20            # bounds the automaton: a pattern too large is refused
    try:
        compiled = re2.compile(regex, options)
    except re2.error as err:
        reason = err.args[0].decode("utf-8", "replace") if err.args and isinstance(err.args[0], bytes) else str(err)
        raise ValueError(f"quantization_config: ignore pattern {_shown(pattern)} is not a valid regex in RE2's "
                         f"syntax (matched in linear time): {' '.join(reason.split())}") from None
    return lambda text: compiled.fullmatch(text) is not None


def _shown(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass(frozen=True)
class Quantization:
    """A checkpoint's quantisation: the ``layout`` of its quantised matrices, which ones are
    quantised (every per-layer linear ``only`` names, all of them if ``only`` is None, but
    none ``skip`` names; and the LM head if ``lm_head``), and the compute dtype everything
    else stays in. ``skip`` and ``only`` hold module-name patterns (`ignored`).

    ``apply(arch)`` gives each tensor its own bytes per element (`Arch.tensor_bytes`): the
    quantised matrices ``layout.bytes_per_element(in, out)`` of their own shape; embeddings,
    norms, biases, the MoE router and skipped matrices the compute dtype. ``weight_bytes``
    becomes the checkpoint's average, total bytes / total parameters, so that
    ``b_w · P`` (the ``nominal`` weights, `symroof.timing.kv_capacity`) is its size.
    Activations and KV cache stay at the compute dtype.
    """

    method: str
    layout: Layout
    compute: str = "bf16"
    skip: tuple[str, ...] = ()
    lm_head: bool = False
    detail: str = ""       # the layout in words, with its source
    only: tuple[str, ...] | None = None    # GPTQ's modules_in_block_to_quantize

    def __post_init__(self) -> None:
        choice(self.compute, "compute", DTYPES)
        if not isinstance(self.method, str) or not self.method:
            raise ValueError(f"Quantization method={_shown(self.method)} must be a non-empty string")
        if not isinstance(self.layout, Layout):
            raise ValueError(f"Quantization layout={_shown(self.layout)} must be a Layout")
        if not isinstance(self.lm_head, bool):
            raise ValueError(f"Quantization lm_head={_shown(self.lm_head)} must be True or False")
        if not isinstance(self.detail, str):
            raise ValueError(f"Quantization detail={_shown(self.detail)} must be a string")
        for field in ("skip", "only"):
            patterns = getattr(self, field)
            if patterns is None and field == "only":
                continue
            if isinstance(patterns, str) or not isinstance(patterns, (tuple, list)) or not all(
                    isinstance(p, str) for p in patterns):
                raise ValueError(f"Quantization {field}={_shown(patterns)} must be a tuple of module-name patterns")
            object.__setattr__(self, field, tuple(patterns))
            for p in patterns:
                module_pattern(p)            # refuse what cannot be matched in linear time, now

    def describe(self) -> str:
        """One line: the method, its layout, and what stays at the compute dtype."""
        kept = "embeddings, norms, biases, router" + ("" if self.lm_head else ", lm_head")
        skipped = f"; not converted: {', '.join(self.skip)}" if self.skip else ""
        listed = f"; converted in each layer only: {', '.join(self.only)}" if self.only is not None else ""
        return f"{self.method} ({self.detail}); {kept} at {self.compute}{skipped}{listed}"

    def quantized(self, arch: Arch) -> dict[str, tuple[sympy.Expr, sympy.Expr]]:
        """The quantised matrices of ``arch`` and their ``(in, out)`` shapes."""
        shapes = {n: s for n, s in linear_shapes(arch).items()
                  if (self.only is None or ignored(n, self.only)) and not ignored(n, self.skip)}
        if self.lm_head and not arch.tied_embeddings and not ignored("lm_head", self.skip):
            shapes["lm_head"] = (arch.hidden, arch.vocab)
        return shapes

    def apply(self, arch: Arch) -> Arch:
        """``arch`` with per-tensor bytes for this checkpoint (see the class docstring)."""
        compute = BYTES[self.compute]
        per_tensor: dict[str, Any] = {n: compute for n in _UNQUANTIZED}
        per_tensor.update({n: compute for n in linear_shapes(arch)})
        if not arch.tied_embeddings:
            per_tensor["lm_head"] = compute
        per_tensor.update({n: self.layout.bytes_per_element(*shape) for n, shape in self.quantized(arch).items()})
        exact = arch.replace(tensor_bytes=per_tensor, act_bytes=compute, kv_bytes=compute)
        return exact.replace(weight_bytes=_params.weight_bytes(exact) / _params.total_parameters(exact))


# tensors no quantiser converts: embeddings (a gather, not a Linear), norms, the MoE router
# (DeepSeek's is no nn.Linear; AutoGPTQ/AutoAWQ leave Mixtral's gate out), and every bias.
_UNQUANTIZED = ("embedding", "positions", "norm", "final_norm", "ffn/router", "attention/sinks", "bias")
