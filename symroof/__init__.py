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

from symroof import analysis, conventions, hardware, models, params, symbols
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
from symroof.hardware import Hardware
from symroof.latex import to_latex
from symroof.params import total_parameters
from symroof.phases import decode, prefill, step

__all__ = [
    "Arch",
    "Conventions",
    "Cost",
    "Hardware",
    "Step",
    "analysis",
    "balance",
    "conventions",
    "crossover",
    "crossover_batch",
    "decode",
    "hardware",
    "intensity_limit",
    "kv_capacity",
    "latency",
    "models",
    "params",
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
