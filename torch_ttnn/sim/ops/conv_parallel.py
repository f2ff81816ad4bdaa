"""The convolution's parallelization as TT-NN computes it: torch_ttnn/conv_rules.py (shared with the compiler)."""
from ...conv_rules import (BLOCK, HEIGHT, WIDTH, ConvPlan, ConvSplit, auto_layout, config_key,  # noqa: F401
                           divisor_exact, divisor_with_padding, plan, split)
