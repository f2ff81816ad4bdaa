"""What this installation keeps on the machine: where its caches live, and a digest of its own Python sources
(what makes a cached result or a measurement stale). Shared by the compiler, the simulator and the harness."""
from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def cache_root() -> Path:
    """$TORCH_TTNN_CACHE, else ~/.cache/torch_ttnn: the simulator's native kernels (native/), the precision
    search's decisions (search/)."""
    root = os.environ.get("TORCH_TTNN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "torch_ttnn")
    return Path(root)


@functools.lru_cache(maxsize=1)
def sources_digest() -> str:
    """sha256 of every Python source of the package, path (from the repository root: torch_ttnn/...) and bytes."""
    h = hashlib.sha256()
    for p in sorted(PACKAGE.rglob("*.py")):
        h.update(p.relative_to(PACKAGE.parent).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()
