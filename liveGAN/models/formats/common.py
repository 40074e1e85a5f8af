"""What every model format shares: telling formats apart, building a network, placing it.

Place in the data flow: model file -> **formats** (this module is used by each reader) ->
generator. Kept apart from the readers so none of them imports another.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable

from liveGAN.models import ModelLoadError
from liveGAN.models.networks import build

# Building a network from a file's metadata may allocate at most what the file's own tensors
# hold, times BUILD_FACTOR, plus BUILD_SLACK_BYTES (fixed filters, small buffers), in at most
# BUILD_FACTORIES_PER_TENSOR tensors made per tensor in the file (plus BUILD_SLACK_TENSORS).
# A header claiming a bigger network than its tensors stops at that budget, within a second,
# with a message naming the file; a real model never comes near it.
BUILD_FACTOR = 2
BUILD_SLACK_BYTES = 32 << 20
BUILD_FACTORIES_PER_TENSOR = 8
BUILD_SLACK_TENSORS = 256
# The aten operations that make a new tensor from a size (and where the size is).
_FACTORIES = {"empty": 0, "empty_strided": 0, "zeros": 0, "ones": 0, "full": 0, "randn": 0,
              "rand": 0, "normal": 2, "randint": 1, "new_empty": 1, "new_zeros": 1,
              "new_ones": 1, "new_full": 1, "new_empty_strided": 1}

# Legacy (pre-zip) torch.save files open with this number pickled as a LONG1.
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def sniff_format(path: Path) -> str:
    """'native', 'pkl' or 'torch' from the first bytes of `path`; ModelLoadError otherwise."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
    except OSError as err:
        raise ModelLoadError(f"{path}: cannot read the model file ({err.strerror or err})") \
            from None
    if not head:
        raise ModelLoadError(f"{path}: the file is empty")
    if head[:4] == b"PK\x03\x04":
        return "torch"
    if len(head) >= 9 and head[8:9] == b"{":
        # safetensors: an 8-byte header length, then the JSON header (checked when read).
        return "native"
    if head[0] == 0x80 and 2 <= head[1] <= 5:
        if head[2] == 0x8A and head[3] == 10 and \
                int.from_bytes(head[4:14], "little") == _TORCH_LEGACY_MAGIC:
            return "torch"
        return "pkl"
    raise ModelLoadError(f"{path}: not a model file liveGAN knows (expected a native "
                         f".safetensors, an NVIDIA .pkl or a rosinality .pt)")


def to_device(G, device: Any, path: Path):
    """`G` on `device`, in eval mode with gradients off; ModelLoadError if the device fails."""
    try:
        return G.to(device).eval().requires_grad_(False)
    except (RuntimeError, AssertionError, ValueError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelLoadError(f"{path}: cannot place the model on {device} ({first})") from None


class _OverBudget(Exception):
    """Raised inside a guarded build when the network outgrows the file's tensors."""


def tensor_budget(shapes: Iterable[tuple[tuple[int, ...], int]]) -> tuple[int, int]:
    """(bytes, tensors) a build may make for a file holding tensors of these (shape, bytes per
    element): see BUILD_FACTOR."""
    total = count = 0
    for shape, itemsize in shapes:
        total += math.prod(int(d) for d in shape) * int(itemsize)
        count += 1
    return (BUILD_FACTOR * total + BUILD_SLACK_BYTES,
            BUILD_FACTORIES_PER_TENSOR * count + BUILD_SLACK_TENSORS)


def _allocation_guard(budget_bytes: int, budget_tensors: int):
    """A dispatch mode that counts every tensor made from a size and refuses, before it is
    allocated, the one that would go over the budget."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class Guard(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.bytes = self.tensors = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            where = _FACTORIES.get(func.overloadpacket.__name__.rstrip("_"))
            if where is not None and len(args) > where \
                    and isinstance(args[where], (list, tuple, torch.Size)):
                dtype = kwargs.get("dtype") or (args[0].dtype if where and isinstance(
                    args[0], torch.Tensor) else torch.get_default_dtype())
                size = math.prod(int(d) for d in args[where]) * \
                    torch.empty((), dtype=dtype, device="meta").element_size()
                self.bytes += size
                self.tensors += 1
                if self.bytes > budget_bytes or self.tensors > budget_tensors:
                    raise _OverBudget(f"{self.tensors} tensors, {self.bytes / 2**20:.0f} MB")
            return func(*args, **kwargs)

    return Guard()


def build_checked(path: Path, architecture: str, init_kwargs: dict,
                  shapes: Iterable[tuple[tuple[int, ...], int]] | None = None):
    """Build `architecture` from a file's `init_kwargs`; ModelLoadError naming the file when
    they do not build one. With `shapes` (the file's tensors: (shape, bytes per element)) the
    build may not make more than those tensors can fill (see BUILD_FACTOR), so a header that
    claims a huge network fails at once instead of allocating it."""
    guard = None
    if shapes is not None:
        guard = _allocation_guard(*tensor_budget(shapes))
    try:
        if guard is None:
            return build(architecture, init_kwargs)
        with guard:
            return build(architecture, init_kwargs)
    except _OverBudget as err:
        raise ModelLoadError(f"{path}: its description asks for a {architecture} network "
                             f"bigger than the tensors in the file can fill (building it "
                             f"stopped at {err}); the file is damaged or not what it "
                             f"claims") from None
    except ImportError as err:
        raise ModelLoadError(f"{path}: architecture {architecture} is not available ({err})") \
            from None
    except (TypeError, ValueError, KeyError, AssertionError, IndexError, OverflowError) as err:
        raise ModelLoadError(f"{path}: constructor arguments do not build a {architecture} "
                             f"generator ({err})") from None
    except (MemoryError, RuntimeError) as err:
        raise ModelLoadError(f"{path}: {memory_message(err)}") from None


def memory_message(err: BaseException) -> str:
    """One line for a failure while building or filling a network (out of memory, mostly)."""
    first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
    if isinstance(err, MemoryError) or "alloc" in first.lower() or "memory" in first.lower():
        return f"not enough memory for this model ({first})"
    return f"the network could not be built ({type(err).__name__}: {first})"
