"""Runtime helpers called by compiled graphs, and the choice of TT-NN runtime (real or simulated)."""
from __future__ import annotations

import logging
import os
import weakref
import zlib

import torch

from .portable import narrow_for_device  # noqa: F401  (compiled graphs call runtime.narrow_for_device)

log = logging.getLogger("torch_ttnn")



def ttnn_for(device):
    """The ttnn module that runs on `device`: the simulator for a simulated device, else real ttnn."""
    if device is None or getattr(device, "is_simulated", False):
        import torch_ttnn.sim as ttnn
        return ttnn
    import ttnn  # real runtime: only imported when a real device is handed in
    return ttnn


# Devices handed out by open_device, shared: one chip (or simulated chip) per id, closed by close_device only
# when its last user closes it. backend="ttnn" without options is one user that never closes.
_SHARED: dict = {}          # device_id -> [device, users]
_DEFAULT_DEVICE = None


# Trace region per DRAM bank reserved on the devices opened here, so that compiled programs can be captured into
# traces (compiler/trace.py): 4 MiB a bank (48 MiB of a Wormhole's 12 GiB) holds ~5,000 captured programs.
DEFAULT_TRACE_REGION_SIZE = 4 << 20


def open_device(device_id: int = 0, *, l1_small_size: int = 16384, simulated: bool | None = None,
                trace_region_size: int = DEFAULT_TRACE_REGION_SIZE, num_command_queues: int = 2, **kwargs):
    """Open a Tenstorrent chip if one is present (and real ttnn is installed), else the simulated device.

    `simulated=True` forces the simulator; the environment variable TORCH_TTNN_SIMULATED=1 does too. A device
    already opened here is shared: the same handle comes back, and close_device closes it for good only when
    every open_device call has its close_device (the default device of backend="ttnn" is never closed). Two
    command queues by default: torch_ttnn.stream writes the next batch on the second while the first runs.
    """
    entry = _SHARED.get(device_id)
    if entry is not None and _is_open(entry[0]):
        entry[1] += 1
        return entry[0]
    device = _open_new(device_id, l1_small_size, simulated, trace_region_size=trace_region_size,
                       num_command_queues=num_command_queues, **kwargs)
    _SHARED[device_id] = [device, 1]
    return device


def _open_new(device_id: int, l1_small_size: int, simulated: bool | None, *, num_command_queues: int = 1,
              **kwargs):
    if simulated is None:
        simulated = os.environ.get("TORCH_TTNN_SIMULATED", "") == "1"
    if not simulated and _chip_present():
        try:
            import ttnn
            if ttnn.GetNumAvailableDevices() > 0:
                # CreateDevice takes the number of command queues (ttnn.open_device does not)
                return ttnn.CreateDevice(device_id, num_command_queues=num_command_queues,
                                         l1_small_size=l1_small_size, **kwargs)
        except Exception as e:  # no wheel, no driver, no chip
            log.info("torch_ttnn: no Tenstorrent device (%s); using the simulated device", e)
    import torch_ttnn.sim as sim
    return sim.open_device(device_id=device_id, l1_small_size=l1_small_size, num_command_queues=num_command_queues,
                           **kwargs)


def _is_open(device) -> bool:
    return getattr(device, "is_open", True) is not False


def _chip_present() -> bool:
    """A Tenstorrent PCIe device node exists (checked before importing the real runtime)."""
    return os.path.isdir("/dev/tenstorrent") and bool(os.listdir("/dev/tenstorrent"))


def close_device(device) -> None:
    """Give back a device from open_device; it closes when its last user gives it back."""
    entry = next((e for e in _SHARED.values() if e[0] is device), None)
    if entry is not None:
        entry[1] -= 1
        if entry[1] > 0:
            log.info("torch_ttnn: %r stays open (%d other user(s), e.g. backend=\"ttnn\")", device, entry[1])
            return
        _SHARED.pop(next(k for k, e in _SHARED.items() if e is entry))
    if _is_open(device):
        ttnn_for(device).close_device(device)


def open_mesh(mesh, *, l1_small_size: int = 16384, trace_region_size: int = DEFAULT_TRACE_REGION_SIZE):
    """A mesh of chips for TorchTtnnOption(mesh=...): a MeshDevice as given, or a simulated mesh opened from a
    system name ("n300", "t3000", "galaxy", "p150x4", "p150x8") or a shape ("1x2", "2x4")."""
    if not isinstance(mesh, str):
        if not getattr(mesh, "get_num_devices", None) or not hasattr(mesh, "shape"):
            raise TypeError(f"TorchTtnnOption(mesh=...) must be a ttnn MeshDevice or a system name/shape such as "
                            f"'n300' or '2x4', got {type(mesh).__name__}")
        return mesh
    import torch_ttnn.sim as sim
    from torch_ttnn.sim.mesh import system_preset
    sysp = system_preset(mesh)      # raises on an unknown name
    return sim.open_mesh_device(sim.MeshShape(sysp.rows, sysp.cols), l1_small_size=l1_small_size,
                                trace_region_size=trace_region_size, system=mesh)


def chip_of(device):
    """One chip of `device` (the device itself, or the first chip of a mesh): what per-chip budgets read."""
    return device.chips[0] if getattr(device, "is_mesh", False) else device


def default_device():
    """The device of backend="ttnn" without options: opened on first use, reopened if someone closed it."""
    global _DEFAULT_DEVICE
    if _DEFAULT_DEVICE is None or not _is_open(_DEFAULT_DEVICE):
        if _DEFAULT_DEVICE is not None:
            log.warning("torch_ttnn: the default device was closed; opening it again")
        _DEFAULT_DEVICE = open_device()
    return _DEFAULT_DEVICE


class IntRangeError(ValueError):
    """An integer input outside the range where the compiled program's integer arithmetic is exact."""
    user_facing = True


def check_int_bound(x: torch.Tensor, limit: int, what: str) -> torch.Tensor:
    """The host guard of an integer input whose arithmetic the device does in int32 (or float32): |x| <= limit,
    else a clear error (never a silently wrapped or inexact result)."""
    if x.numel():
        worst = int(x.abs().max())
        if worst > limit:
            raise IntRangeError(f"torch_ttnn: {what}: got a value of magnitude {worst}, for which the result "
                                f"would not be exact, so the call is refused")
    return x


def tensor_stamp(x: torch.Tensor, contents: bool = True) -> tuple:
    """What identifies the current value of a host tensor: its storage address, its version counter (None for
    an inference tensor, which has none) and, with `contents`, a hash of its bytes. The hash catches writes
    the version counter misses: `p.data.mul_(0)` bumps the counter of the `.data` tensor, not of `p`."""
    version = None if x.is_inference() else x._version
    return (x.data_ptr(), version, _content_hash(x) if contents else None)


try:
    from xxhash import xxh3_64_intdigest as _xxh3      # ~19 GB/s a core here, against zlib.crc32's ~4
except ImportError:       # an environment without it: CRC32, split over the cores
    _xxh3 = None


# id(tensor) -> (weak reference to it, (data pointer, shape, strides), its bytes as a numpy array over the same
# memory): a parameter is hashed on every call of a compiled graph, and building the array is most of the cost
# for the small ones. The array sees every write to the storage; a different storage (p.data = ..., set_) has a
# different address, and the cached array keeps the old storage alive, so its address cannot be reused behind
# our back. An entry goes when its tensor is collected (before its id can be reused).
_BYTE_VIEWS: dict = {}


def _bytes_of(x: torch.Tensor):
    """The bytes of a non-empty strided CPU tensor as a uint8 numpy array (a view when x is contiguous)."""
    key = (x.data_ptr(), x.shape, x.stride())
    hit = _BYTE_VIEWS.get(id(x))
    if hit is not None and hit[0]() is x and hit[1] == key:
        return hit[2]
    t = x.detach()
    if not t.is_contiguous():
        return t.contiguous().reshape(-1).view(torch.uint8).numpy()
    data = t.reshape(-1).view(torch.uint8).numpy()
    try:
        ref = weakref.ref(x, lambda _, i=id(x): _BYTE_VIEWS.pop(i, None))
    except TypeError:          # a tensor without weak references: not cached
        return data
    _BYTE_VIEWS[id(x)] = (ref, key, data)
    return data


def _content_hash(x: torch.Tensor):
    if x.device.type != "cpu" or x.layout != torch.strided or x.is_quantized:
        return None
    if x.numel() == 0:
        return 0
    data = _bytes_of(x)
    if _xxh3 is not None:
        return _xxh3(data)
    threads = torch.get_num_threads()
    if threads < 2 or data.nbytes < _CRC_SPLIT_BYTES:
        return zlib.crc32(data)
    # zlib releases the GIL on large buffers: the CRCs of equal parts run on every core
    edges = [data.nbytes * i // threads for i in range(threads + 1)]
    parts = [data[edges[i]:edges[i + 1]] for i in range(threads)]
    return tuple(_crc_pool(threads).map(zlib.crc32, parts))


_CRC_SPLIT_BYTES = 4 << 20
_CRC_POOLS: dict = {}


def _crc_pool(threads: int):
    if threads not in _CRC_POOLS:
        from concurrent.futures import ThreadPoolExecutor
        _CRC_POOLS[threads] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="torch-ttnn-crc")
    return _CRC_POOLS[threads]


class ParamCache:
    """Device copies of parameters and buffers, converted once per compiled model (load-params-once).

    An entry is reused while the same tensor object holds the same value: same storage, same version counter
    and, for the tensors the user owns (`watch=True`), the same bytes (tensor_stamp). Any in-place change, an
    optimizer step, `load_state_dict`, `copy_` under no_grad or a write through `.data`, makes the next call
    convert again: a stale weight is never served. `release()` frees every device copy (the compiled graph
    calls it when it is garbage collected, see `release_when_collected`).
    """

    def __init__(self, ttnn, contents: bool = True):
        self.ttnn = ttnn
        self._entries: dict = {}
        self._derived: dict = {}
        self.derivations = 0
        self.conversions = 0
        self.hits = 0
        self.contents = contents

    def load(self, x: torch.Tensor, dtype, layout, device, watch: bool = True, *, mesh_mapper=None, order=None):
        """`watch=False` for tensors only the compiler writes (outputs of folded parameter preprocessing).
        On a mesh, `mesh_mapper` distributes the tensor (default: replicated) after `order` = (dim, index)
        reorders it (a weight split in groups, compiler/tensor_parallel.py)."""
        ttnn = self.ttnn
        key = (id(x), dtype, layout, device is not None, id(mesh_mapper) if mesh_mapper is not None else None)
        stamp = tensor_stamp(x, contents=watch and self.contents)
        hit = self._entries.get(key)
        if hit is not None:
            ref, old, tt = hit
            if ref() is x and old == stamp and tt.is_allocated():
                self.hits += 1
                return tt
            if ref() is x and old != stamp:
                log.info("torch_ttnn: a parameter of shape %s changed in place; converting it again",
                         list(x.shape))
            _free(ttnn, tt, device)
        host = narrow_for_device(x.detach())
        if order is not None:
            host = host.index_select(order[0], order[1])
        extra = {"mesh_mapper": mesh_mapper} if mesh_mapper is not None else {}
        with torch.inference_mode(False):  # a normal tensor: the simulator may memoize work derived from it
            tt = ttnn.from_torch(host, dtype=dtype, layout=layout, device=device, **extra)
        self._entries[key] = (weakref.ref(x), stamp, tt)
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
        with torch.inference_mode(False):
            out = fn(*args, **kwargs)
        self._derived[key] = (ident, out, (args, kwargs))   # holding the inputs keeps their ids unique
        self.derivations += 1
        return out

    def release(self) -> None:
        """Free the device copies (they are converted again if the compiled graph runs again)."""
        for _, _, tt in self._entries.values():
            _free(self.ttnn, tt, True)
        for _, out, _ in self._derived.values():
            for t in _flat([out]):
                if hasattr(t, "is_allocated") and t.storage_type() == self.ttnn.StorageType.DEVICE:
                    _free(self.ttnn, t, True)
        self._entries.clear()
        self._derived.clear()

    clear = release


_LAZY = [0]            # depth of lazy_state() blocks
_PENDING: list = []     # device states whose host copies are behind (lazy_state)


class lazy_state:
    """Inside this block, compiled graphs that update an input in place on the device (a static KV cache)
    leave the host copy behind: only what the caller reads is moved. Leaving the block brings every such
    host copy up to date. Only for code that does not read those inputs on the host meanwhile (the decoding
    loop of `generate` without beam search)."""

    def __enter__(self):
        _LAZY[0] += 1
        return self

    def __exit__(self, *exc):
        _LAZY[0] -= 1
        if _LAZY[0] == 0:
            while _PENDING:
                _PENDING.pop().sync()
        return False


class eager_state:
    """Suspends lazy_state() inside the block: compiled graphs read updated state back at every call (the
    precision search compares every output of a candidate program with torch's, the updated KV cache included)."""

    def __enter__(self):
        self.saved, _LAZY[0] = _LAZY[0], 0
        return self

    def __exit__(self, *exc):
        _LAZY[0] = self.saved
        return False


_STATES: dict = {}     # id(host tensor) -> _State: the device copies of all StateCaches, shared by every graph


class _State:
    __slots__ = ("ref", "stamp", "dev", "fmt", "pending", "ttnn")

    def __init__(self, ref, stamp, dev, fmt, ttnn):
        self.ref, self.stamp, self.dev, self.fmt, self.pending, self.ttnn = ref, stamp, dev, fmt, False, ttnn

    def current(self, x) -> bool:
        return self.ref() is x and self.stamp == (x.data_ptr(), x._version) and self.dev.is_allocated()

    def sync(self) -> None:
        """Bring a host copy left behind inside lazy_state() up to date."""
        x = self.ref()
        if self.pending and x is not None and self.current(x):
            with torch.no_grad():
                x.copy_(self.ttnn.to_torch(self.dev).to(x.dtype))
            self.stamp = (x.data_ptr(), x._version)
        self.pending = False


class StateCache:
    """Device copies of inputs compiled graphs update in place (passes/device_state.py), shared by all graphs
    (a prefill graph and a decode graph update the same KV cache).

    `load` reuses the device copy while the host tensor is exactly what the last call left: the same storage,
    and its version counter advanced only by aot_autograd's copy of the result (+1); anything else writing it
    makes the next call upload it again. `store` returns the value aot_autograd copies into the host tensor:
    the device copy read back, or, inside `lazy_state()`, the host tensor itself (unchanged), the device copy
    being read back when the block exits (or before anything else loads it in another format)."""

    def __init__(self, ttnn):
        self.ttnn = ttnn
        self.keys: set = set()
        self.uploads = 0

    def load(self, x: torch.Tensor, dtype, layout, device, memory_config=None):
        key = id(x)
        st = _STATES.get(key)
        fmt = (dtype, layout, id(device))
        if st is not None and st.current(x) and st.fmt == fmt:
            self.keys.add(key)
            return st.dev
        if st is not None:
            if st.ref() is x:
                st.sync()                 # a pending host copy first gets the device's values
            _free(self.ttnn, st.dev, True)
            del _STATES[key]
        with torch.inference_mode(False):
            dev = self.ttnn.from_torch(narrow_for_device(x.detach()), dtype=dtype, layout=layout, device=device,
                                       memory_config=memory_config)
        _STATES[key] = _State(weakref.ref(x), (x.data_ptr(), x._version), dev, fmt, self.ttnn)
        self.keys.add(key)
        self.uploads += 1
        return dev

    def store(self, x: torch.Tensor, dev, **to_torch_kwargs):
        st = _STATES[id(x)]
        st.stamp = (x.data_ptr(), x._version + 1)    # aot_autograd copies what we return into x, once
        if _LAZY[0]:
            st.pending = True
            if st not in _PENDING:
                _PENDING.append(st)
            return x.detach()
        return self.ttnn.to_torch(dev, **to_torch_kwargs)

    def release(self) -> None:
        """Free the device copies this graph used (host copies are synced first)."""
        for key in list(self.keys):
            st = _STATES.pop(key, None)
            if st is not None:
                st.sync()
                _free(self.ttnn, st.dev, True)
        self.keys.clear()


def _free(ttnn, tt, on_device) -> None:
    try:
        if on_device and tt.is_allocated():
            ttnn.deallocate(tt)
    except Exception as e:  # the device is closed already
        log.debug("torch_ttnn: could not free a cached tensor: %s", e)


def release_when_collected(owner, gm) -> None:
    """When `owner` (the callable dynamo holds) is garbage collected, free what `gm` keeps for its calls: the
    device copies of parameters and the host results of folded parameter preprocessing. The graph module
    itself stays inspectable (CompileResults keeps it) and reloads its parameters if it runs again."""
    weakref.finalize(owner, _release_graph_module, weakref.ref(gm))


def release_programs(results) -> None:
    """Free the device copies, traces and folded host results of every program in `results` (a
    CompileResults) now, without waiting for dynamo to drop them: what a measurement compiled for itself."""
    for gm in results.graph_modules:
        _release_graph_module(weakref.ref(gm))


def _release_graph_module(gm_ref) -> None:
    gm = gm_ref()
    if gm is None:
        return
    cache = getattr(gm, "param_cache", None)
    if cache is not None:
        cache.release()
    tracer = getattr(gm, "trace_runner", None)
    if tracer is not None:
        tracer.release()
    state = getattr(gm, "state_cache", None)
    if state is not None:
        state.release()
    folded = getattr(gm, "folded_params", None)
    if folded is not None and hasattr(folded, "forget"):
        folded.forget()


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


# --- values saved for backward, kept on the device -----------------------------------------------------------
# A training step's forward hands aot_autograd, besides its outputs, the values the backward needs (activations,
# its inputs and parameters, weight transposes). A device value among them is not copied to the host: the
# forward returns a *ticket* in its place, a one-element int64 torch tensor that autograd stores like any saved
# tensor, and the device tensor stays registered under it. The backward, given the ticket back, uses the device
# tensor (no transfer either way). The device buffer is freed when autograd releases the ticket: after the
# backward (kept for a second one with retain_graph=True), or when the step's outputs are dropped without a
# backward; a parameter cache's copy is only borrowed. A saved value that reaches the backward as a host tensor
# (saved-tensor hooks were active, or the forward had it on the host only) gets its device copy the same way,
# freed with it.

class _Saved:
    __slots__ = ("ttnn", "tensors", "host", "dtype", "ticket", "borrowed", "version", "source")

    def __init__(self, ttnn, dtype, ticket: bool):
        self.ttnn, self.dtype, self.ticket = ttnn, dtype, ticket
        self.borrowed = None        # a tensor someone else owns (a parameter cache's copy): never freed here
        self.version = None         # a host value's version counter when it was uploaded
        self.source = None          # (weakref, version) of the input a ticket's tensor was uploaded from
        self.tensors: dict = {}     # (layout, dtype) -> the device tensor in that form
        self.host = None            # a ticket's torch value, once a host op asked for it


_SAVED: dict = {}                   # id(ticket or saved host tensor) -> (weakref to it, _Saved)
_TICKET = 0x7474_6E6E_5341_5645     # what a ticket holds: a ticket that is not registered is recognised


class SavedActivationError(RuntimeError):
    """The backward got a ticket that no longer stands for a device tensor."""


def _saved_entry(x):
    hit = _SAVED.get(id(x))
    if hit is not None and hit[0]() is x:
        return hit[1]
    return None


def _release_saved(key) -> None:
    _, entry = _SAVED.pop(key, (None, None))
    if entry is not None:
        for t in entry.tensors.values():
            if t is not entry.borrowed:
                _free(entry.ttnn, t, True)
        entry.tensors.clear()


def _register_saved(x: torch.Tensor, entry: _Saved) -> None:
    _SAVED[id(x)] = (weakref.ref(x), entry)
    weakref.finalize(x, _release_saved, id(x))


def keep_on_device(t, dtype: torch.dtype, ttnn=None, *, borrowed: bool = False, source=None):
    """Forward: the ticket autograd saves in place of the device tensor `t` (of torch dtype `dtype`). Under
    saved-tensor hooks (offloading, packing) the hooks must see the value itself: then `t` goes to the host.
    borrowed=True: `t` belongs to someone else (the parameter cache) and is not freed with the ticket.
    `source`: the input `t` was uploaded from; changing it in place before the backward is an error, as in eager."""
    ttnn = ttnn or ttnn_for(t.device())
    if torch._C._autograd._top_saved_tensors_default_hooks(False) is not None:
        return ttnn.to_torch(t, dtype=dtype)
    ticket = torch.tensor([_TICKET], dtype=torch.int64)
    entry = _Saved(ttnn, dtype, True)
    entry.tensors[(t.layout, t.dtype)] = t
    entry.borrowed = t if borrowed else None
    if isinstance(source, torch.Tensor):
        entry.source = (weakref.ref(source), source._version)
    _register_saved(ticket, entry)
    return ticket


def _not_a_lost_ticket(x) -> None:
    if x.dtype == torch.int64 and x.numel() == 1 and int(x.reshape(())) == _TICKET:
        raise SavedActivationError(
            "torch_ttnn: the backward got a saved activation's ticket that no longer stands for its device tensor "
            "(a copy of it, or one kept after autograd released it); compile with "
            "TorchTtnnOption(saved_on_device=False) to hand saved activations over through the host")


def saved_to_device(x, dtype, layout, device, ttnn=None):
    """Backward: the device tensor of a saved value in `layout` and `dtype`: the one a ticket stands for
    (converted on the device if the backward needs another form), or the upload of a host tensor, made once
    and kept as long as autograd keeps the value (a retain_graph=True backward reuses it)."""
    ttnn = ttnn or ttnn_for(device)
    entry = _saved_entry(x)
    if entry is None:                     # a host tensor (not a ticket): its uploads live as long as it does
        _not_a_lost_ticket(x)
        entry = _Saved(ttnn, x.dtype, False)
        _register_saved(x, entry)
    if not entry.ticket and entry.version != x._version:     # changed in place since: upload again
        for t in entry.tensors.values():
            _free(ttnn, t, True)
        entry.tensors.clear()
        entry.version = x._version
    if entry.source is not None:
        src, version = entry.source
        if src() is not None and src()._version != version:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an inplace operation: "
                f"a tensor of shape {list(src().shape)} saved by the forward changed (version {version} -> "
                f"{src()._version}) before this backward")
    if entry.borrowed is not None and not entry.borrowed.is_allocated():
        raise SavedActivationError(
            "torch_ttnn: a parameter the forward saved for this backward was converted again after the forward "
            "(the parameters changed before the backward ran), so its device copy is gone; run the backward "
            "before changing the parameters, or compile with TorchTtnnOption(saved_on_device=False)")
    got = entry.tensors.get((layout, dtype))
    if got is not None:
        return got
    if entry.ticket:                      # convert one of its forms on the device (each form kept, freed with it)
        src = next(iter(entry.tensors.values()))
        if src.layout != ttnn.TILE_LAYOUT and (layout == ttnn.TILE_LAYOUT or src.dtype != dtype):
            tiled = entry.tensors.get((ttnn.TILE_LAYOUT, src.dtype))
            src = tiled if tiled is not None else ttnn.to_layout(src, ttnn.TILE_LAYOUT)
            entry.tensors[(src.layout, src.dtype)] = src
        if src.dtype != dtype:
            src = ttnn.typecast(src, dtype)
            entry.tensors[(src.layout, src.dtype)] = src
        if src.layout != layout:
            src = ttnn.to_layout(src, layout)
    else:
        src = ttnn.from_torch(narrow_for_device(x), dtype=dtype, layout=layout, device=device)
    entry.tensors[(layout, dtype)] = src
    return src


def saved_to_host(x):
    """Backward: the torch value of a saved value for an op on the host (a ticket's device tensor, read once)."""
    entry = _saved_entry(x)
    if entry is None or not entry.ticket:
        if entry is None:
            _not_a_lost_ticket(x)
        return x
    if entry.host is None:
        t = next(iter(entry.tensors.values()))
        entry.host = entry.ttnn.to_torch(t, dtype=entry.dtype)
    return entry.host
