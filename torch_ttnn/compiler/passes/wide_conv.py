"""A 1x1 convolution that no TT-NN conv2d program can hold becomes the matrix product it is.

TT-NN runs a 1x1 stride-1 convolution as a matmul over the sharded activation rows, whose weight blocks span
all of K: a core holds (double-buffered) K x its share of the output channels. Where the input channels' tile
count has no divisor in common with the output's that fits the grid's width (regnet_y_128gf's 528 -> 1056
channels: 17 and 33 tiles), block sharding cannot split the channels, and every layout TT-NN offers needs more
than a core's L1 even in an empty device (conv_rules.l1_need at a one-tile activation block, with the input
resharded and the output moved, as from and to DRAM): the device refuses the launch, whatever the placement.
ttnn.linear over the rows (pixels x channels) is the same product with program configs that stream K in
blocks: this pass rewrites such a convolution, before lowering, into the aten pattern of a linear layer
(permute to channels last, rows, mm/addmm with the transposed weight, back), which the lowering, the fusions
(its activation) and the matmul config pass then treat as any linear.

Activations are counted in bfloat16 (a convolution's input may be, whatever the level). The weights' tile is
the program's precision level's: bfloat8_b's for the block-float levels (their convolution
weights are bfloat8_b), bfloat16's otherwise (fp32's for fp32 programs); a mixed level (some product groups
relaxed) counts as its base level, the larger of its two formats.
"""
from __future__ import annotations

import logging

import torch
import torch.fx

from ..meta import meta_value
from .base import Pass, PassResult, chip_geometry

aten = torch.ops.aten
log = logging.getLogger("torch_ttnn")

_LAYOUTS = (None, "BLOCK_SHARDED", "HEIGHT_SHARDED", "WIDTH_SHARDED")


def _ints(v, n=2):
    return [int(v)] * n if isinstance(v, int) else [int(a) for a in v]


def conv_fits(*, in_channels: int, out_channels: int, batch: int, height: int, width: int, bias: bool,
              grid: tuple, bank_size: int, act_tile: int, weight_tile: int, margin: int = 0) -> bool:
    """Whether some layout TT-NN offers runs this 1x1 stride-1 convolution within a core's L1 (activation and
    weight tiles of `act_tile` and `weight_tile` bytes)."""
    from ... import conv_rules
    pixels = batch * height * width
    for name in _LAYOUTS:
        layout = None if name is None else conv_rules.TensorMemoryLayout[name]
        p = conv_rules.plan(in_channels=in_channels, out_channels=out_channels, out_pixels=pixels,
                            kernel=(1, 1), stride=(1, 1), padding=[0, 0], dilation=(1, 1), groups=1, grid=grid,
                            shard_layout=layout, in_width=width)
        need = conv_rules.l1_need(p, in_channels=in_channels, out_channels=out_channels, in_pixels=pixels,
                                  out_pixels=pixels, kernel=(1, 1), in_width=width, act_block_h=1,
                                  in_tile=act_tile, weight_tile=weight_tile, out_tile=act_tile, bias=bias,
                                  row_major_out=False, resharded=True, out_moved=True, windowed=not p.mm_conv)
        if need <= bank_size - margin:
            return True
    return False


class WideConvAsMatmul(Pass):
    name = "wide_conv_as_matmul"

    def __init__(self, device, precision="bf16", fp32: bool = False):
        _, self.grid, stats = chip_geometry(device)
        self.bank_size = stats["bank_size"] if stats else 0
        level = str(getattr(precision, "base", precision))
        self.act_tile = 4096 if fp32 else 2048      # a convolution's input and output: bfloat16 (or float32)
        self.weight_tile = 4096 if fp32 else 1088 if level.startswith("bfp") else 2048
        self.rewritten = 0

    def _wide(self, n) -> bool:
        if n.target is not aten.convolution.default or len(n.args) < 9:
            return False
        x, w, b, stride, padding, dilation, transposed, _out_pad, groups = n.args[:9]
        xv, wv = x.meta.get("val"), w.meta.get("val") if isinstance(w, torch.fx.Node) else None
        if not isinstance(xv, torch.Tensor) or not isinstance(wv, torch.Tensor) or xv.dim() != 4:
            return False
        if (transposed or int(groups) != 1 or tuple(wv.shape[2:]) != (1, 1) or _ints(stride) != [1, 1]
                or any(int(p) for p in _ints(padding)) or _ints(dilation) != [1, 1]):
            return False
        if not all(isinstance(s, int) for s in xv.shape):
            return False
        nb, cin, h, wd = (int(s) for s in xv.shape)
        return not conv_fits(in_channels=cin, out_channels=int(wv.shape[0]), batch=nb, height=h, width=wd,
                             bias=b is not None, grid=self.grid, bank_size=self.bank_size, act_tile=self.act_tile,
                             weight_tile=self.weight_tile)

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        if self.grid is None or not self.bank_size:
            return PassResult(gm, False)
        g = gm.graph
        for n in [n for n in g.nodes if n.op == "call_function" and self._wide(n)]:
            x, w, b = n.args[:3]
            xv, wv = x.meta["val"], w.meta["val"]
            nb, cin, h, wd = (int(s) for s in xv.shape)
            cout, dt = int(wv.shape[0]), n.meta["val"].dtype

            def node(target, args, shape, dtype=dt):
                m = g.call_function(target, args)
                m.meta["val"] = meta_value(shape, dtype)
                return m
            with g.inserting_before(n):
                rows = node(aten.reshape.default, (node(aten.permute.default, (x, [0, 2, 3, 1]), [nb, h, wd, cin],
                                                        xv.dtype), [nb * h * wd, cin]), [nb * h * wd, cin], xv.dtype)
                wt = node(aten.t.default, (node(aten.view.default, (w, [cout, cin]), [cout, cin], wv.dtype),),
                          [cin, cout], wv.dtype)
                prod = (node(aten.addmm.default, (b, rows, wt), [nb * h * wd, cout]) if b is not None
                        else node(aten.mm.default, (rows, wt), [nb * h * wd, cout]))
                nhwc = node(aten.reshape.default, (prod, [nb, h, wd, cout]), [nb, h, wd, cout])
                out = node(aten.permute.default, (nhwc, [0, 3, 1, 2]), [nb, cout, h, wd])
            n.replace_all_uses_with(out)
            g.erase_node(n)
            self.rewritten += 1
            if self.report is not None:
                self.report.convs_as_matmul.append((cin, cout, nb * h * wd))
            log.info("torch_ttnn: convolution %d->%d 1x1 over %d rows: no TT-NN conv2d layout holds its weight "
                     "blocks in a core's L1; run as ttnn.linear", cin, cout, nb * h * wd)
        return PassResult(gm, self.rewritten > 0)
