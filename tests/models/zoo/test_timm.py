"""The timm entries of the original README table (torch_ttnn/zoo/entries/timm_models.py)."""
from __future__ import annotations

import pytest

from .conftest import entry_params


@pytest.mark.parametrize("entry", entry_params("timm"))
def test_timm(entry, run_entry):
    run_entry(entry)
