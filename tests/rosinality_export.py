"""Official StyleGAN2 names -> a rosinality `g_ema` state dict (tests only).

The inverse of `liveGAN.models.formats.rosinality.rosinality_to_official`, used to make
rosinality checkpoints from the official fixtures.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch


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
