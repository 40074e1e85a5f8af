"""What every model format shares: telling formats apart, building a network, placing it.

Place in the data flow: model file -> **formats** (this module is used by each reader) ->
generator. Kept apart from the readers so none of them imports another.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from liveGAN.models import ModelLoadError
from liveGAN.models.networks import build

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


def build_checked(path: Path, architecture: str, init_kwargs: dict):
    try:
        return build(architecture, init_kwargs)
    except ImportError as err:
        raise ModelLoadError(f"{path}: architecture {architecture} is not available ({err})") \
            from None
    except (TypeError, ValueError, KeyError, AssertionError) as err:
        raise ModelLoadError(f"{path}: constructor arguments do not build a {architecture} "
                             f"generator ({err})") from None
