#!/usr/bin/env python3
"""Trace the fx graphs of models before (--trace_orig: the aten graph) and after (--trace_modi: the TT-NN
graph) lowering; one JSON file per graph under OUT/raw/ (default stat/raw).

    python tools/stat_models.py --trace_orig --trace_modi --backward --profile --model mnist -o stat
    python tools/generate_report.py stat

Same as `torch-ttnn stat`; see torch_ttnn/tools/stat.py for the file format.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from torch_ttnn.tools.stat import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
