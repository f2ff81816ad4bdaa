"""The torch.compile backend: dynamo -> aot_autograd -> pass pipeline -> a GraphModule calling TT-NN."""
from __future__ import annotations

import logging
import time

import torch
import torch.fx
from torch._dynamo.backends.common import aot_autograd

from . import runtime
from .compiler.collector import quiet_collector
from .compiler.decompositions import decomposition_table
from .compiler.meta import INPUT_NAMES
from .compiler.pipeline import compile_graph
from .options import TorchTtnnOption

log = logging.getLogger("torch_ttnn")

_DEFAULT_OPTION: TorchTtnnOption | None = None
DEFAULT_OPTION_KEEP = 16     # programs the implicit option of backend="ttnn" keeps in its results


def _is_static(x) -> bool:
    """Parameters and buffers of the module (dynamo marks them as static inputs)."""
    return isinstance(x, torch.nn.Parameter) or getattr(x, "_dynamo_static_input_type", None) is not None


def backend(gm: torch.fx.GraphModule, example_inputs, options: TorchTtnnOption | None = None):
    """`torch.compile(model, backend=torch_ttnn.backend, options=TorchTtnnOption(device=...))`."""
    option = options if options is not None else TorchTtnnOption()
    if not isinstance(option, TorchTtnnOption):
        raise TypeError(f"torch_ttnn.backend: options must be a TorchTtnnOption, got {type(option).__name__}")
    open_target(option)
    if option.bypass_compile:
        option.results.graphs.append(gm.graph)
        return gm.forward
    ttnn = runtime.ttnn_for(option.device_in_use)
    static = {i for i, x in enumerate(example_inputs) if _is_static(x)} if option.load_params_once else set()
    input_names = [_readable(n.name) for n in gm.graph.nodes if n.op == "placeholder"]

    def compiler(kind):
        def compile_one(agm: torch.fx.GraphModule, ex):
            t0 = time.perf_counter()
            agm.meta[INPUT_NAMES] = input_names   # names of the lifted parameters, for reports
            fn = compile_graph(agm, option=option, ttnn=ttnn, kind=kind,
                               static_inputs=static if kind != "backward" else set())
            option.results.compile_seconds += time.perf_counter() - t0
            return fn
        return compile_one

    with quiet_collector():     # full collections would walk the whole process's objects (compiler/collector.py)
        return aot_autograd(fw_compiler=compiler("forward"), bw_compiler=compiler("backward"),
                            inference_compiler=compiler("inference"),
                            decompositions=decomposition_table())(gm, example_inputs)


def open_target(option: TorchTtnnOption):
    """The device `option`'s programs run on: its own, else the mesh it names or the default device, opened
    once and kept in its results."""
    if option.device_in_use is None:
        option.results.device = runtime.open_mesh(option.mesh) if option.mesh is not None else runtime.open_device()
    return option.device_in_use


def _readable(name: str) -> str:
    """dynamo's placeholder name of a parameter ("L_self_modules_fc1_parameters_weight_") as its module path
    ("fc1.weight"); other names unchanged."""
    import re
    n = re.sub(r"^[Ll]_(self_)?", "", name).rstrip("_")
    if "_parameters_" in n or "_buffers_" in n or n.startswith("modules_"):
        n = re.sub(r"_(modules|parameters|buffers)_", ".", "_" + n)[1:]
        n = re.sub(r"^(modules|parameters|buffers)_", "", n)
        n = re.sub(r"^\w*?self\.", "", n)      # a bound method's module ("forward_self.model...")
    return n


def ttnn_backend(gm: torch.fx.GraphModule, example_inputs, **kwargs):
    """`torch.compile(model, backend="ttnn")`: the registered backend, on a default simulated device
    (or on the `options` handed to torch.compile)."""
    global _DEFAULT_OPTION
    option = kwargs.get("options")
    if option is None:
        if _DEFAULT_OPTION is None:
            _DEFAULT_OPTION = TorchTtnnOption(device=runtime.default_device())
            # nobody asked for these results: keep the last few (a long session compiles many models)
            _DEFAULT_OPTION.results.keep = DEFAULT_OPTION_KEEP
        elif _DEFAULT_OPTION.device is not runtime.default_device():   # someone closed it: reopened
            _DEFAULT_OPTION.device = runtime.default_device()
        option = _DEFAULT_OPTION
    return backend(gm, example_inputs, options=option)
