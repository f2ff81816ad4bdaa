"""Training precision: the graphs of a training step accumulate in float32 at full fidelity.

TT-NN's defaults for bfloat16 operands (matmul/linear: HiFi2 fidelity and a bfloat16 Dst that rounds every 16
accumulated products; reductions: a bfloat16 Dst) suit inference; gradients, which sum many small products over
the batch and the spatial dims and are chained layer after layer, lose too much with them (the MNIST CNN and
the linear autoencoder end with gradient PCCs of 0.89-0.97 against eager). In the forward and backward graphs
aot_autograd hands us for training (never in inference graphs), every matmul / linear / sum / mean / conv that
has no compute kernel config of its own gets HiFi4 with float32 accumulation (`fp32_dest_acc_en`), the
configuration TT's training stacks use. The config object is built on the host once per call from the device
(`init_device_compute_kernel_config`, so it matches the device's architecture).
"""
from __future__ import annotations

import torch
import torch.fx

from .. import ttnn_ops
from ..meta import FLOAT32, HOST_HELPER, TT, TT_MULTI
from .base import Pass, PassResult

# the ops whose compute config a training graph sets (the rest keep TT-NN's defaults)
_TRAINING_CONFIGURED = ("matmul", "linear", "sum", "mean", "conv2d", "conv_transpose2d", "conv1d")
aten = torch.ops.aten
# The ops mixed-precision training keeps in float32 (torch.autocast's float32 list: softmax, log-softmax,
# logsumexp and the losses), with their backward: a gradient such as log_softmax's, grad - exp(out) * sum(grad),
# is a small difference of nearly equal terms, which bfloat16 operands lose (MNIST's input gradient: PCC 0.977
# in bfloat16, 0.996 in float32).
FLOAT32_IN_TRAINING = frozenset({
    aten._softmax.default, aten._log_softmax.default, aten._softmax_backward_data.default,
    aten._log_softmax_backward_data.default, aten.logsumexp.default, aten.nll_loss_forward.default,
    aten.nll_loss_backward.default, aten.nll_loss2d_forward.default, aten.nll_loss2d_backward.default,
    aten.mse_loss.default, aten.mse_loss_backward.default, aten.l1_loss.default,
    aten.binary_cross_entropy.default, aten.binary_cross_entropy_backward.default,
    aten.binary_cross_entropy_with_logits.default, aten.smooth_l1_loss.default,
    aten.smooth_l1_loss_backward.default, aten.huber_loss.default, aten.huber_loss_backward.default,
    aten.kl_div.default,
})


def mark_float32_ops(agm: torch.fx.GraphModule) -> int:
    """Mark a training graph's softmax, log-softmax and loss ops FLOAT32 (computed in float32 on the device,
    where TT-NN offers it). Returns how many were marked."""
    marked = 0
    for n in agm.graph.nodes:
        if n.op == "call_function" and n.target in FLOAT32_IN_TRAINING:
            n.meta[FLOAT32] = True
            marked += 1
    return marked


def training_kernel_config(device):
    """HiFi4 + float32 accumulation for `device`'s architecture."""
    from ... import runtime
    ttnn = runtime.ttnn_for(device)
    return ttnn.init_device_compute_kernel_config(device.arch(), math_fidelity=ttnn.MathFidelity.HiFi4,
                                                  math_approx_mode=False, fp32_dest_acc_en=True,
                                                  packer_l1_acc=True)


class TrainingPrecision(Pass):
    name = "training_precision"
    needs = ("lower_to_ttnn",)

    def __init__(self, ttnn):
        # op -> the keyword of its compute config
        self.targets = {op: ttnn_ops.info(name).kernel_config
                        for op, name in ttnn_ops.resolve(ttnn, _TRAINING_CONFIGURED).items()}

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        g = gm.graph
        config = None
        for n in list(g.nodes):
            if n.op != "call_function" or n.target not in self.targets or TT not in n.meta and \
                    not n.meta.get(TT_MULTI):
                continue
            key = self.targets[n.target]
            if n.kwargs.get(key) is not None:
                continue
            if config is None:
                device = next(d for d in g.nodes if d.op == "get_attr" and d.target == "ttnn_device")
                with g.inserting_after(device):
                    config = g.call_function(training_kernel_config, (device,))
                config.meta[HOST_HELPER] = True
            n.kwargs = {**n.kwargs, key: config}
        return PassResult(gm, config is not None)
