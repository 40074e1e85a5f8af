"""Onset picking: spectral flux in, a trigger and a strength out, one block at a time.

Place in the data flow: audio input -> spectrum (features.py) -> spectral flux -> **onset
picker** -> `audio/onset`, `audio/onset_strength` params.

The flux (how much the log power rose since the last block, averaged over log-spaced bands;
features.py ignores rises under each band's own jitter and far under its recent peak) jumps
when a note or a drum starts. An onset fires on the block where the flux crosses an adaptive
threshold: a multiple of the median of the last 0.15 s (so a busy passage needs a bigger
jump, while one loud hit just before does not mask the next, as a mean would) plus a small
share of the running peak plus a floor (so hiss and the tail of a quiet track do not fire).
After firing, the picker waits for the flux to fall back under the threshold and for
`min_gap_s` before it can fire again, so one drum hit gives one onset. No look-ahead: the
trigger comes on the block in which the onset is first heard.
"""
from __future__ import annotations

import math


class OnsetDetector:
    """Adaptive-threshold onset trigger on a novelty (flux) value per block.

    `sensitivity` (0..1, default 0.5) moves the threshold: higher fires on softer onsets.
    """

    def __init__(self, hop_s: float, sensitivity: float = 0.5, min_gap_s: float = 0.05,
                 median_window_s: float = 0.15, peak_forget_s: float = 4.0) -> None:
        if not 0.0 <= sensitivity <= 1.0:
            raise ValueError(f"onset sensitivity must be in 0..1, got {sensitivity}")
        self._n_median = max(3, round(median_window_s / hop_s))
        self._min_gap = max(1, round(min_gap_s / hop_s))
        self._peak_decay = math.exp(-hop_s / peak_forget_s)
        # Higher sensitivity: a smaller multiple of the local median and a smaller share of the peak.
        self._median_factor = 1.5 + 1.0 * (1.0 - sensitivity)
        self._peak_share = 0.01 + 0.03 * (1.0 - sensitivity)
        self._floor = 0.05
        self.reset()

    def reset(self) -> None:
        self._history = [0.0] * self._n_median
        self._pos = 0
        self._peak = 0.0
        self._since = 1 << 30
        self._armed = True
        self.threshold = 0.0

    def step(self, flux: float, allowed: bool = True) -> float:
        """Feed one block's flux; returns the onset strength if an onset fires, else 0.

        The strength is the flux over its running peak (0..1]: 1 for the strongest recent hit.
        `allowed=False` (silence) keeps the statistics running but never fires.
        """
        recent = sorted(self._history)
        median = recent[len(recent) // 2]
        self._peak = max(flux, self._peak * self._peak_decay)
        threshold = self._median_factor * median + self._peak_share * self._peak + self._floor
        self.threshold = threshold
        # The history excludes the current block, so an onset does not raise its own bar.
        self._history[self._pos] = flux
        self._pos = (self._pos + 1) % self._n_median
        self._since += 1
        if flux < threshold:
            self._armed = True
            return 0.0
        if not (allowed and self._armed and self._since >= self._min_gap):
            return 0.0
        self._armed = False
        self._since = 0
        return min(1.0, flux / self._peak) if self._peak > 0 else 0.0
