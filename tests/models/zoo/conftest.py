"""The model zoo: one test per entry of the original torch-ttnn README table (123 entries).

Every test collected under this directory gets the `zoo` marker, so the fast suite (scripts/test.sh runs
`-m "not zoo and not slow"`) leaves them out. Run them one file or one entry at a time, e.g.

    TORCH_TTNN_EAGER_ONLY=1 python -m pytest -q tests/models/zoo/test_torchvision.py -k "resnet18"

(TORCH_TTNN_EAGER_ONLY=1 builds and runs each model eagerly and skips the compile/measure step.)
The builders need the `zoo` extra: pip install -e '.[dev,zoo]'.
"""
from __future__ import annotations

import pathlib

import pytest

HERE = pathlib.Path(__file__).parent.resolve()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    # this hook sees the items of the whole session: mark only those under this directory
    for item in items:
        path = pathlib.Path(str(item.path)).resolve()
        if HERE == path.parent or HERE in path.parents:
            item.add_marker(pytest.mark.zoo)
