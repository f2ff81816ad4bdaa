#!/usr/bin/env python
"""Regenerate the README model table, docs/models/<model>.md and docs/operations.md from metrics/models/.

    python tools/collect_metrics.py            # rewrite the generated files
    python tools/collect_metrics.py --check    # exit 1 if the committed files are not what the metrics give
"""
import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from torch_ttnn.zoo.table import regenerate  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only check that the generated files are current")
    p.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parent.parent))
    args = p.parse_args()
    changed = regenerate(pathlib.Path(args.root), check=args.check)
    if args.check:
        if changed:
            print("out of date: " + ", ".join(changed))
            return 1
        print("generated files are current")
        return 0
    print(f"wrote {len(changed)} file(s)" + (": " + ", ".join(changed[:10]) if changed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
