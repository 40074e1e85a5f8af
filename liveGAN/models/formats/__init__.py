"""Every model file liveGAN plays, turned into one kind of generator.

Place in the data flow: model file -> **formats** -> generator (official parameter names,
`mapping`/`synthesis`) -> runtime -> engine. The format is told from the file's first bytes:

- safetensors -> liveGAN's native format (`native.py`);
- pickle -> an NVIDIA StyleGAN2-ADA / StyleGAN3 `.pkl`, read by the restricted unpickler
  (`safe_pickle.py`, `nvidia.py`), `G_ema` rebuilt as our own class and its tensors copied in;
- zip or legacy torch.save -> a rosinality/stylegan2-pytorch `.pt` (`g_ema` state dict), read
  with `torch.load(weights_only=True)` and renamed into our StyleGAN2 (`rosinality.py`);
- with `custom=` -> any PyTorch generator (`custom.py`).

Nothing in a model file is ever executed. Failures raise ModelLoadError: one line naming the
file and what was wrong.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from liveGAN.models import ModelLoadError
from liveGAN.models.formats.common import build_checked, sniff_format, to_device

__all__ = ["load_generator", "sniff_format", "to_device"]


def load_generator(path, device: Any = "cpu", *, custom: Mapping[str, Any] | None = None):
    """Load any supported model file; see `liveGAN.models.load_generator`."""
    path = Path(path)
    if custom is not None:
        from liveGAN.models.formats.custom import load_custom

        return load_custom(path, device, factory=custom.get("factory"),
                           z_dim=custom.get("z_dim"), output_range=custom.get("output_range"),
                           weights_key=custom.get("weights_key"), z_shape=custom.get("z_shape"),
                           python_path=custom.get("python_path") or ())
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such model file")
    kind = sniff_format(path)
    if kind == "native":
        from liveGAN.models.formats.custom import refuse_unnamed_custom
        from liveGAN.models.formats.native import load_native

        refuse_unnamed_custom(path)   # a converted custom model needs the patch to name its code

        return load_native(path, device)
    from liveGAN.models.formats.native import load_state_into

    if kind == "pkl":
        from liveGAN.models.formats.nvidia import read_stylegan_pickle

        architecture, init_kwargs, state = read_stylegan_pickle(path)
        source_format = "pkl"
    else:
        from liveGAN.models.formats.rosinality import read_rosinality

        architecture, init_kwargs, state = read_rosinality(path)
        source_format = "rosinality"
    # The network the file describes may be no bigger than its tensors can fill.
    G = build_checked(path, architecture, init_kwargs,
                      [(tuple(t.shape), t.element_size()) for t in state.values()])
    load_state_into(G, state, str(path))
    G.source_format = source_format
    G.init_kwargs = init_kwargs
    return to_device(G, device, path)
