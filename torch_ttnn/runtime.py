"""Runtime helpers called by compiled graphs, and the choice of TT-NN runtime (real or simulated)."""
from __future__ import annotations

import logging
import os
import weakref

import torch

log = logging.getLogger("torch_ttnn")

_INT32_MIN, _INT32_MAX = -(2 ** 31), 2 ** 31 - 1


def ttnn_for(device):
    """The ttnn module that runs on `device`: the simulator for a simulated device, else real ttnn."""
    if device is None or getattr(device, "is_simulated", False):
        import torch_ttnn.sim as ttnn
        return ttnn
    import ttnn  # real runtime: only imported when a real device is handed in
    return ttnn


def open_device(device_id: int = 0, *, l1_small_size: int = 16384, simulated: bool | None = None, **kwargs):
    """Open a Tenstorrent chip if one is present (and real ttnn is installed), else the simulated device.

    `simulated=True` forces the simulator; the environment variable TORCH_TTNN_SIMULATED=1 does too.
    """
    if simulated is None:
        simulated = os.environ.get("TORCH_TTNN_SIMULATED", "") == "1"
    if not simulated and _chip_present():
        try:
            import ttnn
            if ttnn.GetNumAvailableDevices() > 0:
                return ttnn.open_device(device_id=device_id, l1_small_size=l1_small_size, **kwargs)
        except Exception as e:  # no wheel, no driver, no chip
            log.info("torch_ttnn: no Tenstorrent device (%s); using the simulated device", e)
    import torch_ttnn.sim as sim
    return sim.open_device(device_id=device_id, l1_small_size=l1_small_size, **kwargs)


def _chip_present() -> bool:
    """A Tenstorrent PCIe device node exists (checked before importing the real runtime)."""
    return os.path.isdir("/dev/tenstorrent") and bool(os.listdir("/dev/tenstorrent"))


def close_device(device) -> None:
    ttnn_for(device).close_device(device)


def narrow_for_device(x: torch.Tensor) -> torch.Tensor:
    """Host side of an input conversion: int64 -> int32 after a range check; bool -> float32 0/1."""
    if x.dtype == torch.bool:
        return x.to(torch.float32)
    if x.dtype in (torch.int64, torch.int16, torch.int8, torch.uint8):
        if x.numel() and x.dtype == torch.int64:
            lo, hi = int(x.min()), int(x.max())
            if lo < _INT32_MIN or hi > _INT32_MAX:
                raise OverflowError(f"torch_ttnn: an int64 tensor of shape {list(x.shape)} holds values in "
                                    f"[{lo}, {hi}], outside the device's int32 range")
        return x.to(torch.int32)
    if x.dtype == torch.float64:
        return x.to(torch.float32)
    return x


class ParamCache:
    """Device copies of parameters and buffers, converted once per compiled model (load-params-once).

    An entry is reused while the same tensor object keeps the same version; an in-place update (an
    optimizer step) bumps the version and the next call converts again.
    """

    def __init__(self, ttnn):
        self.ttnn = ttnn
        self._entries: dict = {}
        self._derived: dict = {}
        self.derivations = 0
        self.conversions = 0
        self.hits = 0

    def load(self, x: torch.Tensor, dtype, layout, device):
        ttnn = self.ttnn
        key = (id(x), dtype, layout, device is not None)
        hit = self._entries.get(key)
        if hit is not None:
            ref, version, tt = hit
            if ref() is x and version == x._version and tt.is_allocated():
                self.hits += 1
                return tt
            if tt.is_allocated() and device is not None:
                ttnn.deallocate(tt)
        tt = ttnn.from_torch(narrow_for_device(x.detach()), dtype=dtype, layout=layout, device=device)
        self._entries[key] = (weakref.ref(x), x._version, tt)
        self.conversions += 1
        return tt

    def derive(self, key, op_name: str, *args, **kwargs):
        """Run the TT-NN op `op_name` on parameter tensors once (weight preparation, layout/dtype conversions)
        and reuse its result while the same parameter tensors are passed in."""
        ident = tuple(id(a) for a in _flat(args) + _flat(list(kwargs.values())) if hasattr(a, "is_allocated"))
        hit = self._derived.get(key)
        if hit is not None and hit[0] == ident and _alive(hit[1]):
            self.hits += 1
            return hit[1]
        fn = self.ttnn
        for part in op_name.split("."):
            fn = getattr(fn, part)
        out = fn(*args, **kwargs)
        self._derived[key] = (ident, out, (args, kwargs))   # holding the inputs keeps their ids unique
        self.derivations += 1
        return out

    def clear(self) -> None:
        for ref, _, tt in self._entries.values():
            try:
                if tt.is_allocated():
                    tt.deallocate()
            except Exception:  # device already closed
                pass
        self._entries.clear()
        self._derived.clear()


def _flat(xs) -> list:
    out = []
    for x in xs:
        if isinstance(x, (list, tuple)):
            out += _flat(x)
        else:
            out.append(x)
    return out


def _alive(out) -> bool:
    return all(t.is_allocated() for t in _flat([out]) if hasattr(t, "is_allocated"))
