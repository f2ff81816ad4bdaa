"""The model zoo: one test per entry of the original torch-ttnn README table (123 entries).

The entries themselves are records in torch_ttnn/zoo/entries/ (`torch_ttnn.zoo.table_entries()`); each test
file here parametrizes one source's entries. Every test collected under this directory gets the `zoo` marker,
so the fast suite (scripts/test.sh runs `-m "not zoo and not slow"`) leaves them out. Run them one file or one
entry at a time, e.g.

    TORCH_TTNN_EAGER_ONLY=1 python -m pytest -q tests/models/zoo/test_torchvision.py -k "resnet18"

(TORCH_TTNN_EAGER_ONLY=1 builds and runs each model eagerly and skips the compile/measure step.)
The builders need the `zoo` extra: pip install -e '.[dev,zoo]'.
"""
from __future__ import annotations

import pathlib
import time

import pytest
import torch

from torch_ttnn.portable import call_with as _call

HERE = pathlib.Path(__file__).parent.resolve()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    # this hook sees the items of the whole session: mark only those under this directory
    for item in items:
        path = pathlib.Path(str(item.path)).resolve()
        if HERE == path.parent or HERE in path.parents:
            item.add_marker(pytest.mark.zoo)


def entry_params(source: str) -> list:
    """pytest parameters of one source's table entries: skipped when the zoo extra the builder imports is
    missing, `compilation_xfail` when the entry names a known failure."""
    from torch_ttnn import zoo
    params = []
    for e in zoo.table_entries(source):
        marks = []
        if e.missing():
            marks.append(pytest.mark.skip(reason=f"needs the zoo extra ({', '.join(e.missing())})"))
        if e.known_failure:
            marks.append(pytest.mark.compilation_xfail(reason=e.known_failure))
        params.append(pytest.param(e, id=e.name if e.mode == "eval" else f"{e.name} ({e.mode})", marks=marks))
    return params


@pytest.fixture
def run_entry(record_property):
    """Build a table entry, run it eagerly and record it for the model-test plugin (tests/models/conftest.py),
    which compiles and measures it. A train entry's model returns a loss: its backward must reach every input
    that requires grad."""
    def run(entry):
        record_property("model_name", entry.name)
        record_property("mode", entry.mode)
        model, inputs, properties = entry.build_recorded()
        for key, value in properties.items():
            record_property(key, value)
        t0 = time.perf_counter()
        if entry.mode == "train":
            loss = _call(model, inputs)
            loss.backward()
            record_property("eager_ms", round((time.perf_counter() - t0) * 1000, 1))
            for x in _tensors(inputs):
                if x.requires_grad:
                    assert x.grad is not None and x.grad.shape == x.shape, f"{entry.name}: no gradient for an input"
            outputs = loss.detach()
        else:
            with torch.no_grad():
                outputs = _call(model, inputs)
            record_property("eager_ms", round((time.perf_counter() - t0) * 1000, 1))
        record_property("torch_ttnn", (model, inputs, outputs))
    return run


def _tensors(inputs):
    values = inputs.values() if isinstance(inputs, dict) else inputs
    return [v for v in values if isinstance(v, torch.Tensor)]
