"""Every model file liveGAN plays, turned into one kind of generator.

Place in the data flow: model file -> **loaders** -> generator (official parameter names,
`mapping`/`synthesis`) -> runtime -> engine. The format is told from the file's first bytes:

- safetensors -> liveGAN's native format (`native.py`);
- pickle -> an NVIDIA StyleGAN2-ADA / StyleGAN3 `.pkl`, read by the restricted unpickler
  (`safe_pickle.py`), `G_ema` rebuilt as our own class and its tensors copied in by name;
- zip or legacy torch.save -> a rosinality/stylegan2-pytorch `.pt` (`g_ema` state dict), read
  with `torch.load(weights_only=True)` and renamed into our StyleGAN2;
- with `custom=` -> any PyTorch generator (`custom.py`).

Nothing in a model file is ever executed. Failures raise ModelLoadError: one line naming the
file and what was wrong.
"""
from __future__ import annotations

import math
import pickle
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from liveGAN.models import ModelLoadError
from liveGAN.models.architectures import OFFICIAL_CLASSES, build
from liveGAN.models.native import load_native, load_state_into

# Legacy (pre-zip) torch.save files open with this number pickled as a LONG1.
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_OFFICIAL_POSITIONAL = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")


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


def load_generator(path, device: Any = "cpu", *, custom: Mapping[str, Any] | None = None):
    """Load any supported model file; see `liveGAN.models.load_generator`."""
    path = Path(path)
    if custom is not None:
        from liveGAN.models.custom import load_custom

        return load_custom(path, device, factory=custom.get("factory"),
                           z_dim=custom.get("z_dim"),
                           output_range=custom.get("output_range") or (-1.0, 1.0))
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such model file")
    kind = sniff_format(path)
    if kind == "native":
        return load_native(path, device)
    if kind == "pkl":
        architecture, init_kwargs, state = read_stylegan_pickle(path)
        source_format = "pkl"
    else:
        architecture, init_kwargs, state = read_rosinality(path)
        source_format = "rosinality"
    G = _build(path, architecture, init_kwargs)
    load_state_into(G, state, str(path))
    G.source_format = source_format
    G.init_kwargs = init_kwargs
    return to_device(G, device, path)


def to_device(G, device: Any, path: Path):
    """`G` on `device`, in eval mode with gradients off; ModelLoadError if the device fails."""
    try:
        return G.to(device).eval().requires_grad_(False)
    except (RuntimeError, AssertionError, ValueError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelLoadError(f"{path}: cannot place the model on {device} ({first})") from None


def _build(path: Path, architecture: str, init_kwargs: dict):
    try:
        return build(architecture, init_kwargs)
    except ImportError as err:
        raise ModelLoadError(f"{path}: architecture {architecture} is not available ({err})") \
            from None
    except (TypeError, ValueError, KeyError, AssertionError) as err:
        raise ModelLoadError(f"{path}: constructor arguments do not build a {architecture} "
                             f"generator ({err})") from None


# --- NVIDIA pickles ------------------------------------------------------------------------

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
    from liveGAN.models.safe_pickle import OpaqueObject, PersistentRecord

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
    from liveGAN.models.safe_pickle import PersistentRecord, UnsafePickleError, safe_load

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


# --- rosinality/stylegan2-pytorch checkpoints ----------------------------------------------

def _torch_load(path: Path) -> Any:
    import argparse

    try:
        # rosinality's train.py stores its argparse Namespace beside the weights; it only
        # holds attributes, so it is allowed in addition to PyTorch's weights-only list.
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "refused content"
        raise ModelLoadError(f"{path}: refused by the weights-only loader ({first})") from None
    except (RuntimeError, EOFError, ValueError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelLoadError(f"{path}: damaged or truncated PyTorch file ({first})") from None


def read_rosinality(path: Path) -> tuple[str, dict, dict[str, torch.Tensor]]:
    """(architecture, constructor kwargs, state dict) of a rosinality `.pt`'s `g_ema`."""
    data = _torch_load(path)
    if not isinstance(data, dict) or not isinstance(data.get("g_ema"), dict):
        keys = ", ".join(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise ModelLoadError(f"{path}: a PyTorch file without a 'g_ema' state dict ({keys}); "
                             f"for another generator give the patch's model.custom")
    latent_avg = data.get("latent_avg")
    try:
        return ("stylegan2",) + rosinality_to_official(data["g_ema"], latent_avg)
    except (KeyError, ValueError) as err:
        msg = err.args[0] if err.args else str(err)
        raise ModelLoadError(f"{path}: not a rosinality StyleGAN2 g_ema ({msg})") from None


def rosinality_to_official(g_ema: Mapping[str, torch.Tensor],
                           latent_avg: torch.Tensor | None = None) -> tuple[dict, dict]:
    """Rename a rosinality `g_ema` into official StyleGAN2 names; returns (init_kwargs, state).

    Both codes store weights the same way (equalized learning rate applied at run time:
    weights divided by the lr multiplier, scaled by lr_mul/sqrt(fan_in) in forward), so values
    copy over unchanged; only names and a few shapes differ.
    """
    sd = {k: v for k, v in g_ema.items() if isinstance(v, torch.Tensor)}
    n_mlp = sum(1 for k in sd if re.fullmatch(r"style\.\d+\.weight", k))
    if n_mlp == 0 or "input.input" not in sd:
        raise ValueError("no 'style.N.weight' / 'input.input' tensors")
    style_dim = sd["style.1.weight"].shape[1]
    n_convs = sum(1 for k in sd if re.fullmatch(r"convs\.\d+\.conv\.weight", k))
    resolution = 4 * 2 ** (n_convs // 2)
    img_channels = sd["to_rgb1.conv.weight"].shape[1]
    channels = {4: sd["input.input"].shape[1]}
    for i in range(n_convs // 2):
        channels[8 * 2 ** i] = sd[f"convs.{2 * i}.conv.weight"].shape[1]
    # Official channel counts follow min(channel_base // res, channel_max); find that rule.
    channel_max = max(channels.values())
    channel_base = channels[resolution] * resolution
    if any(min(channel_base // r, channel_max) != c for r, c in channels.items()):
        raise ValueError(f"channel counts {channels} do not follow the StyleGAN2 rule")
    init_kwargs = {"z_dim": style_dim, "c_dim": 0, "w_dim": style_dim,
                   "img_resolution": resolution, "img_channels": img_channels,
                   "mapping_kwargs": {"num_layers": n_mlp},
                   "channel_base": channel_base, "channel_max": channel_max,
                   "num_fp16_res": 0, "conv_clamp": None}

    state: dict[str, torch.Tensor] = {}
    for i in range(n_mlp):
        state[f"mapping.fc{i}.weight"] = sd[f"style.{i + 1}.weight"]
        state[f"mapping.fc{i}.bias"] = sd[f"style.{i + 1}.bias"]

    def styled_conv(src: str, dst: str, noise_index: int) -> None:
        state[f"{dst}.weight"] = sd[f"{src}.conv.weight"].squeeze(0)
        state[f"{dst}.affine.weight"] = sd[f"{src}.conv.modulation.weight"]
        state[f"{dst}.affine.bias"] = sd[f"{src}.conv.modulation.bias"]
        state[f"{dst}.bias"] = sd[f"{src}.activate.bias"]
        state[f"{dst}.noise_strength"] = sd[f"{src}.noise.weight"].reshape([])
        state[f"{dst}.noise_const"] = sd[f"noises.noise_{noise_index}"].reshape(
            sd[f"noises.noise_{noise_index}"].shape[-2:])

    def to_rgb(src: str, dst: str) -> None:
        state[f"{dst}.weight"] = sd[f"{src}.conv.weight"].squeeze(0)
        state[f"{dst}.affine.weight"] = sd[f"{src}.conv.modulation.weight"]
        state[f"{dst}.affine.bias"] = sd[f"{src}.conv.modulation.bias"]
        state[f"{dst}.bias"] = sd[f"{src}.bias"].reshape(-1)

    state["synthesis.b4.const"] = sd["input.input"].squeeze(0)
    styled_conv("conv1", "synthesis.b4.conv1", 0)
    to_rgb("to_rgb1", "synthesis.b4.torgb")
    for i in range(n_convs // 2):
        res = 8 * 2 ** i
        styled_conv(f"convs.{2 * i}", f"synthesis.b{res}.conv0", 2 * i + 1)
        styled_conv(f"convs.{2 * i + 1}", f"synthesis.b{res}.conv1", 2 * i + 2)
        to_rgb(f"to_rgbs.{i}", f"synthesis.b{res}.torgb")
    if latent_avg is not None:
        state["mapping.w_avg"] = torch.as_tensor(latent_avg).reshape(-1)
    # Both codes blur with the same fixed [1,3,3,1] filter; the official buffer holds it as a
    # normalised 4x4 outer product in every layer and block that resamples.
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    resample_filter = torch.outer(taps, taps) / taps.sum() ** 2
    for name in _resample_filter_names(init_kwargs):
        state[name] = resample_filter.clone()
    if "mapping.w_avg" not in state:
        state["mapping.w_avg"] = _estimate_w_avg(init_kwargs, state)
    return init_kwargs, state


def _resample_filter_names(init_kwargs: dict) -> list[str]:
    # b4 has only conv1; every later block has conv0 and conv1; every block has its own.
    names = ["synthesis.b4.resample_filter", "synthesis.b4.conv1.resample_filter"]
    res = 8
    while res <= init_kwargs["img_resolution"]:
        names += [f"synthesis.b{res}.resample_filter", f"synthesis.b{res}.conv0.resample_filter",
                  f"synthesis.b{res}.conv1.resample_filter"]
        res *= 2
    return names


def _estimate_w_avg(init_kwargs: dict, state: dict) -> torch.Tensor:
    # Checkpoints without `latent_avg` still need a truncation centre: the mean w of many z,
    # as rosinality's own `mean_latent` computes it.
    from liveGAN.models.stylegan2 import MappingNetwork

    mapping = MappingNetwork(z_dim=init_kwargs["z_dim"], c_dim=0, w_dim=init_kwargs["w_dim"],
                             num_ws=None, **init_kwargs["mapping_kwargs"])
    own = {k[len("mapping."):]: v for k, v in state.items() if k.startswith("mapping.")}
    wanted = mapping.state_dict()
    mapping.load_state_dict({k: own.get(k, wanted[k]) for k in wanted})
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        z = torch.randn([4096, init_kwargs["z_dim"]], generator=generator)
        return mapping(z, None).reshape(4096, -1, init_kwargs["w_dim"])[:, 0].mean(0)


def official_to_rosinality(state: Mapping[str, torch.Tensor], init_kwargs: Mapping[str, Any]
                           ) -> dict[str, torch.Tensor]:
    """The inverse renaming (official StyleGAN2 -> rosinality `g_ema`), for tests and export."""
    n_mlp = init_kwargs.get("mapping_kwargs", {}).get("num_layers", 8)
    res_max = int(init_kwargs["img_resolution"])
    out: dict[str, torch.Tensor] = {}
    for i in range(n_mlp):
        out[f"style.{i + 1}.weight"] = state[f"mapping.fc{i}.weight"]
        out[f"style.{i + 1}.bias"] = state[f"mapping.fc{i}.bias"]

    def styled_conv(src: str, dst: str, noise_index: int, up: bool) -> None:
        out[f"{dst}.conv.weight"] = state[f"{src}.weight"].unsqueeze(0)
        out[f"{dst}.conv.modulation.weight"] = state[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = state[f"{src}.affine.bias"]
        out[f"{dst}.activate.bias"] = state[f"{src}.bias"]
        out[f"{dst}.noise.weight"] = state[f"{src}.noise_strength"].reshape(1)
        out[f"noises.noise_{noise_index}"] = state[f"{src}.noise_const"][None, None]
        if up:
            kernel = torch.tensor([1.0, 3.0, 3.0, 1.0])
            kernel = kernel[None, :] * kernel[:, None]
            out[f"{dst}.conv.blur.kernel"] = kernel / kernel.sum() * 4

    def to_rgb(src: str, dst: str, up: bool) -> None:
        out[f"{dst}.conv.weight"] = state[f"{src}.weight"].unsqueeze(0)
        out[f"{dst}.conv.modulation.weight"] = state[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = state[f"{src}.affine.bias"]
        out[f"{dst}.bias"] = state[f"{src}.bias"].reshape(1, -1, 1, 1)
        if up:
            kernel = torch.tensor([1.0, 3.0, 3.0, 1.0])
            kernel = kernel[None, :] * kernel[:, None]
            out[f"{dst}.upsample.kernel"] = kernel / kernel.sum() * 4

    out["input.input"] = state["synthesis.b4.const"].unsqueeze(0)
    styled_conv("synthesis.b4.conv1", "conv1", 0, False)
    to_rgb("synthesis.b4.torgb", "to_rgb1", False)
    for i in range(int(math.log2(res_max)) - 2):
        res = 8 * 2 ** i
        styled_conv(f"synthesis.b{res}.conv0", f"convs.{2 * i}", 2 * i + 1, True)
        styled_conv(f"synthesis.b{res}.conv1", f"convs.{2 * i + 1}", 2 * i + 2, False)
        to_rgb(f"synthesis.b{res}.torgb", f"to_rgbs.{i}", True)
    return out
