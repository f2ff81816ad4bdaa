"""The torchvision entries of the original README table (torch_ttnn/zoo/entries/torchvision_models.py)."""
from __future__ import annotations

import pytest

from .conftest import entry_params


@pytest.mark.parametrize("entry", entry_params("torchvision"))
def test_torchvision(entry, run_entry):
    run_entry(entry)
