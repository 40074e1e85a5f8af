"""The live controls a loaded model offers: class labels, SG3 pan/rotate/zoom, noise strength,
and the latent edits a patch adds: directions, style mixing, bends, a blend with a second model.

Place in the data flow: registry values (`model/...`, `noise/...`, `direction/...`, `mix/...`,
`bend/...`) -> **controls** -> the generator's buffers and weights, the mapping's class labels,
and W+ between mapping and synthesis. `ModelControls(G, ...).params()` declares what this
particular model and patch can do, so the OSC tree, docs and patches list exactly that; the
frame maker calls, each frame:

    controls.apply(values)                      # buffers and weights, in place
    c = controls.labels(values, device)
    ws = runtime.mapping(z, c, psi, cutoff)
    ws = controls.edit_ws(ws, values)           # style mixing, then directions
    img = runtime.synthesis(ws)

Buffers and weights are written in place (`fill_`/`copy_`): a CUDA graph captured once replays
reading the same memory, so a new value must land in the old tensor, never in a new one.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

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
    """What a generator offers live, and how those values reach it.

    The latent edits are optional and come from the patch (each raises LatentConfigError,
    naming what does not fit, when it does not suit G):
    - `directions`: live `DirectionSet`s (see `latent.directions.direction_sets`);
    - `mixing`: True for style mixing with the model's coarse/middle/fine rows, or a mapping of
      range name -> rows to replace them (`[mixing] coarse = [0, 4]`);
    - `keyframes`: a KeyframeStore, so `mix/keyframe` can mix from a kept latent;
    - `bends`: `BendSpec`s (see `latent.bending.parse_bends`), installed as hooks on G;
    - `blend_with`: a second generator of the same architecture (`model/blend`).
    Build it after the runtime has moved G (bends and blends hold G's tensors), and before
    `runtime.warmup()` when bends are used on CUDA (or call `runtime.reset_graphs()`).
    """

    def __init__(self, G: Any, *, directions: Sequence[Any] = (), mixing: Any = False,
                 keyframes: Any = None, bends: Sequence[Any] = (),
                 blend_with: Any = None) -> None:
        self.G = G
        self.c_dim = int(getattr(G, "c_dim", 0) or 0)
        self.input_layer = _input_layer(G) if isinstance(G, torch.nn.Module) else None
        self.noise_layers = noise_gain_layers(G) if isinstance(G, torch.nn.Module) else []
        self.directions = list(directions)
        self.keyframes = keyframes
        self._weights_version = 0
        self.blend = None
        if blend_with is not None:
            from liveGAN.latent.blending import ModelBlend

            self.blend = ModelBlend(G, blend_with)
        self.mixer = None
        if mixing:
            from liveGAN.latent.mixing import StyleMixer, mixing_ranges

            ranges = mixing_ranges(G, mixing if isinstance(mixing, Mapping) else None)
            self.mixer = StyleMixer(G, ranges, keyframes, lambda: self._weights_version)
        self.bender = None
        if bends:
            from liveGAN.latent.bending import Bender

            self.bender = Bender(G, bends)
        self._params = self._declare()
        self._defaults = {p.key: p.default for p in self._params}
        self._last_noise: tuple | None = None
        self._last_view: tuple | None = None
        self._labels_cache: tuple | None = None
        self.last_ws: torch.Tensor | None = None

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
        if self.blend is not None:
            params += self.blend.params()
        if self.mixer is not None:
            params += self.mixer.params()
        for direction_set in self.directions:
            params += direction_set.params()
        if self.bender is not None:
            params += self.bender.params()
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
            if self.bender is not None:
                self.bender.apply(values)
            if self.blend is not None and self.blend.apply(values):
                self._weights_version += 1   # W mapped before the blend moved is stale now

    def edit_ws(self, ws: torch.Tensor, values: Mapping[str, float]) -> torch.Tensor:
        """W+ edited for this frame: style mixing, then directions. Returns `ws` itself when
        no edit is active. The second latent of a conditional model takes this frame's class
        labels from `values` (as `labels()` gives them)."""
        if self.mixer is not None and self.mixer.active(values):
            labels = label_key = None
            if self.c_dim:
                # The cached labels and their key: no device read-back to compare them.
                labels = self.labels(values, ws.device)
                label_key = self._labels_cache[0]
            ws = self.mixer.edit(ws, values, labels, label_key)
        for direction_set in self.directions:
            ws = direction_set.edit(ws, values)
        self.last_ws = ws
        return ws

    def current_ws(self) -> torch.Tensor | None:
        """W+ of the last frame made (after edits): what `/latent/keep` bookmarks."""
        return self.last_ws

    def close(self) -> None:
        """Take bends off G and put its own weights back (a patch without them follows)."""
        if self.bender is not None:
            self.bender.remove()
        if self.blend is not None:
            self.blend.restore()

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
