#!/usr/bin/env python3
"""Generate torch_ttnn/compiler/ttnn_caps.json from the docstrings of the real ttnn 0.81.1 wheel.

    python tools/gen_ttnn_caps.py [DOCSTRINGS_JSON] [--check]

DOCSTRINGS_JSON maps "ttnn.<op>" to the op's docstring (read off the wheel; tests/data keeps a copy). Most op
docstrings end with a "Supported dtypes and layouts" list-table: one row per operand combination, a column of
dtypes and one of layouts. The JSON keeps, per op, the union of the rows' dtypes and layouts (in the order they
first appear) and `tile_only` when TILE is the only layout. --check compares with the committed file instead
of writing it (exit status 1 when they differ).
"""
from __future__ import annotations

import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_DOCS = ROOT / "tests" / "data" / "ttnn-0.81.1-docstrings.json"
OUT = ROOT / "torch_ttnn" / "compiler" / "ttnn_caps.json"

_TABLE = re.compile(r"^\s*\.\. list-table::")
_ROW = re.compile(r"^\s*\*\s+-\s+(?P<first>.*)$")
_CELL = re.compile(r"^\s+-\s+(?P<cell>.*)$")


def _tables(doc: str) -> list:
    """Every list-table of a docstring, as lists of rows (lists of cells)."""
    tables: list = []
    for line in doc.splitlines():
        if _TABLE.match(line):
            tables.append([])
            continue
        if not tables:
            continue
        m = _ROW.match(line)
        if m:
            tables[-1].append([m.group("first").strip()])
            continue
        m = _CELL.match(line)
        if m and tables[-1]:
            tables[-1][-1].append(m.group("cell").strip())
    return tables


def _names(cell: str) -> list:
    cell = re.sub(r"ROW[ _]MAJOR", "ROW_MAJOR", cell.replace("*", "").replace("`", ""), flags=re.I)
    words = re.split(r"[,\s]+", cell)
    return [w.upper() for w in words if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", w) and
            (w.isupper() or w.lower() == "any")]


def caps_of(doc: str) -> dict | None:
    """The union of the dtype and layout columns of the docstring's dtype/layout tables (one per operand in
    some docstrings); None when it has none."""
    dtypes: set = set()
    layouts: set = set()
    for rows in _tables(doc):
        if not rows or len(rows[0]) < 2:
            continue
        head = [c.lower().rstrip("s") for c in rows[0][:2]]
        if head != ["dtype", "layout"]:
            continue
        for row in rows[1:]:
            if len(row) >= 2:
                dtypes.update(_names(row[0]))
                layouts.update(_names(row[1]))
    if not dtypes:
        return None
    out = {"dtypes": sorted(dtypes), "layouts": sorted(layouts)}
    if out["layouts"] == ["TILE"]:
        out["tile_only"] = True
    return out


def generate(docs: dict) -> dict:
    caps = {}
    for full, doc in docs.items():
        if not full.startswith("ttnn.") or not isinstance(doc, str):
            continue
        found = caps_of(doc)
        if found:
            caps[full.removeprefix("ttnn.")] = found
    return dict(sorted(caps.items()))


def main(argv: list) -> int:
    check = "--check" in argv
    paths = [a for a in argv if not a.startswith("--")]
    docs = json.loads(pathlib.Path(paths[0] if paths else DEFAULT_DOCS).read_text())
    text = json.dumps(generate(docs), indent=0) + "\n"
    if check:
        same = OUT.read_text() == text
        print("ttnn_caps.json is current" if same else "ttnn_caps.json differs from the docstrings")
        return 0 if same else 1
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
