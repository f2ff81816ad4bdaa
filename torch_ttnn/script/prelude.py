"""The runtime of an exported TT-NN program (`torch-ttnn export`): device selection, the parameter cache, host
folding, the per-op accuracy check. export.py copies this file into every script it writes (without this
docstring and the marked import), after torch_ttnn/portable.py; here it is a module so that it is linted and
tested like the rest."""
import argparse  # noqa: F401 (the script's main uses it)
import math  # noqa: F401 (the script's graph functions use math and operator)
import operator  # noqa: F401
import os
import sys

import torch
from safetensors.torch import load_file, save_file  # noqa: F401 (the script's main uses them)

# <not in the exported script>
from torch_ttnn.portable import narrow_for_device, pcc  # noqa: F401 (copied above it in a script)
# </not in the exported script>

HERE = os.path.dirname(os.path.abspath(__file__))


def _simulated() -> bool:
    env = os.environ.get("TORCH_TTNN_SIMULATED", "")
    return "--simulated" in sys.argv[1:] or env.lower() in ("1", "true", "yes")


if _simulated():
    import torch_ttnn.sim as ttnn        # the simulated device of torch-ttnn
else:
    import ttnn                          # a Tenstorrent chip


def _import(module, name):
    import importlib
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


class ParamCache:
    """Parameters converted and placed on the device once (the compiler's load-params-once)."""

    def __init__(self):
        self.entries = {}

    def load(self, x, dtype, layout, device, watch=True):
        key = (id(x), dtype, layout)
        if key not in self.entries:
            self.entries[key] = (x, ttnn.from_torch(narrow_for_device(x.detach()), dtype=dtype, layout=layout,
                                                    device=device))
        return self.entries[key][1]

    def derive(self, key, op_name, *args, **kwargs):
        """The TT-NN op op_name run once on parameter tensors (weight preparation), its result reused while
        the same tensors are passed in (graphs of one model share the cache: their keys may repeat)."""
        key = ("derive", key) + tuple(id(a) for a in list(args) + list(kwargs.values()) if hasattr(a, "is_allocated"))
        if key not in self.entries:
            fn = ttnn
            for part in op_name.split("."):
                fn = getattr(fn, part)
            self.entries[key] = (args, fn(*args, **kwargs))
        return self.entries[key][1]


_FOLDED = {}


def _run_folded(fn, *inputs):
    """Parameter preprocessing (run on the host once per set of parameters)."""
    key = (fn.__name__,) + tuple(id(x) for x in inputs)
    if key not in _FOLDED:
        with torch.no_grad():
            _FOLDED[key] = (tuple(fn(*inputs)), inputs)
    return _FOLDED[key][0]


def _host(x, dtype=None):
    """A value of the program as a torch tensor (tuples element-wise)."""
    if isinstance(x, (tuple, list)):
        dts = dtype if isinstance(dtype, (tuple, list)) else [dtype] * len(x)
        return type(x)(_host(v, d) for v, d in zip(x, dts))
    if isinstance(x, ttnn.Tensor):
        x = ttnn.to_torch(x)
    if isinstance(x, torch.Tensor) and isinstance(dtype, torch.dtype):
        x = x.to(dtype)
    return x


def _pcc_any(a, b):
    if isinstance(a, (tuple, list)):
        if not isinstance(b, (tuple, list)) or len(a) != len(b):
            return float("nan")
        vals = [_pcc_any(x, y) for x, y in zip(a, b) if isinstance(x, torch.Tensor)]
        return min(vals) if vals else float("nan")
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        return float("nan")
    if a.shape != b.shape and a.numel() == b.numel():
        a = a.reshape(b.shape)
    return pcc(a, b)


def _shape(x):
    if isinstance(x, (tuple, list)):
        return "(" + ", ".join(_shape(v) for v in x) + ")"
    return str(list(x.shape)) if isinstance(x, torch.Tensor) else type(x).__name__


ACTIVATIONS = {"relu": torch.relu, "relu6": lambda x: torch.clamp(x, 0, 6), "silu": torch.nn.functional.silu,
               "gelu": torch.nn.functional.gelu,
               "gelu_tanh": lambda x: torch.nn.functional.gelu(x, approximate="tanh")}


class Accuracy:
    """--accuracy: after each TT-NN op, the aten op it came from runs on the same inputs (brought to the
    host): `op` is the PCC of the TT-NN op against it, `model` the PCC against the aten graph run end to
    end by torch (errors accumulated so far)."""

    def __init__(self, reference, graph):
        self.reference = reference      # aten node name -> value of the aten graph run by torch
        self.graph = graph
        self.host = {}                  # aten node name -> what the program computed for it
        self.rows = []

    def h(self, name):
        return self.host[name] if name in self.host else self.reference[name]

    def keep(self, name, value, dtype):
        self.host[name] = _host(value, dtype)

    def check(self, var, value, ttnn_op, aten_op, aten_name, dtype, reference_fn, activation=None, store=None):
        got = _host(value, dtype)
        model = self.reference.get(aten_name)
        try:
            with torch.no_grad():
                local = reference_fn(self.h)
        except Exception as e:          # the aten op refused the host values: report, go on
            local = None
            print(f"  ({aten_op} on the program's inputs failed: {type(e).__name__}: {e})")
        if activation is not None:      # a fused activation: the op computes activation(aten op)
            act = ACTIVATIONS[activation]
            local = act(local) if local is not None else None
            model = act(model) if model is not None else None
        if store is None:
            store = aten_name
        if store:
            self.host[store] = got
        op_pcc, model_pcc = _pcc_any(got, local), _pcc_any(got, model)
        self.rows.append((op_pcc, model_pcc, var, ttnn_op, aten_op))
        print(f"pcc  op {op_pcc:9.6f}  model {model_pcc:9.6f}  {var:<18s} {ttnn_op:<24s} <- {aten_op:<32s} "
              f"{_shape(got)}")
