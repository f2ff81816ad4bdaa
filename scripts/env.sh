# Creates or reuses .venv/ at the repo root (CPython 3.12) with the project and its dev extras installed.
# Sourced by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY312="${PY312:-/root/.pyenv/versions/3.12.1/bin/python}"
command -v "$PY312" >/dev/null 2>&1 || PY312="$(command -v python3.12)"
VENV="$ROOT/.venv"
STAMP="$VENV/.torch-ttnn-installed"
if [ ! -x "$VENV/bin/python" ]; then
    "$PY312" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ]; then
    # (the registry mirror's "Location ... is ignored" notices are noise: filtered)
    "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
    "$VENV/bin/python" -m pip install -q -e "$ROOT[dev]" 2>&1 | grep -v "^WARNING: Location" || true
    "$VENV/bin/python" -c "import torch, torch_ttnn" || { echo "set-up failed: torch_ttnn does not import" >&2; exit 1; }
    touch "$STAMP"
fi
# graphviz's `dot` renders the per-pass SVGs of gen_graphviz (best effort: skipped when apt is unavailable)
if ! command -v dot >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq graphviz) >/dev/null 2>&1 || echo "note: graphviz not installed" >&2
fi
export PATH="$VENV/bin:$PATH"
export HF_HUB_OFFLINE=1
export TT_METAL_MOCK_CLUSTER_DESC_PATH="${TT_METAL_MOCK_CLUSTER_DESC_PATH:-$ROOT/tests/data/wormhole_N150.yaml}"
cd "$ROOT"
