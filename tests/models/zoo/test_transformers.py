"""The Hugging Face transformers entries of the original README table
(torch_ttnn/zoo/entries/transformers_models.py)."""
from __future__ import annotations

import pytest

from .conftest import entry_params


@pytest.mark.parametrize("entry", entry_params("transformers"))
def test_transformers(entry, run_entry):
    run_entry(entry)
