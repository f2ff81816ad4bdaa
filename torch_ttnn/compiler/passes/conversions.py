"""Data movement: put every operand where, in the layout and in the dtype its consumer needs.

- torch value -> TT-NN op: one `ttnn.from_torch(x, dtype, layout, device)` per (value, layout, dtype)
  (parameters and buffers through the load-once cache instead);
- TT-NN value -> TT-NN op needing another layout/dtype: `ttnn.to_layout` / `ttnn.typecast` on the device,
  once per (value, layout, dtype);
- TT-NN value -> host op or graph output: one `ttnn.to_torch(x, dtype=<aten dtype>)` per value.
Conversions are placed right after their producer, so that every consumer shares them.

What a training step's forward saves for its backward stays on the device between the two graphs: a forward
output aot_autograd saves for the backward is handed over as a ticket (`runtime.keep_on_device`) instead of
`ttnn.to_torch`, and the backward takes its saved values with `runtime.saved_to_device` / `saved_to_host`
instead of `ttnn.from_torch` (see runtime.py for the tickets' lifetime).
"""
from __future__ import annotations

import operator

import torch
import torch.fx

from ... import runtime
from ..meta import (DM_INSERTED, FROM_HOST, PARAM, Req, SAVED_ON_DEVICE, STATIC, TT, TTMeta, TT_IN, node_shape,
                    saved_for_backward, tt_meta)
from .. import tiles
from ..report import GraphReport
from .base import Pass, PassResult, get_attr
from .constant_folding import _run_folded


def _get(node: torch.fx.Node, path):
    kind, *rest = path
    obj = node.args if kind == "args" else node.kwargs
    for p in rest:
        obj = obj[p]
    return obj


def _set(node: torch.fx.Node, path, value) -> None:
    kind, first, *rest = path
    if kind == "args":
        args = list(node.args)
        args[first] = _replace(args[first], rest, value)
        node.args = tuple(args)
    else:
        kwargs = dict(node.kwargs)
        kwargs[first] = _replace(kwargs[first], rest, value)
        node.kwargs = kwargs


def _replace(container, rest, value):
    if not rest:
        return value
    items = list(container)
    items[rest[0]] = _replace(items[rest[0]], rest[1:], value)
    return type(container)(items)


class InsertConversions(Pass):
    name = "insert_conversions"
    needs = ("lower_to_ttnn",)
    # every pass that still changes what an op needs of its operands (TT_IN) or adds TT-NN ops
    after = ("channels_last_layout", "fuse_matmul_bias", "fuse_linear_activation", "fuse_residual_norm",
             "training_precision")

    def __init__(self, ttnn, report: GraphReport, param_cache_attr: str = "param_cache",
                 param_check: str = "contents", saved_on_device: bool = True):
        self.ttnn = ttnn
        self.saved_on_device = saved_on_device
        self.report = report
        self.param_cache_attr = param_cache_attr
        self.param_check = param_check

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        g = gm.graph
        self.g = g
        self.memo: dict = {}
        self.device = next(n for n in g.nodes if n.op == "get_attr" and n.target == "ttnn_device")
        self.cache_node = None
        self.gm = gm
        for node in list(g.nodes):
            if node.op == "call_function" and TT_IN in node.meta:
                for path, req in node.meta[TT_IN].items():
                    producer = _get(node, path)
                    _set(node, path, self._to_req(producer, req))
            elif node.op == "output":
                node.args = (self._outputs(node),)
            elif node.op in ("call_function", "call_method") and not node.meta.get(DM_INSERTED):
                if node.target is operator.getitem and tt_meta(node) is not None:
                    continue  # output of a multi-output TT-NN call
                node.args = torch.fx.map_arg(node.args, self._to_host)
                node.kwargs = torch.fx.map_arg(node.kwargs, self._to_host)
        return PassResult(gm, True)

    # --- helpers -----------------------------------------------------------------------------
    def _outputs(self, node: torch.fx.Node):
        """The graph's outputs on the host; in a training forward, what it saves for the backward as tickets."""
        outs = node.args[0]
        saved = saved_for_backward(node)
        if (self.report.kind != "forward" or not self.saved_on_device or not isinstance(outs, (list, tuple))
                or not any(saved)):
            return torch.fx.map_arg(outs, self._to_host)
        return type(outs)(self._keep_on_device(o) if keep else self._to_host(o) for o, keep in zip(outs, saved))

    def _keep_on_device(self, producer):
        """A value saved for the backward: a device value, or the device copy the forward made of a host value
        (an input it uploaded; a parameter or a folded weight transform through the parameter cache, borrowed,
        as the cache keeps it), handed over as a ticket; else the host value."""
        if not isinstance(producer, torch.fx.Node):
            return producer
        if (producer, "saved") in self.memo:
            return self.memo[(producer, "saved")]
        m = tt_meta(producer)
        if m is None:
            copies = self._device_copies(producer, uploads=True)
            if copies and isinstance(producer.meta.get("val"), torch.Tensor):
                kw = {"borrowed": True} if copies[0].meta.get(PARAM) else {}
                if producer.op == "placeholder":
                    kw["source"] = producer     # eager's check: changed in place before the backward
                return self._ticket(producer, copies[0], kw)
            return self._device_transform(producer) or self._to_host(producer)
        if not m.on_device or node_shape(producer, static=True) is None:
            return self._to_host(producer)
        return self._ticket(producer, producer)

    def _ticket(self, producer, device_value, kwargs=None):
        """runtime.keep_on_device(device_value) in place of `producer`'s value at the forward's output."""
        v = producer.meta.get("val")
        n = self._emit(device_value, runtime.keep_on_device, (device_value, v.dtype), kwargs)
        n.meta["val"] = v
        n.meta[SAVED_ON_DEVICE] = True
        self.report.conversions["keep_on_device"] += 1
        self.memo[(producer, "saved")] = n
        return n

    def _device_copies(self, producer, uploads: bool) -> list:
        """The device copies this graph made of a host value: the parameter cache's first, then (`uploads`)
        the graph's own uploads."""
        copies = [n for k, n in self.memo.items() if len(k) == 4 and k[0] is producer and k[3]
                  and isinstance(n, torch.fx.Node) and (n.meta.get(PARAM) or (uploads and n.meta.get(FROM_HOST)))]
        return sorted(copies, key=lambda n: not n.meta.get(PARAM))

    def _device_transform(self, producer):
        """A saved value the forward folded on the host as a permutation of a parameter it also loaded to the
        device (aot_autograd saves W^T for the backward's products): the permutation of that device copy,
        kept for the backward, instead of an upload of the host result every step the weights change."""
        call = producer.args[0] if producer.target is operator.getitem and producer.args else None
        fold = getattr(self.gm, "folded_params", None)
        if not isinstance(call, torch.fx.Node) or call.target is not _run_folded or fold is None:
            return None
        outs = next(n for n in fold.gm.graph.nodes if n.op == "output").args[0]
        src = outs[producer.args[1]]
        if src.target is torch.ops.aten.t.default:
            perm = [1, 0]
        elif src.target is torch.ops.aten.permute.default:
            perm = [int(d) for d in src.args[1]]
        else:
            return None
        param = src.args[0]
        if not isinstance(param, torch.fx.Node) or param.op != "placeholder":
            return None
        here = next((n for n in self.g.nodes if n.op == "placeholder" and n.name == param.name), None)
        copies = self._device_copies(here, uploads=False) if here is not None else []
        if not copies or not isinstance(producer.meta.get("val"), torch.Tensor):
            return None
        m = tt_meta(copies[0])
        t = self._emit(copies[0], self.ttnn.permute, (copies[0], perm))
        t.meta["val"] = producer.meta["val"]
        t.meta[TT] = TTMeta(m.layout, m.dtype, None)
        return self._ticket(producer, t)

    def _saved_input(self, producer) -> bool:
        """A backward placeholder holding a value the forward saved: an activation, or one of the forward's
        inputs and parameters (not a tangent)."""
        desc = producer.meta.get("desc") if isinstance(producer, torch.fx.Node) else None
        return (self.report.kind == "backward" and self.saved_on_device and isinstance(producer, torch.fx.Node)
                and producer.op == "placeholder" and (desc is None or type(desc).__name__ == "PlainAOTInput")
                and not producer.name.startswith("tangents") and not producer.meta.get(STATIC))

    def _after(self, producer: torch.fx.Node) -> torch.fx.Node:
        """Where a conversion of `producer` goes: right after it (after the device handle for inputs)."""
        if producer.op == "placeholder":
            return self.device
        return producer

    def _emit(self, after: torch.fx.Node, target, args, kwargs=None, *, op="call_function") -> torch.fx.Node:
        with self.g.inserting_after(after):
            n = self.g.create_node(op, target, tuple(args), kwargs or {})
        n.meta[DM_INSERTED] = True
        return n

    def _param_cache(self) -> torch.fx.Node:
        if self.cache_node is None:
            self.gm.param_cache = runtime.ParamCache(self.ttnn, contents=self.param_check == "contents")
            with self.g.inserting_after(self.device):
                self.cache_node = get_attr(self.g, self.param_cache_attr)
        return self.cache_node

    def _to_req(self, producer, req: Req):
        if not isinstance(producer, torch.fx.Node):
            return producer
        key = (producer, req.layout, req.dtype, req.on_device)
        if key in self.memo:
            return self.memo[key]
        m = tt_meta(producer)
        ttnn = self.ttnn
        if not req.on_device:
            if m is not None and not m.on_device and m.layout == req.layout and m.dtype == req.dtype:
                out = producer   # already a ttnn tensor on the host (e.g. a host-side reshape of a weight)
            else:
                if m is not None:  # a device value needed on the host as a ttnn tensor
                    producer = self._to_host(producer)
                out = self._from_host(producer, req)
        elif m is None:
            out = self._from_host(producer, req)
        else:
            x, layout, dtype = producer, m.layout, m.dtype
            after = producer
            if req.layout == ttnn.TILE_LAYOUT:
                if layout != ttnn.TILE_LAYOUT:
                    x = after = self._emit(after, ttnn.to_layout, (x, ttnn.TILE_LAYOUT))
                    self._meta(x, producer, ttnn.TILE_LAYOUT, dtype)
                    self.report.conversions["to_layout(TILE)"] += 1
                if dtype != req.dtype:
                    x = after = self._emit(after, ttnn.typecast, (x, req.dtype))
                    self._meta(x, producer, ttnn.TILE_LAYOUT, req.dtype)
                    self.report.conversions["typecast"] += 1
            else:
                if dtype != req.dtype:
                    if layout != ttnn.TILE_LAYOUT:
                        x = after = self._emit(after, ttnn.to_layout, (x, ttnn.TILE_LAYOUT))
                        self._meta(x, producer, ttnn.TILE_LAYOUT, dtype)
                        self.report.conversions["to_layout(TILE)"] += 1
                    x = after = self._emit(after, ttnn.typecast, (x, req.dtype))
                    self._meta(x, producer, ttnn.TILE_LAYOUT, req.dtype)
                    self.report.conversions["typecast"] += 1
                    layout = ttnn.TILE_LAYOUT
                if layout != req.layout:
                    x = after = self._emit(after, ttnn.to_layout, (x, req.layout))
                    self._meta(x, producer, req.layout, req.dtype)
                    self.report.conversions["to_layout(ROW_MAJOR)"] += 1
            out = x
        self.memo[key] = out
        return out

    def _meta(self, node, producer, layout, dtype) -> None:
        node.meta["val"] = producer.meta.get("val")
        node.meta[TT] = TTMeta(layout, dtype, None)

    def _from_host(self, producer: torch.fx.Node, req: Req) -> torch.fx.Node:
        ttnn = self.ttnn
        v = producer.meta.get("val")
        if producer.meta.get(STATIC):
            cache = self._param_cache()
            # after the cache handle (itself right after the device handle); a folded parameter: after the host
            # computation that yields it
            after = cache if producer.op == "placeholder" else producer
            # a parameter the user owns is watched for in-place changes; a folded value is the compiler's own
            n = self._emit(after, "load",
                           (cache, producer, req.dtype, req.layout, self.device if req.on_device else None,
                            producer.op == "placeholder"),
                           op="call_method")
            self.report.conversions["load_param"] += 1
        elif self._saved_input(producer) and req.on_device:
            n = self._emit(self._after(producer), runtime.saved_to_device,
                           (producer, req.dtype, req.layout, self.device))
            self.report.conversions["saved_to_device"] += 1
            n.meta["val"] = v
            n.meta[TT] = TTMeta(req.layout, req.dtype, None, True)
            n.meta[PARAM] = True       # lives as long as autograd keeps the saved value (runtime.saved_to_device)
            return n
        else:
            if self._saved_input(producer):    # wanted as a host ttnn tensor: from its torch value
                producer = self._to_host(producer)
            src = producer
            after = self._after(producer)
            if isinstance(v, torch.Tensor) and v.dtype in (torch.int64, torch.bool, torch.int16, torch.int8,
                                                          torch.uint8, torch.float64):
                src = after = self._emit(after, runtime.narrow_for_device, (producer,))
                src.meta["val"] = v
            kwargs = {"dtype": req.dtype, "layout": req.layout}
            if req.on_device:
                kwargs["device"] = self.device
            n = self._emit(after, ttnn.from_torch, (src,), kwargs)
            self.report.conversions["from_torch"] += 1
        n.meta["val"] = v
        n.meta[TT] = TTMeta(req.layout, req.dtype, None, req.on_device)
        n.meta[FROM_HOST] = True
        n.meta[PARAM] = bool(producer.meta.get(STATIC))
        return n

    def _mostly_padding(self, m, v) -> bool:
        """A device TILE value whose tiles are mostly padding (small last dims), on the device, not bfp."""
        if m is None or not m.on_device or m.layout != self.ttnn.TILE_LAYOUT or not isinstance(v, torch.Tensor):
            return False
        if m.dtype not in (self.ttnn.bfloat16, self.ttnn.float32, self.ttnn.int32, self.ttnn.uint32):
            return False
        h, w = tiles.hw(v.shape)
        return tiles.round_up(h) * tiles.round_up(w) >= 4 * h * w and v.numel() >= 64

    def _to_host(self, producer):
        if self._saved_input(producer):
            key = (producer, "host")
            if key not in self.memo:
                n = self._emit(self._after(producer), runtime.saved_to_host, (producer,))
                n.meta["val"] = producer.meta.get("val")
                self.memo[key] = n
            return self.memo[key]
        if not isinstance(producer, torch.fx.Node) or tt_meta(producer) is None:
            return producer
        key = (producer, "host")
        if key in self.memo:
            return self.memo[key]
        v = producer.meta.get("val")
        kwargs = {"dtype": v.dtype} if isinstance(v, torch.Tensor) else {}
        if isinstance(v, torch.Tensor) and v.dim() == 0:
            kwargs["torch_rank"] = 0   # a 0-dim aten value some rules compute as [1] (ttnn's rank >= 1 habit)
        src, after = producer, producer
        m = tt_meta(producer)
        if self._mostly_padding(m, v):
            # untilize on the device first: the transfer then carries the data, not 32x32 tiles of padding
            src = after = self._emit(producer, self.ttnn.to_layout, (producer, self.ttnn.ROW_MAJOR_LAYOUT))
            self._meta(src, producer, self.ttnn.ROW_MAJOR_LAYOUT, m.dtype)
            self.report.conversions["to_layout(ROW_MAJOR)"] += 1
        n = self._emit(after, self.ttnn.to_torch, (src,), kwargs)
        n.meta["val"] = v
        self.report.conversions["to_torch"] += 1
        self.memo[key] = n
        return n
