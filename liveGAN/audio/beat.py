"""Tempo and beat: BPM, beat phase and a beat trigger from the onset flux.

Place in the data flow: audio input -> spectrum -> flux (features.py) -> **beat tracker** ->
`audio/bpm`, `audio/beat`, `audio/beat_phase`, `audio/beat_confidence` params, which mappings
and shaders read like the clock's own beat.

How the tempo is found (the same scoring live and offline), from the *accent* flux (the rise of
band amplitudes, which follows kicks, snares and bass more than hi-hats):
1. The autocorrelation of the flux over the last `window_s` seconds shows how much the accents
   repeat at each lag.
2. Each tempo on a 0.25 BPM grid in `bpm_range` scores the mean autocorrelation at its first
   four beat lags (a comb: a true beat period repeats at 2, 3, 4 periods too). This finds the
   period but not which octave of it is the beat (80 or 160 BPM?).
3. The octave: start from the slowest one in range and double while the faster grid's pulses
   are all accents - the flux on every other pulse is at least `OFFBEAT_RATIO` of the flux on
   the pulses between (each half measured by a percentile, `OFFBEAT_PERCENTILE`).
   Kick-snare-kick-snare at 160 BPM passes (snares are accents); an 80 BPM beat with
   eighth-note hats does not (the hats between beats are not), nor does one syncopated kick
   on one off-beat in four.
4. The period is refined to the comb's own peak near it, between grid points by a parabola.

Live, the estimate is recomputed every 0.1 s; a new tempo is adopted once it has won several
times in a row (a tempo jump must hold for a second). The beat phase comes from a comb over the
recent flux at the chosen period; a free-running beat clock is nudged toward it, so beats keep
coming through a break and never jump. Because the clock predicts the next beat, the beat
trigger has no detection latency.

Offline (`global_tempo`, `track_beats`), the whole file's flux gives one tempo, and beats are
placed by dynamic programming over the whole file (Ellis 2007: each beat is on an onset and
about one period after the previous beat), which a live tracker cannot do.
"""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np

COMB_MULTIPLES = 8
# Below this comb score no tempo is adopted (white noise scores about 0.05-0.09, drum loops 0.5-0.95).
MIN_CONFIDENCE = 0.2
# The accent flux (relative to the loudness) must vary at least this much to hold a beat.
MIN_FLUX_STD = 0.02


def autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Unbiased, normalised autocorrelation of `x` (mean removed) for lags 0..max_lag."""
    n = len(x)
    max_lag = min(max_lag, n - 1)
    x = x - x.mean()
    size = 1 << int(math.ceil(math.log2(n + max_lag + 1)))
    spectrum = np.fft.rfft(x, size)
    acf = np.fft.irfft(spectrum.real ** 2 + spectrum.imag ** 2, size)[: max_lag + 1]
    acf /= n - np.arange(max_lag + 1)
    if acf[0] > 1e-20:
        acf /= acf[0]
    else:
        acf[:] = 0.0
    return acf


class TempoScorer:
    """Finds the tempo of a stretch of flux: comb scoring, then the choice of octave.

    See the module docstring. `best(flux)` returns (bpm, confidence), bpm 0 if nothing is found.
    """

    def __init__(self, hop_rate: float, bpm_range: tuple[float, float], step_bpm: float = 0.25) -> None:
        self.lo, self.hi = bpm_range
        self.bpm_grid = np.arange(self.lo, self.hi + step_bpm / 2, step_bpm)
        self.hop_rate = hop_rate
        period = 60.0 * hop_rate / self.bpm_grid  # in hops
        k = np.arange(1, COMB_MULTIPLES + 1)
        self._beat_lags = period[:, None] * k[None, :]
        self.max_lag = int(math.ceil(self._beat_lags.max())) + 2
        self._comb: tuple[int, _Comb] | None = None

    def scores(self, acf: np.ndarray) -> np.ndarray:
        """Comb score per tempo of `bpm_grid`; lags past the end of `acf` are left out."""
        # The interpolation weights only depend on the length of `acf`, which stays the same
        # once the live window is full: build them once per length.
        if self._comb is None or self._comb[0] != len(acf):
            self._comb = (len(acf), _Comb(self._beat_lags, len(acf)))
        return self._comb[1].mean(acf)

    def best(self, flux: np.ndarray) -> tuple[float, float]:
        """(bpm, confidence 0..1) for `flux`, oldest value first; (0, 0) if no tempo is found."""
        for result in self.stages(flux):
            pass
        return result

    def stages(self, flux: np.ndarray) -> Iterator[tuple[float, float] | None]:
        """`best` cut into steps of under 0.1 ms: yields None between steps, the result last.

        The live tracker runs one step per audio block, so no block pays for the whole search.
        """
        acf = autocorrelation(flux, min(self.max_lag, len(flux) // 2))
        yield None
        s = self.scores(acf)
        i = int(np.argmax(s))
        if s[i] <= 0:
            yield 0.0, 0.0
            return
        confidence = float(min(1.0, s[i]))
        bpm = float(self.bpm_grid[i])
        yield None
        # The comb finds the period but not the octave: go to the slowest octave in range and
        # speed up while every other pulse of the faster level is still an accent.
        while bpm / 2 >= self.lo:
            bpm /= 2
        while bpm * 2 <= self.hi:
            faster = _offbeat_ratio(flux, self._period(bpm * 2)) >= OFFBEAT_RATIO
            yield None
            if not faster:
                break
            bpm *= 2
        yield self._refine(s, bpm), confidence

    def _period(self, bpm: float) -> float:
        return 60.0 * self.hop_rate / bpm

    def _refine(self, s: np.ndarray, bpm: float) -> float:
        """The comb's own peak within 3% of `bpm`, between grid points by a parabola."""
        near = np.flatnonzero(np.abs(self.bpm_grid / bpm - 1.0) <= 0.03)
        if len(near) == 0:
            return bpm
        i = int(near[np.argmax(s[near])])
        refined = float(self.bpm_grid[i])
        if 0 < i < len(s) - 1:
            a, b, c = s[i - 1], s[i], s[i + 1]
            curvature = a - 2 * b + c
            if curvature < 0:
                shift = 0.5 * (a - c) / curvature
                refined += max(-0.5, min(0.5, shift)) * float(self.bpm_grid[1] - self.bpm_grid[0])
        return refined


class _Comb:
    """Reads an autocorrelation of a given length at fractional lags, one row per tempo, and
    averages each row over the lags that fall inside it (linear interpolation)."""

    def __init__(self, lags: np.ndarray, length: int) -> None:
        last = length - 1
        valid = lags <= last
        safe = np.where(valid, lags, 0.0)
        self.i0 = np.floor(safe).astype(np.intp)
        self.i1 = np.minimum(self.i0 + 1, last)
        frac = safe - self.i0
        count = valid.sum(axis=1)
        scale = np.where(count > 0, 1.0 / np.maximum(count, 1), 0.0)[:, None]
        self.w1 = frac * valid * scale
        self.w0 = (1.0 - frac) * valid * scale

    def mean(self, acf: np.ndarray) -> np.ndarray:
        return (acf[self.i0] * self.w0 + acf[self.i1] * self.w1).sum(axis=1)


def comb_phase(flux: np.ndarray, period: float, beats: int = 8, decay: float = 0.85) -> float:
    """How many hops before the last value of `flux` the most recent beat falls (0..period).

    Sums the flux at one, two, ... periods back for every whole-hop offset, keeps the best
    offset and refines it between hops with a parabola; the most recent beats count most
    (weights `decay`**k).
    """
    n = len(flux)
    beats = max(1, min(beats, int((n - 1) / period)))
    offsets = np.arange(0.0, period)
    k = np.arange(beats)
    pos = (n - 1) - offsets[:, None] - period * k[None, :]
    i0 = np.floor(pos).astype(np.intp)
    frac = pos - i0
    np.clip(i0, 0, n - 2, out=i0)
    values = flux[i0] * (1.0 - frac) + flux[i0 + 1] * frac
    score = values @ (decay ** k)
    j = int(np.argmax(score))
    offset = float(offsets[j])
    left, right = score[j - 1], score[(j + 1) % len(score)]
    curvature = left - 2 * score[j] + right
    if curvature < 0:
        offset += max(-0.5, min(0.5, 0.5 * (left - right) / curvature))
    return offset % period


# Off-beat pulses of at least this share of the on-beat ones make the faster level the beat.
OFFBEAT_RATIO = 0.3
# Each half of the pulses is measured by this percentile: a half where every other pulse is an
# accent (a kick on beat 1 but a hi-hat only on beat 3) still counts as accented; a half with
# one accent in four (a syncopated kick among eighth-note hats) does not.
OFFBEAT_PERCENTILE = 60


def _pulses(flux: np.ndarray, period: float, offset: float, count: int = 16) -> np.ndarray:
    """Flux at the last `count` pulses (offset + k * period hops before the end), each the
    max within a hop."""
    n = len(flux)
    pos = (n - 1) - offset - period * np.arange(min(count, int((n - 2 - offset) / period) + 1))
    pos = pos[pos >= 1]
    i = np.rint(pos).astype(np.intp)
    return np.maximum(np.maximum(flux[i - 1], flux[i]), flux[np.minimum(i + 1, n - 1)])


def _offbeat_ratio(flux: np.ndarray, period: float) -> float:
    """How even the pulses of the best grid of `period` hops are: the flux of every other pulse
    over that of the pulses between them (the weaker half over the stronger, 0..1).

    Near 1: every pulse is an accent, so this period can be the beat. Near 0: every other pulse
    is weak (hi-hats between kicks and snares), so the beat is twice as slow.
    """
    pulses = _pulses(flux, period, comb_phase(flux, period))
    if len(pulses) < 4:
        return 0.0
    a, b = _percentile(pulses[0::2]), _percentile(pulses[1::2])
    return min(a, b) / max(a, b) if max(a, b) > 0 else 0.0


def _percentile(values: np.ndarray) -> float:
    """`OFFBEAT_PERCENTILE` of a few values (np.percentile's linear rule, without its overhead)."""
    ordered = np.sort(values)
    pos = OFFBEAT_PERCENTILE / 100.0 * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


class BeatTracker:
    """Live tempo and beat from one flux value per block.

    `step(flux, t_end)` returns True on the block in which a beat falls; read `bpm` (0 until the
    first lock), `phase` (0..1) and `confidence` (0..1) after each step.
    `flux_delay_s`: how long after an onset its flux peak is seen, so beats land on the onsets.
    """

    def __init__(self, hop_rate: float, bpm_range: tuple[float, float] = (60.0, 200.0),
                 window_s: float = 8.0, update_s: float = 0.1, min_data_s: float = 2.0,
                 flux_delay_s: float = 0.0) -> None:
        self.hop_rate = hop_rate
        self.hop_s = 1.0 / hop_rate
        self._scorer = TempoScorer(hop_rate, bpm_range)
        self._size = max(int(round(window_s * hop_rate)), self._scorer.max_lag + 1)
        # Written twice, so the last `_size` values are always one contiguous slice.
        self._ring = np.zeros(2 * self._size)
        self._every = max(1, round(update_s * hop_rate))
        self._min_data = max(8, round(min_data_s * hop_rate))
        self._flux_delay = flux_delay_s
        self.reset()

    def reset(self) -> None:
        self._ring[:] = 0.0
        self._count = 0
        self.bpm = 0.0
        self.phase = 0.0
        self.confidence = 0.0
        self._candidate = 0.0
        self._streak = 0
        self._next_beat = math.inf
        self._last_beat = -math.inf
        self._job: Iterator[None] | None = None

    def step(self, flux: float, t_end: float) -> bool:
        """Feed the flux of the block ending at `t_end` seconds; True if a beat falls in it."""
        i = self._count % self._size
        self._ring[i] = flux
        self._ring[i + self._size] = flux
        self._count += 1
        if self._job is not None:
            if next(self._job, "done") == "done":
                self._job = None
        elif self._count >= self._min_data and self._count % self._every == 0:
            self._job = self._update(t_end)
            next(self._job, None)
        if self.bpm <= 0:
            return False
        period = 60.0 / self.bpm
        beat = False
        # The beat goes to the block whose end is nearest to it.
        if t_end + 0.5 * self.hop_s >= self._next_beat:
            # A beat fell in this block; never two beats closer than half a period.
            if self._next_beat - self._last_beat > 0.5 * period:
                beat = True
                self._last_beat = self._next_beat
            while self._next_beat <= t_end + 0.5 * self.hop_s:
                self._next_beat += period
        self.phase = min(1.0, max(0.0, 1.0 - (self._next_beat - t_end) / period))
        return beat

    def recent_flux(self) -> np.ndarray:
        """The last `window_s` seconds of flux, oldest first (a view: do not keep it)."""
        n = min(self._count, self._size)
        end = self._count % self._size + self._size
        return self._ring[end - n:end]

    def _update(self, t_end: float) -> Iterator[None]:
        """Re-estimate tempo and phase from the flux up to `t_end`, one stage per block."""
        flux = self.recent_flux().copy()  # the ring moves on while the stages run
        # A flux that hardly moves (a steady tone, silence) has no beat, however periodic.
        result = (0.0, 0.0)
        if flux.std() > MIN_FLUX_STD:
            for result in self._scorer.stages(flux):
                if result is None:
                    yield
        bpm, confidence = result
        self.confidence += 0.3 * (confidence - self.confidence)
        if bpm <= 0 or confidence < MIN_CONFIDENCE:
            return
        # Adopt a tempo once it has won several updates in a row; follow small drifts at once.
        if self._candidate > 0 and abs(bpm / self._candidate - 1) < 0.02:
            self._streak += 1
        else:
            self._streak = 1
        self._candidate = bpm
        locked = self.bpm > 0
        close = locked and abs(bpm / self.bpm - 1) < 0.03
        if close:
            self.bpm += 0.3 * (bpm - self.bpm)
        elif self._streak >= (3 if not locked else 10):
            self.bpm = bpm
        else:
            return
        yield
        period = 60.0 / self.bpm
        back = comb_phase(flux, period * self.hop_rate) * self.hop_s + self._flux_delay
        last = t_end - back
        predicted = last + period * math.ceil((t_end - last) / period + 1e-9)
        if not close or not math.isfinite(self._next_beat):
            self._next_beat = predicted
            return
        error = (predicted - self._next_beat + period / 2) % period - period / 2
        self._next_beat += 0.25 * error


def global_tempo(flux: np.ndarray, hop_rate: float, bpm_range: tuple[float, float] = (60.0, 200.0)) -> float:
    """One tempo for a whole file's flux (0 if shorter than 2 s or without a clear beat)."""
    if len(flux) < 2 * hop_rate or flux.std() <= MIN_FLUX_STD:
        return 0.0
    bpm, confidence = TempoScorer(hop_rate, bpm_range).best(flux)
    return bpm if confidence >= MIN_CONFIDENCE else 0.0


def track_beats(flux: np.ndarray, hop_rate: float, bpm: float, tightness: float = 100.0) -> np.ndarray:
    """Beat positions (in hops, fractional) over a whole file's flux, by dynamic programming.

    Each hop's score is its flux plus the best earlier score one period back, minus a penalty
    for how far that gap is from the period (`tightness` sets how strict); the best path ends
    near the end of the file and is traced back.
    """
    if bpm <= 0 or len(flux) < 4:
        return np.zeros(0)
    period = 60.0 * hop_rate / bpm
    std = flux.std()
    onset = flux / std if std > 0 else flux.copy()
    n = len(onset)
    gaps = np.arange(int(round(period / 2)), int(round(2 * period)) + 1)
    penalty = -tightness * np.log(gaps / period) ** 2
    score = onset.copy()
    back = np.full(n, -1, np.intp)
    for t in range(int(gaps[0]), n):
        prev = t - gaps
        ok = prev >= 0
        candidates = np.where(ok, score[np.maximum(prev, 0)] + penalty, -np.inf)
        j = int(np.argmax(candidates))
        if candidates[j] > 0:
            score[t] += candidates[j]
            back[t] = prev[j]
    # End on the best-scoring hop in the last period; trace back.
    tail = score[max(0, n - int(round(period))):]
    t = n - len(tail) + int(np.argmax(tail))
    path = [t]
    while back[path[-1]] >= 0:
        path.append(int(back[path[-1]]))
    return np.array(path[::-1], np.float64)
