"""The entries of the original README table whose model lived in another repository
(torch_ttnn/zoo/entries/other_models.py)."""
from __future__ import annotations

import pytest

from .conftest import entry_params


@pytest.mark.parametrize("entry", entry_params("other"))
def test_custom(entry, run_entry):
    run_entry(entry)
