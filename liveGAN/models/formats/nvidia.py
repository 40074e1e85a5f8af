"""NVIDIA StyleGAN2-ADA-PyTorch and StyleGAN3 network pickles, read without running them.

Place in the data flow: `.pkl` -> restricted unpickler (`safe_pickle.py`) -> **nvidia** ->
(architecture, constructor kwargs, tensors by official name) -> our own generator class.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from liveGAN.models import ModelLoadError
from liveGAN.models.networks import OFFICIAL_CLASSES

_OFFICIAL_POSITIONAL = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")


def _plain(value: Any) -> Any:
    """Constructor arguments as plain JSON-able Python (EasyDicts, tuples, numpy scalars)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _record_state(record: Any) -> dict:
    from liveGAN.models.formats.safe_pickle import OpaqueObject, PersistentRecord

    if isinstance(record, PersistentRecord):
        return record.state
    if isinstance(record, OpaqueObject):
        state = record.__dict__.get("state")
        return state if isinstance(state, dict) else {}
    return {}


def collect_tensors(record: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """The persistent parameters and buffers of a pickled module tree, by state-dict name."""
    state = _record_state(record)
    tensors: dict[str, torch.Tensor] = {}
    skip = set(state.get("_non_persistent_buffers_set") or ())
    for table in ("_parameters", "_buffers"):
        for name, value in (state.get(table) or {}).items():
            if isinstance(value, torch.Tensor) and not (table == "_buffers" and name in skip):
                tensors[prefix + name] = value
    for name, child in (state.get("_modules") or {}).items():
        if child is not None:
            tensors.update(collect_tensors(child, f"{prefix}{name}."))
    return tensors


def _pickle_architecture(record: Any) -> str | None:
    if record.class_name in OFFICIAL_CLASSES:
        return OFFICIAL_CLASSES[record.class_name]
    if record.class_name.rsplit(".", 1)[-1] != "Generator":
        return None
    # Official metas name only the bare class ("Generator"); the network's layout tells
    # StyleGAN3 (a Fourier-feature `input` layer) from StyleGAN2 (blocks b4, b8, ...).
    synthesis = (record.state.get("_modules") or {}).get("synthesis")
    children = set((_record_state(synthesis).get("_modules") or {}))
    if "input" in children:
        return "stylegan3"
    if "b4" in children:
        return "stylegan2"
    return None


def read_stylegan_pickle(path: Path) -> tuple[str, dict, dict[str, torch.Tensor]]:
    """(architecture, official constructor kwargs, state dict) of the `G_ema` in a .pkl."""
    from liveGAN.models.formats.safe_pickle import PersistentRecord, UnsafePickleError, safe_load

    try:
        with open(path, "rb") as f:
            data = safe_load(f)
    except UnsafePickleError as err:
        raise ModelLoadError(f"{path}: {err}") from None
    except Exception as err:  # a damaged stream fails in many ways; all mean the same here
        detail = "the file ends early" if isinstance(err, EOFError) else str(err) or \
            type(err).__name__
        raise ModelLoadError(f"{path}: damaged or truncated pickle ({detail})") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path}: not a StyleGAN pickle (top level is a "
                             f"{type(data).__name__}, expected a dict with 'G_ema')")
    record = data.get("G_ema", data.get("G"))
    if not isinstance(record, PersistentRecord):
        raise ModelLoadError(f"{path}: no 'G_ema' network in the pickle "
                             f"(keys: {', '.join(map(str, data)) or 'none'})")
    architecture = _pickle_architecture(record)
    if architecture is None:
        raise ModelLoadError(f"{path}: G_ema is a {record.class_name!r}, not a StyleGAN2 or "
                             f"StyleGAN3 generator liveGAN can rebuild")
    args = _plain(list(record.state.get("_init_args") or ()))
    kwargs = _plain(dict(record.state.get("_init_kwargs") or {}))
    if len(args) > len(_OFFICIAL_POSITIONAL):
        raise ModelLoadError(f"{path}: G_ema has {len(args)} positional constructor arguments")
    kwargs.update(zip(_OFFICIAL_POSITIONAL, args))
    missing = [k for k in _OFFICIAL_POSITIONAL if k not in kwargs]
    if missing:
        raise ModelLoadError(f"{path}: G_ema's constructor arguments lack {', '.join(missing)}")
    return architecture, kwargs, collect_tensors(record)


