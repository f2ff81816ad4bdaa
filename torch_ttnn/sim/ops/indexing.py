"""Indexing: embedding, gather, scatter, scatter_add, index_fill.

Conventions of real ttnn 0.81.1 (docstrings and tt-metal sources):

- embedding(input_tensor, weight): indices UINT32 or BFLOAT16 (tt-metal: "Input must be UINT32 or BFLOAT16";
  BFLOAT16 indices are converted to integers by truncation), ROW_MAJOR or TILE; weight BFLOAT16 (ROW_MAJOR, or
  TILE which the op untilizes first), shape [V, D] (leading dims 1). Indices [S] give [S, D]; indices [B, ..., S]
  (volume B*S) give [B, S, D]. The output layout is ``layout`` or the weight's; ``dtype`` applies to TILE
  outputs only (a ROW_MAJOR output keeps the weight's dtype; asking for another dtype where the fused tilized
  path applies is refused: "Can only typecast output embeddings when producing TILE_LAYOUT output").
  ``padding_idx`` selects the PADDED type, whose pad row is read from the table like any other row (the forward
  values equal torch's); BINARY maps index 0 to row 0 and anything else to row 1 (table of 2 rows).
  Out-of-range indices read unspecified memory on hardware; the simulator refuses them.
- gather(input, dim, index): TILE only (both); input BFLOAT16, FLOAT32, UINT16, UINT32, INT32; index UINT16 or
  UINT32; same rank, index no larger than input off ``dim``; output has the index's shape, the input's dtype.
- scatter / scatter_add(input, dim, index, src): interleaved device tensors; src dtype = input dtype; index INT32,
  UINT8, UINT16 or UINT32; index shape equals input shape off ``dim``; FLOAT32 TILE tensors and 32-bit integer
  TILE tensors longer than 256 along ``dim`` are refused (tt-metal check_support). Output: input's shape, dtype
  and layout. ``reduce``: None, "sum"/"add", "prod"/"multiply", "amax", "amin".
- index_fill(input, dim, index, value): input BFLOAT16/FLOAT32/INT32/UINT32 ROW_MAJOR, index 1-D UINT32,
  0 <= dim < rank.

Values are copied exactly; scatter_add / scatter reductions accumulate in fp32 (int64 for integers) and round
the result once by the packer rule.
"""
from __future__ import annotations

import torch

from .._op import ttnn_op
from ..types import DataType, EmbeddingsType, FLOAT_DTYPES, INT_DTYPES, Layout
from ._common import fail, make_output, on_device, out_memory_config, require_layout, require_tensor, round_to


def _int_values(op: str, arg: str, t) -> torch.Tensor:
    v = t._value
    if v.is_floating_point():
        v = torch.nan_to_num(v, nan=0.0).trunc().to(torch.int64)
    return v.to(torch.int64)


def _check_range(op: str, arg: str, idx: torch.Tensor, size: int) -> None:
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= size):
        fail(op, f"{arg} holds values outside [0, {size}) (min {int(idx.min())}, max {int(idx.max())}); real "
                 f"hardware reads unspecified memory there")


def _store(op: str, device, value, dtype, layout, mc, out, *, rounded: bool, pad=None, rounding="packer"):
    """make_output, or write into a preallocated output tensor."""
    if out is None:
        return make_output(op, device, value, dtype, layout, mc, pad=pad, rounded=rounded, rounding=rounding)
    require_tensor(op, "output tensor", out)
    if out._device is not device:
        fail(op, "the preallocated output tensor must be on the op's device")
    if tuple(out.shape) != tuple(value.shape) or out._dtype != DataType(dtype) or out._layout != Layout(layout):
        fail(op, f"the preallocated output tensor is {list(out.shape)} {out._dtype.name} {out._layout.name}, the "
                 f"op produces {list(value.shape)} {DataType(dtype).name} {Layout(layout).name}")
    out._value = value if rounded else round_to(value, dtype, device, rounding=rounding, pad=pad)
    out._pad = pad if out._layout == Layout.TILE else None
    return out


# ------------------------------------------------------------------------------------------------
# embedding
# ------------------------------------------------------------------------------------------------

def _embedding_golden(input_tensor, weight, *, dtype=None, **_):
    return torch.nn.functional.embedding(input_tensor.to(torch.int64), weight)


@ttnn_op("embedding", golden=_embedding_golden)
def embedding(input_tensor, weight, *, padding_idx=None, layout=None, embeddings_type=EmbeddingsType.GENERIC,
              dtype=None, memory_config=None, output_tensor=None):
    """Look up rows of `weight` ([V, D]) at `input_tensor` (UINT32/BFLOAT16 indices).

    [S] -> [S, D]; [B, S] -> [B, S, D]."""
    op = "embedding"
    device = on_device(op, input_tensor=input_tensor, weight=weight)
    etype = EmbeddingsType(embeddings_type)
    if padding_idx is not None:
        etype = EmbeddingsType.PADDED
    if input_tensor._dtype not in (DataType.UINT32, DataType.BFLOAT16):
        fail(op, f"Input must be UINT32 or BFLOAT16, got input_tensor of dtype {input_tensor._dtype.name}")
    if weight._dtype != DataType.BFLOAT16:
        fail(op, f"Weights tensor must have BFLOAT16 dtype, got {weight._dtype.name}")
    for arg, t in (("input_tensor", input_tensor), ("weight", weight)):
        if t.is_sharded():
            fail(op, f"Embedding does not currently support sharded tensors ({arg} is sharded)")
    wshape = tuple(weight.shape)
    if len(wshape) == 0 or (len(wshape) > 2 and any(d != 1 for d in wshape[:-2])):
        fail(op, f"First two dimensions for the weights must be 1 (weights [V, D]), got {list(wshape)}")
    vocab = wshape[-2] if len(wshape) >= 2 else 1
    dim = wshape[-1]
    ishape = tuple(input_tensor.shape)
    if len(ishape) == 0:
        fail(op, "input_tensor must have at least one dimension")
    batch = 1 if len(ishape) == 1 else ishape[0]
    seq = ishape[-1]
    if batch * seq != input_tensor.logical_volume():
        fail(op, f"input_tensor {list(ishape)} must be [S] or [B, S] (only dim 0 and the last dim may be > 1)")
    if etype == EmbeddingsType.PADDED and padding_idx is None:
        fail(op, "Pad token must be specified when PADDED Embeddings Type is specified")
    if etype == EmbeddingsType.BINARY and vocab != 2:
        fail(op, f"Weight tensor must have 2 embeddings for BINARY Embeddings Type, got {vocab}")
    in_last_padded = seq if input_tensor._layout == Layout.ROW_MAJOR else -(-seq // 32) * 32
    if in_last_padded % 32 == 0 and dim % 32 == 0 and layout is None and weight._layout != Layout.TILE:
        if dtype is not None and DataType(dtype) != weight._dtype:
            fail(op, "Can only typecast output embeddings when producing TILE_LAYOUT output")
    out_layout = Layout(layout) if layout is not None else weight._layout
    out_dtype = (DataType(dtype) if dtype is not None else weight._dtype) if out_layout == Layout.TILE \
        else weight._dtype

    idx = _int_values(op, "input_tensor", input_tensor).reshape(-1)
    table = weight._value.to(torch.float32).reshape(vocab, dim)
    if etype == EmbeddingsType.BINARY:
        idx = (idx != 0).to(torch.int64)
    else:
        _check_range(op, "input_tensor", idx, vocab)
    rows = table[idx]
    value = rows.reshape(seq, dim) if len(ishape) == 1 else rows.reshape(batch, seq, dim)
    mc = out_memory_config(memory_config, input_tensor)
    same = out_dtype == weight._dtype
    return _store(op, device, value, out_dtype, out_layout, mc, output_tensor, rounded=same)


# ------------------------------------------------------------------------------------------------
# gather
# ------------------------------------------------------------------------------------------------

_GATHER_INPUT_DTYPES = (DataType.BFLOAT16, DataType.FLOAT32, DataType.UINT16, DataType.UINT32, DataType.INT32)


def _norm_dim(op: str, dim, rank: int) -> int:
    d = int(dim)
    if not -rank <= d < rank:
        fail(op, f"dim must follow -rank <= dim < rank (dim: {d}, rank: {rank})")
    return d % rank


def _gather_golden(input, dim, index, *, sparse_grad=False, out=None, **_):
    return torch.gather(input, dim, index.to(torch.int64), sparse_grad=sparse_grad)


@ttnn_op("gather", golden=_gather_golden)
def gather(input, dim, index, *, sparse_grad=False, memory_config=None, out=None, sub_core_grids=None):
    """Values of `input` at `index` along `dim` (torch.gather); TILE only; output has the index's shape."""
    op = "gather"
    device = on_device(op, input=input, index=index)
    require_layout(op, "input", input, Layout.TILE)
    require_layout(op, "index", index, Layout.TILE)
    if input._dtype not in _GATHER_INPUT_DTYPES:
        fail(op, f"input has dtype {input._dtype.name}, supported: BFLOAT16, FLOAT32, UINT16, UINT32, INT32")
    if index._dtype not in (DataType.UINT16, DataType.UINT32):
        fail(op, f"index has dtype {index._dtype.name}, supported: UINT16, UINT32")
    rank = len(input.shape)
    if len(index.shape) != rank:
        fail(op, f"input and index must have the same number of dimensions, got {list(input.shape)} and "
                 f"{list(index.shape)}")
    d = _norm_dim(op, dim, rank)
    for k in range(rank):
        if k != d and index.shape[k] > input.shape[k]:
            fail(op, f"index dimension {k} ({index.shape[k]}) exceeds the input's ({input.shape[k]})")
    idx = _int_values(op, "index", index)
    _check_range(op, "index", idx, input.shape[d])
    src = input._value
    if any(index.shape[k] != input.shape[k] for k in range(rank) if k != d):
        src = src[tuple(slice(0, index.shape[k]) if k != d else slice(None) for k in range(rank))]
    value = torch.gather(src, d, idx)
    return _store(op, device, value, input._dtype, Layout.TILE, out_memory_config(memory_config, input), out,
                  rounded=True)


# ------------------------------------------------------------------------------------------------
# scatter / scatter_add
# ------------------------------------------------------------------------------------------------

_REDUCE = {"sum": "sum", "add": "sum", "prod": "prod", "multiply": "prod", "amax": "amax", "amin": "amin"}


def _scatter_checks(op: str, input, dim, index, src) -> int:
    for arg, t in (("input", input), ("index", index), ("src", src)):
        if t.is_sharded():
            fail(op, f"Sharded tensors are not supported - {arg} is sharded.")
    rank = len(input.shape)
    d = _norm_dim(op, dim, rank)
    if input._dtype != src._dtype:
        fail(op, f"input_dtype differs from src_dtype (input_dtype: {input._dtype.name}, "
                 f"src_dtype: {src._dtype.name}).")
    if index._dtype not in (DataType.INT32, DataType.UINT8, DataType.UINT16, DataType.UINT32):
        fail(op, f"index_dtype is not integer, it is {index._dtype.name}.")
    if input._dtype not in FLOAT_DTYPES | INT_DTYPES or input._dtype in (DataType.BFLOAT8_B, DataType.BFLOAT4_B):
        fail(op, f"input has dtype {input._dtype.name}, which scatter does not support")
    for arg, t in (("input", input), ("src", src)):
        if t._dtype == DataType.FLOAT32 and t._layout == Layout.TILE:
            fail(op, f"Scatter doesn't work for fp32 tiled tensors yet - {arg} tensor is FLOAT32 TILE.")
    for arg, t in (("input", input), ("index", index), ("src", src)):
        if (t._dtype in (DataType.UINT32, DataType.INT32) and t._layout == Layout.TILE and len(t.shape) == rank
                and t.shape[d] > 256):
            fail(op, f"Scatter doesn't work for int32 tensors that have scatter row longer than 256 elements - "
                     f"{arg} tensor is {t._dtype.name} TILE with {t.shape[d]} elements along dim {d}")
    if len(index.shape) != rank or len(src.shape) != rank:
        fail(op, f"input, index and src must have the same rank, got {list(input.shape)}, {list(index.shape)}, "
                 f"{list(src.shape)}")
    for k in range(rank):
        if k != d and index.shape[k] != input.shape[k]:
            fail(op, f"Index tensor has dimension {k}'s length other than input shape's (index dimension: "
                     f"{index.shape[k]}, input dimension: {input.shape[k]})")
        if src.shape[k] < index.shape[k]:
            fail(op, f"src dimension {k} ({src.shape[k]}) is smaller than the index's ({index.shape[k]})")
    return d


def _scatter_impl(op: str, input, dim, index, src, memory_config, reduce):
    device = on_device(op, input=input, index=index, src=src)
    d = _scatter_checks(op, input, dim, index, src)
    idx = _int_values(op, "index", index)
    _check_range(op, "index", idx, input.shape[d])
    s = src._value[tuple(slice(0, n) for n in index.shape)]
    base = input._value
    if reduce is None:
        value = torch.scatter(base, d, idx, s)
        rounded = True
    else:
        if str(reduce) not in _REDUCE:
            fail(op, f"reduce must be one of {sorted(_REDUCE)} or None, got {reduce!r}")
        work = base.to(torch.float32) if base.is_floating_point() else base
        sw = s.to(work.dtype)
        value = torch.scatter_reduce(work, d, idx, sw, _REDUCE[str(reduce)], include_self=True)
        rounded = False
    mc = out_memory_config(memory_config, input)
    return make_output(op, device, value, input._dtype, input._layout, mc, rounded=rounded,
                       pad=0.0 if input._layout == Layout.TILE else None)


def _scatter_golden(input, dim, index, src, *args, **kwargs):
    return torch.scatter(input, dim, index.to(torch.int64), src)


def _scatter_add_golden(input, dim, index, src, *args, **kwargs):
    return torch.scatter_add(input, dim, index.to(torch.int64), src)


@ttnn_op("scatter", golden=_scatter_golden)
def scatter(input, dim, index, src, *, memory_config=None, reduce=None, sub_core_grids=None):
    """torch.scatter: src values to `index` positions along `dim` of a copy of `input`."""
    return _scatter_impl("scatter", input, dim, index, src, memory_config, reduce)


@ttnn_op("scatter_add", golden=_scatter_add_golden)
def scatter_add(input, dim, index, src, *, memory_config=None, sub_core_grids=None):
    """torch.scatter_add: src values added at `index` positions along `dim` (fp32 accumulation)."""
    return _scatter_impl("scatter_add", input, dim, index, src, memory_config, "sum")


# ------------------------------------------------------------------------------------------------
# index_fill
# ------------------------------------------------------------------------------------------------

def _index_fill_golden(input, dim, index, value, *args, **kwargs):
    return torch.index_fill(input, dim, index.to(torch.int64), value)


@ttnn_op("index_fill", golden=_index_fill_golden)
def index_fill(input, dim, index, value, *, memory_config=None):
    """Fill the slices of `input` at `index` (1-D UINT32) along `dim` with `value`."""
    op = "index_fill"
    device = on_device(op, input=input, index=index)
    if input._dtype not in (DataType.BFLOAT16, DataType.FLOAT32, DataType.INT32, DataType.UINT32):
        fail(op, f"input has dtype {input._dtype.name}, supported: BFLOAT16, FLOAT32, INT32, UINT32")
    require_layout(op, "input", input, Layout.ROW_MAJOR)
    if index._dtype != DataType.UINT32:
        fail(op, f"index has dtype {index._dtype.name}, supported: UINT32")
    if len(index.shape) != 1:
        fail(op, f"index must be a 1D tensor, got shape {list(index.shape)}")
    rank = len(input.shape)
    if not isinstance(dim, int) or not 0 <= dim < rank:
        fail(op, f"dim must be >= 0 and less than the rank of input ({rank}), got {dim!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(op, f"value must be an int or a float, got {type(value).__name__}")
    if input._dtype in INT_DTYPES and not float(value).is_integer():
        fail(op, f"value {value!r} must match the integer dtype {input._dtype.name} of input")
    idx = _int_values(op, "index", index)
    _check_range(op, "index", idx, input.shape[dim])
    base = input._value
    fill = torch.tensor([value], dtype=torch.float32 if base.is_floating_point() else torch.int64)
    fill = round_to(fill, input._dtype, None, rounding="host")
    out = base.clone()
    out.index_fill_(dim, idx, fill.item())
    return make_output(op, device, out, input._dtype, input._layout, out_memory_config(memory_config, input),
                       rounded=True)
