"""rosinality/stylegan2-pytorch checkpoints (`.pt` with a `g_ema` state dict).

Place in the data flow: `.pt` -> `torch.load(weights_only=True)` -> **rosinality** -> official
StyleGAN2 names and constructor kwargs -> our own StyleGAN2.
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any, Mapping

import torch

from liveGAN.models import ModelLoadError


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
    # Every mapping layer is style_dim x style_dim: the sizes below (and the w_avg estimate,
    # 4096 latents of style_dim) then stay within what the file holds.
    for i in range(n_mlp):
        for name, shape in ((f"style.{i + 1}.weight", (style_dim, style_dim)),
                            (f"style.{i + 1}.bias", (style_dim,))):
            if name not in sd or tuple(sd[name].shape) != shape:
                raise ValueError(f"mapping layer {name} is "
                                 f"{tuple(sd[name].shape) if name in sd else 'missing'}, "
                                 f"expected {shape}")
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
    from liveGAN.models.networks.stylegan2 import MappingNetwork

    mapping = MappingNetwork(z_dim=init_kwargs["z_dim"], c_dim=0, w_dim=init_kwargs["w_dim"],
                             num_ws=None, **init_kwargs["mapping_kwargs"])
    own = {k[len("mapping."):]: v for k, v in state.items() if k.startswith("mapping.")}
    wanted = mapping.state_dict()
    mapping.load_state_dict({k: own.get(k, wanted[k]) for k in wanted})
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        z = torch.randn([4096, init_kwargs["z_dim"]], generator=generator)
        return mapping(z, None).reshape(4096, -1, init_kwargs["w_dim"])[:, 0].mean(0)
