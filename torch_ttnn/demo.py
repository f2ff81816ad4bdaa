"""The main job: compile a model for the TT-NN device (simulated unless a chip is present), run it,
compare with eager PyTorch, and print its metrics and lowering report.

    python -m torch_ttnn.demo [--model NAME] [--json]
"""
from __future__ import annotations

import argparse
import json
import logging
import sys


def main(argv=None) -> int:
    from . import open_device, zoo
    from .compiler.report import format_report
    from .metrics import format_metrics, measure

    p = argparse.ArgumentParser(prog="python -m torch_ttnn.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="mnist", help=f"one of: {', '.join(zoo.names())}")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--runs", type=int, default=3, help="steady-state runs (median reported)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(message)s")

    entry = zoo.get(args.model)
    model, inputs = entry.build()
    device = open_device()
    m = measure(entry.name, model, inputs, device=device, runs=args.runs, batch_size=None)
    if args.json:
        d = m.as_dict()
        print(json.dumps(d, indent=1, default=str))
    else:
        print(f"device: {device!r}")
        print(format_metrics(m))
        print()
        print(format_report(m.results.reports))
    return 0 if m.success else 1


if __name__ == "__main__":
    sys.exit(main())
