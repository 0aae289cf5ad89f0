"""Reasoning on costs: the roofline (balance, regime, limits, crossover), timing and communication,
KV capacity, parallelism, serving curves and speculative decoding."""

from symroof.analysis.capacity import Fit, fit
from symroof.analysis.roofline import (
    Capacity,
    Comm,
    Crossover,
    Latency,
    Limit,
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
from symroof.hardware import hardware_of  # it lived in analysis in 0.1

__all__ = [
    "Capacity",
    "Comm",
    "Crossover",
    "Fit",
    "Latency",
    "Limit",
    "balance",
    "communication",
    "crossover",
    "crossover_batch",
    "fit",
    "hardware_of",
    "intensity_limit",
    "kv_capacity",
    "latency",
    "regime",
    "time_per_output_token",
    "time_to_first_token",
    "tp_communication",
]
