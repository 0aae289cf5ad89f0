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

from symroof import analysis, conventions, hardware, mla, models, moe, params, precision, symbols
from symroof.analysis import (
    balance,
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
from symroof.evaluate import Evaluator, compile
from symroof.hardware import Hardware
from symroof.latex import to_latex
from symroof.params import active_parameters, total_parameters
from symroof.phases import decode, prefill, step
from symroof.precision import Precision

__all__ = [
    "Arch",
    "Conventions",
    "Cost",
    "Evaluator",
    "Hardware",
    "Precision",
    "Step",
    "active_parameters",
    "analysis",
    "balance",
    "compile",
    "conventions",
    "crossover",
    "crossover_batch",
    "decode",
    "hardware",
    "intensity_limit",
    "kv_capacity",
    "latency",
    "mla",
    "models",
    "moe",
    "params",
    "precision",
    "prefill",
    "regime",
    "step",
    "symbols",
    "time_per_output_token",
    "time_to_first_token",
    "to_latex",
    "total_parameters",
    "tp_communication",
]
__version__ = "0.1.0"
