#!/usr/bin/env python3
"""Write the tracer's report from OUT/raw/ (default stat/): fw_/bw_node_count.csv and the histograms
fw_/bw_total_input_size_dist/, fw_/bw_total_output_size_dist/ (one PNG per op type).

    python tools/generate_report.py [OUT] [--no-histograms] [--json]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from torch_ttnn.tools.common import progress  # noqa: E402
from torch_ttnn.tools.report import format_trace_report, generate_report  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="generate_report.py", description=__doc__.split("\n\n")[0])
    p.add_argument("out", nargs="?", default="stat", help="the folder holding raw/ (default: stat)")
    p.add_argument("--no-histograms", action="store_true", help="only the CSV files")
    p.add_argument("--json", action="store_true", help="print the node counts as JSON")
    args = p.parse_args(argv)
    try:
        rep = generate_report(args.out, histograms=not args.no_histograms, progress=progress)
    except FileNotFoundError as e:
        print(e, file=sys.stderr)
        return 2
    print(json.dumps(rep.as_dict(), indent=1) if args.json else format_trace_report(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
