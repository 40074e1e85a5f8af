"""Training checkpoints: everything needed to continue a run exactly where it stopped.

Place in the data flow: training loop -> **RUN/checkpoints/ckpt-<kimg>.pt** -> `--resume`.
A checkpoint is a torch.save of plain containers: tensors (weights, optimiser moments, RNG
states), numbers, strings, lists and dicts, so it loads with `torch.load(weights_only=True)`
and loading never runs code from the file. Written to a temp file in the same folder, synced,
then renamed: a kill at any moment leaves either the old or the new checkpoint, never half one.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from liveGAN.files import atomic_path

KEEP = 3  # older checkpoints are removed; three survive a bad disk write or a bad last tick
_NAME = re.compile(r"^ckpt-(\d+)\.pt$")


class CheckpointError(Exception):
    """A checkpoint that cannot be read; the message names the file."""


def checkpoint_dir(run_dir) -> Path:
    """RUN/checkpoints (created)."""
    path = Path(run_dir) / "checkpoints"
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_checkpoint(run_dir, state: dict[str, Any], cur_nimg: int) -> Path:
    """Write `state` atomically as RUN/checkpoints/ckpt-<nimg>.pt; prune old ones; return path."""
    folder = checkpoint_dir(run_dir)
    path = folder / f"ckpt-{int(cur_nimg):012d}.pt"
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    for old in list_checkpoints(run_dir)[:-KEEP]:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(run_dir) -> list[Path]:
    """Checkpoints of the run, oldest first."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def load_checkpoint(path) -> dict[str, Any]:
    """Read a checkpoint with the restricted (weights-only) unpickler."""
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a damaged or foreign file
        raise CheckpointError(f"{path}: not a readable checkpoint ({err})") from None


def load_latest(run_dir) -> tuple[Path, dict[str, Any]] | None:
    """The newest readable checkpoint of the run (skipping damaged ones), or None."""
    for path in reversed(list_checkpoints(run_dir)):
        try:
            return path, load_checkpoint(path)
        except CheckpointError:
            continue
    return None
