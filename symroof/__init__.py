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

from symroof import (
    analysis,
    conventions,
    derivation,
    hardware,
    latex,
    mla,
    models,
    moe,
    parallel,
    params,
    precision,
    serving,
    speculative,
    symbols,
)
from symroof.analysis import (
    balance,
    communication,
    crossover,
    crossover_batch,
    intensity_limit,
    kv_capacity,
    latency,
    regime,
    time_per_output_token,
    time_to_first_token,
    tp_communication,
)
from symroof.arch import Arch
from symroof.components import Step
from symroof.conventions import Conventions
from symroof.cost import Cost
from symroof.evaluate import Evaluator
from symroof.evaluate import compile as compile  # not in __all__: `import *` keeps the builtin
from symroof.hardware import Hardware
from symroof.latex import to_latex
from symroof.parallel import bubble_fraction, pipeline_latency, tp_allreduce
from symroof.params import active_parameters, total_parameters
from symroof.phases import decode, prefill, step
from symroof.precision import Precision, Quantization
from symroof.serving import max_batch, pareto_front, serving_curve
from symroof.speculative import expected_tokens, speculative_decoding

__all__ = [
    "Arch",
    "Conventions",
    "Cost",
    "Evaluator",
    "Hardware",
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
    "intensity_limit",
    "kv_capacity",
    "latency",
    "latex",
    "max_batch",
    "mla",
    "models",
    "moe",
    "parallel",
    "params",
    "pareto_front",
    "pipeline_latency",
    "plot",
    "precision",
    "prefill",
    "regime",
    "serving",
    "serving_curve",
    "speculative",
    "speculative_decoding",
    "step",
    "symbols",
    "time_per_output_token",
    "time_to_first_token",
    "to_latex",
    "total_parameters",
    "tp_allreduce",
    "tp_communication",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``symroof.plot`` is imported on first use, so that ``import symroof`` does not load matplotlib."""
    if name == "plot":
        import importlib

        return importlib.import_module("symroof.plot")
    raise AttributeError(f"module 'symroof' has no attribute {name!r}")
