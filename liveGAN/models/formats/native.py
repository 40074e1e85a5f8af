"""liveGAN's own model format: a `.safetensors` state dict that describes itself.

Place in the data flow: training export / `livegan convert` -> **native file** -> loaders ->
generator. The safetensors metadata key `"livegan"` holds JSON
`{"format": 1, "architecture", "init_kwargs", "num_ws", ...}`, so the file alone rebuilds the
network, and loading it never runs code (safetensors holds only tensors and strings). A bare
state dict `NAME.safetensors` with a sidecar `NAME.json` (`architecture`, `init_kwargs`) is read
the same way; the StyleGAN parity fixtures use that layout.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import torch

from liveGAN.files import atomic_path
from liveGAN.models import ModelLoadError
from liveGAN.models.networks import ARCHITECTURES

FORMAT_VERSION = 1
METADATA_KEY = "livegan"


def _state_tensors(G: torch.nn.Module) -> dict[str, torch.Tensor]:
    # Clones: safetensors refuses tensors that share storage, and CPU copies of CUDA weights
    # must not alias what the live generator is using.
    return {name: t.detach().to("cpu").contiguous().clone() for name, t in G.state_dict().items()}


def save_native(path, G: torch.nn.Module, architecture: str, init_kwargs: Mapping[str, Any],
                metadata: Mapping[str, Any] | None = None) -> Path:
    """Write `G` to `path` (.safetensors) in the native format, atomically; returns the path.

    `init_kwargs` are the constructor kwargs of `architecture` that rebuild `G` (JSON-able);
    `metadata` (JSON-able) travels along, e.g. the training run's settings and step.
    """
    from safetensors.torch import save_file

    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r} "
                         f"(known: {', '.join(sorted(ARCHITECTURES))})")
    header: dict[str, Any] = dict(metadata or {})
    header.update(format=FORMAT_VERSION, architecture=architecture,
                  init_kwargs=dict(init_kwargs), num_ws=int(getattr(G, "num_ws", 0)))
    try:
        header_json = json.dumps(header, sort_keys=True)
    except (TypeError, ValueError) as err:
        raise ValueError(f"native model {path}: init_kwargs/metadata must be JSON-able ({err})") \
            from None
    path = Path(path)
    tensors = _state_tensors(G)
    # Temp file in the same folder, then one rename: a reader (or a crash) never sees half a model.
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={METADATA_KEY: header_json})
    return path


def read_header(path) -> dict[str, Any]:
    """The native description of `path`: from its metadata, else from the sidecar `NAME.json`.

    Raises ModelLoadError when neither says which architecture the tensors belong to.
    """
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as err:  # safetensors raises its own error types for a damaged header
        raise ModelLoadError(f"{path}: damaged or truncated .safetensors file ({err})") from None
    if METADATA_KEY in meta:
        try:
            header = json.loads(meta[METADATA_KEY])
        except ValueError as err:
            raise ModelLoadError(f"{path}: metadata '{METADATA_KEY}' is not valid JSON ({err})") \
                from None
        where = f"{path} (metadata '{METADATA_KEY}')"
    else:
        sidecar = path.with_suffix(".json")
        if not sidecar.is_file():
            raise ModelLoadError(f"{path}: a bare state dict with no '{METADATA_KEY}' metadata "
                                 f"and no sidecar {sidecar.name} saying its architecture")
        try:
            header = json.loads(sidecar.read_text())
        except (OSError, ValueError) as err:
            raise ModelLoadError(f"{sidecar}: not a readable JSON description ({err})") from None
        where = str(sidecar)
    if not isinstance(header, dict):
        raise ModelLoadError(f"{where}: expected a JSON object, got {type(header).__name__}")
    if header.get("format", FORMAT_VERSION) != FORMAT_VERSION:
        raise ModelLoadError(f"{where}: format {header.get('format')!r} is newer than this "
                             f"liveGAN reads (format {FORMAT_VERSION})")
    arch = header.get("architecture")
    if arch not in ARCHITECTURES:
        raise ModelLoadError(f"{where}: architecture {arch!r} is not one of "
                             f"{', '.join(sorted(ARCHITECTURES))}")
    if not isinstance(header.get("init_kwargs"), dict):
        raise ModelLoadError(f"{where}: 'init_kwargs' must be an object of constructor arguments")
    return header


def load_state_into(G: torch.nn.Module, state: Mapping[str, torch.Tensor], where: str) -> None:
    """Copy `state` into `G` by name; every name must match both ways, with matching shapes."""
    check_shapes(G, {name: tuple(t.shape) for name, t in state.items()}, where)
    G.load_state_dict(dict(state), strict=True)


def check_shapes(G: torch.nn.Module, shapes: Mapping[str, tuple[int, ...]], where: str) -> None:
    """ModelLoadError unless `shapes` (name -> shape) are exactly `G`'s tensors."""
    own = G.state_dict()
    state = shapes
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
        if extra:
            parts.append(f"unexpected {', '.join(extra[:5])}" + (" ..." if len(extra) > 5 else ""))
        raise ModelLoadError(f"{where}: tensors do not fit the architecture ({'; '.join(parts)})")
    for name, shape in state.items():
        if tuple(own[name].shape) != tuple(shape):
            raise ModelLoadError(f"{where}: tensor {name} has shape {tuple(shape)}, "
                                 f"the architecture needs {tuple(own[name].shape)}")


# Bytes per element of the safetensors dtypes.
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2,
                "I8": 1, "U8": 1, "BOOL": 1}


def tensor_shapes(path) -> dict[str, tuple[tuple[int, ...], int]]:
    """Name -> (shape, bytes per element) of every tensor in a .safetensors file, read from its
    header alone (no tensor data is read)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            found = {}
            for name in f.keys():
                tensor = f.get_slice(name)
                found[name] = (tuple(tensor.get_shape()), _DTYPE_BYTES.get(tensor.get_dtype(), 8))
            return found
    except Exception as err:  # safetensors raises its own error types for a damaged header
        raise ModelLoadError(f"{path}: damaged or truncated .safetensors file ({err})") from None


def load_native(path, device: Any = "cpu") -> torch.nn.Module:
    """Rebuild the generator stored at `path` on `device` (eval mode, no gradients).

    The network its header describes is built first, within what the file's tensors can fill
    (`build_checked`), and checked against their names and shapes before any tensor is read:
    a header that lies fails fast and small, naming the file."""
    from safetensors.torch import load_file

    from liveGAN.models.formats.common import build_checked, memory_message

    path = Path(path)
    header = read_header(path)
    shapes = tensor_shapes(path)
    G = build_checked(path, header["architecture"], header["init_kwargs"], shapes.values())
    check_shapes(G, {name: shape for name, (shape, _) in shapes.items()}, str(path))
    try:
        state = load_file(str(path), device="cpu")
    except (MemoryError, RuntimeError) as err:
        raise ModelLoadError(f"{path}: {memory_message(err)}") from None
    except Exception as err:
        raise ModelLoadError(f"{path}: cannot read the tensors ({err})") from None
    load_state_into(G, state, str(path))
    G.source_format = "native"
    G.native_metadata = {k: v for k, v in header.items() if k not in ("init_kwargs",)}
    G.init_kwargs = dict(header["init_kwargs"])
    from liveGAN.models.formats.common import to_device

    return to_device(G, device, path)
