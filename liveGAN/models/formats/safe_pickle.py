"""Reading NVIDIA StyleGAN pickles without running anything they contain.

Place in the data flow: `.pkl` file -> **safe_pickle** (plain records of tensors) -> loaders ->
our own generator class. A pickle can name any Python callable and have the unpickler call it;
`RestrictedUnpickler.find_class` therefore answers only from `ALLOWED`, an allow-list of the
tensor, storage, container and numpy rebuild helpers that StyleGAN pickles use, and refuses every
other global with an error that names it.

Official pickles persist networks through `torch_utils.persistence._reconstruct_persistent_obj`
with a `meta` dict that carries the network's Python source (`module_src`). Here that global
maps to `PersistentRecord`, which only keeps `meta` as data: the source text is never compiled
or executed. Classes the pickle names that we only need to hold (dnnlib's EasyDict, plain
torch.nn containers) map to inert stand-ins that are never the real class.
"""
from __future__ import annotations

import collections
import io
import os
import pickle
from typing import Any

import numpy as np
import torch


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list (it could run code when loaded)."""


class PersistentRecord:
    """A persistent network from a StyleGAN pickle, kept as data: `class_name`, `state`, ..."""

    def __init__(self, meta: dict) -> None:
        if not isinstance(meta, dict):
            raise pickle.UnpicklingError("persistent object without a meta dict")
        self.meta = meta

    @property
    def class_name(self) -> str:
        return str(self.meta.get("class_name", ""))

    @property
    def module_src(self) -> str:
        """The network's Python source as text; only ever read, never executed."""
        return str(self.meta.get("module_src", ""))

    @property
    def state(self) -> dict:
        state = self.meta.get("state")
        return state if isinstance(state, dict) else {}

    def __repr__(self) -> str:
        return f"PersistentRecord({self.class_name!r})"


class EasyDictRecord(dict):
    """Stand-in for dnnlib.util.EasyDict: a plain dict (attribute access is not needed)."""

    def __setstate__(self, state: Any) -> None:
        # EasyDict keeps its items in the dict itself; any instance __dict__ is irrelevant here.
        pass


class OpaqueObject:
    """Stand-in for a plain (non-persistent) torch.nn module class: holds its state as data."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state: Any) -> None:
        self.__dict__["state"] = state


class TensorMarker:
    """Stand-in for the torch.Tensor / Parameter types named by tensor-subclass rebuilds."""


def _load_storage_bytes(data: bytes) -> Any:
    # Storages are pickled as bytes of a (legacy) torch.save; read them with PyTorch's own
    # weights-only loader (it has its own allow-list) and always onto the CPU, whatever
    # GPU the pickle was written on.
    return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None,
                       state: Any = None) -> torch.Tensor:
    # A plain tensor is all the loader needs: the values are copied into our own module.
    if not isinstance(data, torch.Tensor):
        raise pickle.UnpicklingError("parameter without tensor data")
    return data


def _rebuild_from_type(func: Any, new_type: Any, args: Any, state: Any) -> Any:
    # `func` was itself resolved through find_class, so calling it is as safe as the allow-list;
    # the subclass type and extra state are dropped instead of applied with setattr.
    return func(*args)


# What the unpickler may make from a number alone (not from bytes it read): a pickle that asks
# for a gigabyte in twenty bytes is refused before anything is allocated. Real pickles never ask
# (bytearrays come from bytes, arrays from (0,) and then their data).
MAX_MADE_BYTES = 1 << 20


def _bytearray(source: Any = b"", *args: Any) -> bytearray:
    # Pickles spell a bytearray as bytearray(bytes) or bytearray(str, 'latin-1'); a size alone
    # (bytearray(3_000_000_000)) would allocate it.
    if not isinstance(source, (bytes, bytearray, str)):
        raise UnsafePickleError(f"refused bytearray({_short(source)}): a bytearray is made from "
                                "bytes, not a size")
    return bytearray(source, *args)


class NdarrayMarker:
    """What a pickle gets for `numpy.ndarray`: only `_reconstruct` turns it into an array, so
    calling it with a shape (an allocation before any data) makes nothing."""


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    # numpy pickles an array as _reconstruct(ndarray, (0,), b'b') and then sets its data; a
    # large shape here would allocate it before any data is read.
    size = int(np.prod(shape, dtype=np.float64)) if isinstance(shape, (tuple, list)) else -1
    if subtype is not NdarrayMarker or not 0 <= size <= MAX_MADE_BYTES:
        raise UnsafePickleError(f"refused an array of shape {_short(shape)} made before its "
                                "data")
    return _MULTIARRAY._reconstruct(np.ndarray, shape, dtype)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _codecs_encode(text: Any, encoding: str = "utf-8") -> bytes:
    # Protocol-2 pickles spell bytes as _codecs.encode(str, 'latin1'); nothing else is needed.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError(f"refused _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


# numpy 2 moved its pickle helpers to numpy._core; pickles name whichever wrote them.
_MULTIARRAY = (getattr(np, "_core", None) or np.core).multiarray


# (module, name) -> what the unpickler gets instead. The one list of globals a pickle may name.
ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "bytearray"): _bytearray,
    ("builtins", "complex"): complex,
    ("builtins", "slice"): slice,
    ("_codecs", "encode"): _codecs_encode,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
    ("torch.storage", "_load_from_bytes"): _load_storage_bytes,
    ("torch", "Tensor"): TensorMarker,
    ("torch.nn.parameter", "Parameter"): TensorMarker,
    ("torch", "Size"): torch.Size,
    ("torch", "device"): torch.device,
    ("numpy", "ndarray"): NdarrayMarker,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _MULTIARRAY.scalar,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "scalar"): _MULTIARRAY.scalar,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): PersistentRecord,
    ("dnnlib.util", "EasyDict"): EasyDictRecord,
    ("dnnlib", "EasyDict"): EasyDictRecord,
}
# torch dtypes are plain constants (torch.float32 ...), safe to hand out.
for _name in ("float32", "float16", "bfloat16", "float64", "int64", "int32", "uint8", "bool"):
    ALLOWED[("torch", _name)] = getattr(torch, _name)

# numpy dtype classes (numpy >= 1.25 pickles dtypes as numpy.dtypes.Float32DType ...).
_NUMPY_DTYPE_CLASSES = ("Float16DType", "Float32DType", "Float64DType", "Int32DType",
                        "Int64DType", "UInt8DType", "BoolDType")

# Plain torch.nn modules inside a pickle's networks are held as records, never instantiated.
_OPAQUE_MODULE_PREFIX = "torch.nn.modules."


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that resolves globals only from the allow-list `ALLOWED`."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "__builtin__":  # protocol-2 pickles written by Python 2 era code
            module = "builtins"
        key = (module, name)
        if key in ALLOWED:
            return ALLOWED[key]
        if module == "numpy.dtypes" and name in _NUMPY_DTYPE_CLASSES:
            import numpy.dtypes

            return getattr(numpy.dtypes, name)
        if module.startswith(_OPAQUE_MODULE_PREFIX) and name.isidentifier():
            return OpaqueObject
        raise UnsafePickleError(f"refused global {module}.{name}: not on liveGAN's allow-list "
                                f"of what a StyleGAN pickle may contain (it could run code)")

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"refused persistent id {pid!r}: plain pickles do not use them")


def safe_load(file) -> Any:
    """Unpickle `file` (a binary file object) with the restricted unpickler.

    A real file is read through a memory map: a length field that claims more bytes than the
    file has then reads what is there instead of first allocating what was claimed."""
    import mmap

    try:
        fileno = file.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return RestrictedUnpickler(file).load()
    if os.fstat(fileno).st_size == 0:
        raise EOFError("the file is empty")
    with mmap.mmap(fileno, 0, access=mmap.ACCESS_READ) as view:
        return RestrictedUnpickler(view).load()
