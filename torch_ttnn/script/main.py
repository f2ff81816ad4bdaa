"""The command line of an exported TT-NN program: runs its graphs on a chip or the simulated device, compares
each output with what the compiled model gave and with torch, and with --accuracy each TT-NN op with its aten
original. export.py copies this file at the end of every script it writes (without this docstring and the
marked block, which stands for the script's generated part)."""
# <not in the exported script>
import argparse
import os
import sys

import torch

from torch_ttnn.script.prelude import (HERE, Accuracy, ParamCache, _simulated, load_file, pcc, save_file,
                                       ttnn)

GRAPHS: list = []       # in a script: (graph function, aten reference, kind, input sources, outputs) per graph
# </not in the exported script>

def _print_outputs(gname, outs, expected, reference):
    for k, o in enumerate(outs):
        if not isinstance(o, torch.Tensor):
            print(f"{gname} output {k}: {o!r}")
            continue
        e, r = expected.get(k), reference.get(k)
        same = e is not None and e.shape == o.shape and o.numel()
        diff = float((o.double() - e.double()).abs().max()) if same else 0.0
        print(f"{gname} output {k}: {list(o.shape)} {str(o.dtype).replace('torch.', '')}  "
              f"PCC vs compiled {pcc(o, e):.6f} (max |diff| {diff:.3g})  PCC vs torch {pcc(o, r):.6f}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--simulated", action="store_true",
                   help="run on the simulated device of torch-ttnn (also TORCH_TTNN_SIMULATED=1)")
    p.add_argument("--accuracy", action="store_true", help="compare each TT-NN op with its aten original")
    p.add_argument("--save", metavar="FILE", help="write the outputs to a safetensors file")
    p.add_argument("--graph", type=int, action="append", help="run only this graph (repeatable)")
    args = p.parse_args(argv)
    weights = load_file(os.path.join(HERE, "weights.safetensors"))
    data = load_file(os.path.join(HERE, "inputs.safetensors"))
    global _consts
    _consts = {k[len("const."):]: v for k, v in weights.items() if k.startswith("const.")}
    device = ttnn.open_device(device_id=0, l1_small_size=16384)
    arch = getattr(device, "arch", lambda: "")()
    print(f"device: {'simulated' if _simulated() else 'ttnn'} {getattr(arch, 'name', arch)}".rstrip())
    saved = {}
    worst = []
    try:
        for gi, (fn, ref_fn, kind, sources, n_out) in enumerate(GRAPHS):
            if args.graph and gi not in args.graph:
                continue
            inputs = [weights[key] if src == "weight" else data[key] if src == "input" else key
                      for src, key in sources]
            expected = {k: data[f"g{gi}.expected.{k}"] for k in range(n_out) if f"g{gi}.expected.{k}" in data}
            reference = {k: data[f"g{gi}.reference.{k}"] for k in range(n_out) if f"g{gi}.reference.{k}" in data}
            acc = None
            if args.accuracy and ref_fn is None:
                print(f"graph {gi} ({kind}): no aten graph was kept for it; no PCC per op")
            elif args.accuracy:
                with torch.no_grad():
                    acc = Accuracy(ref_fn(*inputs), f"graph {gi}")
                print(f"graph {gi} ({kind}): PCC per TT-NN op")
            with torch.no_grad():
                outs = fn(device, ParamCache(), *inputs, _acc=acc)
            outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
            _print_outputs(f"graph {gi} ({kind})", outs, expected, reference)
            for k, o in enumerate(outs):
                if isinstance(o, torch.Tensor):
                    saved[f"g{gi}.{k}"] = o.detach().contiguous()
            if acc is not None:
                worst += [r + (gi,) for r in acc.rows]
    finally:
        ttnn.close_device(device)
    if args.accuracy:
        finite = [r for r in worst if r[0] == r[0]]
        print(f"accuracy: {len(worst)} TT-NN ops compared", end="")
        if finite:
            op_pcc, model_pcc, var, ttnn_op, aten_op, gi = min(finite)
            print(f"; lowest op PCC {op_pcc:.6f} at {var} ({ttnn_op} <- {aten_op}, graph {gi})")
        else:
            print()
    if args.save:
        save_file(saved, args.save)
        print(f"outputs written to {args.save}")
    return 0


_consts = {}

if __name__ == "__main__":
    sys.exit(main())
