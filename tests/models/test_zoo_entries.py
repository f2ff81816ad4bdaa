"""The zoo's table entries are records in the library (torch_ttnn/zoo/entries), not in the tests."""
from collections import Counter

import pytest
import torch

from torch_ttnn import zoo
from torch_ttnn.tools.common import load_model


def test_the_table_has_its_123_entries_by_source():
    entries = zoo.table_entries()
    assert len(entries) == 123
    assert Counter(e.source for e in entries) == {"torchvision": 60, "transformers": 34, "other": 15, "timm": 14}
    assert len({(e.name, e.mode) for e in entries}) == 123
    assert [e.mode for e in entries if e.name == "Mnist"] == ["eval", "train"]
    assert zoo.get("Mnist").mode == "eval" and zoo.get("Mnist", mode="train").mode == "train"


def test_an_entry_builds_the_same_model_and_inputs_every_time():
    entry = zoo.get("Autoencoder (conv)")
    (m1, x1, p1), (m2, x2, p2) = entry.build_recorded(), entry.build_recorded()
    assert torch.equal(x1[0], x2[0])
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert p1 == p2 == {"original_dtype": "bfloat16"}
    assert not m1.training


def test_a_train_entry_gives_a_loss_function():
    loss_fn, inputs, _ = zoo.get("Mnist", mode="train").build_recorded()
    loss = loss_fn(*inputs)
    loss.backward()
    assert loss.dim() == 0 and inputs[0].grad is not None


def test_properties_measured_while_building_are_recorded():
    entry = zoo.ZooEntry("shallow", lambda: (torch.nn.Linear(2, 2), (torch.ones(1, 2),), {"full_params": 6}),
                         source="other", properties={"original_dtype": "bfloat16"})
    assert entry.build_recorded()[2] == {"original_dtype": "bfloat16", "full_params": 6}


def test_tools_load_table_entries_and_name_a_missing_extra():
    model, inputs, source = load_model("Unet-carvana")
    assert source == "zoo (other)" and inputs[0].shape == (1, 3, 224, 224)
    absent = zoo.ZooEntry("needs-absent", lambda: None, source="other", requires=("no_such_package_here",))
    zoo._TABLE.append(absent)
    try:
        with pytest.raises(ModuleNotFoundError, match="no_such_package_here"):
            load_model("needs-absent")
    finally:
        zoo._TABLE.remove(absent)


def test_an_unknown_name_says_where_to_look():
    with pytest.raises(KeyError, match="torch-ttnn zoo --list"):
        zoo.get("no-such-model")
