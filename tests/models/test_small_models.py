"""The fast CI subset of the model zoo: small models end to end through the model-test plugin."""
import pytest
import torch

from torch_ttnn import zoo


@pytest.mark.parametrize("name", ["mnist", "autoencoder-linear", "autoencoder-conv", "small-cnn", "mlp",
                                  "transformer-block"])
def test_small_model(name, record_property):
    entry = zoo.get(name)
    record_property("model_name", entry.name)
    record_property("mode", entry.mode)
    model, inputs = entry.build()
    with torch.no_grad():
        outputs = model(*inputs)
    record_property("torch_ttnn", (model, inputs, outputs))
