"""Helpers shared by the tools: progress bars, terminal tables, model loading, sizes of dtypes, metrics.

The metrics of a compiled model are a `torch_ttnn.metrics.ModelMetrics` (the format of `torch-ttnn run`,
the demo and the model zoo); `metrics_from_option` fills one from what a compile recorded.
"""
from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, Iterable, Optional

import torch

from ..portable import call_with as call  # noqa: F401  (the tools call models through it)


# --- progress ---------------------------------------------------------------------------------------------


class _StderrBar:
    """A plain progress bar on stderr (used when tqdm is not installed)."""

    def __init__(self, iterable, total=None, desc="", disable=False):
        self.iterable = iterable
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.desc = desc
        self.disable = disable or not sys.stderr.isatty()
        self.n = 0
        self.t0 = time.perf_counter()
        self.postfix = ""

    def set_postfix_str(self, s: str) -> None:
        self.postfix = s
        self._draw()

    def _draw(self) -> None:
        if self.disable:
            return
        width = 30
        if self.total:
            done = int(width * self.n / self.total)
            bar = "#" * done + "-" * (width - done)
            head = f"{self.desc}: [{bar}] {self.n}/{self.total}"
        else:
            head = f"{self.desc}: {self.n}"
        sys.stderr.write(f"\r{head} {time.perf_counter() - self.t0:5.1f}s {self.postfix[:40]:40s}")
        sys.stderr.flush()

    def __iter__(self):
        self._draw()
        for x in self.iterable:
            yield x
            self.n += 1
            self._draw()
        if not self.disable:
            sys.stderr.write("\n")
            sys.stderr.flush()


def progress(iterable: Iterable, desc: str = "", total: Optional[int] = None, disable: bool = False):
    """tqdm when installed, else a simple stderr bar; silent when stderr is not a terminal."""
    try:
        from tqdm import tqdm
        return tqdm(iterable, desc=desc, total=total, file=sys.stderr, leave=False,
                    disable=disable or not sys.stderr.isatty(), dynamic_ncols=True)
    except ImportError:
        return _StderrBar(iterable, total=total, desc=desc, disable=disable)


# --- tables -----------------------------------------------------------------------------------------------


def table(rows: list, headers: list, align: Optional[str] = None) -> str:
    """A plain-text table: `align` is one letter per column, 'l' or 'r' (numbers right by default)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if align is None:
        align = "".join("r" if rows and all(isinstance(r[i], (int, float)) for r in rows) else "l"
                        for i in range(len(headers)))

    def fmt(r):
        return "  ".join(c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(r, widths, align)).rstrip()

    out = [fmt(cells[0]), "  ".join("-" * w for w in widths)]
    out += [fmt(r) for r in cells[1:]]
    return "\n".join(out)


def human_bytes(n: Optional[float]) -> str:
    if n is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


# --- sizes ------------------------------------------------------------------------------------------------

# bytes per element of the TT-NN data types; block formats share one exponent per 16 values of a tile
# (a 32x32 tile of bfloat8_b is 1088 bytes, of bfloat4_b 576 bytes)
TT_ELEMENT_BYTES = {"BFLOAT16": 2.0, "FLOAT32": 4.0, "UINT32": 4.0, "INT32": 4.0, "UINT16": 2.0, "UINT8": 1.0,
                    "BFLOAT8_B": 1088 / 1024, "BFLOAT4_B": 576 / 1024}


def torch_element_bytes(dtype) -> float:
    """Bytes per element of a torch dtype (given as a dtype or its name, e.g. 'torch.bfloat16')."""
    if isinstance(dtype, str):
        name = dtype.replace("torch.", "")
        dtype = getattr(torch, name, None)
        if not isinstance(dtype, torch.dtype):
            tt = TT_ELEMENT_BYTES.get(name.replace("ttnn.", "").upper())
            if tt is not None:
                return tt
            raise ValueError(f"unknown dtype {name!r}")
    return float(dtype.itemsize)


def padded_tile_shape(shape) -> list:
    """The shape a TILE layout tensor occupies: the last two dimensions padded to multiples of 32."""
    from ..compiler.tiles import padded_shape
    return padded_shape(shape)


def numel(shape) -> int:
    return int(math.prod(int(d) for d in shape))


# --- models -----------------------------------------------------------------------------------------------


def load_model(name: str):
    """(model, inputs, source) for a model name: a zoo entry (a built-in model or a row of the README table),
    else a torchvision model (random weights, input 1x3x224x224)."""
    from .. import zoo
    try:
        entry = zoo.get(name)
    except KeyError as zoo_error:
        try:
            import torchvision
            if name in torchvision.models.list_models(module=torchvision.models):
                torch.manual_seed(0)
                model = torchvision.models.get_model(name, weights=None).eval()
                return model, (torch.rand(1, 3, 224, 224),), "torchvision"
        except ImportError:
            pass
        raise zoo_error
    missing = entry.missing()
    if missing:
        raise ModuleNotFoundError(f"zoo model {name!r} needs the zoo extra ({', '.join(missing)}): "
                                  f"pip install -e '.[zoo]'")
    model, inputs = entry.build()
    return model, inputs, "zoo" if entry.source == "built-in" else f"zoo ({entry.source})"


def backward_of(out) -> bool:
    """Backpropagate the sum of the floating outputs that require grad; False when there is none."""
    from ..metrics import tensors_of
    ts = [t for t in tensors_of(out) if t.dtype.is_floating_point and t.requires_grad]
    if not ts:
        return False
    sum(t.float().sum() for t in ts).backward()
    return True


# --- metrics ----------------------------------------------------------------------------------------------


def metrics_from_option(model_name: str, option, *, mode: str = "eval", device=None):
    """A ModelMetrics (the format of torch_ttnn.metrics) filled from the reports of a compile and the device's
    counters of its last call."""
    from ..metrics import metrics_of_compile
    return metrics_of_compile(model_name, option, mode=mode, device=device)


def short_error(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    # dynamo wraps backend errors: keep the line that names the real exception
    for line in msg:
        if "Error" in line and "backend=" not in line:
            return line.strip()[:300]
    return f"{type(e).__name__}: {msg[0][:300] if msg else ''}"


def env_flag(*names: str) -> bool:
    return any(os.environ.get(n, "").lower() in ("1", "true", "yes") for n in names)


def jsonable(x: Any):
    """Turn shapes, dtypes and other values of a graph into JSON values."""
    if isinstance(x, (bool, int, float, str)) or x is None:
        return x
    if isinstance(x, (list, tuple, torch.Size)):
        return [jsonable(v) for v in x]
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    try:
        return int(x)
    except Exception:
        return str(x)
