"""Auto-gain and attack/release envelopes, applied to all continuous features at once.

Place in the data flow: audio input -> analysis (raw feature vector) -> **shaping** -> read-only
`audio/...` params. Raw features have very different units and loudness depends on the room, the
mixer and the song; shaping turns each one into a steady 0..1 control a mapping can use as is.

Everything here works on small numpy vectors with preallocated buffers: one call per block,
no allocation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Shaping:
    """How one feature is shaped.

    `auto_gain`: divide by a running range so the output spans 0..1 whatever the input level.
    The range widens at once to take in a new extreme and forgets it over `FeatureConfig.auto_gain_s`.
    `attack_s` / `release_s`: time constants of a one-pole envelope on the way up / down
    (0 = follow at once). A fast attack and a slow release give the classic "pumping" meter.
    """

    auto_gain: bool = True
    attack_s: float = 0.01
    release_s: float = 0.15

    def __post_init__(self) -> None:
        if not (self.attack_s >= 0 and self.release_s >= 0):
            raise ValueError(f"envelope times must be >= 0 s, got attack {self.attack_s}, "
                             f"release {self.release_s}")


def _coefficient(tau_s: float, hop_s: float) -> float:
    """Per-block smoothing coefficient of a one-pole filter with time constant `tau_s`."""
    return 1.0 if tau_s <= 0 else 1.0 - math.exp(-hop_s / tau_s)


class Shaper:
    """Auto-gain then envelope on a vector of raw features, one call per block.

    `zero_based[i]`: the feature's natural floor is 0 (an energy); its range is 0..running max.
    Otherwise (a pitch-like feature) the range is running min..running max.
    `min_span[i]`: the smallest range the auto-gain divides by, so silence or a constant input
    reads as 0 instead of noise blown up to full scale.
    """

    def __init__(self, shapings: list[Shaping], zero_based: list[bool], min_span: list[float],
                 hop_s: float, auto_gain_s: float) -> None:
        n = len(shapings)
        self._manual = np.array([not s.auto_gain for s in shapings], bool)
        self._zero = np.array(zero_based, bool)
        self._min_span = np.array(min_span, np.float64)
        self._attack = np.array([_coefficient(s.attack_s, hop_s) for s in shapings])
        self._release = np.array([_coefficient(s.release_s, hop_s) for s in shapings])
        self._forget = _coefficient(auto_gain_s, hop_s)
        self._hi = np.zeros(n)
        self._lo = np.zeros(n)
        self._started = False
        self._state = np.zeros(n)
        self._x = np.zeros(n)
        self._span = np.zeros(n)
        self._diff = np.zeros(n)
        self._rising = np.zeros(n, bool)
        self._coef = np.zeros(n)

    def reset(self) -> None:
        self._hi[:] = 0.0
        self._lo[:] = 0.0
        self._state[:] = 0.0
        self._started = False

    def __call__(self, raw: np.ndarray, out: np.ndarray) -> None:
        """Shape `raw` (finite values) into `out`, in place."""
        x, span, hi, lo = self._x, self._span, self._hi, self._lo
        if not self._started:
            hi[:] = raw
            lo[:] = raw
            self._started = True
        # The running range: both ends creep toward each other, and jump out to a new extreme.
        np.subtract(hi, lo, out=span)
        span *= self._forget
        hi -= span
        lo += span
        np.maximum(hi, raw, out=hi)
        np.minimum(lo, raw, out=lo)
        np.copyto(lo, 0.0, where=self._zero)
        np.subtract(hi, lo, out=span)
        np.maximum(span, self._min_span, out=span)
        # lo <= raw <= hi and span >= hi - lo, so this lies in 0..1.
        np.subtract(raw, lo, out=x)
        x /= span
        np.copyto(x, raw, where=self._manual)
        # Attack/release envelope.
        state, diff = self._state, self._diff
        np.subtract(x, state, out=diff)
        np.greater(diff, 0.0, out=self._rising)
        np.copyto(self._coef, self._release)
        np.copyto(self._coef, self._attack, where=self._rising)
        diff *= self._coef
        state += diff
        np.copyto(out, state)
