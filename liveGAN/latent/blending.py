"""Model blending and crossfades: two generators played as one, or faded from one to the next.

Place in the data flow: `model/blend...` params -> **ModelBlend.apply** (weights rewritten in
place) -> mapping + synthesis; and on a model swap, two frame makers -> **Crossfade** -> one
RGBA frame for the renderer.

`ModelBlend` interpolates every weight of the playing model toward a second model of the same
architecture (as in layer swapping / network blending): the mapping network by `model/blend`,
each synthesis layer by `model/blend` x `model/blend_<range>`, the range (coarse, middle,
fine) being the one its W+ row falls in. So `blend_fine = 0` keeps the first model's textures
on the second model's shapes. Blend 0 and 1 copy each model's own weights back exactly. The
weights are written into the same tensors, so a captured CUDA graph replays the blend.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Mapping

from liveGAN.latent import LatentConfigError
from liveGAN.latent.layers import describe, family, network_layers, style_ranges
from liveGAN.params import Param

LIVE_BUFFERS = ("synthesis.input.transform",)   # live controls (SG3 view), never blended
SHAPE_FIELDS = ("img_resolution", "img_channels", "z_dim", "w_dim", "num_ws", "c_dim")


def check_blendable(G: Any, other: Any) -> None:
    """LatentConfigError naming what differs when `other` cannot be blended into G."""
    differences = []
    kind_a = getattr(G, "architecture", None) or family(G)
    kind_b = getattr(other, "architecture", None) or family(other)
    if kind_a != kind_b:
        differences.append(("architecture", kind_b, kind_a))
    for name in SHAPE_FIELDS:
        a, b = getattr(G, name, None), getattr(other, name, None)
        if a != b:
            differences.append((name, str(b), str(a)))
    if not differences:
        mine = {k: tuple(v.shape) for k, v in G.state_dict().items()}
        theirs = {k: tuple(v.shape) for k, v in other.state_dict().items()}
        missing = sorted(set(mine) ^ set(theirs))
        if missing:
            differences.append(("layers", f"{len(missing)} different (first: {missing[0]})",
                                "the same layers"))
        else:
            shaped = [k for k in mine if mine[k] != theirs[k]]
            if shaped:
                differences.append((f"shape of {shaped[0]}", str(theirs[shaped[0]]),
                                    str(mine[shaped[0]])))
    if differences:
        what = "; ".join(f"{key} {theirs} there, {mine} here" for key, theirs, mine in differences)
        raise LatentConfigError(f"cannot blend: the second model differs ({what}); this model "
                                f"is {describe(G)}", [(f"model.blend: {k}", t, m)
                                                      for k, t, m in differences])


def _group_of(name: str, layers: list, ranges: dict[str, tuple[int, int]]) -> str:
    """'mapping' or the style range of the synthesis layer a state_dict entry belongs to."""
    if not name.startswith("synthesis."):
        return "mapping"
    path = name[len("synthesis."):].split(".")
    best, best_len = None, -1
    for layer in layers:
        parts = layer.name.split(".")
        common = 0
        while common < min(len(parts), len(path)) and parts[common] == path[common]:
            common += 1
        # The layer sharing the longest path wins; among equals, the first (coarsest) one,
        # so a block's own weights (StyleGAN2's const) go with its first layer.
        if common > best_len:
            best, best_len = layer, common
    row = best.row if best is not None and best_len > 0 else 0
    for range_name, (start, stop) in ranges.items():
        if start <= row < stop:
            return range_name
    return next(iter(ranges), "mapping")


class ModelBlend:
    """The playing model G blended toward `other`, layer range by layer range, in place.

    Keeps a copy of both models' weights on G's device (so memory is about three models).
    Build it after the runtime has moved G to its device and layout.
    """

    def __init__(self, G: Any, other: Any, ranges: Mapping[str, tuple[int, int]] | None = None
                 ) -> None:
        import torch

        check_blendable(G, other)
        self.G = G
        self.ranges = dict(ranges) if ranges is not None else style_ranges(G)
        layers = network_layers(G)
        theirs = other.state_dict()
        self.groups: dict[str, list[tuple[Any, Any, Any]]] = {}
        with torch.no_grad(), torch.inference_mode(False):
            for name, tensor in G.state_dict(keep_vars=True).items():
                if name in LIVE_BUFFERS or not tensor.is_floating_point():
                    continue
                mine = torch.empty_like(tensor).copy_(tensor.detach())
                target = torch.empty_like(tensor).copy_(theirs[name].detach())
                self.groups.setdefault(_group_of(name, layers, self.ranges), []).append(
                    (tensor, mine, target))
        self._last = {group: 0.0 for group in self.groups}

    def params(self) -> list[Param]:
        params = [Param("model", "blend", "float", 0.0, 0.0, 1.0, 0.1,
                        "blend the model's weights toward the second model (0 this, 1 that)")]
        for name, (start, stop) in self.ranges.items():
            params.append(Param("model", f"blend_{name}", "float", 1.0, 0.0, 1.0, 0.1,
                                f"how much of model/blend the {name} layers (W+ rows "
                                f"{start}:{stop}) take"))
        return params

    def amounts(self, values: Mapping[str, float]) -> dict[str, float]:
        """The blend of each weight group for these values."""
        def clamp(value: Any, default: float) -> float:
            return min(max(float(default if value is None else value), 0.0), 1.0)

        blend = clamp(values.get("model/blend"), 0.0)
        out = {"mapping": blend}
        for name in self.ranges:
            out[name] = blend * clamp(values.get(f"model/blend_{name}"), 1.0)
        return out

    def apply(self, values: Mapping[str, float]) -> bool:
        """Rewrite the weights whose blend changed; True when the mapping network changed
        (W computed earlier from it, e.g. a style-mixing latent, is then stale)."""
        import torch

        changed_mapping = False
        with torch.no_grad():
            for group, t in self.amounts(values).items():
                if group not in self.groups or self._last[group] == t:
                    continue
                for tensor, mine, target in self.groups[group]:
                    if t == 0.0:
                        tensor.copy_(mine)
                    elif t == 1.0:
                        tensor.copy_(target)
                    else:  # one pass; the copies share the tensor's memory format
                        torch.lerp(mine, target, t, out=tensor)
                self._last[group] = t
                changed_mapping = changed_mapping or group == "mapping"
        return changed_mapping

    def restore(self) -> None:
        """Put the first model's own weights back (blend 0 everywhere)."""
        self.apply({"model/blend": 0.0})


# ------------------------------------------------------------------ crossfade on a model swap
def mix_frames(old: Any, new: Any, t: float) -> Any:
    """RGBA8 frames [H, W, 4] (numpy or torch) mixed: t = 0 `old`, 1 `new`, `new`'s type,
    size and device; an old frame of another size is resized to the new one first."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    as_numpy = isinstance(new, np.ndarray)
    b = torch.from_numpy(new) if as_numpy else new
    a = torch.from_numpy(np.ascontiguousarray(old)) if isinstance(old, np.ndarray) else old
    a = a.to(b.device)
    if t <= 0.0 and a.shape == b.shape:
        mixed = a.clone()
    elif t >= 1.0:
        mixed = b.clone()
    else:
        if a.shape != b.shape:
            a = F.interpolate(a.permute(2, 0, 1)[None].float(), size=b.shape[:2],
                              mode="bilinear", align_corners=False)[0].permute(1, 2, 0)
        mixed = torch.lerp(a.float(), b.float(), float(t)).round_().clamp_(0, 255).to(torch.uint8)
    return mixed.numpy() if as_numpy else mixed


class Crossfade:
    """A frame maker that plays the old and the new model together while it fades between them.

    Use it in place of the new model's frame maker when a patch swaps models; once `finished`
    (a frame was made at the end of the fade) switch to the new maker alone and drop the old.
    Time comes from `request.time` when the request carries the show time (deterministic
    renders), else from `clock`; the fade starts at the first request.
    """

    def __init__(self, old: Callable[[Any], Any], new: Callable[[Any], Any],
                 seconds: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.old, self.new = old, new
        self.seconds = max(float(seconds), 0.0)
        self.clock = clock
        self.start: float | None = None
        self.finished = False

    def progress(self, now: float) -> float:
        """How far the fade is at time `now` (0..1, eased)."""
        if self.start is None:
            self.start = now
        if self.seconds == 0.0:
            return 1.0
        t = min(max((now - self.start) / self.seconds, 0.0), 1.0)
        return t * t * (3 - 2 * t)

    def __call__(self, request: Any) -> Any:
        now = getattr(request, "time", None)
        t = self.progress(self.clock() if now is None else float(now))
        frame = self.new(request)
        if t >= 1.0:
            self.finished = True
            return frame
        return mix_frames(self.old(request), frame, t)
