"""Figures for a paper or a notebook: the roofline, intensity against batch, time per token.

Every function returns a `matplotlib.figure.Figure` (built without pyplot, so
nothing is shown and no global figure is left open); save it with
``fig.savefig("roofline.pdf")`` (png, svg and pdf work). Pass ``ax=`` to draw into
an existing axes instead. Curves are evaluated in float64 from the exact
expressions; the marked points (balance, crossover) come from the exact analysis.

Artists carry a ``gid`` naming what they show, so that a script (or a test) can
find them: ``roof:<GPU>``, ``point:<label>:<GPU>``, ``balance:<GPU>``,
``crossover:<curve>:<GPU>``, ``limit:<curve>``, ``intensity:<curve>``,
``time:compute|weights|kv|activations|comm|total``, ``crossover``; a roofline point of a
model is ``point:<model>/prefill:<GPU>`` (or ``/decode``); a curve is
``<model>, $S_c$ = <context>`` (``$S$`` in prefill); ``ridge:<GPU>`` marks a roofline's ridge
point (the balance, where the sloped roof meets the flat one).

Figures are 6.4 × 4.8 in (`SIZE`) at 200 dpi (`DPI`, so a PNG is 1280 × 960 pixels); give
``dpi=`` for another resolution (``savefig`` uses the figure's). Names from configs are cleaned
for labels (`label`): ``org/Model-7B`` prints ``Model-7B``, control characters are dropped and
``$`` is escaped, so no name is rendered as mathtext. Text labels placed in the axes (the
``B*`` of each crossover) are moved apart so that none is drawn over another.

Examples
--------
>>> fig = roofline(["H100-SXM", "A100-80GB"], ["llama-3-8b"], conventions="roofline-notes")
>>> sorted(line.get_gid() for line in fig.axes[0].lines if line.get_gid().startswith("roof:"))
['roof:A100-80GB', 'roof:H100-SXM']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import matplotlib.ticker as ticker
import numpy as np
import sympy
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from symroof import hardware as _hardware
from symroof import symbols as sym
from symroof.analysis import crossover_batch
from symroof.analysis.capacity import fit
from symroof.analysis.timing import combine, communication, latency, memory_time
from symroof.cost import Cost
from symroof.cost.conventions import resolve
from symroof.cost.phases import decode, prefill, step
from symroof.evaluate import compile
from symroof.hardware import Hardware
from symroof.model import presets as _models
from symroof.model.arch import Arch

__all__ = ["DPI", "SIZE", "STYLE", "intensity_vs_batch", "label", "roofline", "time_per_token"]

# Readable at a page's width in a paper: 6.4 x 4.8 in (matplotlib's default size, legend below the
# axes), 11 pt text, 200 dpi (1280 x 960 pixels in a PNG).
STYLE: dict[Any, Any] = {
    "font.size": 11,
    "axes.labelsize": 11,
    "axes.titlesize": 11,
    "legend.fontsize": 9,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.8,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
}
SIZE = (6.4, 4.8)
DPI = 200
_MARKERS = {"prefill": "o", "decode": "^"}
_TERA, _MILLI = 1e12, 1e-3


# ---- arguments ----------------------------------------------------------------------------
def _many(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, Arch, Hardware)) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def _gpu(value: Any, dtype: str | None) -> Hardware:
    hw = _hardware.get(value)
    if not isinstance(hw, Hardware):
        raise ValueError(f"gpu={value!r} must be a Hardware or a GPU name from symroof.hardware.names()")
    return hw if dtype is None else hw.with_dtype(dtype)


def _gpus(value: Any, dtype: str | None = None) -> list[Hardware]:
    gpus = [_gpu(v, dtype) for v in _many(value)]
    if not gpus:
        raise ValueError("gpus: give at least one GPU (a name from symroof.hardware.names())")
    return gpus


def _arch(value: Any) -> Arch:
    arch = _models.get(value) if isinstance(value, str) else value
    if not isinstance(arch, Arch):
        raise ValueError(f"model={value!r} must be an Arch or a model name from symroof.models.names()")
    return arch


def _positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive whole number")
    return int(value)


def _batches(batches: Any, max_batch: int) -> np.ndarray:
    """Whole batch sizes, sorted: those given, or about 250 from 1 to ``max_batch`` evenly in log."""
    if batches is None:
        return np.unique(np.rint(np.geomspace(1, _positive(max_batch, "max_batch"), 400)))
    array = np.asarray(batches, dtype=np.float64)
    if (array.ndim != 1 or array.size < 2 or not np.all(np.isfinite(array)) or np.any(array < 1)
            or np.any(array != np.rint(array))):
        raise ValueError(f"batches={batches!r} must be two or more whole batch sizes, each at least 1")
    return np.unique(array)


def _figure(ax: Axes | None, dpi: Any = None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig = Figure(figsize=SIZE, dpi=_dpi(dpi), layout="constrained")
    return fig, fig.add_subplot()


def _dpi(dpi: Any) -> float:
    if dpi is None:
        return DPI
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float, np.integer, np.floating)) or not (
            math.isfinite(dpi) and 10 <= dpi <= 2000):
        raise ValueError(f"dpi={dpi!r} must be a number of dots per inch from 10 to 2000")
    return float(dpi)


def label(name: Any) -> str:
    r"""A name as a plot label: the last part of a path (``org/Model-7B`` -> ``Model-7B``), control
    characters dropped, ``$`` escaped so that matplotlib draws it as text, not mathtext.

    >>> label("meta-llama/Llama-3-8B"), label("a$b$\x1b[31m"), label("")
    ('Llama-3-8B', 'a\\$b\\$[31m', 'model')
    """
    text = "".join(ch for ch in str(name) if ch.isprintable())
    text = text.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return text.replace("$", r"\$") or "model"


def _name(arch: Arch) -> str:
    return label(arch.name or "model")


def _separate(fig: Figure, texts: list[Any], gap: float = 2.0) -> None:
    """Place annotations so that no two overlap and each stays inside its axes.

    Each label tries, in turn, the four corners of its point (5 points away), then the same
    corners one, two, ... label heights further out; it takes the first place that overlaps
    no label placed before it and lies inside the axes (else the first that overlaps none).
    """
    if not texts:
        return
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()                       # lay the figure out first: positions are final
    renderer = canvas.get_renderer()
    placed: list[Any] = []
    scale = fig.dpi / 72.0
    corners = [(-1, 1, "right", "bottom"), (1, 1, "left", "bottom"), (-1, -1, "right", "top"),
               (1, -1, "left", "top")]
    for text in texts:
        frame = text.axes.get_window_extent(renderer) if text.axes is not None else fig.bbox
        height = text.get_window_extent(renderer).height / scale + gap
        fallback = None
        for k in range(40):
            sx, sy, ha, va = corners[k % 4]
            text.set_ha(ha)
            text.set_va(va)
            text.xyann = (5 * sx, sy * (5 + (k // 4) * height))
            box = text.get_window_extent(renderer)
            if any(box.overlaps(p) for p in placed):
                continue
            inside = (box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0 and box.y1 <= frame.y1)
            if inside:
                fallback = None
                break
            if fallback is None:
                fallback = (ha, va, text.xyann)
        if fallback is not None:
            text.set_ha(fallback[0])
            text.set_va(fallback[1])
            text.xyann = fallback[2]
        placed.append(text.get_window_extent(renderer))


def _curve(expr: sympy.Expr, x: np.ndarray) -> np.ndarray:
    """``expr`` (in B only) at every batch in ``x``, in float64 (by `symroof.compile`)."""
    free = expr.free_symbols - {sym.B}
    if free:
        names = ", ".join(sorted(s.name for s in free))
        raise ValueError(f"give values for {names}: the curve may depend on the batch B only")
    if sym.B not in expr.free_symbols:
        return np.full(x.shape, float(expr))
    return np.asarray(compile(expr)(B=x), dtype=np.float64)


def _legend(ax: Axes, entries: int) -> None:
    """The legend below the axes, where it covers no data (two columns when it is long)."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2 if entries > 3 else 1, frameon=False)


def _batch_axis(ax: Axes, x: np.ndarray) -> None:
    """Batch sizes on a log2 axis labelled 1, 2, 4, ... (at most about 12 ticks)."""
    ax.set_xscale("log", base=2)
    ax.set_xlim(x[0], x[-1])
    ax.xaxis.set_major_locator(ticker.LogLocator(base=2, numticks=12))
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("batch size B (sequences)")


# ---- the roofline ---------------------------------------------------------------------------
def roofline(gpus: Any, models: Any = (), *, conventions: Any = None, batch: int = 1, seq: int = 1024,
             context: int | None = None, points: Mapping[str, Cost] | None = None, dtype: str | None = None,
             ax: Axes | None = None, dpi: Any = None) -> Figure:
    """The roofline of one or more GPUs, with each model's prefill and decode points on it.

    Prefill is ``B = batch`` prompts of ``seq`` tokens; decode is one token per
    sequence over ``context`` cached tokens (default ``seq``). ``points`` adds
    numeric costs by label. A point is drawn on every GPU's roof at its intensity:
    attainable FLOP/s = min(peak, intensity × bandwidth).

    >>> fig = roofline("A100-80GB", "llama-3-8b", batch=8)
    >>> fig.axes[0].get_xscale(), fig.axes[0].get_xlabel()
    ('log', 'arithmetic intensity (FLOP/byte)')
    """
    hws = _gpus(gpus, dtype)
    conv = resolve(conventions)
    batch, seq = _positive(batch, "batch"), _positive(seq, "seq")
    context = seq if context is None else context
    if isinstance(context, bool) or not isinstance(context, (int, np.integer)) or context < 0:
        raise ValueError(f"context={context!r} must be a whole number of cached tokens (0 or more)")
    marks: list[tuple[str, str, str, float]] = []   # (group, phase, label, intensity)
    for arch in map(_arch, _many(models)):
        name = _name(arch)
        marks.append((name, "prefill", f"{name} prefill (B={batch}, $S$={seq})",
                      float(prefill(arch, conv, B=batch, S=seq).intensity)))
        marks.append((name, "decode", f"{name} decode (B={batch}, $S_c$={context})",
                      float(decode(arch, conv, B=batch, S_c=int(context)).intensity)))
    for name_, cost in (points or {}).items():
        if not isinstance(cost, Cost) or cost.free_symbols:
            raise ValueError(f"points[{name_!r}] must be a Cost with numbers only (use cost.subs(B=..., ...))")
        marks.append((label(name_), "point", label(name_), float(cost.intensity)))

    with matplotlib.rc_context(STYLE):
        fig, ax = _figure(ax, dpi)
        balances = [float(hw.balance) for hw in hws]
        xs = [m[3] for m in marks] + balances
        lo, hi = min(xs) / 4, max(xs) * 4
        x = np.geomspace(lo, hi, 512)
        styles = ["-", "--", "-.", ":"]
        for i, hw in enumerate(hws):
            peak, bw = float(hw.peak_flops), float(hw.bandwidth)
            ax.plot(x, np.minimum(peak, x * bw) / _TERA, color="0.25", linestyle=styles[i % len(styles)],
                    label=f"{label(hw.name)} ({label(hw.dtype)}): balance {float(hw.balance):.0f} FLOP/byte"
                          + _efficiency(hw), gid=f"roof:{hw.name}")
            ax.plot([float(hw.balance)], [peak / _TERA], marker="D", markersize=6, linestyle="none",
                    color="0.25", markerfacecolor="white", zorder=4, gid=f"ridge:{hw.name}",
                    label=r"ridge point: balance $\pi/\beta$" if i == 0 else None)
        colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
        groups: dict[str, str] = {}
        for group, phase, text, intensity in marks:
            colour = groups.setdefault(group, colours[len(groups) % len(colours)])
            for j, hw in enumerate(hws):
                y = min(float(hw.peak_flops), intensity * float(hw.bandwidth)) / _TERA
                ax.plot([intensity], [y], marker=_MARKERS.get(phase, "s"), markersize=8, linestyle="none",
                        color=colour, markeredgecolor="black", markeredgewidth=0.6,
                        label=text if j == 0 else None,
                        gid=f"point:{group}/{phase}:{hw.name}" if phase != "point" else f"point:{text}:{hw.name}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_xlabel("arithmetic intensity (FLOP/byte)")
        ax.set_ylabel("attainable performance (TFLOP/s)")
        ax.set_title(f"Roofline ({conv.name} conventions)")
        _legend(ax, len(hws) + 1 + len(marks))
    return fig


def _efficiency(hw: Hardware) -> str:
    """``, at 70% of peak FLOP/s`` when an efficiency is not 1 (the roof drawn is the achieved one)."""
    parts = [f"{float(e) * 100:.3g}% of {what}" for e, what in ((hw.flops_efficiency, "peak FLOP/s"),
                                                               (hw.bandwidth_efficiency, "bandwidth")) if e != 1]
    return f", at {' and '.join(parts)}" if parts else ""


_FIT_DASHES = [(0, (6, 2)), (0, (2, 2)), (0, (8, 2, 2, 2))]     # one per GPU


def _largest_batch(ax: Axes, arch: Arch, hw: Hardware, *, context: int, new: int, x: np.ndarray, tp: int = 1,
                   colour: Any = "0.35", name: str = "", legend: bool = True, dashes: Any = (0, (6, 2))) -> int | None:
    """Draw the largest batch that fits in memory (`symroof.analysis.fit` at ``context`` + ``new`` tokens on
    ``tp`` GPUs) as a vertical line in the legend; beyond the axis or below batch 1, a legend entry only.
    Nothing when the part has no capacity. Returns the batch (0: not even one sequence fits)."""
    if hw.usable_bytes is None:
        return None
    f = fit(arch, hw, batch=1, context=context + new, gpus=tp, new=new)
    if f.max_batch is None or not f.max_batch.is_number:
        return None
    largest = int(f.max_batch)
    where = f"{label(hw.name)}" + (f" ×{tp}" if tp > 1 else "") + (f", {name}" if name else "")
    text = f"largest batch that fits ({where}): {largest}"
    gid = f"max-batch:{name or arch.name}:{hw.name}"
    if not legend:               # several curves: one legend entry per GPU lists them (see intensity_vs_batch)
        if largest >= 1 and x[0] <= largest <= x[-1]:
            ax.axvline(largest, color=colour, linestyle=dashes, linewidth=1.4, gid=gid, label="_" + text)
        return largest
    if largest >= 1 and x[0] <= largest <= x[-1]:
        ax.axvline(largest, color=colour, linestyle=(0, (6, 2)), linewidth=1.4, gid=gid, label=text)
    else:
        why = "not even batch 1 fits" if largest < 1 else f"{text} (beyond the axis)"
        ax.plot([], [], color=colour, linestyle=(0, (6, 2)), gid=gid,
                label=f"{where}: {why}" if largest < 1 else why)
    return largest


# ---- intensity against batch ------------------------------------------------------------------
def _phase_cost(arch: Arch, conv: Any, phase: str, length: int, new_tokens: int) -> Cost:
    if phase == "prefill":
        return prefill(arch, conv, S=length)
    if phase in ("decode", "step"):
        return step(arch, conv, S_i=new_tokens, S_c=length)
    raise ValueError(f"phase={phase!r} must be prefill, decode or step (decode with new_tokens = S_i)")


def intensity_vs_batch(models: Any, gpus: Any, *, conventions: Any = None, context: Any = 1024,
                       phase: str = "decode", new_tokens: int = 1, batches: Any = None, max_batch: int = 2048,
                       dtype: str | None = None, ax: Axes | None = None, dpi: Any = None) -> Figure:
    """Arithmetic intensity against batch size, with each GPU's balance and the crossover batch.

    One curve per model and context (``context`` is ``S_c`` in decode, the prompt
    length ``S`` in prefill; one value or several); ``new_tokens`` is ``S_i`` in
    decode (speculative decoding verifies several). The balance is a horizontal
    line per GPU; the crossover batch (from `symroof.analysis.crossover_batch`) is
    marked where a curve meets it; the limit as ``B`` grows is a thin dotted line.

    >>> fig = intensity_vs_batch("llama-3-8b", "A100-80GB", conventions="roofline-notes", context=0)
    >>> [round(line.get_xdata()[0]) for line in fig.axes[0].lines if line.get_gid().startswith("crossover:")]
    [155]
    """
    archs, hws = [_arch(m) for m in _many(models)], _gpus(gpus, dtype)
    if not archs:
        raise ValueError("models: give at least one model (a name from symroof.models.names())")
    contexts = [int(c) for c in _many(context)]
    for c in contexts:
        if c < (1 if phase == "prefill" else 0):
            raise ValueError(f"context={c!r} must be a whole number of tokens (0 or more; prompts 1 or more)")
    conv = resolve(conventions)
    x = _batches(batches, max_batch)
    length = "$S$" if phase == "prefill" else "$S_c$"
    with matplotlib.rc_context(STYLE):
        fig, ax = _figure(ax, dpi)
        colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
        notes = []
        limits = 0
        for k, hw in enumerate(hws):
            ax.axhline(float(hw.balance), color="0.2", linestyle=["--", "-.", (0, (5, 1, 1, 1))][k % 3],
                       linewidth=1.2, gid=f"balance:{hw.name}",
                       label=f"{label(hw.name)} balance (ridge) {float(hw.balance):.0f} FLOP/byte" + _efficiency(hw))
        highest = max(float(hw.balance) for hw in hws)
        curves = [(arch, c) for arch in archs for c in contexts]
        fitting: dict[str, list[int]] = {}
        for i, (arch, c) in enumerate(curves):
            colour = colours[i % len(colours)]
            cost = _phase_cost(arch, conv, phase, c, new_tokens)
            curve = f"{_name(arch)}, {length} = {c}"
            y = _curve(cost.intensity, x)
            highest = max(highest, float(y.max()))
            ax.plot(x, y, color=colour, label=curve, gid=f"intensity:{curve}")
            for hw in hws:
                cross = crossover_batch(cost, hw)
                if cross.exists and cross.value is not None and x[0] <= float(cross) <= x[-1]:
                    b_star = float(cross)
                    ax.plot([b_star], [float(hw.balance)], marker="o", markersize=8, color=colour,
                            markeredgecolor="black", linestyle="none", zorder=5, gid=f"crossover:{curve}:{hw.name}")
                    note = ax.annotate(f"$B^*$ = {b_star:.0f}", (b_star, float(hw.balance)), ha="right",
                                       va="bottom", textcoords="offset points", xytext=(-5, 5), fontsize=9,
                                       color=colour, gid=f"label:{curve}:{hw.name}", annotation_clip=False,
                                       bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})
                    note.set_in_layout(False)
                    notes.append(note)
            for k, hw in enumerate(hws):
                largest = _largest_batch(ax, arch, hw, context=c if phase != "prefill" else 0,
                                         new=new_tokens if phase != "prefill" else c, x=x, colour=colour,
                                         legend=len(curves) * len(hws) == 1, name=curve if len(curves) > 1 else "",
                                         dashes=_FIT_DASHES[k % len(_FIT_DASHES)])
                if largest is not None:
                    fitting.setdefault(hw.name, []).append(largest)
            limit = cross.limit
            # the asymptote as B grows, when it is in view (not far above every curve and balance)
            if limit.is_number and limit.is_finite and float(limit) <= 2 * highest:
                ax.axhline(float(limit), color=colour, linestyle=":", linewidth=1.0, gid=f"limit:{curve}",
                           label=f"{curve}: limit as $B \\to \\infty$, {float(limit):.0f}")
                limits += 1
        if len(curves) * len(hws) > 1:     # one entry per GPU: its dash pattern, in each curve's colour
            for k, name in enumerate(fitting):
                ax.plot([], [], color="0.35", linestyle=_FIT_DASHES[k % len(_FIT_DASHES)], gid=f"max-batch:{name}",
                        label=f"largest batch in memory, {label(name)}")
        _batch_axis(ax, x)
        ax.set_yscale("log")
        ax.set_ylabel("arithmetic intensity (FLOP/byte)")
        what = "prefill" if phase == "prefill" else ("decode" if new_tokens == 1 else f"step, $S_i$ = {new_tokens}")
        ax.set_title(f"Intensity against batch: {what} ({conv.name} conventions)")
        _legend(ax, len(ax.get_legend_handles_labels()[1]))
        _separate(fig, notes)
    return fig


# ---- time per token ---------------------------------------------------------------------------
def time_per_token(model: Any, gpu: Any, *, conventions: Any = None, context: int = 1024, new_tokens: int = 1,
                   batches: Any = None, max_batch: int = 2048, per: str = "sequence", tp: int = 1,
                   comm: str | None = None, dtype: str | None = None, ax: Axes | None = None,
                   dpi: Any = None) -> Figure:
    """Decode time per output token against batch size, split by term.

    The step is `symroof.timing.latency` of the decode `Cost` on ``tp`` GPUs: compute
    ``FLOPs/(T·π)``; memory ``bytes/(T·β)`` (activations not split) drawn as weights, KV
    cache and activations (`symroof.timing.memory_time`); tensor-parallel communication
    (`symroof.timing.communication`: the conventions' ``comms`` unless ``comm`` is given,
    drawn when ``tp > 1``); the step time is ``max(compute, memory) + comm`` (or their sum,
    as the conventions' ``latency`` says; `symroof.timing.combine`). The crossover marked is where
    the compute and memory drawn meet: FLOPs/T over the bytes one GPU moves against the balance
    (the intensity's crossover when ``tp = 1``). Every term is built once
    with ``B`` symbolic and evaluated over the batches in one vectorised pass.
    ``per="sequence"``: the time a user waits per token (step time / S_i); ``per="batch"``:
    step time per token generated across the batch (step time / (B·S_i)), where weights are
    amortised.

    >>> fig = time_per_token("llama-3-8b", "H100-SXM", conventions="roofline-notes")
    >>> sorted(line.get_gid() for line in fig.axes[0].lines)[:4]
    ['crossover', 'max-batch:llama-3-8b:H100-SXM', 'time:activations', 'time:compute']
    >>> fig = time_per_token("llama-3-8b", "H100-SXM", conventions="roofline-notes", tp=8)
    >>> "time:comm" in [line.get_gid() for line in fig.axes[0].lines]
    True
    """
    if per not in ("sequence", "batch"):
        raise ValueError(f"per={per!r} must be 'sequence' or 'batch'")
    arch, hw, conv = _arch(model), _gpu(gpu, dtype), resolve(conventions)
    if isinstance(context, bool) or not isinstance(context, (int, np.integer)) or context < 0:
        raise ValueError(f"context={context!r} must be a whole number of cached tokens (0 or more)")
    new_tokens, tp = _positive(new_tokens, "new_tokens"), _positive(tp, "tp")
    x = _batches(batches, max_batch)
    cost = step(arch, conv, S_i=new_tokens, S_c=int(context))
    comms = communication(arch, hw, conv, tp=tp, tokens=sym.B * new_tokens, comm=comm)
    t = latency(cost, hw, tp=tp, model=conv.latency, comm_s=comms)    # exact, B symbolic
    per_token = (1 / sympy.Integer(new_tokens)) if per == "sequence" else 1 / (sym.B * new_tokens)
    scale = per_token / sympy.Float(_MILLI)   # seconds -> milliseconds, per token
    split = "" if tp == 1 else f" / {tp}"
    parts = {
        "compute": (t.compute_s, rf"compute: FLOPs / ({tp}$\pi$)" if tp > 1 else r"compute: FLOPs / $\pi$", "-"),
        "weights": (memory_time(cost, hw, tp=tp, prefix="weights"), rf"weights: bytes{split} / $\beta$", "--"),
        "kv": (memory_time(cost, hw, tp=tp, prefix="kv"), rf"KV cache: bytes{split} / $\beta$", "-."),
        "activations": (memory_time(cost, hw, tp=tp, prefix="activations"), r"activations: bytes / $\beta$", ":"),
        "comm": (t.comm_s, f"communication: {comm or conv.comms}, T = {tp}", (0, (1, 1))),
    }
    with matplotlib.rc_context(STYLE):
        fig, ax = _figure(ax, dpi)
        colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
        curves = {}
        for i, (name, (seconds, text, style)) in enumerate(parts.items()):
            curves[name] = _curve(seconds * scale, x)
            if np.any(curves[name] > 0):
                ax.plot(x, curves[name], color=colours[i], linestyle=style, label=text, gid=f"time:{name}")
        memory = _curve(t.memory_s * scale, x)          # every byte term, not only the three drawn
        total = combine(curves["compute"], memory, curves["comm"], model=conv.latency)
        how = "max(compute, memory)" if conv.latency == "max" else "compute + memory"
        how += " + comm" if np.any(curves["comm"] > 0) else ""
        ax.plot(x, total, color="black", linewidth=2.6, alpha=0.85, label=f"step: {how}", gid="time:total",
                zorder=1)
        # where the drawn compute and memory meet: the intensity of one GPU of the T, its FLOPs/T over
        # the bytes it moves (activations replicated), against the balance; FLOPs/bytes when T = 1
        cross = crossover_batch(cost.flops / (tp * t.memory_s * hw.bandwidth), hw)
        if cross.exists and cross.value is not None and x[0] <= float(cross) <= x[-1]:
            ax.axvline(float(cross), color="0.4", linestyle=":", linewidth=1.0, gid="crossover",
                       label=f"crossover $B^*$ = {float(cross):.0f}")
        else:   # nothing to mark: say why in the legend, and keep the gid for scripts
            why = "memory" if cross.limit.is_number and cross.limit <= cross.balance else "compute"
            ax.plot([], [], gid="crossover", linestyle="none", label=f"no crossover: {why}-bound at every B")
        _largest_batch(ax, arch, hw, context=int(context), new=new_tokens, x=x, tp=tp)
        _batch_axis(ax, x)
        ax.set_yscale("log")
        # terms far below the step time are negligible: show three decades under its smallest value
        ax.set_ylim(bottom=max(ax.get_ylim()[0], float(total.min()) / 1e3))
        ax.set_ylabel("time per output token (ms)" if per == "sequence"
                      else "time per generated token, whole batch (ms)")
        ax.set_title(f"{_name(arch)} on {label(hw.name)}{_efficiency(hw)}: decode at $S_c$ = {context}"
                     + ("" if new_tokens == 1 else f", $S_i$ = {new_tokens}") + ("" if tp == 1 else f", T = {tp}"))
        _legend(ax, len(ax.get_legend_handles_labels()[1]))
    return fig
