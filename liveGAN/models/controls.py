"""The live controls a loaded model offers: class labels, SG3 pan/rotate/zoom, noise strength.

Place in the data flow: registry values (`model/...`, `noise/...`) -> **controls** -> the
generator's buffers and the mapping's class labels. `ModelControls(G).params()` declares what
this particular model can do, so the OSC tree, docs and patches list exactly that; the frame
loop calls `apply(values)` and `labels(values, device)` before each frame.

Buffers are written in place (`fill_`/`copy_`): a CUDA graph captured once replays reading the
same memory, so a new value must land in the old tensor, never in a new one.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch

from liveGAN.params import Param

NOISE_MAX = 2.0


def noise_gain_layers(G: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """(module name, module) of every layer with a live `noise_gain` buffer, coarse to fine."""
    return [(name, module) for name, module in G.named_modules()
            if "noise_gain" in module._buffers and getattr(module, "use_noise", True)]


def _input_layer(G: torch.nn.Module):
    """The StyleGAN3 Fourier-feature input (it has the user `transform`), or None."""
    layer = getattr(getattr(G, "synthesis", None), "input", None)
    transform = getattr(layer, "transform", None)
    if isinstance(transform, torch.Tensor) and tuple(transform.shape) == (3, 3):
        return layer
    return None


def view_matrix(pan_x: float, pan_y: float, rotate_deg: float, zoom: float) -> torch.Tensor:
    """3x3 image transform: rotate by `rotate_deg`, scale by `zoom`, then pan (image units).

    The same layout as the official visualizer's `make_transform`; the input layer samples
    through its inverse, so zoom 2 shows the picture twice as large.
    """
    a = math.radians(rotate_deg)
    cos, sin = math.cos(a) * zoom, math.sin(a) * zoom
    return torch.tensor([[cos, sin, pan_x], [-sin, cos, pan_y], [0.0, 0.0, 1.0]],
                        dtype=torch.float64)


class ModelControls:
    """What a generator offers live, and how those values reach it."""

    def __init__(self, G: Any) -> None:
        self.G = G
        self.c_dim = int(getattr(G, "c_dim", 0) or 0)
        self.input_layer = _input_layer(G) if isinstance(G, torch.nn.Module) else None
        self.noise_layers = noise_gain_layers(G) if isinstance(G, torch.nn.Module) else []
        self._params = self._declare()
        self._defaults = {p.key: p.default for p in self._params}
        self._last_noise: tuple | None = None
        self._last_view: tuple | None = None
        self._labels_cache: tuple | None = None

    def _declare(self) -> list[Param]:
        params: list[Param] = []
        if self.c_dim > 0:
            top = float(self.c_dim - 1)
            params += [
                Param("model", "class", "int", 0, 0, top,
                      description=f"class label of the conditional model (0..{self.c_dim - 1})"),
                Param("model", "class_b", "int", 0, 0, top,
                      description="second class, blended in by model/class_mix"),
                Param("model", "class_mix", "float", 0.0, 0.0, 1.0, smoothing=0.1,
                      description="blend from model/class (0) to model/class_b (1)"),
            ]
        if self.input_layer is not None:
            params += [
                Param("model", "pan_x", "float", 0.0, -4.0, 4.0, smoothing=0.05,
                      description="StyleGAN3 horizontal pan, in image units"),
                Param("model", "pan_y", "float", 0.0, -4.0, 4.0, smoothing=0.05,
                      description="StyleGAN3 vertical pan, in image units"),
                Param("model", "rotate", "float", 0.0, -180.0, 180.0, smoothing=0.05,
                      description="StyleGAN3 rotation in degrees"),
                Param("model", "zoom", "float", 1.0, 0.25, 4.0, smoothing=0.05,
                      description="StyleGAN3 zoom (2 = twice as large)"),
            ]
        if self.noise_layers:
            params.append(Param("model", "noise", "float", 1.0, 0.0, NOISE_MAX, smoothing=0.05,
                                description="master strength of the per-pixel noise"))
            for index, (name, _) in enumerate(self.noise_layers):
                params.append(Param("noise", f"layer_{index:02d}", "float", 1.0, 0.0, NOISE_MAX,
                                    smoothing=0.05,
                                    description=f"noise strength of layer {name}"))
        return params

    def params(self) -> list[Param]:
        """The params this model offers (empty for a plain unconditional model without noise)."""
        return list(self._params)

    def _value(self, values: Mapping[str, float], key: str) -> float:
        value = values.get(key)
        return float(self._defaults[key] if value is None else value)

    def labels(self, values: Mapping[str, float], device: Any) -> torch.Tensor | None:
        """Class labels c [1, c_dim] for the mapping (a blend of two one-hots), or None."""
        if self.c_dim == 0:
            return None
        a = min(max(int(round(self._value(values, "model/class"))), 0), self.c_dim - 1)
        b = min(max(int(round(self._value(values, "model/class_b"))), 0), self.c_dim - 1)
        mix = min(max(self._value(values, "model/class_mix"), 0.0), 1.0)
        key = (a, b, mix, str(device))
        if self._labels_cache is not None and self._labels_cache[0] == key:
            return self._labels_cache[1]
        c = torch.zeros([1, self.c_dim], dtype=torch.float32)
        c[0, a] += 1.0 - mix
        c[0, b] += mix
        c = c.to(device)
        self._labels_cache = (key, c)
        return c

    def apply(self, values: Mapping[str, float]) -> None:
        """Write noise gains and the StyleGAN3 view transform into G's buffers, in place."""
        with torch.no_grad():
            if self.noise_layers:
                master = self._value(values, "model/noise")
                gains = tuple(master * self._value(values, f"noise/layer_{i:02d}")
                              for i in range(len(self.noise_layers)))
                if gains != self._last_noise:
                    for (_, layer), gain in zip(self.noise_layers, gains):
                        layer.noise_gain.fill_(gain)
                    self._last_noise = gains
            if self.input_layer is not None:
                view = tuple(self._value(values, f"model/{k}")
                             for k in ("pan_x", "pan_y", "rotate", "zoom"))
                if view != self._last_view:
                    self.set_view(*view)
                    self._last_view = view

    def set_view(self, pan_x: float = 0.0, pan_y: float = 0.0, rotate: float = 0.0,
                 zoom: float = 1.0) -> None:
        """Pan/rotate/zoom a StyleGAN3 image: the input layer samples through the inverse."""
        if self.input_layer is None:
            raise ValueError("this model has no StyleGAN3 input transform")
        zoom = max(float(zoom), 1e-3)
        inverse = torch.linalg.inv(view_matrix(pan_x, pan_y, rotate, zoom))
        buffer = self.input_layer.transform
        with torch.no_grad():
            buffer.copy_(inverse.to(dtype=buffer.dtype, device=buffer.device))
