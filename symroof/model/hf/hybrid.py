"""State-space and hybrid families: ``mamba``, ``falcon_mamba``, ``mamba2``, ``jamba``, ``qwen3_next``,
``granitemoehybrid``, ``falcon_h1``, ``nemotron_h``, read as transformers 5.24 builds them (each family's
``modeling_*.py``).

Each family has its own reader (`Family.read`): it builds one `Layer` per layer, with a state-space
or linear-attention mixer (`symroof.model.statespace`) where transformers puts one, and the
model-level fields that `symroof.model.arch.Arch` needs (a Mamba model, with no attention, gets
``heads=1`` as a placeholder; its layout has no attention layer).

* ``mamba`` / ``falcon_mamba``: every layer a Mamba mixer and one RMSNorm, no FFN
  (``intermediate_size = expand·hidden_size``, ``time_step_rank`` ``"auto"`` = ``ceil(H/16)``;
  Falcon-Mamba's RMSNorms of B, C and dt have no weights);
* ``mamba2``: every layer a Mamba2 mixer (``num_heads`` of ``head_dim``, ``n_groups``);
* ``jamba``: attention where ``i % attn_layer_period == attn_layer_offset``, a Mamba mixer (with
  RMSNorms of dt, B and C) elsewhere; MoE where ``i % expert_layer_period == expert_layer_offset``,
  a gated MLP elsewhere;
* ``qwen3_next``: ``layer_types`` (or one full-attention layer every ``full_attention_interval``)
  with Gated DeltaNet elsewhere; gated attention (q_proj doubled for the output gate) with q/k
  norms; MoE with a gated shared expert, dense MLPs in ``mlp_only_layers``;
* ``granitemoehybrid``: ``layer_types`` (``mamba``/``attention``) with Mamba2 mixers; every layer a
  MoE with a shared gated MLP of ``shared_intermediate_size`` (only the shared MLP with
  ``num_local_experts = 0``);
* ``falcon_h1``: every layer attention and a Mamba2 mixer side by side on one RMSNorm's output (both
  set in one `Layer`), then a gated MLP after a second RMSNorm; the Mamba width ``mamba_d_ssm``
  (absent: 1024; null: ``mamba_expand·H``) in ``mamba_n_heads`` of ``mamba_d_head`` (``"auto"``: the
  width over the heads); in_proj biased by ``mamba_proj_bias``, out_proj by ``projectors_bias``; the
  gated RMSNorm only with ``mamba_rms_norm``; attention ``head_dim`` given or ``H/n_h``; the µP
  multipliers change no count;
* ``nemotron_h``: one RMSNorm and one block per layer, from ``layers_block_type`` (or ``layer_types``;
  legacy ``mamba``/``attention`` remapped), else ``hybrid_override_pattern`` (``M`` Mamba2, ``*``
  attention, ``-`` MLP, ``E`` MoE), else the class's ``M E * -``; the number of layers is the pattern's
  length. Mamba2 of ``mamba_num_heads·mamba_head_dim`` (``expand`` unused), biased by ``use_bias``;
  attention without RoPE or biases; a ReLU² MLP (up, down); MoE of ``n_routed_experts`` ReLU² experts
  and one shared of ``moe_shared_expert_intermediate_size``, the router kept in fp32
  (``tensor_bytes``); the LM head never tied. ``moe_latent_size`` and biased MoE MLPs are refused.

The recurrent state (`symroof.model.arch.Arch.state_bytes`): transformers 5.24's torch path keeps it in
fp32 for every family here (its scans compute the state in fp32; the conv cache stays at the model's
dtype). Every reader sets it so (4 bytes), except ``nemotron_h``, which reads ``mamba_ssm_cache_dtype``
(default ``float32``; ``"auto"``: the KV dtype), the dtype a serving engine keeps it in.
"""

from __future__ import annotations

import math
from typing import Any

from symroof.model.hf.config import Config, dtype_name
from symroof.model.hf.families import Family, Reading, register
from symroof.model.layers import FFN, Attention, Layer, LinearAttention, StateSpace
from symroof.model.precision import BYTES

__all__: list[str] = []


def _bias(cfg: Config, key: str, default: bool) -> bool:
    return cfg.flag(key, default)


def _dt_rank(cfg: Config, key: str, hidden: int) -> int:
    _, value = cfg.get(key, default="auto")
    if value == "auto":
        return math.ceil(hidden / 16)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"config.json: {key}={value!r} must be a positive integer or \"auto\"")
    return value


def _fields(cfg: Config, hidden: int, layers: int, tied: bool, **extra: Any) -> dict[str, Any]:
    """Arch's model-level fields; the layer fields only summarise the layout."""
    out: dict[str, Any] = dict(hidden=hidden, layers=layers, heads=1, head_dim=hidden, ffn_kind="gated",
                               vocab=cfg.count("vocab_size"), tied_embeddings=cfg.flag("tie_word_embeddings", tied),
                               norm="rmsnorm")
    out.update(extra)
    return out


def _kinds(cfg: Config, layers: int, ssm: tuple[str, ...], attention: tuple[str, ...]) -> list[bool] | None:
    """``layer_types`` as a list of flags (True: attention), or None if absent."""
    given = cfg.data.get("layer_types")
    if given is None:
        return None
    known = (*ssm, *attention)
    if not (isinstance(given, list) and len(given) == layers and all(k in known for k in given)):
        raise ValueError(f"config.json: layer_types={given!r} must list {layers} of {', '.join(known)}")
    return [k in attention for k in given]


def _attention(cfg: Config, hidden: int, *, kv_absent: int | None = None, head_dim_absent: int | None = None,
               **extra: Any) -> Attention:
    """The family's attention; ``kv_absent`` / ``head_dim_absent``: the config class's defaults of
    ``num_key_value_heads`` / ``head_dim`` when the key is left out (None: all heads / ``hidden / heads``);
    a null key is all heads / ``hidden / heads``."""
    heads = cfg.count("num_attention_heads")
    kv = _kv_heads(cfg, heads, heads if kv_absent is None else kv_absent)
    head_dim = cfg.count("head_dim", default=None)
    if "head_dim" not in cfg.data and head_dim_absent is not None:
        head_dim = head_dim_absent
    if head_dim is None:
        if hidden % heads:
            raise ValueError(f"config.json: num_attention_heads={heads} must divide hidden_size={hidden}")
        head_dim = hidden // heads
    if heads % kv:
        raise ValueError(f"config.json: num_key_value_heads={kv} must divide num_attention_heads={heads}")
    return Attention(heads=heads, kv_heads=kv, head_dim=head_dim, **extra)


def _attention_fields(a: Attention | None) -> dict[str, Any]:
    if a is None:
        return {}
    return dict(heads=a.heads, kv_heads=a.kv_heads, head_dim=a.head_dim)


def _read_mamba(cfg: Config, model_type: str, fam: Family) -> Reading:
    hidden = cfg.count("hidden_size")
    layers = cfg.count("num_hidden_layers")
    expand = cfg.count("expand", default=2)
    mixer = StateSpace(inner=expand * hidden, state=cfg.count("state_size", default=16),
                       conv=cfg.count("conv_kernel", default=4), dt_rank=_dt_rank(cfg, "time_step_rank", hidden),
                       conv_bias=_bias(cfg, "use_conv_bias", True), bias=_bias(cfg, "use_bias", False))
    layer = Layer(None, None, norms=1, mixer=mixer)
    return Reading(_fields(cfg, hidden, layers, True, state_bytes=4), [layer] * layers, [])


def _mamba2(cfg: Config, hidden: int, *, keys: dict[str, str] | None = None, groups: int = 8,
            state: int = 128, inner: int | None = None, width: str = "", **extra: Any) -> StateSpace:
    """A Mamba2 mixer from Mamba2Config's keys (or another family's ``keys``, with its defaults);
    ``inner``: the family's own Mamba width (``width`` names it in errors), else ``expand·hidden``;
    ``extra``: further `StateSpace` fields."""
    k = {"heads": "num_heads", "head_dim": "head_dim", "state": "state_size", "groups": "n_groups",
         "conv": "conv_kernel", "expand": "expand", "chunk": "chunk_size", "conv_bias": "use_conv_bias",
         "bias": "use_bias", **(keys or {})}
    if inner is None:
        inner = cfg.count(k["expand"], default=2) * hidden
        width = f"{k['expand']}·hidden_size = {inner}"
    heads = cfg.count(k["heads"], default=128)
    _, head_dim = cfg.get(k["head_dim"], default="auto")
    if head_dim == "auto":
        head_dim = inner // heads
    if isinstance(head_dim, bool) or not isinstance(head_dim, int) or head_dim < 1:
        raise ValueError(f"config.json: {k['head_dim']}={head_dim!r} must be a positive integer or \"auto\"")
    if heads * head_dim != inner:
        raise ValueError(f"config.json: {k['heads']}={heads} × {k['head_dim']}={head_dim} must equal {width}")
    groups = cfg.count(k["groups"], default=groups)
    if heads % groups:
        raise ValueError(f"config.json: {k['groups']}={groups} must divide {k['heads']}={heads}")
    return StateSpace(inner=inner, state=cfg.count(k["state"], default=state), conv=cfg.count(k["conv"], default=4),
                      heads=heads, groups=groups, chunk=cfg.count(k["chunk"], default=256),
                      conv_bias=_bias(cfg, k["conv_bias"], True), bias=_bias(cfg, k["bias"], False), **extra)


def _read_mamba2(cfg: Config, model_type: str, fam: Family) -> Reading:
    hidden = cfg.count("hidden_size")
    layers = cfg.count("num_hidden_layers")
    layer = Layer(None, None, norms=1, mixer=_mamba2(cfg, hidden))
    return Reading(_fields(cfg, hidden, layers, False, state_bytes=4), [layer] * layers, [])


def _read_jamba(cfg: Config, model_type: str, fam: Family) -> Reading:
    hidden = cfg.count("hidden_size")
    layers = cfg.count("num_hidden_layers")
    width = cfg.count("intermediate_size")
    a_period = cfg.count("attn_layer_period", default=8)
    a_offset = cfg.count("attn_layer_offset", default=4, zero=True)
    e_period = cfg.count("expert_layer_period", default=2)
    e_offset = cfg.count("expert_layer_offset", default=1, zero=True)
    experts = cfg.count("num_experts", default=16)
    per_token = cfg.count("num_experts_per_tok", default=2)
    if per_token > experts:
        raise ValueError(f"config.json: num_experts_per_tok={per_token} must not exceed num_experts={experts}")
    attention = _attention(cfg, hidden, kv_absent=8)                # JambaConfig: num_key_value_heads 8
    mixer = StateSpace(inner=cfg.count("mamba_expand", default=2) * hidden,
                       state=cfg.count("mamba_d_state", default=16),
                       conv=cfg.count("mamba_d_conv", default=4), dt_rank=_dt_rank(cfg, "mamba_dt_rank", hidden),
                       conv_bias=_bias(cfg, "mamba_conv_bias", True), bias=_bias(cfg, "mamba_proj_bias", False),
                       dt_bc_norms=True)
    dense, moe = FFN(width), FFN(width, experts=experts, experts_per_token=per_token)
    out = []
    for i in range(layers):
        ffn = moe if (experts > 1 and i % e_period == e_offset) else dense
        if i % a_period == a_offset:
            out.append(Layer(attention, ffn))
        else:
            out.append(Layer(None, ffn, mixer=mixer))
    fields = _fields(cfg, hidden, layers, False, ffn_dim=width, state_bytes=4, **_attention_fields(attention))
    return Reading(fields, out, [])


def _read_qwen3_next(cfg: Config, model_type: str, fam: Family) -> Reading:
    hidden = cfg.count("hidden_size")
    layers = cfg.count("num_hidden_layers")
    kinds = _kinds(cfg, layers, ("linear_attention",), ("full_attention",))
    if kinds is None:
        interval = cfg.count("full_attention_interval", default=4)
        kinds = [not bool((i + 1) % interval) for i in range(layers)]
    head_dim = cfg.count("head_dim", default=256)
    _, factor = cfg.get("partial_rotary_factor", default=None)
    rope = cfg.data.get("rope_parameters") or cfg.data.get("rope_scaling") or {}
    if factor is None and isinstance(rope, dict):
        factor = rope.get("partial_rotary_factor")
    factor = 0.25 if factor is None else factor
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor <= 1:
        raise ValueError(f"config.json: partial_rotary_factor={factor!r} must be in (0, 1]")
    rotary = int(head_dim * factor)
    # Qwen3NextConfig: num_key_value_heads 2, head_dim 256 when left out
    bias = cfg.flag("attention_bias", False)
    attention = _attention(cfg, hidden, kv_absent=2, head_dim_absent=head_dim, qkv_bias=bias, out_bias=bias,
                           qk_norm="head", gate=True,
                           rotary_dim=rotary if rotary != head_dim else None)
    linear = LinearAttention(key_heads=cfg.count("linear_num_key_heads", default=16),
                             value_heads=cfg.count("linear_num_value_heads", default=32),
                             key_dim=cfg.count("linear_key_head_dim", default=128),
                             value_dim=cfg.count("linear_value_head_dim", default=128),
                             conv=cfg.count("linear_conv_kernel_dim", default=4))
    experts = cfg.count("num_experts", default=512, zero=True)
    dense = FFN(cfg.count("intermediate_size", default=5632))
    moe = dense
    if experts > 0:
        per_token = cfg.count("num_experts_per_tok", default=10)
        if per_token > experts:
            raise ValueError(f"config.json: num_experts_per_tok={per_token} must not exceed num_experts={experts}")
        shared = cfg.count("shared_expert_intermediate_size", default=512, zero=True)
        moe = FFN(cfg.count("moe_intermediate_size", default=512), experts=experts, experts_per_token=per_token,
                  shared_experts=1 if shared else 0, shared_width=shared or None, shared_gate=bool(shared))
    step = cfg.count("decoder_sparse_step", default=1)
    _, only_mlp = cfg.get("mlp_only_layers", default=[])
    if not (isinstance(only_mlp, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in only_mlp)):
        raise ValueError(f"config.json: mlp_only_layers={only_mlp!r} must be a list of layer indices")
    out = []
    for i in range(layers):
        ffn = moe if (experts > 0 and i not in only_mlp and (i + 1) % step == 0) else dense
        out.append(Layer(attention, ffn) if kinds[i] else Layer(None, ffn, mixer=linear))
    notes = []
    mtp = cfg.data.get("mtp_num_hidden_layers")
    if mtp:
        notes.append(f"mtp_num_hidden_layers={mtp} (the multi-token-prediction layers transformers does not build)")
    return Reading(_fields(cfg, hidden, layers, False, state_bytes=4, **_attention_fields(attention)), out, notes)


def _read_granitemoehybrid(cfg: Config, model_type: str, fam: Family) -> Reading:
    hidden = cfg.count("hidden_size")
    layers = cfg.count("num_hidden_layers")
    kinds = _kinds(cfg, layers, ("mamba", "linear_attention"), ("attention", "full_attention"))
    if kinds is None:
        kinds = [False] * layers
    bias = cfg.flag("attention_bias", False)
    attention = _attention(cfg, hidden, qkv_bias=bias, out_bias=bias,
                           rope=cfg.text("position_embedding_type") == "rope")
    mixer = _mamba2(cfg, hidden, groups=1, state=256, keys={
        "heads": "mamba_n_heads", "head_dim": "mamba_d_head", "state": "mamba_d_state", "groups": "mamba_n_groups",
        "conv": "mamba_d_conv", "expand": "mamba_expand", "chunk": "mamba_chunk_size", "conv_bias": "mamba_conv_bias",
        "bias": "mamba_proj_bias"})
    experts = cfg.count("num_local_experts", default=8, zero=True)
    shared = cfg.count("shared_intermediate_size", default=1024)
    if experts > 0:
        per_token = cfg.count("num_experts_per_tok", default=2)
        if per_token > experts:
            raise ValueError(f"config.json: num_experts_per_tok={per_token} must not exceed "
                             f"num_local_experts={experts}")
        ffn = FFN(cfg.count("intermediate_size"), experts=experts, experts_per_token=per_token, shared_experts=1,
                  shared_width=shared)
    else:
        ffn = FFN(shared)
    out = [Layer(attention, ffn) if kinds[i] else Layer(None, ffn, mixer=mixer) for i in range(layers)]
    return Reading(_fields(cfg, hidden, layers, False, state_bytes=4, **_attention_fields(attention)), out,
                   ["embedding, attention, residual and logits multipliers (no change to FLOPs or bytes)"])


def _kv_heads(cfg: Config, heads: int, absent: int) -> int:
    """``num_key_value_heads``: ``absent`` when the key is left out (the config class's default), all
    ``heads`` when it is null (the config class's ``__post_init__``)."""
    if "num_key_value_heads" not in cfg.data:
        return absent
    return cfg.count("num_key_value_heads", default=heads)


def _attention_of(heads: int, kv: int, head_dim: int, **extra: Any) -> Attention:
    if heads % kv:
        raise ValueError(f"config.json: num_key_value_heads={kv} must divide num_attention_heads={heads}")
    return Attention(heads=heads, kv_heads=kv, head_dim=head_dim, **extra)


def _read_falcon_h1(cfg: Config, model_type: str, fam: Family) -> Reading:
    """FalconH1Config and ``modeling_falcon_h1.py``: every layer a Mamba2 mixer and attention side by
    side on one RMSNorm's output, then a gated MLP after a second RMSNorm."""
    hidden = cfg.count("hidden_size")
    layers = cfg.count("num_hidden_layers")
    heads = cfg.count("num_attention_heads")
    head_dim = cfg.count("head_dim", default=None)         # FalconH1Attention: getattr(config, "head_dim", H // n_h)
    if head_dim is None:
        if hidden % heads:
            raise ValueError(f"config.json: num_attention_heads={heads} must divide hidden_size={hidden} "
                             "(or give head_dim)")
        head_dim = hidden // heads
    bias = cfg.flag("attention_bias", False)
    attention = _attention_of(heads, _kv_heads(cfg, heads, 8), head_dim, qkv_bias=bias, out_bias=bias)
    # mamba_d_ssm: absent 1024 (the class default), null expand·hidden_size
    if "mamba_d_ssm" in cfg.data and cfg.data["mamba_d_ssm"] is None:
        inner = cfg.count("mamba_expand", default=2) * hidden
    else:
        inner = cfg.count("mamba_d_ssm", default=1024)
    mixer = _mamba2(cfg, hidden, groups=1, state=256, inner=inner, keys={
        "heads": "mamba_n_heads", "head_dim": "mamba_d_head", "state": "mamba_d_state", "groups": "mamba_n_groups",
        "conv": "mamba_d_conv", "chunk": "mamba_chunk_size", "conv_bias": "mamba_conv_bias",
        "bias": "mamba_proj_bias"},
        width=f"the Mamba width {inner} (mamba_d_ssm, or mamba_expand·hidden_size when it is null)",
        out_bias=cfg.flag("projectors_bias", False), gated_norm=cfg.flag("mamba_rms_norm", False))
    ffn = FFN(cfg.count("intermediate_size"), bias=cfg.flag("mlp_bias", False))
    layer = Layer(attention, ffn, norms=2, mixer=mixer)
    # transformers' chunked scan computes the state in fp32, and its cache keeps it so (the conv cache at the dtype)
    fields = _fields(cfg, hidden, layers, False, ffn_dim=ffn.width, state_bytes=4, **_attention_fields(attention))
    return Reading(fields, [layer] * layers,
                   ["µP multipliers of the embedding, LM head, attention, key, SSM and MLP (no change to FLOPs "
                    "or bytes)"])


_NEMOTRON_KINDS = ("linear_attention", "full_attention", "mlp", "moe")
_NEMOTRON_LEGACY = {"mamba": "linear_attention", "attention": "full_attention"}   # remap_legacy_layer_types
_NEMOTRON_PATTERN = {"M": "linear_attention", "*": "full_attention", "-": "mlp", "E": "moe"}


def _nemotron_kinds(cfg: Config) -> list[str]:
    """Each layer's block: ``layers_block_type`` (or ``layer_types``, legacy names remapped), else
    ``hybrid_override_pattern`` (``M`` Mamba2, ``*`` attention, ``-`` MLP, ``E`` MoE), else the class's
    four-layer default. Its length is the number of layers (``num_hidden_layers`` is ignored)."""
    key, given = cfg.get("layers_block_type", "layer_types", default=None)
    if given is not None:
        ok = isinstance(given, list) and given and all(isinstance(k, str) for k in given)
        kinds = [_NEMOTRON_LEGACY.get(k, k) for k in given] if ok else []
        if not ok or any(k not in _NEMOTRON_KINDS for k in kinds):
            raise ValueError(f"config.json: {key}={given!r} must list layers of {', '.join(_NEMOTRON_KINDS)}")
        return kinds
    _, pattern = cfg.get("hybrid_override_pattern", default=None)
    if pattern is not None:
        if not (isinstance(pattern, str) and pattern and all(c in _NEMOTRON_PATTERN for c in pattern)):
            raise ValueError(f"config.json: hybrid_override_pattern={pattern!r} must be a string of "
                             f"{', '.join(_NEMOTRON_PATTERN)}")
        return [_NEMOTRON_PATTERN[c] for c in pattern]
    return ["linear_attention", "moe", "full_attention", "mlp"]


def _read_nemotron_h(cfg: Config, model_type: str, fam: Family) -> Reading:
    """NemotronHConfig and ``modeling_nemotron_h.py``: each layer one RMSNorm and one block, a Mamba2
    mixer, attention (no RoPE, no biases), a ReLU² MLP (up, down) or a MoE of ReLU² experts with one
    shared ReLU² expert; its LM head is never tied."""
    hidden = cfg.count("hidden_size")
    kinds = _nemotron_kinds(cfg)
    notes = []
    given_layers = cfg.data.get("num_hidden_layers")
    if given_layers is not None and given_layers != len(kinds):
        notes.append(f"num_hidden_layers={given_layers!r} (transformers builds the {len(kinds)} layers of the "
                     "layer pattern)")
    heads = cfg.count("num_attention_heads")
    attention = _attention_of(heads, _kv_heads(cfg, heads, 8), cfg.count("head_dim", default=128), rope=False)
    m_heads, m_dim = cfg.count("mamba_num_heads", default=128), cfg.count("mamba_head_dim", default=64)
    groups = cfg.count("mamba_n_groups", "n_groups", default=8)       # the mamba_* aliases win when given
    if m_heads % groups:
        raise ValueError(f"config.json: n_groups={groups} must divide mamba_num_heads={m_heads}")
    conv_bias_key = "mamba_conv_bias" if cfg.data.get("mamba_conv_bias") is not None else "use_conv_bias"
    mixer = StateSpace(inner=m_heads * m_dim, state=cfg.count("ssm_state_size", default=128),
                       conv=cfg.count("mamba_d_conv", "conv_kernel", default=4), heads=m_heads, groups=groups,
                       chunk=cfg.count("mamba_chunk_size", "chunk_size", default=128),
                       conv_bias=cfg.flag(conv_bias_key, True), bias=cfg.flag("use_bias", False))
    mlp_bias = cfg.flag("mlp_bias", False)
    mlp = FFN(cfg.count("intermediate_size"), gated=False, bias=mlp_bias)
    moe = None
    extra: dict[str, Any] = {}
    if "moe" in kinds:
        experts = cfg.count("n_routed_experts", "num_local_experts", default=8)
        per_token = cfg.count("num_experts_per_tok", default=2)
        if experts < 2 or per_token > experts:
            raise ValueError(f"config.json: n_routed_experts={experts} must be at least 2 and at least "
                             f"num_experts_per_tok={per_token}")
        if cfg.data.get("moe_latent_size") is not None:
            raise ValueError(f"config.json: moe_latent_size={cfg.data['moe_latent_size']!r} (latent MoE "
                             "projections) is not modelled")
        if mlp_bias:
            raise ValueError("config.json: mlp_bias=true with MoE layers is not modelled (transformers' routed "
                             "experts have no biases, its shared expert has)")
        moe = FFN(cfg.count("moe_intermediate_size", default=7688), gated=False, experts=experts,
                  experts_per_token=per_token, shared_experts=1,
                  shared_width=cfg.count("moe_shared_expert_intermediate_size", default=7688))
        extra["tensor_bytes"] = {"ffn/router": 4}       # _keep_in_fp32_modules_strict: the router's gate.weight
    mamba = Layer(None, None, norms=1, mixer=mixer)
    block = {"linear_attention": mamba, "full_attention": Layer(attention, None, norms=1),
             "mlp": Layer(None, mlp, norms=1), "moe": Layer(None, moe, norms=1)}
    out = [block[k] for k in kinds]
    if cfg.flag("tie_word_embeddings", False):
        notes.append("tie_word_embeddings=true (transformers' Nemotron-H ties no weights: its LM head is its own)")
    _, cache_dtype = cfg.get("mamba_ssm_cache_dtype", default="float32")
    if cache_dtype != "auto":
        extra["state_bytes"] = BYTES[dtype_name(cache_dtype, "mamba_ssm_cache_dtype")]
    attn = _attention_fields(attention) if "full_attention" in kinds else {}
    fields = _fields(cfg, hidden, len(kinds), False, tied_embeddings=False, **attn, **extra)
    return Reading(fields, out, notes)


# ``ffn_kind`` and the other generic keys are unused: each reader builds its layers itself
register("mamba", Family("gated", tied=True, read=_read_mamba), "MambaForCausalLM")
register("falcon_mamba", Family("gated", tied=True, read=_read_mamba), "FalconMambaForCausalLM")
register("mamba2", Family("gated", read=_read_mamba2), "Mamba2ForCausalLM")
register("jamba", Family("gated", read=_read_jamba), "JambaForCausalLM")
register("qwen3_next", Family("gated", read=_read_qwen3_next), "Qwen3NextForCausalLM")
register("granitemoehybrid", Family("gated", read=_read_granitemoehybrid), "GraniteMoeHybridForCausalLM")
# the config classes' defaults of the keys the readers need (FalconH1Config, NemotronHConfig)
register("falcon_h1", Family("gated", read=_read_falcon_h1, defaults=dict(
    vocab_size=128000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32)),
    "FalconH1ForCausalLM")
register("nemotron_h", Family("dense", read=_read_nemotron_h, defaults=dict(
    vocab_size=131072, hidden_size=4096, intermediate_size=21504, num_attention_heads=32)), "NemotronHForCausalLM")
