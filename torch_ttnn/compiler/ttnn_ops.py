"""The TT-NN ops the compiler may emit or rewrite: one closed table.

Every `ttnn.<name>` a lowering rule emits is a row here (`LoweringContext.op` refuses any other name), and the
TT-NN-level passes select the ops they rewrite by querying it (`names(...)`, `resolve(...)`) instead of keeping
lists of their own. A row says:

- `group`: the kind of op (unary, binary, ternary, reduction, matmul, conv, pool, normalization, attention,
  data_movement, indexing, creation, random, ccl, fft, conversion, placement, conv_prep);
- `elementwise`: output element i depends only on the input elements i, whatever the dims mean, so a
  permute or reshape commutes with it (the channels-last pass moves them across);
- `in_place`: writes its result into its first operand (TT-NN's `<name>_` ops);
- `view`: only the shape changes (free when tiles.is_free_view allows);
- `reduces_dims`: `ttnn.<name>(x, dim, keepdim)` reduces the listed dims, each output element from the
  input elements of its own position in the kept dims;
- `sliding_window`: reads an NHWC activation that may also be given flattened as [1, 1, N*H*W, C], at
  argument `input` (a keyword or a position);
- `kernel_config`: the keyword taking its compute configuration; `activation`: the keyword taking a fused
  activation (a name for matmul/linear, `Conv2dConfig(activation=...)` for conv2d, a list of UnaryWithParam
  for binary ops); `residual`: the keyword of a residual added inside the kernel.

Which dtypes and layouts an op documents is read from `ttnn_caps.json`, generated from the real wheel's
docstrings by tools/gen_ttnn_caps.py. tests/compiler/test_ttnn_ops.py keeps the table complete and true: every
row is a real 0.81.1 op the simulator offers, every keyword named here is in the op's real signature, every
name the lowering rules emit is a row.
"""
from __future__ import annotations

import functools
import json
import pathlib
from dataclasses import dataclass
from typing import Optional, Union


@dataclass(frozen=True)
class OpInfo:
    name: str
    group: str
    elementwise: bool = False
    in_place: bool = False
    view: bool = False
    reduces_dims: bool = False
    sliding_window: bool = False
    input: Union[str, int] = 0
    kernel_config: Optional[str] = None
    activation: Optional[str] = None
    residual: Optional[str] = None

    @property
    def dtypes(self) -> tuple:
        """The dtypes its documentation lists (names such as "BFLOAT16"); () when it lists none."""
        return tuple(caps().get(self.name, {}).get("dtypes", ()))

    @property
    def layouts(self) -> tuple:
        return tuple(caps().get(self.name, {}).get("layouts", ()))


_GROUPS = {
    "unary": """abs acos acosh asin asinh atan atanh bitwise_not cbrt ceil celu clamp clip cos cosh deg2rad digamma
        elu eqz erf erfc erfinv exp exp2 expm1 fill floor frac gelu gez gtz hardshrink hardsigmoid hardswish hardtanh
        i0 identity isfinite isinf isnan isneginf isposinf leaky_relu lez lgamma log log10 log1p log2 log_sigmoid
        logical_not logit ltz mish neg nez polyval rad2deg reciprocal relu relu6 relu_max relu_min round rsqrt selu
        sigmoid sigmoid_accurate sign signbit silu sin sinh softplus softshrink softsign sqrt square swish tan tanh
        tanhshrink threshold trunc""",
    "binary": """add add_ addalpha atan2 bias_gelu bias_gelu_ bitwise_and bitwise_left_shift bitwise_or
        bitwise_right_shift bitwise_xor div div_ div_no_nan divide divide_ eq eq_ floor_div fmod gcd ge ge_ gt gt_
        hypot isclose lcm ldexp ldexp_ le le_ logaddexp logaddexp2 logaddexp2_ logaddexp_ logical_and logical_and_
        logical_or logical_or_ logical_xor logical_xor_ lt lt_ maximum minimum mul mul_ multiply multiply_ ne ne_
        nextafter pow prelu rdiv remainder rpow rsub rsub_ squared_difference squared_difference_ sub sub_ subalpha subtract
        subtract_ xlogy""",
    "ternary": "addcdiv addcmul lerp mac where",
    "reduction": "argmax cumprod cumsum max mean min prod sort std sum topk var",
    "matmul": "addmm linear matmul",
    "conv": "conv1d conv2d conv_transpose2d",
    "conv_prep": """get_conv_output_dim prepare_conv_bias prepare_conv_transpose2d_bias prepare_conv_transpose2d_weights
        prepare_conv_weights""",
    "pool": "adaptive_avg_pool2d adaptive_max_pool2d avg_pool2d global_avg_pool2d max_pool2d upsample",
    "normalization": """batch_norm group_norm layer_norm rms_norm scale_mask_softmax scale_mask_softmax_in_place
        softmax softmax_in_place""",
    "attention": """transformer.attention_softmax transformer.attention_softmax_ transformer.concatenate_heads
        transformer.scaled_dot_product_attention transformer.scaled_dot_product_attention_decode
        transformer.split_query_key_value_and_split_heads""",
    "data_movement": """chunk concat expand move narrow pad permute repeat repeat_interleave reshape
        reshape_on_device roll slice split squeeze stack tilize_with_val_padding transpose tril triu unsqueeze
        unsqueeze_to_4D untilize_with_unpadding view""",
    "indexing": "embedding gather index_fill scatter scatter_add",
    "creation": "arange empty empty_like full full_like ones ones_like zeros zeros_like",
    "random": "bernoulli experimental.dropout rand randn",
    "ccl": "all_broadcast all_gather all_reduce mesh_partition point_to_point reduce_scatter",
    "fft": "experimental.fft experimental.ifft",
    "conversion": "clone typecast",
    "placement": """assign copy_device_to_host_tensor copy_host_to_device_tensor deallocate fill_implicit_tile_padding
        from_device from_torch reallocate tilize to_device to_dtype to_layout to_memory_config to_torch untilize""",
}

# element-wise ops whose meaning depends on a dim (prelu's weight is per channel) or on the position (tril/triu)
_NOT_ELEMENTWISE = {"prelu", "tril", "triu"}
_VIEWS = {"reshape", "view", "squeeze", "unsqueeze"}
_REDUCES_DIMS = {"sum", "mean", "max", "min", "prod"}
_SLIDING_WINDOW = {"conv1d": "input_tensor", "conv2d": "input_tensor", "conv_transpose2d": "input_tensor",
                   "max_pool2d": 0, "avg_pool2d": 0, "adaptive_avg_pool2d": 0, "adaptive_max_pool2d": 0}
_KERNEL_CONFIG = {**{n: "compute_kernel_config" for n in ("matmul", "linear", "addmm", "sum", "mean")},
                  **{n: "compute_config" for n in ("conv1d", "conv2d", "conv_transpose2d")}}
_ACTIVATION = {"matmul": "activation", "linear": "activation", "conv2d": "conv_config", "add": "activations"}
_RESIDUAL = {"layer_norm": "residual_input_tensor", "rms_norm": "residual_input_tensor"}


def _build() -> dict:
    table = {}
    for group, text in _GROUPS.items():
        for name in text.split():
            if name in table:
                raise RuntimeError(f"ttnn.{name} is listed in two groups ({table[name].group}, {group})")
            table[name] = OpInfo(
                name, group,
                elementwise=group in ("unary", "binary", "ternary", "conversion") and name not in _NOT_ELEMENTWISE,
                in_place=name.endswith(("_", "_in_place")),
                view=name in _VIEWS, reduces_dims=name in _REDUCES_DIMS, sliding_window=name in _SLIDING_WINDOW,
                input=_SLIDING_WINDOW.get(name, 0), kernel_config=_KERNEL_CONFIG.get(name),
                activation=_ACTIVATION.get(name), residual=_RESIDUAL.get(name))
    return table


OPS: dict = _build()


@functools.lru_cache(maxsize=1)
def caps() -> dict:
    """The dtypes and layouts each op's 0.81.1 documentation lists (tools/gen_ttnn_caps.py writes the file)."""
    return json.loads((pathlib.Path(__file__).parent / "ttnn_caps.json").read_text())


def info(name: str) -> OpInfo:
    """The row of `ttnn.<name>`; a KeyError naming the table for an op the compiler does not know."""
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"ttnn.{name} is not in the compiler's op table (torch_ttnn/compiler/ttnn_ops.py): add "
                       f"its row before emitting it") from None


def names(group: Optional[str] = None, **flags) -> list:
    """The ops of `group` (any group when None) whose fields equal `flags`, e.g. names(elementwise=True)."""
    return [op.name for op in OPS.values() if (group is None or op.group == group)
            and all(getattr(op, k) == v for k, v in flags.items())]


def names_with(field: str) -> list:
    """The ops whose `field` is set, e.g. names_with("activation")."""
    return [op.name for op in OPS.values() if getattr(op, field)]


def resolve(ttnn, selected) -> dict:
    """{ttnn callable: name} for the names `selected` (each must be a row), looked up in the `ttnn` module in
    use (the real one or the simulator): a missing op is an error, not a silently smaller set."""
    out = {}
    for name in selected:
        info(name)
        obj = ttnn
        for part in name.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                raise AttributeError(f"ttnn.{name} (in the compiler's op table) is not offered by {ttnn.__name__}")
        out[obj] = name
    return out
