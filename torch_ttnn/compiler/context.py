"""The lowering context: what a rule uses to read its operands and emit TT-NN calls."""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.fx

from . import ttnn_ops
from .dtypes import device_dtype
from .meta import ATEN, FLOAT32, HOST_HELPER, N_OUTPUTS, Req, TT, TTMeta, TT_IN, TT_MULTI, is_tt, tt_meta, val


class Unsupported(Exception):
    """Raised by a rule: TT-NN cannot do this case; the op stays on the host."""


BF16_MAX = float(torch.finfo(torch.bfloat16).max)     # 3.3895e38, the largest finite bfloat16


class ComplexPair:
    """A complex value lowered as its real and imaginary parts: TT-NN has no complex dtype; its FFT ops take and
    return (real, imag) tensors. `imag` None means zero (a real signal). Only the rules of lowering/fft.py take
    a pair; any other consumer gets the value rebuilt on the host (passes/lower.py)."""
    __slots__ = ("real", "imag")

    def __init__(self, real, imag=None):
        self.real = real
        self.imag = imag


class In:
    """A tensor operand with what the TT-NN op needs of it (resolved by the data movement pass)."""
    __slots__ = ("node", "req")

    def __init__(self, node, req: Req):
        self.node = node
        self.req = req


class LoweringContext:
    def __init__(self, ttnn, option, graph: torch.fx.Graph, device_node: torch.fx.Node, report=None):
        self.ttnn = ttnn
        self.option = option
        self.report = report                        # GraphReport: demotions are counted there
        self.graph = graph
        self.device = device_node
        self.node: Optional[torch.fx.Node] = None   # the aten node being lowered
        self.constants: dict = {}                   # attribute name -> object, for get_attr constants
        self._const_nodes: dict = {}

    def constant(self, obj) -> torch.fx.Node:
        """A get_attr node for a runtime object that code generation cannot spell (a MemoryConfig...)."""
        key = id(obj)
        if key not in self._const_nodes:
            name = f"ttnn_const_{len(self._const_nodes)}"
            self.constants[name] = obj
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                with self.graph.inserting_after(self.device):
                    self._const_nodes[key] = self.graph.get_attr(name)
        return self._const_nodes[key]

    # --- reading operands ----------------------------------------------------------------------
    @staticmethod
    def val(x):
        return val(x)

    def shape(self, x) -> tuple:
        return tuple(val(x).shape)

    def rank(self, x) -> int:
        return val(x).dim()

    def torch_dtype(self, x) -> torch.dtype:
        return val(x).dtype

    @property
    def out(self):
        """The aten value of the node being lowered."""
        return self.node.meta.get("val")

    def is_tt(self, x) -> bool:
        return is_tt(x)

    def layout_of(self, x):
        m = tt_meta(x)
        return None if m is None else m.layout

    # --- policies -------------------------------------------------------------------------------
    def dtype_for(self, x_or_dtype):
        """The TT-NN dtype a torch value of this dtype lives in on the device."""
        dt = x_or_dtype if isinstance(x_or_dtype, torch.dtype) else val(x_or_dtype).dtype
        d = device_dtype(self.ttnn, dt, fp32=self._fp32())
        if d is None:
            raise Unsupported(f"{dt} tensors cannot live on the device")
        return d

    def float_dtype(self):
        return self.ttnn.float32 if self._fp32() else self.ttnn.bfloat16

    def _fp32(self) -> bool:
        """float32 on the device: the user's choice, or an op marked FLOAT32 (float32 state, a training graph's
        softmax and loss ops)."""
        return bool(getattr(self.option, "fp32", False)
                    or (self.node is not None and self.node.meta.get(FLOAT32)))

    # --- operands ------------------------------------------------------------------------------
    def tile(self, x, dtype=None) -> In:
        return In(x, Req(self.ttnn.TILE_LAYOUT, dtype if dtype is not None else self.dtype_for(x)))

    def rm(self, x, dtype=None) -> In:
        return In(x, Req(self.ttnn.ROW_MAJOR_LAYOUT, dtype if dtype is not None else self.dtype_for(x)))

    def keep(self, x, layout=None) -> In:
        """x as it already is on the device (its layout and dtype), for ops that move values without
        converting them (reshape, permute, slice, concat...); a host value comes in `layout` (default TILE)
        and its default device dtype. `layout=` forces a layout, the dtype is kept."""
        m = tt_meta(x)
        if m is not None:
            return In(x, Req(layout if layout is not None else m.layout, m.dtype))
        return In(x, Req(layout if layout is not None else self.ttnn.TILE_LAYOUT, self.dtype_for(x)))

    def host_tt(self, x, dtype=None, layout=None) -> In:
        """A ttnn tensor on the HOST (e.g. conv weights, which TT-NN prepares and places itself)."""
        return In(x, Req(layout if layout is not None else self.ttnn.ROW_MAJOR_LAYOUT,
                         dtype if dtype is not None else self.dtype_for(x), on_device=False))

    def unsupported(self, reason: str):
        raise Unsupported(reason)

    # --- emitting ------------------------------------------------------------------------------
    def op(self, name: str):
        ttnn_ops.info(name)         # a closed vocabulary: a rule emits only ops of the table
        obj = self.ttnn
        for part in name.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                raise Unsupported(f"ttnn.{name} is not available in this TT-NN runtime")
        return obj

    def call(self, name: str, *args, out_layout=None, out_dtype=None, out_val=None, aliases=None,
             **kwargs) -> torch.fx.Node:
        """Emit `ttnn.<name>(*args, **kwargs)`; `In` operands record what the op needs of them."""
        reqs: dict = {}

        def unwrap(a, path):
            if isinstance(a, In):
                reqs[path] = a.req
                return a.node
            if isinstance(a, (list, tuple)):
                return type(a)(unwrap(x, path + (i,)) for i, x in enumerate(a))
            return a

        args = tuple(unwrap(a, ("args", i)) for i, a in enumerate(args))
        kwargs = {k: unwrap(v, ("kwargs", k)) for k, v in kwargs.items()}
        supported = {path: self._supported(name, r) for path, r in reqs.items()}
        lead = next(iter(supported.values()), None)         # the first tensor operand: what the op computes in
        lead_dtype = lead.dtype if lead is not None else out_dtype
        if lead_dtype is not None:
            args = tuple(self._saturate(a, lead_dtype) for a in args)
            kwargs = {k: self._saturate(v, lead_dtype) if k in ("fill_value", "value", "scalar") else v
                      for k, v in kwargs.items()}
        if any(r.dtype == self.ttnn.float32 and supported[p].dtype == self.ttnn.bfloat16 for p, r in reqs.items()):
            self._demoted(name)
        node = self.graph.call_function(self.op(name), args, kwargs)
        node.meta[TT_IN] = supported
        if lead is None:
            lead = Req(self.ttnn.TILE_LAYOUT, self.float_dtype())
        node.meta[TT] = TTMeta(out_layout if out_layout is not None else lead.layout,
                                 out_dtype if out_dtype is not None else lead.dtype,
                                 aliases)
        node.meta["val"] = out_val if out_val is not None else self.out
        if self.node is not None:
            node.meta[ATEN] = self.node.target
            if "stack_trace" in self.node.meta:
                node.meta["stack_trace"] = self.node.meta["stack_trace"]
        return node

    def _saturate(self, a, dtype):
        """A finite float scalar beyond the range of the 16-bit float formats an op computes in, held at their
        largest finite value: rounded, it would become an infinity, and `torch.finfo(torch.float32).min` (HF's
        attention-mask fill) times a zero mask would give NaN where eager gives 0."""
        if (isinstance(a, float) and math.isfinite(a) and abs(a) > BF16_MAX
                and dtype in (self.ttnn.bfloat16, self.ttnn.bfloat8_b, self.ttnn.bfloat4_b)):
            return math.copysign(BF16_MAX, a)
        return a

    def _supported(self, name: str, req: Req) -> Req:
        """Move a requested dtype to one the op documents (e.g. sigmoid is bfloat16 only)."""
        dtypes = ttnn_ops.info(name).dtypes
        if not dtypes or getattr(req.dtype, "name", None) in dtypes:
            return req
        for fallback in ("BFLOAT16", "FLOAT32", "INT32", "UINT32"):
            if fallback in dtypes:
                return Req(req.layout, getattr(self.ttnn.DataType, fallback), req.on_device)
        return req

    def _demoted(self, name: str) -> None:
        """A float32 operand computed in bfloat16 because the op documents no float32: counted in the report,
        and said once when the user asked for float32 (fp32=True or the precision search's fp32 level)."""
        if self.report is not None:
            self.report.demoted[name] += 1
        if getattr(self.option, "fp32", False):
            from .passes.base import warn_once
            warn_once(("fp32_demoted", name), "torch_ttnn: ttnn.%s supports no float32 operands (its 0.81.1 "
                      "documentation): computed in bfloat16 although float32 was asked for", name)

    def outputs(self, node: torch.fx.Node, metas: list) -> tuple:
        """Split a multi-output TT-NN call into one node per output: metas = [(val, layout, dtype)]."""
        import operator
        node.meta.pop(TT, None)
        node.meta[TT_MULTI] = True
        node.meta[N_OUTPUTS] = len(metas)
        outs = []
        for i, (v, layout, dtype) in enumerate(metas):
            g = self.graph.call_function(operator.getitem, (node, i))
            g.meta["val"] = v
            g.meta[TT] = TTMeta(layout, dtype, None)
            outs.append(g)
        return tuple(outs)

    def host(self, fn, *args, out_val=None, **kwargs) -> torch.fx.Node:
        """Emit a host (torch) computation on host values."""
        node = self.graph.call_function(fn, args, kwargs)
        node.meta["val"] = out_val if out_val is not None else self.out
        node.meta[HOST_HELPER] = True
        return node
