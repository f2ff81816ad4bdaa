#!/usr/bin/env python3
"""Run a vision model through the TT-NN backend and print its output and the lowering report, or through
the torch_stat backend (the aten graph run by torch) for a reference.

    python tools/run_torchvision.py --model NAME --backend torch_ttnn|torch_stat [--graphviz] [--backward] [--profile] [-o OUT]

NAME: a built-in zoo model (`torch-ttnn models`), an entry of the README table (`torch-ttnn zoo --list`), or
a torchvision model name (random weights).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from torch_ttnn.tools.run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(default_model="mnist", task="vision", prog="run_torchvision.py"))
