"""L1 placement: op outputs in L1 (interleaved over every core's bank) while they fit, by liveness.

A DRAM-interleaved activation costs DRAM bandwidth (258 GB/s on Wormhole) every time it is written and read;
in L1 the same bytes move over each core's NoC link (30 B/cycle a core: ~1.9 TB/s on 64 cores). The pass walks
the program in order, keeps the bytes of the L1 tensors alive at each point (a tensor lives from the op that
makes it to its `ttnn.deallocate`), and gives an op's output `memory_config=L1` when it fits within the budget:
a fraction of the device's L1 (PLACEMENT_BUDGET), the rest left to the circular buffers each op allocates per
core below the lowest L1 buffer. The budget counts what the allocator reserves: an interleaved buffer the pages
of its fullest bank on every bank, a sharded one its shard on every bank (one address range over all cores).

The simulator checks every launch's circular buffers against the lowest L1 buffer, as TT-Metal does. After
the walk, the pass replays the program's L1 allocations and frees with the allocator's arithmetic (top-down,
torch_ttnn/address_space.py, holes included) and gives each convolution that runs from L1 an activation block
short enough to fit there (conv_config.act_block_h_override: TT-NN's default block is a core's whole share of
output rows); one whose input copies leave no room even for one tile row of blocks reads its input from DRAM
(TT-NN's DRAM path slices it). The room each op has is left in its meta for the matmul configs.

When an output does not fit, the pass spills by liveness rather than sending the newcomer to DRAM: among the
tensors alive in L1 and the new one, the one whose next use is farthest goes to DRAM (for its whole life: the
program is static, so a spilled tensor is simply written to DRAM by its op, no copy is added), then the next
farthest, until the new output fits or is itself the farthest. A residual stream held across a block is
read once at its end; the block's large intermediates are read right away: they get the L1.

A convolution read only by convolutions that read their input in the same L1 shards (the height or block
sharding and core split TT-NN will run them with, torch_ttnn/conv_rules.py) is placed in those shards: TT-NN then
runs neither the reshard of the readers' input nor the move of the writer's output out of its shards. An
element-wise add, subtract or multiply of same-shape operands reads them natively where its output is sharded
(binary_ng), so a residual add whose readers (the next block's first convolution, the next residual add) agree
on their shards is written in them, and so are its operands: a chain of residual blocks stays sharded. A
multi-output op (split, the attention head split) places its outputs together.

Not placed: parameters (they persist across calls), views (reshape/view/squeeze/unsqueeze share their input's
buffer), inputs uploaded from the host and values read back to it (a traced program keeps both allocated
between calls), ops without a memory_config parameter. The simulator's L1 allocator refuses an
over-full L1 as TT-NN does; the compiler's search (compiler/precision.py) then falls back to DRAM.
"""
from __future__ import annotations

import bisect
import collections
import hashlib
import inspect
import math
import operator
import warnings
from typing import Optional

import torch
import torch.fx

from ..meta import STATE_STORE, TT_MULTI, tt_meta
from .base import Pass, PassResult, chip_geometry

SHARDS = "ttnn_conv_shards_"  # the constants of the sharded memory configs of convolution outputs
PLACEMENT_BUDGET = 0.5      # of the device's L1, for activations (see the module docstring)
CONV_MARGIN = 4 * 1024      # bytes a core keeps free beside a convolution's blocks (rounding of our estimate)
L1_ALIGNMENT = 16           # bytes: L1 buffer alignment (Wormhole and Blackhole, FACTS.md)
L1_CB_SPACE = "ttnn_l1_cb_space"   # node meta: bytes below the lowest L1 buffer while the op runs
MAX_CB_SPILLS = 64          # buffers sent to DRAM for circular buffers before the device is left to refuse
# operands TT-NN requires in DRAM: (op, argument name or position)
DRAM_OPERANDS = {("scaled_dot_product_attention", "attn_mask")}
_CONVS = ("conv2d", "conv_transpose2d", "conv1d")
_SKIP = {"reshape", "view", "squeeze", "unsqueeze", "unsqueeze_to_4D", "to_torch", "from_device", "deallocate",
         "to_device", "to_memory_config", "move", "reallocate"}


def _accepts_memory_config(target) -> bool:
    fn = getattr(target, "fn", target)
    try:
        return "memory_config" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _pages(node, ttnn) -> tuple[int, int]:
    """(pages, page bytes) of the node's device buffer: tiles (ttnn.tile_size), or rows of a row-major one."""
    v = node.meta.get("val")
    meta = tt_meta(node)
    if not isinstance(v, torch.Tensor) or meta is None:
        return 0, 0
    shape = tuple(int(d) for d in v.shape) or (1,)
    if meta.layout == ttnn.TILE_LAYOUT:
        h = -(-shape[-2] // 32) if len(shape) >= 2 else 1
        w = -(-shape[-1] // 32)
        return math.prod(shape[:-2]) * h * w, ttnn.tile_size(meta.dtype)
    return math.prod(shape[:-1]), shape[-1] * ttnn.element_size(meta.dtype)


def _bytes(node, ttnn) -> int:
    """Bytes of the node's device buffer: whole tiles or row-major elements."""
    pages, page = _pages(node, ttnn)
    return pages * page


def _reserved(node, ttnn, banks: int) -> int:
    """Bytes an interleaved L1 buffer of the node reserves over the `banks` banks: every bank gets the pages of
    the fullest one (the allocator reserves one address range on all banks; pages round-robin over them)."""
    pages, page = _pages(node, ttnn)
    page = -(-page // L1_ALIGNMENT) * L1_ALIGNMENT
    return -(-pages // banks) * page * banks


_VIEWS = ("reshape", "view", "squeeze", "unsqueeze", "unsqueeze_to_4D")


_READS = ("to_torch", "from_device")


def _buffer_users(n) -> tuple[set, list]:
    """(n and its views: the nodes sharing n's buffer, reshape and co.; the other users of those nodes)."""
    chain, todo, users = {n}, [n], []
    while todo:
        for u in todo.pop().users:
            if getattr(u.target, "__name__", "") not in _VIEWS:
                users.append(u)
            elif u not in chain:
                chain.add(u)
                todo.append(u)
    return chain, users


def _needs_dram(n) -> bool:
    """Whether n's buffer (n, or a view of it) feeds an operand that TT-NN requires in DRAM, or is read back to
    the host or stored as state: a traced program keeps what it reads back (and its inputs) allocated from one
    call to the next (compiler/trace.py), which L1 could not hold for every graph."""
    if getattr(n.target, "__name__", "") in ("from_torch", "to_device"):
        return True
    chain, users = _buffer_users(n)
    if any(v.meta.get(STATE_STORE) for v in chain if v is not n):
        return True
    for u in users:
        name = getattr(u.target, "__name__", "")
        if name in _READS or u.meta.get(STATE_STORE):
            return True
        if any(name == op and u.kwargs.get(arg) in chain for op, arg in DRAM_OPERANDS):
            return True
    return False


class L1Ledger:
    """The L1 bytes of the buffers alive at each point of a program walked in order: a buffer the walk `hold`s
    is alive from its op to its ttnn.deallocate. The placement decides with it; later passes (matmul configs)
    read how much L1 their op leaves free."""

    def __init__(self, ttnn):
        self.dealloc = getattr(ttnn, "deallocate", None)
        self.live = 0
        self._sizes: dict = {}

    def ops(self, gm: torch.fx.GraphModule, positions: bool = False):
        """The program's call_function nodes in order, deallocations excepted (each frees what it names); with
        `positions`, (position in the graph, node) pairs."""
        for i, n in enumerate(list(gm.graph.nodes)):
            if n.op != "call_function":
                continue
            if n.target is self.dealloc:
                self.live -= self._sizes.pop(n.args[0], 0)
                continue
            yield (i, n) if positions else n

    def hold(self, node, size: int) -> None:
        self._sizes[node] = size
        self.live += size

    def release(self, node) -> None:
        """Stop counting `node`'s buffer (it goes elsewhere)."""
        self.live -= self._sizes.pop(node, 0)

    def held(self) -> list:
        return list(self._sizes)

    def size(self, node) -> int:
        return self._sizes.get(node, 0)


class L1Placement(Pass):
    name = "l1_placement"
    needs = ("insert_conversions",)
    # liveness ends at ttnn.deallocate; sizes by format; a convolution's shards by its layout
    after = ("deallocate", "weight_precision", "conv_layouts")

    def __init__(self, ttnn, device, budget: Optional[float] = None, spill: bool = True):
        self.ttnn = ttnn
        self.device = device
        chip, self.grid, stats = chip_geometry(device)     # on a mesh: every chip has the same L1
        total = stats["total_bytes"] if stats else 0
        self.budget = int(total * (PLACEMENT_BUDGET if budget is None else budget))
        self.banks = stats["num_banks"] if stats else 1
        self.bank_size = stats["bank_size"] if stats else 0
        self.spill = spill          # False: an output that does not fit goes to DRAM (the greedy rule)
        self.placed = 0
        self.spilled = 0            # L1 candidates sent to DRAM to make room for a sooner-used tensor
        self.sharded = 0            # convolution outputs written in the shards of the convolution reading them
        self.chip = chip

    def call(self, gm: torch.fx.GraphModule) -> PassResult:
        ttnn = self.ttnn
        ledger = L1Ledger(ttnn)
        consts: dict = {}

        def config(name, obj):
            if name not in consts:
                setattr(gm, name, obj)
                first = next(x for x in gm.graph.nodes if x.op != "placeholder")
                with gm.graph.inserting_before(first), warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    consts[name] = gm.graph.get_attr(name)
            return consts[name]

        def to_dram(n):
            self._to_dram(n, config)

        self._held: dict = {}       # buffer node -> the bytes it reserves in L1 (placed by the walk below)
        if self.budget <= 0:
            # activations in DRAM: a convolution's output too (without a memory_config TT-NN leaves it in its
            # L1 shards), and each convolution's circular buffers fitted to L1
            for n in gm.graph.nodes:
                if getattr(n.target, "__name__", "") in _CONVS and "memory_config" not in n.kwargs:
                    to_dram(n)
            self._fit_circular_buffers(gm, config)
            return PassResult(gm, bool(consts))
        uses = _use_positions(gm)
        shards = self._wanted_shards(gm)
        for i, n in ledger.ops(gm, positions=True):
            bufs = self._buffers(n)
            if bufs is None:
                continue
            edge = shards.get(n) if bufs[0][1] > 0 else None
            if edge is not None and getattr(n.target, "__name__", "") == "conv2d" \
                    and not _in_l1(n.kwargs.get("input_tensor")):
                edge = None     # TT-NN's DRAM path of a convolution ignores its memory_config
            if edge is not None:
                bufs = [(n, edge[2])]
            size = sum(b for _, b in bufs)
            if min(b for _, b in bufs) <= 0 or size > self.budget or any(_needs_dram(u) for u, _ in bufs):
                to_dram(n)
                continue
            if ledger.live + size > self.budget:
                if not self.spill:
                    to_dram(n)
                    continue
                # farthest next use first (never used again: first of all); the larger of two equally far.
                # An output of a multi-output op goes with its siblings (one memory_config for all).
                mine = {u for u, _ in bufs}
                order = sorted(ledger.held() + [n], key=lambda t: (
                    _next_use(uses.get(t, ()) if t is not n else min((uses.get(u, ()) for u in mine), default=()),
                              i), ledger.size(t) if t is not n else size))
                while ledger.live + size > self.budget and order[-1] is not n:
                    victim = order.pop()
                    op = _op_of(victim)
                    for t in ledger.held():
                        if _op_of(t) is op:
                            ledger.release(t)
                    to_dram(op)
                    self.placed -= 1
                    self.spilled += 1
                if ledger.live + size > self.budget:
                    to_dram(n)
                    continue
            if edge is not None:
                n.kwargs = {**n.kwargs, "memory_config": config(edge[0], edge[1])}
                self.sharded += 1
            else:
                n.kwargs = {**n.kwargs, "memory_config": config("ttnn_l1_config", ttnn.L1_MEMORY_CONFIG)}
            for u, b in bufs:
                ledger.hold(u, b)
                self._held[u] = b
            self.placed += 1
        self._fit_circular_buffers(gm, config)
        # a windowed convolution whose input is in DRAM (placed there, or spilled after the convolution was
        # placed) runs TT-NN's DRAM path, which writes DRAM interleaved whatever memory_config says: say DRAM
        for n in gm.graph.nodes:
            mc = n.kwargs.get("memory_config") if n.op == "call_function" else None
            if (getattr(n.target, "__name__", "") == "conv2d" and isinstance(mc, torch.fx.Node)
                    and mc.target != "ttnn_dram_config" and not _in_l1(n.kwargs.get("input_tensor"))
                    and self.grid is not None and not getattr(_conv_plan(gm, n.kwargs, self.grid), "mm_conv", True)):
                self.sharded -= str(mc.target).startswith(SHARDS)
                to_dram(n)
        return PassResult(gm, bool(consts))

    def _to_dram(self, n, config) -> None:
        # explicitly DRAM: with no memory_config an op's output follows its input, which may be in L1
        n.kwargs = {**n.kwargs, "memory_config": config("ttnn_dram_config", self.ttnn.DRAM_MEMORY_CONFIG)}

    def _fit_circular_buffers(self, gm, config) -> None:
        """Make every op's circular buffers fit below the lowest L1 buffer alive when it runs, as the device
        checks at each launch. The program's L1 allocations and frees are replayed in order with the
        allocator's arithmetic (top-down, torch_ttnn/address_space.py): holes left by freed buffers count, as
        they do on the chip. A convolution that runs from L1 first gets a shorter activation block
        (conv_config.act_block_h_override; TT-NN's default block is a core's whole share of output rows); where
        that is not enough, or for another op whose circular buffers do not fit (sized by the simulator's
        estimate, estimate_op_l1, when the device is simulated), a buffer goes to DRAM: a windowed convolution's
        input first (TT-NN's DRAM path slices the convolution to fit), else the lowest live buffer the op does
        not read, and the replay starts again. Each op's room is left in its meta (L1_CB_SPACE) for the passes
        that choose program configs."""
        if self.grid is None or not self.bank_size:
            return
        self._needs: dict = {}      # (node, where it and its operands are) -> its circular buffers' bytes
        for _ in range(MAX_CB_SPILLS):
            victim = self._replay(gm, config)
            if victim is None:
                return
            self._to_dram(victim, config)
            for u in [u for u in self._held if _op_of(u) is victim]:
                del self._held[u]
            self.placed -= 1
            self.spilled += 1

    def _replay(self, gm, config):
        """Walk the program's L1 allocations (see _fit_circular_buffers); the op to send to DRAM at the first
        launch whose circular buffers do not fit, or None."""
        from ...address_space import AddressSpace
        by_op = collections.defaultdict(list)
        for u, b in self._held.items():
            by_op[_op_of(u)].append((u, b))
        space = AddressSpace(self.bank_size, L1_ALIGNMENT, top_down=True)
        where: dict = {}
        dealloc = getattr(self.ttnn, "deallocate", None)
        # other ops' circular buffers matter beside L1 buffers (DRAM plans: a few pages in an empty L1)
        estimate = getattr(self.chip, "estimate_op_l1", None) if self._held else None
        for n in list(gm.graph.nodes):
            if n.op != "call_function":
                continue
            if n.target is dealloc:
                if n.args and n.args[0] in where:
                    space.free(where.pop(n.args[0]))
                continue
            if _in_l1(n):       # still in L1 (not spilled after it was placed)
                for u, b in by_op.get(n, ()):
                    address = space.allocate(-(-b // self.banks))
                    if address is not None:
                        where[u] = address
            room = space.lowest()     # the op's outputs are allocated before it runs
            n.meta[L1_CB_SPACE] = room
            name = getattr(n.target, "__name__", "")
            if name == "conv2d":
                fits, src = self._fit_conv(gm, n, room, config)
                if not fits and src is not None:
                    return src
            elif estimate is not None and name not in _SKIP:
                key = (n, _in_l1(n), tuple(_in_l1(a) for a in n.all_input_nodes), room)
                if key not in self._needs:
                    self._needs[key] = self._need(gm, n, estimate, room)
                fits = self._needs[key] <= room
                if fits and name in ("linear", "matmul"):
                    # holes above a low buffer can leave a product less room than the blocks of the full-grid
                    # program it would get in an unfragmented L1 (TT-NN then falls back to smaller blocks, or to
                    # the program that re-reads its operands): that buffer goes to DRAM as for a refusal
                    blocks = self._full_grid_blocks(gm, n)
                    fits = not (room < blocks <= self.bank_size - space.used())
            else:
                fits = True
            if not fits and where:
                # the lowest buffer the op does not touch, else its own output, else its lowest operand
                reads = {_op_of(_buffer_of(a)) for a in n.all_input_nodes}

                def rank(u):
                    op = _op_of(u)
                    return (1 if op is n else 2 if op in reads else 0), where[u]
                return _op_of(min(where, key=rank))
        return None

    def _full_grid_blocks(self, gm, n) -> int:
        """Bytes a core's circular buffers take for product n's 2D multicast program over the whole grid with
        the thinnest K block (matmul_rules.cb_bytes, TT-NN's estimate): the least a full-grid config needs."""
        from ...matmul_rules import cb_bytes, interm_tile_bytes
        if len(n.args) != 2 or not all(isinstance(a, torch.fx.Node) for a in n.args):
            return 0
        (a, b), ttnn = n.args, self.ttnn
        va, vb, ma, mb, mo = a.meta.get("val"), b.meta.get("val"), tt_meta(a), tt_meta(b), tt_meta(n)
        if not isinstance(va, torch.Tensor) or not isinstance(vb, torch.Tensor) or None in (ma, mb, mo) \
                or va.dim() < 2 or vb.dim() < 2:
            return 0
        if n.kwargs.get("transpose_a"):
            return 0
        rows = -(-math.prod(va.shape[:-1]) // 32)
        cols = -(-int(vb.shape[-2] if n.kwargs.get("transpose_b") else vb.shape[-1]) // 32)
        gx, gy = self.grid
        pm, pn = -(-rows // gy), -(-cols // gx)
        ckc = n.kwargs.get("compute_kernel_config")
        ckc = getattr(gm, ckc.target, None) if isinstance(ckc, torch.fx.Node) and ckc.op == "get_attr" else None
        t = ttnn.tile_size
        fp32 = bool(getattr(ckc, "fp32_dest_acc_en", False)) or ttnn.float32 in (ma.dtype, mb.dtype)
        interm = interm_tile_bytes(fp32, t(mo.dtype), t(ttnn.bfloat16), t(ttnn.float32))
        return cb_bytes(pm, pn, 1, t(ma.dtype), t(mb.dtype), interm, 0, False)

    def _need(self, gm, n, estimate, room: int) -> int:
        """The simulator's estimate of op n's circular buffers, from its arguments' shapes, formats and places,
        with `room` bytes a core for them (TT-NN's own matmul config sizes its blocks to what is free)."""
        qual = getattr(n.target, "python_fully_qualified_name", "")
        if not qual.startswith("ttnn."):
            return 0

        def desc(v):
            if isinstance(v, (list, tuple)):
                return type(v)(desc(x) for x in v)
            if not isinstance(v, torch.fx.Node):
                return v
            if v.op == "get_attr":
                return getattr(gm, v.target)
            val, meta = v.meta.get("val"), tt_meta(v)
            if meta is None or not isinstance(val, torch.Tensor):
                return val
            if not meta.on_device:
                return tuple(val.shape), meta.dtype, meta.layout, "HOST"
            mc = _attr_of(gm, v)
            if mc is None or getattr(mc, "buffer_type", None) != self.ttnn.BufferType.L1:
                return tuple(val.shape), meta.dtype, meta.layout, "DRAM"
            spec = getattr(mc, "shard_spec", None)
            cores = spec.num_cores() if spec is not None and mc.is_sharded() else 0
            return tuple(val.shape), meta.dtype, meta.layout, "L1", cores

        outs = ([u for u in n.users if u.target is operator.getitem] if n.meta.get(TT_MULTI) else [n])
        outputs = [d for d in (desc(u) for u in outs) if isinstance(d, tuple)]
        try:
            return int(estimate(qual[len("ttnn."):], *desc(tuple(n.args)), outputs=outputs, l1_free=room,
                                **{k: desc(v) for k, v in n.kwargs.items()}))
        except Exception:       # arguments the estimate cannot describe: the device checks the launch itself
            return 0

    def _fit_conv(self, gm, n, room: int, config) -> tuple:
        """(whether convolution n fits below `room` bytes, with a shorter activation block if need be; the op
        making its input when sending that to DRAM would make it fit, else None)."""
        from ... import conv_rules
        ttnn = self.ttnn
        kw = n.kwargs
        x = kw.get("input_tensor")
        plan = _conv_plan(gm, kw, self.grid)
        if plan is None or not isinstance(x, torch.fx.Node) or not (_in_l1(x) or plan.mm_conv):
            return True, None       # the DRAM path slices the convolution to fit by itself
        cfg_node = kw.get("conv_config")
        cfg = getattr(gm, cfg_node.target) if isinstance(cfg_node, torch.fx.Node) else None
        if int(getattr(cfg, "act_block_h_override", 0) or 0):
            return True, None       # the user's (or an earlier replay's) block
        need = conv_need(ttnn, gm, n, plan)
        if need is None:
            return True, None
        space = room - CONV_MARGIN
        rows = plan.split.block_rows
        if need(rows) <= space:
            return True, None
        abh = conv_rules.fitting_act_block_h(need, rows, space)
        layout = None
        if abh is None and plan.mm_conv and getattr(cfg, "shard_layout", None) is None:
            # a 1x1 convolution runs as a matmul whose weight blocks span all of K: another of TT-NN's layouts
            # splits them over more cores
            for name in ("BLOCK_SHARDED", "WIDTH_SHARDED", "HEIGHT_SHARDED"):
                other = _conv_plan(gm, {**kw, "conv_config": None}, self.grid, getattr(ttnn.TensorMemoryLayout, name))
                if other is None or other.layout == plan.layout:
                    continue
                abh = conv_rules.fitting_act_block_h(lambda h, o=other: need(h, o), other.split.block_rows, space)
                if abh is not None:
                    layout, rows = getattr(ttnn.TensorMemoryLayout, name), other.split.block_rows
                    break
        if abh is None:
            # not even one tile row of blocks fits beside the input's copies (its reshard, its halo): a windowed
            # convolution reads its input from DRAM (TT-NN's DRAM path slices it to fit)
            src = _op_of(_buffer_of(x))
            return False, (src if not plan.mm_conv and "memory_config" in src.kwargs else None)
        key = hashlib.sha1(repr((abh, layout, cfg_node.target if isinstance(cfg_node, torch.fx.Node) else None))
                           .encode()).hexdigest()[:10]
        cfg_new = config(f"ttnn_conv_block_{key}", _with_act_block_h(ttnn, cfg, abh * 32 if abh < rows else 0,
                                                                     layout))
        set_conv_config(n, cfg_new)
        return True, None

    def _wanted_shards(self, gm) -> dict:
        """node -> (constant name, memory config, L1 bytes): the L1 shards the readers of the node's output read
        natively (most of them, when they differ), for a conv2d or an element-wise binary op (add, subtract,
        multiply) read only by such ops. A conv2d reads its input in the shards TT-NN will run it with (HEIGHT
        or BLOCK: torch_ttnn/conv_rules.py), so written there it saves the reader's reshard and the writer's
        move out of its own shards (the cost rule charges both); an element-wise op of the same shape reads its
        operands where its output goes (binary_ng's native sharded path), so it wants what its own readers
        want. A residual add between two blocks is read by the next block's first convolution and the next
        residual add: both want the shards of that convolution's input, and the whole chain stays in them. A
        reader that is neither (a reshape, a pool, a read to the host) keeps the node interleaved."""
        want: dict = {}
        raw: dict = {}      # node -> the shards as its readers read them (name, config, shard shape)
        if self.grid is None:
            return want
        for n in reversed(list(gm.graph.nodes)):
            name = getattr(n.target, "__name__", "") if n.op == "call_function" else ""
            if name != "conv2d" and (name not in _SHARDED_ELTWISE or not _same_shape_operands(n)):
                continue
            meta = tt_meta(n)
            if meta is None or meta.layout != self.ttnn.TILE_LAYOUT:
                continue
            readers = [u for u in n.users if getattr(u.target, "__name__", "") != "deallocate"]
            votes: dict = {}
            for u in readers:
                r = self._shards_read(gm, u, n, raw)
                if r is _ANY:
                    continue
                if r is None:       # a reader that takes no sharded input
                    votes = {}
                    break
                half = getattr(u.target, "__name__", "") in _SHARDED_ELTWISE
                weight = votes.get(r[0], (0.0, r))[0] + (0.5 if half else 1.0)
                votes[r[0]] = (weight, r)
            if votes:
                # readers that differ (a stage's last residual add, read by the next stage's first convolution
                # and its downsampling one): the shards the most convolutions read, an element-wise reader
                # counting half (it reads other shards over the NoC at the same cost; a convolution would
                # reshard them), the first reader's on a tie
                best = max(w for w, _ in votes.values())
                raw[n] = next(r for w, r in votes.values() if w == best)
                cname, mc, (sh, sw) = raw[n]
                # a shard reserves its bytes on every bank (one address range over all cores)
                want[n] = cname, mc, self.banks * (sh // 32) * (sw // 32) * self.ttnn.tile_size(meta.dtype)
        return want

    def _shards_read(self, gm, reader, n, raw: dict) -> Optional[tuple]:
        """(name, memory config, shard shape) of the shards in which `reader` reads node `n` natively (see
        _wanted_shards; `raw`: those of the element-wise ops after `n`), _ANY for an element-wise op that reads
        it wherever it is, None for a reader that cannot take it sharded."""
        name = getattr(reader.target, "__name__", "")
        if name in _SHARDED_ELTWISE:
            # binary_ng reads an operand in any shards; natively in its output's
            return raw.get(reader, _ANY) if n in reader.args[:2] else None
        if name != "conv2d" or reader.kwargs.get("input_tensor") is not n or n in reader.args \
                or sum(v is n for v in reader.kwargs.values()) != 1:
            return None
        c = reader.kwargs
        plan = _conv_plan(gm, c, self.grid)
        if plan is None or plan.layout.name not in ("HEIGHT_SHARDED", "BLOCK_SHARDED"):
            return None
        pixels = int(c["batch_size"]) * int(c["input_height"]) * int(c["input_width"])
        cin = int(c["in_channels"])
        v = n.meta.get("val")
        if not isinstance(v, torch.Tensor) or tuple(v.shape) != (1, 1, pixels, cin):
            return None
        key = plan.key(pixels, cin, output=False)
        name = SHARDS + hashlib.sha1(repr(key).encode()).hexdigest()[:10]
        return name, plan.memory_config(self.ttnn, pixels, cin, output=False), key[2]

    def _buffers(self, n) -> Optional[list]:
        """[(node, bytes)] of the device buffers op `n` writes whose placement this pass chooses (the op's own
        node; for a multi-output op such as split or the head split, its getitem nodes, each deallocated on its
        own), or None when the op is not placed here."""
        name = getattr(n.target, "__name__", "")
        if name in _SKIP or "memory_config" in n.kwargs or not _accepts_memory_config(n.target):
            return None
        if n.meta.get(TT_MULTI):
            outs = [u for u in n.users if u.target is operator.getitem]
            if not outs or any(tt_meta(u) is None or not tt_meta(u).on_device for u in outs):
                return None
            return [(u, _reserved(u, self.ttnn, self.banks)) for u in outs]
        meta = tt_meta(n)
        if meta is None or not meta.on_device or not isinstance(n.meta.get("val"), torch.Tensor):
            return None
        return [(n, _reserved(n, self.ttnn, self.banks))]


_SHARDED_ELTWISE = ("add", "subtract", "multiply")   # binary ops that run natively on shared shards
_ANY = ("any",)     # a reader that reads its operand in whatever shards it is in


def _same_shape_operands(n) -> bool:
    """Whether element-wise op `n` has two tensor operands of its own output's shape (no broadcast)."""
    v = n.meta.get("val")
    ops = n.args[:2]
    return isinstance(v, torch.Tensor) and len(ops) == 2 and all(
        isinstance(a, torch.fx.Node) and isinstance(a.meta.get("val"), torch.Tensor)
        and tuple(a.meta["val"].shape) == tuple(v.shape) for a in ops)


def _in_l1(node) -> bool:
    """Whether `node`'s buffer (through views) was placed in L1 by this pass (interleaved or sharded)."""
    node = _buffer_of(node)
    mc = node.kwargs.get("memory_config") if isinstance(node, torch.fx.Node) else None
    return isinstance(mc, torch.fx.Node) and mc.op == "get_attr" and mc.target != "ttnn_dram_config"


def _conv_plan(gm, kw: dict, grid: tuple, layout=None):
    """The layout and split TT-NN runs the conv2d call with keyword arguments `kw` (torch_ttnn/conv_rules.py;
    `layout` overrides the config's shard_layout), or None when they do not describe one (then the call is left
    as placed)."""
    try:
        return _conv_plan_of(gm, kw, grid, layout)
    except (TypeError, ValueError, KeyError):
        return None


def _conv_plan_of(gm, kw: dict, grid: tuple, layout=None):
    from ... import conv_rules as conv_parallel
    cfg = kw.get("conv_config")
    if isinstance(cfg, torch.fx.Node):
        cfg = getattr(gm, cfg.target) if cfg.op == "get_attr" else None
    pair = lambda v: (int(v), int(v)) if isinstance(v, int) else tuple(int(x) for x in v)  # noqa: E731
    kh, kw_ = pair(kw["kernel_size"])
    (sh, sw), (dh, dw) = pair(kw.get("stride", 1)), pair(kw.get("dilation", 1))
    pad = kw.get("padding", 0)
    p = [int(pad)] * 4 if isinstance(pad, int) else [int(x) for x in pad]
    pt, pb, pl, pr = (p[0], p[0], p[1], p[1]) if len(p) == 2 else tuple(p)
    h, w = int(kw["input_height"]), int(kw["input_width"])
    oh = conv_parallel.out_dim(h, kh, sh, pt, pb, dh)
    ow = conv_parallel.out_dim(w, kw_, sw, pl, pr, dw)
    return conv_parallel.plan(in_channels=int(kw["in_channels"]), out_channels=int(kw["out_channels"]),
                              out_pixels=int(kw["batch_size"]) * oh * ow, kernel=(kh, kw_), stride=(sh, sw),
                              padding=p, dilation=(dh, dw), groups=int(kw.get("groups", 1)), grid=grid,
                              shard_layout=layout if layout is not None else getattr(cfg, "shard_layout", None),
                              col_major=bool(getattr(cfg, "transpose_shards", False)), in_width=w)


def conv_need(ttnn, gm, n, plan):
    """need(act_block_h[, plan]) -> the L1 bytes a core needs for conv2d node n's circular buffers and the
    buffers conv2d allocates around its program (conv_rules.l1_need), where n's input and output are placed
    now; None when the node's metadata does not describe them."""
    from ... import conv_rules
    kw = n.kwargs
    x = kw.get("input_tensor")
    mx, mo = tt_meta(x) if isinstance(x, torch.fx.Node) else None, tt_meta(n)
    if mx is None or mo is None:
        return None
    cfg_node = kw.get("conv_config")
    cfg = getattr(gm, cfg_node.target) if isinstance(cfg_node, torch.fx.Node) else None
    pair = lambda v: (int(v), int(v)) if isinstance(v, int) else tuple(int(x) for x in v)  # noqa: E731
    kernel = pair(kw["kernel_size"])
    cin, cout = int(kw["in_channels"]), int(kw["out_channels"])
    in_pixels = int(kw["batch_size"]) * int(kw["input_height"]) * int(kw["input_width"])
    v = n.meta.get("val")
    out_pixels = v.numel() // max(1, int(v.shape[-1])) if isinstance(v, torch.Tensor) else 0
    wmeta = tt_meta(kw.get("weight_tensor"))
    wdt = getattr(cfg, "weights_dtype", None) or (wmeta.dtype if wmeta else ttnn.bfloat16)
    x_mc = _attr_of(gm, x)
    out_mc = kw.get("memory_config")
    out_mc = getattr(gm, out_mc.target) if isinstance(out_mc, torch.fx.Node) else None

    def need(abh, p=plan):
        return conv_rules.l1_need(
            p, in_channels=cin, out_channels=cout, in_pixels=in_pixels, out_pixels=out_pixels,
            kernel=kernel, in_width=int(kw["input_width"]), act_block_h=abh,
            in_tile=ttnn.tile_size(ttnn.float32 if mx.dtype == ttnn.float32 else ttnn.bfloat16),
            weight_tile=ttnn.tile_size(wdt), out_tile=ttnn.tile_size(mo.dtype),
            bias=kw.get("bias_tensor") is not None, row_major_out=mo.layout != ttnn.TILE_LAYOUT,
            resharded=conv_rules.config_key(x_mc) != p.key(in_pixels, cin, output=False),
            out_moved=conv_rules.config_key(out_mc) != p.key(out_pixels, cout, output=True),
            windowed=not p.mm_conv)
    return need


def set_conv_config(n, cfg_node) -> None:
    """Give convolution n the conv_config constant `cfg_node`, and its weight and bias preparations too (TT-NN
    lays the weights out for the convolution's layout and blocks)."""
    for p in (n.kwargs.get("weight_tensor"), n.kwargs.get("bias_tensor")):
        if isinstance(p, torch.fx.Node) and "conv_config" in p.kwargs and len(p.users) == 1:
            p.kwargs = {**p.kwargs, "conv_config": cfg_node}
    n.kwargs = {**n.kwargs, "conv_config": cfg_node}


def _buffer_of(node):
    """The node whose op allocated `node`'s buffer (views share their input's)."""
    while isinstance(node, torch.fx.Node) and getattr(node.target, "__name__", "") in _VIEWS:
        node = node.args[0]
    return node


def _attr_of(gm, node):
    """The memory config object placing `node`'s buffer (through views), or None (DRAM or unplaced)."""
    node = _buffer_of(node)
    mc = node.kwargs.get("memory_config") if isinstance(node, torch.fx.Node) else None
    return getattr(gm, mc.target, None) if isinstance(mc, torch.fx.Node) and mc.op == "get_attr" else None


_CONV_FIELDS = ("weights_dtype", "activation", "shard_layout", "transpose_shards", "output_layout",
                "deallocate_activation", "enable_act_double_buffer", "enable_weights_double_buffer")


def _with_act_block_h(ttnn, cfg, rows: int, layout=None):
    """Conv config `cfg` (None: the default) with act_block_h_override=rows (the fields the compiler sets), and
    shard_layout=layout if given."""
    kept = {k: getattr(cfg, k) for k in _CONV_FIELDS if getattr(cfg, k, None) is not None}
    if layout is not None:
        kept["shard_layout"] = layout
    return ttnn.Conv2dConfig(**kept, act_block_h_override=rows)


def _op_of(buffer_node):
    """The op whose memory_config places `buffer_node` (a multi-output op's getitem: the op)."""
    return buffer_node.args[0] if buffer_node.target is operator.getitem else buffer_node


def _use_positions(gm: torch.fx.GraphModule) -> dict:
    """node -> the sorted program positions of the ops that read its buffer (its users and the users of its
    views, which share the buffer; deallocations are not reads)."""
    pos = {n: i for i, n in enumerate(gm.graph.nodes)}
    return {n: sorted(pos[u] for u in _buffer_users(n)[1] if getattr(u.target, "__name__", "") != "deallocate")
            for n in gm.graph.nodes if n.op == "call_function"}


def _next_use(positions, i: int) -> float:
    """The first position at or after i in `positions` (sorted), or infinity: an operand of the op at i is in
    use now (sending it to DRAM would not free the L1 this op needs)."""
    k = bisect.bisect_left(positions, i)
    return positions[k] if k < len(positions) else math.inf
