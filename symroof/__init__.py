"""symroof: symbolic performance models of transformer inference.

Every transformer component is an exact SymPy expression in B, S, S_i, S_c, H,
N, Z and the architecture's own symbols; symroof sums them into FLOPs, bytes
and arithmetic intensity, analyses their limits, prints LaTeX and compiles fast
numeric evaluators.

>>> import symroof
>>> cost = symroof.decode(symroof.models.get("llama-3-8b"), "roofline-notes")
>>> cost.subs(B=32, S_c=1024).bytes_of("kv/read") / 32
134217728
"""

import importlib
import importlib.abc
import importlib.machinery
import sys
from typing import TYPE_CHECKING, Any

from symroof import hardware, symbols
from symroof.analysis import (
    balance,
    communication,
    crossover,
    crossover_batch,
    intensity_limit,
    kv_capacity,
    latency,
    parallel,
    regime,
    serving,
    speculative,
    time_per_output_token,
    time_to_first_token,
    timing,
    tp_communication,
)
from symroof.analysis.parallel import bubble_fraction, pipeline_latency, tp_allreduce
from symroof.analysis.request import operator_time, request_report, request_time
from symroof.analysis.serving import max_batch, pareto_front, serving_curve
from symroof.analysis.speculative import expected_tokens, speculative_decoding
from symroof.cost import Cost, conventions, mla, moe, phases
from symroof.cost import components as components
from symroof.cost.components import Step
from symroof.cost.conventions import Conventions
from symroof.cost.phases import decode, prefill, step
from symroof.cost.request import request
from symroof.hardware import Hardware
from symroof.model import arch as arch
from symroof.model import hf, params, precision
from symroof.model import presets as models
from symroof.model.arch import Arch
from symroof.model.params import active_parameters, total_parameters
from symroof.model.precision import Precision, Quantization
from symroof.printing import to_latex

if TYPE_CHECKING:  # imported on first use (see __getattr__ below): numpy, argparse, re
    from symroof.evaluate import Evaluator
    from symroof.evaluate import compile as compile  # not in __all__: `import *` keeps the builtin
    from symroof.output import derivation, latex

__all__ = [
    "Arch",
    "Conventions",
    "Cost",
    "Evaluator",
    "Hardware",
    "MultiEvaluator",
    "Precision",
    "Quantization",
    "Step",
    "active_parameters",
    "analysis",
    "balance",
    "bubble_fraction",
    "communication",
    "conventions",
    "crossover",
    "crossover_batch",
    "decode",
    "derivation",
    "expected_tokens",
    "hardware",
    "hf",
    "intensity_limit",
    "kv_capacity",
    "latency",
    "latex",
    "max_batch",
    "mla",
    "models",
    "moe",
    "operator_time",
    "parallel",
    "params",
    "pareto_front",
    "phases",
    "pipeline_latency",
    "plot",
    "precision",
    "prefill",
    "regime",
    "request",
    "request_report",
    "request_time",
    "serving",
    "serving_curve",
    "speculative",
    "speculative_decoding",
    "step",
    "symbols",
    "time_per_output_token",
    "time_to_first_token",
    "timing",
    "to_latex",
    "total_parameters",
    "tp_allreduce",
    "tp_communication",
]
__version__ = "0.1.0"


# The flat modules of symroof 0.1, by their place in the layered package (model -> cost -> analysis ->
# output): ``import symroof.conventions`` and ``from symroof.hf import ...`` keep working.
_MOVED = {
    "arch": "model.arch", "params": "model.params", "precision": "model.precision", "models": "model.presets",
    "hf": "model.hf", "conventions": "cost.conventions", "components": "cost.components", "moe": "cost.moe",
    "mla": "cost.mla", "phases": "cost.phases", "timing": "analysis.timing", "parallel": "analysis.parallel",
    "serving": "analysis.serving", "speculative": "analysis.speculative", "latex": "output.latex",
    "plot": "output.plot", "cli": "output.cli", "derivation": "output.derivation",
}


class _OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``symroof.<old name>`` as the module it moved to (the same module object)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        old = fullname.removeprefix("symroof.")
        if fullname.startswith("symroof.") and old in _MOVED:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        module = importlib.import_module("symroof." + _MOVED[spec.name.removeprefix("symroof.")])
        spec.loader_state = module.__spec__
        return module

    def exec_module(self, module: Any) -> None:
        module.__spec__ = module.__spec__.loader_state     # the import system gave it the alias's spec


sys.meta_path.append(_OldPaths())


# Imported on first use, so that ``import symroof`` costs little more than ``import sympy``:
# symroof.plot loads matplotlib, symroof.compile / Evaluator numpy, symroof.cli and
# symroof.derivation argparse and their regular expressions.
_LAZY = {"plot": ("symroof.output.plot", None), "cli": ("symroof.output.cli", None),
         "derivation": ("symroof.output.derivation", None), "latex": ("symroof.output.latex", None),
         "evaluate": ("symroof.evaluate", None), "compile": ("symroof.evaluate", "compile"),
         "Evaluator": ("symroof.evaluate", "Evaluator"), "MultiEvaluator": ("symroof.evaluate", "MultiEvaluator")}


def __getattr__(name: str) -> object:
    """The attributes of `_LAZY`, imported on first use and then kept as ordinary attributes."""
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = importlib.import_module(module)
        if attribute is not None:
            value = getattr(value, attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'symroof' has no attribute {name!r}")
