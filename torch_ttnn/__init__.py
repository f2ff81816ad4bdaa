"""torch-ttnn: a PyTorch 2 compiler for Tenstorrent devices.

    import torch, torch_ttnn
    device = torch_ttnn.open_device()      # a chip if there is one, else the simulated device
    option = torch_ttnn.TorchTtnnOption(device=device)
    model = torch.compile(model, backend=torch_ttnn.backend, options=option)
    tokens = torch_ttnn.generate(hf_model, option, input_ids, max_new_tokens=8)  # a transformers model's
                                           # generate, its forward on TT-NN (see torch_ttnn/generation.py)
    for y in torch_ttnn.stream(model, batches):   # the next batch written to the device during each call
        ...

Importing torch_ttnn registers nothing globally and changes no torch configuration.
"""
from .backend import backend, ttnn_backend
from .generation import generate
from .options import CompileResults, TorchTtnnOption
from .runtime import close_device, open_device
from .stream import stream

__all__ = ["backend", "ttnn_backend", "TorchTtnnOption", "CompileResults", "open_device", "close_device",
           "lowering_report", "generate", "stream"]


def lowering_report(option: TorchTtnnOption) -> str:
    """A lowering report for what was compiled with `option`: ops lowered, left on the host and why."""
    from .compiler.report import format_report
    return format_report(option.results.reports)
