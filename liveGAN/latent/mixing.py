"""Style mixing: coarse, middle and fine rows of W+ taken from a second latent.

Place in the data flow: mapping -> ws -> **mixing** (`ModelControls.edit_ws`) -> synthesis.
The second latent is the still latent of seed `mix/seed` (what `walk = "still"` shows for that
seed), or keyframe `mix/keyframe` when a keyframe store is attached and that param is 0 or more.
`mix/coarse`, `mix/middle`, `mix/fine` crossfade each range of rows from the playing latent
(0) to the second one (1); in between is a per-row lerp, so a fader sweeps smoothly.

The second W is mapped once per seed (or keyframe) and cached untruncated; this frame's
truncation (`latent/truncation`, `latent/truncation_cutoff`) is applied to it here, so both
latents sit the same distance from the average. A keyframe's W is used as it was kept.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from liveGAN.latent import LatentConfigError
from liveGAN.latent.layers import RANGE_NAMES, parse_rows, style_ranges
from liveGAN.latent.walks import Walk
from liveGAN.params import Param

SEED_MAX = 2**31 - 1
KEYFRAME_MAX = 999


def mixing_ranges(G: Any, overrides: Mapping[str, Any] | None = None
                  ) -> dict[str, tuple[int, int]]:
    """The model's coarse/middle/fine rows, with a patch's `[mixing]` ranges replacing them
    (e.g. {"coarse": [0, 4]}); LatentConfigError for an unknown name or rows out of range."""
    ranges = style_ranges(G)
    for name, rows in (overrides or {}).items():
        if name not in RANGE_NAMES:
            raise LatentConfigError(f"mixing.{name}: not a range; use {', '.join(RANGE_NAMES)}",
                                    [(f"mixing.{name}", repr(name), " | ".join(RANGE_NAMES))])
        ranges[name] = parse_rows(rows, int(G.num_ws), f"mixing.{name}")
    return {name: ranges[name] for name in RANGE_NAMES if name in ranges}


class StyleMixer:
    """Mix rows of W+ from a second latent; `edit(ws, values, labels)` once per frame."""

    def __init__(self, G: Any, ranges: Mapping[str, tuple[int, int]] | None = None,
                 keyframes: Any = None, weights_version: Callable[[], int] = lambda: 0) -> None:
        self.G = G
        self.num_ws, self.z_dim = int(G.num_ws), int(G.z_dim)
        self.ranges = dict(ranges) if ranges is not None else mixing_ranges(G)
        self.keyframes = keyframes
        self._weights_version = weights_version   # changes when a blend rewrites the mapping
        self.amount_keys = [f"mix/{name}" for name in self.ranges]
        self._rows: Any = None                    # [num_ws, 1] per-row mix weights (device)
        self._last_amounts: tuple | None = None
        self._second: tuple | None = None         # (key, untruncated or kept W [1, num_ws, w_dim])
        self._truncated: tuple | None = None      # (key, W with this frame's truncation)

    def params(self) -> list[Param]:
        params = [Param("mix", "seed", "int", 1, 0, SEED_MAX, 0,
                        "seed of the second latent that mix/coarse, middle, fine take rows from")]
        for name, (start, stop) in self.ranges.items():
            params.append(Param("mix", name, "float", 0.0, 0.0, 1.0, 0.1,
                                f"take W+ rows {start}:{stop} ({name} styles) from the second "
                                "latent: 0 none, 1 all"))
        if self.keyframes is not None:
            params.append(Param("mix", "keyframe", "int", -1, -1, KEYFRAME_MAX, 0,
                                "mix from this kept keyframe instead of mix/seed "
                                "(-1: use the seed)"))
        return params

    def active(self, values: Mapping[str, float]) -> bool:
        return any(values.get(key) for key in self.amount_keys)

    def edit(self, ws, values: Mapping[str, float], labels=None, label_key: Any = None):
        """ws with each range crossfaded toward the second latent (ws itself when all are 0).

        `labels` are the class labels of a conditional model; `label_key` anything hashable
        that changes with them (read from the tensor when not given: a device sync)."""
        amounts = tuple(min(max(float(values.get(key, 0.0) or 0.0), 0.0), 1.0)
                        for key in self.amount_keys)
        if not any(amounts):
            return ws
        import torch

        rows = self._row_weights(amounts, ws)
        if labels is not None and label_key is None:
            label_key = tuple(labels.flatten().tolist())
        second = self._second_ws(values, labels, label_key, ws)
        return torch.lerp(ws, second.expand_as(ws), rows)

    # ------------------------------------------------------------------ helpers
    def _row_weights(self, amounts: tuple, ws):
        import torch

        if self._rows is None or self._rows.device != ws.device or self._rows.dtype != ws.dtype:
            self._rows = torch.zeros([self.num_ws, 1], dtype=ws.dtype, device=ws.device)
            self._last_amounts = None
        if amounts != self._last_amounts:
            for (start, stop), amount in zip(self.ranges.values(), amounts):
                self._rows[start:stop].fill_(amount)
            self._last_amounts = amounts
        return self._rows

    def _source(self, values: Mapping[str, float]) -> tuple[str, Any]:
        """('keyframe', Keyframe) or ('seed', seed) for this frame's second latent."""
        index = values.get("mix/keyframe") if self.keyframes is not None else None
        if index is not None and index >= 0:
            keyframe = self.keyframes.get(int(index))
            if keyframe is not None:
                return "keyframe", keyframe
        return "seed", int(values.get("mix/seed", 1))

    def _second_ws(self, values: Mapping[str, float], labels, label_key, ws):
        import torch

        kind, source = self._source(values)
        version = self._weights_version()
        if kind == "keyframe":
            key: tuple = ("keyframe", source.number, id(source), ws.device, version, label_key)
            kept = source.w
            if kept is not None and tuple(kept.shape[-2:]) == (self.num_ws, ws.shape[-1]):
                if self._second is None or self._second[0] != key:
                    w = torch.from_numpy(np.ascontiguousarray(kept, np.float32))
                    self._second = (key, w.reshape(1, self.num_ws, -1).to(ws.device, ws.dtype))
                return self._second[1]  # kept W is used as it was seen: already truncated
            z = source.z
        else:
            key = ("seed", source, ws.device, version, label_key)
            z = Walk("still", source, self.z_dim).position(0.0)
        if self._second is None or self._second[0] != key:
            z_t = torch.from_numpy(np.ascontiguousarray(z, np.float32)).reshape(1, -1)
            mapped = self.G.mapping(z_t.to(ws.device), labels, truncation_psi=1)
            self._second = (key, mapped.to(ws.dtype))
            self._truncated = None
        return self._truncate(self._second, values)

    def _truncate(self, second: tuple, values: Mapping[str, float]):
        """Apply this frame's truncation to the cached second W (as the runtime's mapping
        did to the first)."""
        import torch

        psi = float(values.get("latent/truncation", 1.0))
        cutoff = int(values.get("latent/truncation_cutoff", 0) or 0) or self.num_ws
        key = (second[0], psi, cutoff)
        if self._truncated is not None and self._truncated[0] == key:
            return self._truncated[1]
        w = second[1]
        w_avg = getattr(self.G.mapping, "w_avg", None)
        if psi != 1.0 and w_avg is not None:
            head = torch.lerp(w_avg.to(w.dtype), w[:, :cutoff], psi)
            w = torch.cat([head, w[:, cutoff:]], dim=1)
        self._truncated = (key, w)
        return w
