"""Performance model of the simulated device: modelled durations of TT-NN launches on Tensix hardware.

rates.py holds the hardware rates (one table per arch, each constant with its source); rules.py the cost rule
of every op (cycles and bytes); cost.py the roofline; profiler.py the per-device timelines and reports
(``device.profiler``). docs/performance.md explains the model and its calibration.
"""
from .cost import Call, OpCost, TensorDesc, describe
from .profiler import Profiler
from .rates import ArchRates, rates_for

__all__ = ["ArchRates", "Call", "OpCost", "Profiler", "TensorDesc", "describe", "rates_for"]
