"""Host-side helpers that need torch alone: what a compiled program does to its inputs before uploading them,
and how two results are compared. Exported scripts (export.py) carry this file verbatim, so that a script run on
a chip without torch_ttnn converts and measures exactly as the compiler does; it imports nothing from
torch_ttnn."""
import torch

INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1


def narrow_for_device(x):
    """Host side of an input conversion: int64 -> int32 after a range check; bool -> float32 0/1; float64 ->
    float32 (what the device holds)."""
    if x.dtype == torch.bool:
        return x.to(torch.float32)
    if x.dtype in (torch.int64, torch.int16, torch.int8, torch.uint8):
        if x.numel() and x.dtype == torch.int64:
            lo, hi = int(x.min()), int(x.max())
            if lo < INT32_MIN or hi > INT32_MAX:
                raise OverflowError(f"torch_ttnn: an int64 tensor of shape {list(x.shape)} holds values in "
                                    f"[{lo}, {hi}], outside the device's int32 range")
        return x.to(torch.int32)
    if x.dtype == torch.float64:
        return x.to(torch.float32)
    return x


def pcc(a, b):
    """Pearson correlation of two tensors: 1.0 for identical ones; NaN when one is missing or the shapes
    differ; non-finite values must sit at the same places (else 0.0) and are left out. For one value or a
    constant tensor, where a correlation is undefined: 1 - max |a - b| / max(|a|, |b|, 0.01)."""
    if a is None or b is None:
        return float("nan")
    a = a.detach().to(torch.float64).flatten()
    b = b.detach().to(torch.float64).flatten()
    if a.shape != b.shape:
        return float("nan")
    if a.numel() == 0 or torch.equal(a, b):
        return 1.0
    finite = torch.isfinite(a) & torch.isfinite(b)
    if not bool(finite.all()):
        if not torch.equal(torch.isfinite(a), torch.isfinite(b)):
            return 0.0
        a, b = a[finite], b[finite]
    if a.numel() < 2 or float(a.std()) == 0.0 or float(b.std()) == 0.0:
        err = float((a - b).abs().max())
        scale = max(float(a.abs().max()), float(b.abs().max()), 1e-2)
        return max(0.0, 1.0 - err / scale)
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


def tensors_of(x) -> list:
    """Tensors inside outputs: tensors, tuples, lists, dicts and transformers ModelOutput."""
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in tensors_of(v)]
    if isinstance(x, dict):
        return [t for v in x.values() for t in tensors_of(v)]
    if hasattr(x, "to_tuple"):
        return tensors_of(x.to_tuple())
    return []


def call_with(fn, inputs):
    """fn(**inputs) for a dict, fn(*inputs) for a tuple or list, else fn(inputs)."""
    if isinstance(inputs, dict):
        return fn(**inputs)
    if isinstance(inputs, (list, tuple)):
        return fn(*inputs)
    return fn(inputs)
