"""Helpers for the FLOP oracle: tiny Hugging Face causal LMs counted by PyTorch's ``FlopCounterMode``.

Nothing here imports torch or transformers at module level (pytest imports this
file for doctests even when the ``oracle`` extra is not installed); every
function that needs them imports them itself.

What the counter counts. ``torch.utils.flop_counter`` has formulas for a closed
list of ATen ops: ``mm``, ``addmm``, ``bmm``, ``baddbmm``, ``_scaled_mm``,
convolutions and the CUDA SDPA kernels (flash, efficient, cuDNN). Each matmul
``(m, k) @ (k, n)`` is ``2·m·k·n``; ``addmm`` is counted as its matmul only (the
bias add is free). Every other op counts 0: embedding gathers, norms, residual
adds, rotary embeddings (transformers 5.24; 5.17-5.18 build the angle table
with a ``bmm``, `rope_convention`), activation functions, softmax, the ``1/sqrt(d_h)``
scale, the MoE router's softmax/top-k and routing-weight multiply, and the CPU
SDPA kernel ``_scaled_dot_product_flash_attention_for_cpu`` (so with real CPU
tensors attention silently counts 0; under fake tensors SDPA decomposes into
``bmm`` and is counted). That is symroof's ``matmul`` preset: every linear layer,
scores and values dense over all ``S_c + S_i`` keys (masked pairs included), the
LM head at every position.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import symroof

# Under CI (.ci/run sets it) a missing or broken oracle stack fails the run instead of skipping it.
REQUIRE = "SYMROOF_REQUIRE_ORACLE"


def require(module: str) -> Any:
    """``module`` imported; skipped when it is missing, unless ``SYMROOF_REQUIRE_ORACLE`` is set.

    The versions the oracle tests are checked with are pinned in ``constraints.txt``
    (``tests/test_versions.py`` checks the pins and the installed versions agree).
    """
    import importlib

    import pytest

    if os.environ.get(REQUIRE):
        return importlib.import_module(module)      # an ImportError here fails the test
    return pytest.importorskip(module, reason=f"{module} not installed (the oracle extra); "
                               f"set {REQUIRE}=1 to make this a failure")

# ---- the configs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """A tiny model: its Hugging Face config class and keyword arguments (no downloads, no weights)."""

    name: str
    family: str                     # "llama" | "gpt2" | "mixtral"
    config: Mapping[str, Any]
    load: Mapping[str, Any] = field(default_factory=dict)   # from_config(..., **load)

    def hf_config(self) -> Any:
        import transformers

        cls = {"llama": transformers.LlamaConfig, "gpt2": transformers.GPT2Config,
               "mixtral": transformers.MixtralConfig}[self.family]
        return cls(**self.config)


MODELS = {m.name: m for m in (
    # Llama-style: GQA (4 query heads over 2 KV heads), gated FFN, untied head, RoPE, RMSNorm,
    # head_dim=24 given explicitly (≠ hidden/heads = 16, so n_h·d_h = 96 ≠ H = 64).
    Model("llama-gqa", "llama", dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                     num_attention_heads=4, num_key_value_heads=2, head_dim=24,
                                     vocab_size=1000, tie_word_embeddings=False)),
    # Llama-style MQA (one KV head), biases on q, k, v and o (attention_bias), odd vocab.
    Model("llama-mqa-bias", "llama", dict(hidden_size=128, intermediate_size=352, num_hidden_layers=2,
                                          num_attention_heads=8, num_key_value_heads=1, vocab_size=997,
                                          attention_bias=True, tie_word_embeddings=False)),
    # Llama-style MHA at hidden 256, head_dim 80 (n_h·d_h = 320 > H), eager attention.
    Model("llama-mha-eager", "llama", dict(hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                                           num_attention_heads=4, num_key_value_heads=4, head_dim=80,
                                           vocab_size=1024, tie_word_embeddings=False),
          load=dict(attn_implementation="eager")),
    # GPT-2 style: MHA, dense GELU FFN of width 4H, tied head, biases everywhere, learned positions,
    # LayerNorm. bos/eos inside the tiny vocabulary (the defaults, 50256, are not).
    Model("gpt2", "gpt2", dict(n_embd=64, n_layer=2, n_head=4, vocab_size=1000, n_positions=64,
                               bos_token_id=0, eos_token_id=0)),
    # GPT-2 style with an explicit FFN width (n_inner=200, not 4H) and 6 heads of 32.
    Model("gpt2-inner", "gpt2", dict(n_embd=192, n_layer=2, n_head=6, n_inner=200, vocab_size=1001,
                                     n_positions=128, bos_token_id=0, eos_token_id=0)),
    # Mixtral-style MoE: 4 experts, 2 active per token, GQA; batched_mm computes exactly the k
    # selected experts per token (the default path loops over experts that received tokens, which is
    # data-dependent and cannot run on fake tensors; grouped_mm's meta kernel only accepts bf16).
    Model("mixtral", "mixtral", dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                     num_attention_heads=4, num_key_value_heads=2, vocab_size=1000,
                                     num_local_experts=4, num_experts_per_tok=2, tie_word_embeddings=False),
          load=dict(experts_implementation="batched_mm")),
    # Mixtral-style with explicit head_dim 24, 8 experts, one active.
    Model("mixtral-top1", "mixtral", dict(hidden_size=128, intermediate_size=64, num_hidden_layers=2,
                                          num_attention_heads=8, num_key_value_heads=2, head_dim=24,
                                          vocab_size=1000, num_local_experts=8, num_experts_per_tok=1,
                                          tie_word_embeddings=False),
          load=dict(experts_implementation="batched_mm")),
)}


# ---- config -> symroof.Arch, written here independently of symroof.models.from_hf_config ----------------


def local_arch(config: Mapping[str, Any]) -> symroof.Arch:
    """A tiny mapping of the three families' config keys onto `symroof.Arch` fields."""
    c = dict(config)
    if c["model_type"] == "gpt2":
        inner = c.get("n_inner") or 4 * c["n_embd"]
        return symroof.Arch(hidden=c["n_embd"], layers=c["n_layer"], heads=c["n_head"], ffn_dim=inner,
                            ffn_kind="dense", vocab=c["vocab_size"], tied_embeddings=c["tie_word_embeddings"],
                            norm="layernorm", qkv_bias=True, out_bias=True, mlp_bias=True,
                            max_positions=c["n_positions"])
    moe = c["model_type"] == "mixtral"
    bias = bool(c.get("attention_bias", False))
    return symroof.Arch(
        hidden=c["hidden_size"], layers=c["num_hidden_layers"], heads=c["num_attention_heads"],
        kv_heads=c.get("num_key_value_heads"), head_dim=c.get("head_dim"), ffn_dim=c["intermediate_size"],
        ffn_kind="gated", vocab=c["vocab_size"], tied_embeddings=c["tie_word_embeddings"], norm="rmsnorm",
        qkv_bias=bias, out_bias=bias, mlp_bias=bool(c.get("mlp_bias", False)),
        experts=c["num_local_experts"] if moe else 1,
        experts_per_token=c["num_experts_per_tok"] if moe else 1,
    )


def builders() -> dict[str, Any]:
    """config -> Arch functions to check: the local mapping, and symroof's own once it exists."""
    out: dict[str, Any] = {"local": local_arch}
    from_hf = getattr(symroof.models, "from_hf_config", None)
    if from_hf is not None:
        out["symroof.models.from_hf_config"] = from_hf
    return out


# ---- building and counting ------------------------------------------------------------------------------


def build(model: Model) -> Any:
    """The model on the ``meta`` device: shapes only, no memory, no weights, no download."""
    import torch
    import transformers

    with torch.device("meta"):
        return transformers.AutoModelForCausalLM.from_config(model.hf_config(), **model.load)


def count_step(lm: Any, batch: int, new: int, cached: int) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """FLOPs of one forward pass of ``batch`` sequences, ``new`` tokens over ``cached`` ones.

    Runs under ``FakeTensorMode`` (a pure ``meta`` forward fails in transformers 5.x's mask code).
    The cache comes from an uncounted prefill of ``cached`` tokens in the same fake mode.
    Returns the counter's per-module table (module path -> {op: FLOPs}) and its global one.
    """
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.utils.flop_counter import FlopCounterMode

    with FakeTensorMode(allow_non_fake_inputs=True):
        cache = prefill_cache(lm, batch, cached)
        ids = torch.zeros(batch, new, dtype=torch.long)
        with FlopCounterMode(display=False) as counter:
            lm(input_ids=ids, use_cache=True, **{cache_arg(lm): cache})
    table = {mod: {str(op): int(n) for op, n in ops.items()} for mod, ops in counter.get_flop_counts().items()}
    return table, table.get("Global", {})


def transformers_version() -> tuple[int, int]:
    import transformers

    major, minor = transformers.__version__.split(".")[:2]
    return int(major), int(minor)


def rope_convention() -> str:
    """How the installed transformers computes the rotary angle table: 5.17 and 5.18 as a ``bmm``
    (``inv_freq_expanded @ position_ids_expanded``, which the counter sees), 5.24 elementwise."""
    return "matmul" if (5, 17) <= transformers_version() < (5, 19) else "none"


def matmul_conventions() -> symroof.Conventions:
    """The ``matmul`` preset, with the installed transformers' rotary table (`rope_convention`)."""
    return symroof.conventions.get("matmul").replace(rope=rope_convention(), name="matmul")


def cache_arg(lm: Any) -> str:
    """The forward's cache keyword: ``cache`` in transformers 5.24 (where ``past_key_values`` is
    deprecated), ``past_key_values`` before (kept so that the pins can be re-checked against 5.18)."""
    import inspect

    return "cache" if "cache" in inspect.signature(lm.forward).parameters else "past_key_values"


def prefill_cache(lm: Any, batch: int, cached: int) -> Any:
    """The model's cache object after a prefill of ``cached`` tokens (None for ``cached = 0``);
    call inside a ``FakeTensorMode``."""
    import torch

    if not cached:
        return None
    out = lm(input_ids=torch.zeros(batch, cached, dtype=torch.long), use_cache=True)
    cache = getattr(out, cache_arg(lm))
    if any(hasattr(layer, "keys") for layer in cache.layers):     # a cache of state-space layers only has no length
        assert cache.get_seq_length() == cached
    return cache


# Leaf modules (by the last one or two parts of their path) -> symroof FLOP terms they compute.
_LEAVES: dict[str, tuple[str, ...]] = {
    "self_attn.q_proj": ("attention/q",), "self_attn.k_proj": ("attention/k",),
    "self_attn.v_proj": ("attention/v",), "self_attn.o_proj": ("attention/out",),
    "attn.c_attn": ("attention/q", "attention/k", "attention/v"),     # GPT-2's fused QKV Conv1D
    "attn.c_proj": ("attention/out",),
    "mlp.gate_proj": ("ffn/gate",), "mlp.up_proj": ("ffn/up",), "mlp.down_proj": ("ffn/down",),
    "mlp.c_fc": ("ffn/up",), "mlp.c_proj": ("ffn/down",),
    "mlp.gate": ("ffn/router",),                                        # Mixtral's router
    "mlp.experts": ("ffn/gate", "ffn/up", "ffn/down"),                  # all experts, batched
    "lm_head": ("lm_head",),
    "rotary_emb": ("rope",),                                            # a bmm in transformers 5.17-5.18
}
_ATTENTION = ("self_attn", "attn")      # their own ops, net of the projections: scores and values
SCORES_AND_VALUES = ("attention/scores", "attention/values")


def by_group(table: Mapping[str, Mapping[str, int]]) -> dict[tuple[str, ...], int]:
    """The counter's per-module table, summed over layers into groups of symroof term names.

    A group is the tuple of symroof terms one module computes (GPT-2's ``c_attn`` computes q, k and v
    at once). The attention module's own FLOPs, net of its projection children, are the scores and
    values (``Q·K^T`` and ``A·V``, both ``bmm``).
    """
    out: dict[tuple[str, ...], int] = {}
    add = lambda g, n: out.__setitem__(g, out.get(g, 0) + n)
    for path, ops in table.items():
        parts = path.split(".")
        total = sum(ops.values())
        leaf = ".".join(parts[-2:])
        if leaf in _LEAVES:
            add(_LEAVES[leaf], total)
        elif parts[-1] in _LEAVES:
            add(_LEAVES[parts[-1]], total)
        elif parts[-1] in _ATTENTION:
            children = sum(sum(o.values()) for p, o in table.items() if p.startswith(path + "."))
            add(SCORES_AND_VALUES, total - children)
    return out


def fold(terms: Mapping[str, Any], groups: list[tuple[str, ...]]) -> dict[tuple[str, ...], int]:
    """symroof's FLOP terms summed into the counter's groups (a term in no group is its own group)."""
    out: dict[tuple[str, ...], int] = {}
    for name, value in terms.items():
        group = next((g for g in groups if name in g), (name,))
        out[group] = out.get(group, 0) + int(value)
    return out


def parameters(lm: Any) -> tuple[int, int]:
    """(all parameters, parameters outside the embedding tables and LM head) of the meta model.

    ``lm.parameters()`` yields a tied weight once, as the checkpoint stores it.
    """
    total = sum(p.numel() for p in lm.parameters())
    outside = ("embed_tokens", "wte", "wpe", "lm_head")
    inner = sum(p.numel() for name, p in lm.named_parameters()
                if not any(part in outside for part in name.split(".")))
    return total, inner


# ---- one family against transformers: parameters, matmul FLOPs, KV cache ----------------------------------


def cache_elements(cache: Any) -> int:
    """Elements of every key and value tensor a transformers cache holds (fake tensors have shapes), and
    of the conv and recurrent states of its linear-attention layers (``LinearAttentionCacheLayerMixin``:
    ``conv_states`` and ``recurrent_states``, dicts of state index -> tensor)."""
    total = 0
    for layer in cache.layers:
        for name in ("keys", "values"):
            tensor = getattr(layer, name, None)
            if tensor is not None and tensor.dim() > 0:
                total += tensor.numel()
        for name in ("conv_states", "recurrent_states"):
            states = getattr(layer, name, None)
            for tensor in (states.values() if isinstance(states, dict) else ()):
                if tensor is not None and tensor.dim() > 0:
                    total += tensor.numel()
    return total


def check_family(model_type: str, config: Mapping[str, Any], *, load: Mapping[str, Any] | None = None,
                 batch: int = 2, prompt: int = 11, new: tuple[int, ...] = (1, 3)) -> symroof.Arch:
    """Assert that symroof reads a tiny ``model_type`` model exactly as transformers builds it.

    The model is built by transformers from ``config`` on the meta device; symroof reads the same
    keys twice, as a user's file (``{"model_type": ..., **config}``, where symroof applies the
    family's defaults and layer rules itself) and as transformers writes it back
    (``to_dict()``, with its resolved ``layer_types``). Checked: the parameter count against
    ``numel()``; the ``matmul`` conventions' FLOPs for a prefill of ``prompt`` tokens and for a
    step of each of ``new`` tokens over it against ``FlopCounterMode``; and the K/V elements the
    cache holds after the prefill against ``Arch.kv_cache_elements`` (choose ``prompt`` longer than
    the windows). Returns symroof's `Arch` (from the user's file).
    """
    torch = require("torch")
    transformers = require("transformers")
    from torch._subclasses.fake_tensor import FakeTensorMode

    hf = transformers.AutoConfig.for_model(model_type, **config)
    with torch.device("meta"):
        lm = transformers.AutoModelForCausalLM.from_config(hf, **dict(load or {}))
    given = symroof.models.from_hf_config({"model_type": model_type, **config})
    written = symroof.models.from_hf_config(hf.to_dict())
    numel = sum(p.numel() for p in lm.parameters())
    for arch in (given, written):
        assert symroof.total_parameters(arch) == numel, (symroof.total_parameters(arch), numel)
    conv = matmul_conventions()
    for cached, step in [(0, prompt), *((prompt, n) for n in new)]:
        _, ops = count_step(lm, batch, step, cached)
        for arch in (given, written):
            ours = symroof.step(arch, conv, B=batch, S_i=step, S_c=cached).flops
            assert ours == sum(ops.values()), (cached, step, ours, sum(ops.values()), ops)
    with FakeTensorMode(allow_non_fake_inputs=True):
        held = cache_elements(prefill_cache(lm, batch, prompt))
    for arch in (given, written):
        ours = batch * (arch.kv_cache_elements(prompt) + arch.state_elements())
        assert ours == held, (ours, held)
    return given


def cache_bytes(cache: Any) -> int:
    """Bytes of the tensors `cache_elements` counts, each at its own dtype (fake tensors have dtypes)."""
    total = 0
    for layer in cache.layers:
        tensors = [getattr(layer, name, None) for name in ("keys", "values")]
        for name in ("conv_states", "recurrent_states"):
            states = getattr(layer, name, None)
            tensors += list(states.values()) if isinstance(states, dict) else []
        total += sum(t.numel() * t.element_size() for t in tensors if t is not None and t.dim() > 0)
    return total


def check_memory(model_type: str, config: Mapping[str, Any], *, load: Mapping[str, Any] | None = None,
                 batch: int = 2, prompt: int = 11) -> symroof.Arch:
    """Assert that symroof's bytes are the bytes transformers holds, for a bf16 model: every parameter
    at its own dtype (``numel · element_size``, a router kept in fp32 included) against
    `symroof.model.params.weight_bytes`, and the cache after a prefill of ``prompt`` tokens (K, V,
    conv and recurrent states, each at its dtype) against ``B · (kv_cache_elements · b_kv +
    Arch.state_memory())``. Returns symroof's `Arch` (read with ``torch_dtype: bfloat16``)."""
    torch = require("torch")
    transformers = require("transformers")
    from torch._subclasses.fake_tensor import FakeTensorMode

    from symroof.model.params import weight_bytes

    hf = transformers.AutoConfig.for_model(model_type, **config)
    with torch.device("meta"):
        lm = transformers.AutoModelForCausalLM.from_config(hf, dtype=torch.bfloat16, **dict(load or {}))
    arch = symroof.models.from_hf_config({"model_type": model_type, **config, "torch_dtype": "bfloat16"})
    held = sum(p.numel() * p.element_size() for p in lm.parameters())
    assert weight_bytes(arch) == held, (weight_bytes(arch), held)
    with FakeTensorMode(allow_non_fake_inputs=True):
        cache = cache_bytes(prefill_cache(lm, batch, prompt))
    ours = batch * (arch.kv_cache_elements(prompt) * arch.kv_bytes + arch.state_memory())
    assert ours == cache, (ours, cache)
    return arch
