"""The per-block audio analyser: samples in, a small vector of named features out.

Place in the data flow: audio input (a device callback queue, or a decoded file) -> **analysis**
(this module, one `process` call per block) -> read-only `audio/...` params -> mappings and
shader uniforms. The same analyser serves live input and offline renders (`offline.py`), so a
patch reacts the same way to a song played live and to the same song rendered to video.

Use it from one thread (the frame loop, or an analysis thread that owns it):

    an = AudioAnalyzer(FeatureConfig(sample_rate=48000))
    feats = an.process(block)      # float ndarray [n] or [n, channels]; any n, any rate set
    feats["level"], feats.names()  # the same Features object every call: copy() to keep one

`process` accepts chunks of any length: it analyses each complete `block` of samples (512 at
48 kHz, scaled with the rate) and returns the features of the latest one. Bad samples (NaN,
inf, beyond +-1000) are read as 0; no value it returns is ever NaN.

Features and ranges (normalised 0..1 where auto-gained; see `Shaping` to change any of it):

    level             0..1   RMS of the block (DC removed), auto-gained, attack 10 ms / release 150 ms
    level_db          dBFS   raw RMS, -120 (silence) .. 0 for a full-scale square, > 0 if above +-1
    peak              >= 0   raw sample peak, 1.0 = full scale (DC included: a clip meter), release 300 ms
    peak_db           dBFS   raw sample peak, -120 .. 0 (more if the input exceeds +-1)
    low, mid, high    0..1   band energies (default 20-250, 250-2000, 2000-16000 Hz), auto-gained;
      or band_0..     0..1   with `n_log_bands=N`, or any number of `bands` other than three
    flux              0..1   spectral flux (how much the spectrum rose), auto-gained
    onset             0/1    1 on the block where an onset (a drum hit, a note) is detected
    onset_strength    0..1   the last onset's strength against recent onsets, decaying (250 ms)
    beat              0/1    1 on the block in which a beat falls
    bpm               BPM    detected tempo in `bpm_range` (60..200 by default); 0 until locked,
                             then held (and the beat goes on) through breaks
    beat_phase        0..1   position inside the current beat, 0 at the beat
    beat_confidence   0..1   how periodic the recent accents are (under 0.2 no tempo is adopted)
    chroma_0..11      0..1   pitch classes C, C#, D, ... B (250 Hz..5 kHz), loudest = 1; 0 in silence
    centroid          0..1   spectral centroid on a log scale, 20 Hz = 0 .. 20 kHz = 1
    centroid_hz       Hz     raw spectral centroid; 0 in silence
    silence           0/1    1 after `silence_hold_s` below `silence_db`

`AudioAnalyzer.latency_s` says, per feature, how long before the end of the block the moment
it describes lies (a spectral feature describes the middle of its FFT window; the beat is
predicted, so its latency is 0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Mapping

import numpy as np

from liveGAN.audio.beat import BeatTracker
from liveGAN.audio.onset import OnsetDetector
from liveGAN.audio.shaping import Shaper, Shaping

RATE_MIN, RATE_MAX = 8000, 192000
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
THREE_BANDS = ("low", "mid", "high")
# Samples beyond this are garbage and read as 0 (a float stream is nominally within +-1).
SAMPLE_LIMIT = 1000.0
# Lowest power floor of the log spectrum used for the flux: -70 dBFS, so hiss makes no onsets.
FLUX_FLOOR_POWER = 1e-7
DB_FLOOR = -120.0
CHROMA_MAX_HZ = 5000.0
MIN_FLUX_BINS = 4
FLUX_MASKING = 1e-5  # -50 dB
FLUX_DEADBAND = 2.0  # natural log of power, times sqrt(bins in the band)

DEFAULT_SHAPING: dict[str, Shaping] = {
    "level": Shaping(True, 0.01, 0.15),
    "peak": Shaping(False, 0.0, 0.3),
    "bands": Shaping(True, 0.01, 0.15),
    "flux": Shaping(True, 0.0, 0.1),
    "onset_strength": Shaping(False, 0.0, 0.25),
    "chroma": Shaping(False, 0.05, 0.3),
    "centroid": Shaping(False, 0.05, 0.2),
}

# The smallest range auto-gain divides by, per group (amplitudes: -60 dBFS).
MIN_SPAN = {"level": 1e-3, "peak": 1e-3, "bands": 1e-3, "flux": 0.05, "onset_strength": 0.05,
            "chroma": 0.05, "centroid": 0.1}


def feature_range(name: str) -> tuple[float, float, float, str]:
    """(lowest, highest, value in silence, one-line description) of the feature `name`: what
    a read-only `audio/<name>` param declares, and what a meter scales by."""
    fixed = {
        "level": (0.0, 1.0, 0.0, "loudness (RMS), auto-gained 0..1"),
        "level_db": (DB_FLOOR, 20.0, DB_FLOOR, "loudness (RMS) in dBFS"),
        "peak": (0.0, 10.0, 0.0, "sample peak, 1 = full scale (a clip meter)"),
        "peak_db": (DB_FLOOR, 20.0, DB_FLOOR, "sample peak in dBFS"),
        "low": (0.0, 1.0, 0.0, "bass band energy, auto-gained 0..1"),
        "mid": (0.0, 1.0, 0.0, "middle band energy, auto-gained 0..1"),
        "high": (0.0, 1.0, 0.0, "treble band energy, auto-gained 0..1"),
        "flux": (0.0, 1.0, 0.0, "spectral flux: how much the spectrum rose, auto-gained"),
        "onset": (0.0, 1.0, 0.0, "1 for a moment on each onset (a hit, a note)"),
        "onset_strength": (0.0, 1.0, 0.0, "the last onset's strength, decaying over 250 ms"),
        "beat": (0.0, 1.0, 0.0, "1 for a moment on each beat"),
        "bpm": (0.0, 400.0, 0.0, "detected tempo (0 until it locks)"),
        "beat_phase": (0.0, 1.0, 0.0, "position inside the beat, 0 on the beat"),
        "beat_confidence": (0.0, 1.0, 0.0, "how steady the detected beat is"),
        "centroid": (0.0, 1.0, 0.0, "brightness: spectral centroid, 20 Hz = 0 .. 20 kHz = 1"),
        "centroid_hz": (0.0, RATE_MAX / 2, 0.0, "spectral centroid in Hz"),
        "silence": (0.0, 1.0, 1.0, "1 after a quarter second of silence"),
    }
    if name in fixed:
        return fixed[name]
    if name.startswith("chroma_") and name[7:].isdigit() and int(name[7:]) < 12:
        return (0.0, 1.0, 0.0, f"pitch class {PITCH_CLASSES[int(name[7:])]}, loudest = 1")
    if name.startswith("band_") and name[5:].isdigit():
        return (0.0, 1.0, 0.0, f"energy of band {name[5:]}, auto-gained 0..1")
    raise KeyError(f"no audio feature {name!r}")


@dataclass(frozen=True)
class FeatureConfig:
    """What the analyser computes and how. Checked when the analyser is built.

    `block`: samples per analysis step; None = 512 at 48 kHz, scaled to the rate (a power of 2).
    `window`: FFT size; None = 4 blocks. Must be a multiple of `block`.
    `bands`: (low Hz, high Hz) per band; three bands are named low/mid/high, others band_i.
    `n_log_bands`: if > 0, replaces `bands` by that many log-spaced bands, 30 Hz..16 kHz.
    `shaping`: per-feature overrides of `DEFAULT_SHAPING`, by feature name or group
    ("level", "peak", "bands", "flux", "onset_strength", "chroma", "centroid", or one band's name).
    """

    sample_rate: int = 48000
    block: int | None = None
    window: int | None = None
    bands: tuple[tuple[float, float], ...] = ((20.0, 250.0), (250.0, 2000.0), (2000.0, 16000.0))
    n_log_bands: int = 0
    silence_db: float = -60.0
    silence_hold_s: float = 0.25
    onset_sensitivity: float = 0.5
    onset_min_gap_s: float = 0.05
    bpm_range: tuple[float, float] = (60.0, 200.0)
    tempo_window_s: float = 8.0
    auto_gain_s: float = 10.0
    shaping: Mapping[str, Shaping] = field(default_factory=dict)

    @property
    def block_size(self) -> int:
        if self.block is not None:
            return int(self.block)
        return 1 << int(round(math.log2(512 * self.sample_rate / 48000)))

    @property
    def window_size(self) -> int:
        return int(self.window) if self.window is not None else 4 * self.block_size

    @property
    def band_edges(self) -> tuple[tuple[float, float], ...]:
        if self.n_log_bands > 0:
            top = min(16000.0, 0.95 * self.sample_rate / 2)
            edges = np.geomspace(30.0, top, self.n_log_bands + 1)
            return tuple((float(a), float(b)) for a, b in zip(edges[:-1], edges[1:]))
        return tuple((float(a), float(b)) for a, b in self.bands)

    @property
    def band_names(self) -> tuple[str, ...]:
        n = len(self.band_edges)
        return THREE_BANDS if n == 3 and self.n_log_bands == 0 else tuple(f"band_{i}" for i in range(n))

    def check(self) -> None:
        """Raise ValueError naming the first setting that cannot work."""
        if not RATE_MIN <= self.sample_rate <= RATE_MAX:
            raise ValueError(f"sample_rate must be {RATE_MIN}..{RATE_MAX} Hz, got {self.sample_rate}")
        block, window = self.block_size, self.window_size
        if not 16 <= block <= 16384:
            raise ValueError(f"block must be 16..16384 samples, got {block}")
        if window < block or window % block:
            raise ValueError(f"window ({window}) must be a multiple of block ({block})")
        if window & (window - 1):
            raise ValueError(f"window must be a power of two, got {window}")
        if not self.band_edges:
            raise ValueError("need at least one band")
        for lo, hi in self.band_edges:
            if not 0 <= lo < hi:
                raise ValueError(f"band ({lo}, {hi}) Hz: need 0 <= low < high")
        lo, hi = self.bpm_range
        if not 20 <= lo < hi <= 400 or hi < 1.9 * lo:
            raise ValueError(f"bpm_range {self.bpm_range}: need 20 <= low, high <= 400, high >= 1.9 x low")
        if not 0 <= self.onset_sensitivity <= 1:
            raise ValueError(f"onset_sensitivity must be 0..1, got {self.onset_sensitivity}")
        if self.auto_gain_s <= 0 or self.tempo_window_s < 3 or self.silence_hold_s < 0:
            raise ValueError("auto_gain_s must be > 0, tempo_window_s >= 3, silence_hold_s >= 0")
        known = {"level", "peak", "bands", "flux", "onset_strength", "chroma", "centroid",
                 *self.band_names, *(f"chroma_{i}" for i in range(12))}
        unknown = set(self.shaping) - known
        if unknown:
            raise ValueError(f"shaping for unknown feature(s) {sorted(unknown)}; known: {sorted(known)}")


class Features:
    """The features of the latest block: `feats["level"]`, `names()`, `as_dict()`.

    The analyser updates this object in place on every block; `copy()` keeps a snapshot.
    """

    __slots__ = ("_names", "_index", "values")

    def __init__(self, names: tuple[str, ...], values: np.ndarray) -> None:
        self._names = names
        self._index = {name: i for i, name in enumerate(names)}
        self.values = values

    def names(self) -> tuple[str, ...]:
        """The published feature names, in the order of `values`."""
        return self._names

    def __getitem__(self, name: str) -> float:
        return float(self.values[self._index[name]])

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def as_dict(self) -> dict[str, float]:
        return {name: float(v) for name, v in zip(self._names, self.values)}

    def copy(self) -> Features:
        return Features(self._names, self.values.copy())

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:.3g}" for k, v in list(self.as_dict().items())[:8])
        return f"Features({shown}, ...)"


class AudioAnalyzer:
    """Stateful per-block analyser. Build once per stream, call `process` from one thread.

    Besides the features: `latency_s` (per feature), `time_s` (stream time at the end of the
    last block), and for offline analysis `last_flux` / `last_accent` (the raw onset and accent
    flux of the last block) and `accent_delay_s` (how late an accent peaks after its hit).
    The spectral path works in preallocated buffers; the tempo search allocates a few small
    arrays every 0.1 s, one stage per block.
    """

    def __init__(self, config: FeatureConfig | None = None) -> None:
        cfg = config or FeatureConfig()
        cfg.check()
        self.config = cfg
        sr, block, window = cfg.sample_rate, cfg.block_size, cfg.window_size
        self.sample_rate, self.block, self.window = sr, block, window
        self.hop_s = block / sr
        self._build_names(cfg)
        self._build_spectrum(cfg)
        self._onsets = OnsetDetector(self.hop_s, cfg.onset_sensitivity, cfg.onset_min_gap_s)
        # The accent flux of a drum hit peaks about when the hit reaches the steep part of the
        # Hann window, a quarter window in (measured on kicks, snares and clicks).
        self.accent_delay_s = (0.25 * window + 0.75 * block) / sr
        self._beats = BeatTracker(1.0 / self.hop_s, cfg.bpm_range, cfg.tempo_window_s,
                                  flux_delay_s=self.accent_delay_s)
        shapings, zero_based, min_span = [], [], []
        for name, group in zip(self._shaped, self._shaped_group):
            shapings.append(cfg.shaping.get(name, cfg.shaping.get(group, DEFAULT_SHAPING[group])))
            zero_based.append(group != "centroid")
            min_span.append(MIN_SPAN[group])
        self._shaper = Shaper(shapings, zero_based, min_span, self.hop_s, cfg.auto_gain_s)
        self._silence_hold = max(1, round(cfg.silence_hold_s / self.hop_s))
        self._dc_coef = 1.0 - math.exp(-self.hop_s / 1.0)
        self._floor_decay = math.exp(-self.hop_s / 2.0)
        self.reset()

    # -- construction -----------------------------------------------------------------------

    def _build_names(self, cfg: FeatureConfig) -> None:
        bands = cfg.band_names
        chroma = tuple(f"chroma_{i}" for i in range(12))
        # Shaped (continuous) features first, then the raw ones; the order is the public order.
        self._shaped = ("level", "peak", *bands, "flux", "onset_strength", *chroma, "centroid")
        self._shaped_group = ("level", "peak", *(["bands"] * len(bands)), "flux", "onset_strength",
                              *(["chroma"] * 12), "centroid")
        raw = ("level_db", "peak_db", "onset", "beat", "bpm", "beat_phase", "beat_confidence",
               "centroid_hz", "silence")
        names = self._shaped + raw
        self._i = {name: i for i, name in enumerate(names)}
        self._n_bands = len(bands)
        self._values = np.zeros(len(names))
        self._raw = np.zeros(len(self._shaped))
        self._features = Features(names, self._values)
        spectral = 0.5 * cfg.window_size / cfg.sample_rate
        block_mid = 0.5 * cfg.block_size / cfg.sample_rate
        latency = {name: spectral for name in names}
        latency.update(level=block_mid, level_db=block_mid, peak=block_mid, peak_db=block_mid,
                       onset=block_mid, onset_strength=block_mid, flux=block_mid,
                       beat=0.0, beat_phase=0.0, bpm=cfg.tempo_window_s / 2,
                       beat_confidence=cfg.tempo_window_s / 2, silence=cfg.silence_hold_s)
        self._latency = latency

    def _build_spectrum(self, cfg: FeatureConfig) -> None:
        sr, window = cfg.sample_rate, cfg.window_size
        n_bins = window // 2 + 1
        freqs = np.arange(n_bins) * sr / window
        self._window = np.hanning(window + 1)[:-1]  # periodic Hann
        # Mean square of the windowed signal per bin: a sine of amplitude A gives A^2/2 in total.
        self._power_scale = 2.0 / (window * float(np.sum(self._window ** 2)))
        columns = []
        for lo, hi in cfg.band_edges:
            columns.append(((freqs >= lo) & (freqs < hi)).astype(np.float64))
        # Flux bands: about a third of an octave each from 30 Hz, but at least MIN_FLUX_BINS bins
        # wide: the log power of a one-bin band jumps around on noise and makes false onsets.
        top = min(16000.0, 0.95 * sr / 2)
        edges = [max(1, int(round(30.0 * window / sr)))]
        for f in np.geomspace(30.0, top, 25)[1:]:
            b = int(round(f * window / sr))
            if b - edges[-1] >= MIN_FLUX_BINS:
                edges.append(b)
        edges = np.array(edges)
        for a, b in zip(edges[:-1], edges[1:]):
            col = np.zeros(n_bins)
            col[a:b] = 1.0
            columns.append(col)
        self._n_flux = len(edges) - 1
        # On a steady noise, a band's log power jitters by about 1.4 / sqrt(bins) from one block
        # to the next (measured); rises under 1.5 times that are ignored.
        self._flux_deadband = FLUX_DEADBAND / np.sqrt(np.diff(edges))
        # Chroma: each bin votes for the pitch classes near it (Gaussian, 0.5 semitone), from the
        # tenth bin up (below it one bin spans more than two semitones) to 5 kHz.
        lowest = max(10 * sr / window, 110.0)
        use = (freqs >= lowest) & (freqs <= min(CHROMA_MAX_HZ, 0.95 * sr / 2))
        semitone = np.zeros(n_bins)
        semitone[use] = 12.0 * np.log2(freqs[use] / 440.0) + 9.0  # 0 = C
        for pc in range(12):
            d = (semitone - pc + 6.0) % 12.0 - 6.0
            columns.append(np.where(use, np.exp(-0.5 * (d / 0.5) ** 2), 0.0))
        audible = (freqs >= 20.0).astype(np.float64)
        columns.append(freqs * audible)  # centroid numerator
        columns.append(audible)  # total power
        self._projection = np.ascontiguousarray(np.stack(columns, axis=1))
        self._n_cols = self._projection.shape[1]

    # -- state ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything heard so far (a new song, a new stream)."""
        n_bins = self.window // 2 + 1
        self._ring = np.zeros(2 * self.window)
        self._write = 0
        self._pending = np.zeros(self.block)
        self._fill = 0
        self._mix = np.zeros(0)
        self._windowed = np.zeros(self.window)
        self._spectrum = np.zeros(n_bins, np.complex128)
        self._magnitude = np.zeros(n_bins)
        self._proj = np.zeros(self._n_cols)
        self._log_bands = np.zeros(self._n_flux)
        self._prev_log_bands = np.zeros(self._n_flux)
        self._flux_diff = np.zeros(self._n_flux)
        self._flux_floor = np.zeros(self._n_flux)
        self._amp_bands = np.zeros(self._n_flux)
        self._prev_amp_bands = np.zeros(self._n_flux)
        self._dc = 0.0
        self._slow_level = 0.0
        self._quiet_blocks = 0
        self._blocks = 0
        self.last_flux = 0.0
        self.last_accent = 0.0
        self._values[:] = 0.0
        self._values[self._i["level_db"]] = DB_FLOOR
        self._values[self._i["peak_db"]] = DB_FLOOR
        self._onsets.reset()
        self._beats.reset()
        self._shaper.reset()

    @property
    def latency_s(self) -> dict[str, float]:
        """Per feature: how long before the end of the block the moment it describes lies."""
        return dict(self._latency)

    @property
    def time_s(self) -> float:
        """Stream time at the end of the last analysed block."""
        return self._blocks * self.hop_s

    @property
    def features(self) -> Features:
        return self._features

    # -- the per-block call -------------------------------------------------------------------

    def process(self, samples: np.ndarray) -> Features:
        """Analyse `samples` (float [n] mono or [n, channels], mixed to mono by their mean).

        Analyses every complete block (keeping the remainder for the next call) and returns the
        features of the latest one; an empty or short chunk returns the previous features.
        Raises ValueError only for a wrong shape (3-D, complex): that is a bug in the caller.
        """
        x = np.asarray(samples)
        if x.dtype.kind not in "fiub":
            raise ValueError(f"audio samples must be real numbers, got dtype {x.dtype}")
        if x.ndim not in (1, 2):
            raise ValueError(f"audio block must be [n] or [n, channels], got shape {x.shape}")
        if x.dtype.kind in "iu":  # integer PCM: full scale is the type's range
            x = x.astype(np.float64) / float(np.iinfo(x.dtype).max + 1)
        elif x.dtype.kind == "b":
            x = x.astype(np.float64)
        if x.ndim == 2:
            x = self._mix_down(x)
        n, i = len(x), 0
        block, pending = self.block, self._pending
        while i < n:
            take = min(block - self._fill, n - i)
            pending[self._fill:self._fill + take] = x[i:i + take]
            self._fill += take
            i += take
            if self._fill == block:
                self._fill = 0
                self._analyse(pending)
        return self._features

    def _mix_down(self, x: np.ndarray) -> np.ndarray:
        if x.shape[1] == 1:
            return x[:, 0]
        if len(self._mix) < len(x):
            self._mix = np.zeros(len(x))
        out = self._mix[:len(x)]
        np.mean(x, axis=1, out=out)
        return out

    def _analyse(self, x: np.ndarray) -> None:
        n = self.block
        energy = float(np.dot(x, x))
        if not energy < SAMPLE_LIMIT * SAMPLE_LIMIT:  # NaN, inf or absurd samples: zero them
            np.nan_to_num(x, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
            x[np.abs(x) > SAMPLE_LIMIT] = 0.0
        peak = max(float(x.max()), -float(x.min()))
        # A slow DC tracker (1 s): a DC offset is not loudness and not spectrum.
        self._dc += self._dc_coef * (float(x.sum()) / n - self._dc)
        x -= self._dc
        rms = math.sqrt(float(np.dot(x, x)) / n)

        # Slide the FFT window: the ring holds every sample twice, so the window is one slice.
        w, ring, at = self.window, self._ring, self._write
        ring[at:at + n] = x
        ring[at + w:at + w + n] = x
        self._write = (at + n) % w
        frame = ring[self._write:self._write + w]
        np.multiply(frame, self._window, out=self._windowed)
        np.fft.rfft(self._windowed, out=self._spectrum)
        np.abs(self._spectrum, out=self._magnitude)
        self._magnitude *= self._magnitude
        np.dot(self._magnitude, self._projection, out=self._proj)
        proj = self._proj
        proj *= self._power_scale

        # Spectral flux on the log band powers.
        nb, nf = self._n_bands, self._n_flux
        logb = self._log_bands
        # Each band's log power counts from a floor 50 dB under that band's recent peak: a
        # change far under what the band just played (a kick's tail) is masked, as by the ear.
        band_power = proj[nb:nb + nf]
        floor = self._flux_floor
        floor *= self._floor_decay
        np.maximum(floor, band_power, out=floor)
        np.multiply(floor, FLUX_MASKING, out=logb)
        np.maximum(logb, FLUX_FLOOR_POWER, out=logb)
        np.divide(band_power, logb, out=logb)
        np.log1p(logb, out=logb)
        # Small rises are the jitter of a steady sound (noise, hiss), not onsets.
        np.subtract(logb, self._prev_log_bands, out=self._flux_diff)
        self._flux_diff -= self._flux_deadband
        np.maximum(self._flux_diff, 0.0, out=self._flux_diff)
        flux = float(self._flux_diff.sum()) / nf
        self._log_bands, self._prev_log_bands = self._prev_log_bands, logb
        self.last_flux = flux
        # The accent flux (on band amplitudes, no log) follows the loud events - kick, snare,
        # bass - that carry the beat, rather than every hi-hat; the beat tracker reads it.
        amp = self._amp_bands
        np.sqrt(proj[nb:nb + nf], out=amp)
        np.subtract(amp, self._prev_amp_bands, out=self._flux_diff)
        np.maximum(self._flux_diff, 0.0, out=self._flux_diff)
        # Relative to the recent loudness, so the beat tracker can tell a beat from the ripple
        # of a steady tone, whatever the volume.
        self._slow_level = max(rms, self._slow_level * self._floor_decay)
        accent = float(self._flux_diff.sum()) / max(self._slow_level, 1e-6)
        self._amp_bands, self._prev_amp_bands = self._prev_amp_bands, amp
        self.last_accent = accent

        cfg = self.config
        level_db = 20.0 * math.log10(rms) if rms > 1e-6 else DB_FLOOR
        peak_db = 20.0 * math.log10(peak) if peak > 1e-6 else DB_FLOOR
        quiet = level_db < cfg.silence_db
        self._quiet_blocks = self._quiet_blocks + 1 if quiet else 0
        silent = self._quiet_blocks >= self._silence_hold

        self._blocks += 1
        t_end = self._blocks * self.hop_s
        strength = self._onsets.step(flux, allowed=not quiet)
        beat = self._beats.step(accent, t_end)

        raw = self._raw
        raw[0] = rms
        raw[1] = peak
        np.sqrt(proj[:nb], out=raw[2:2 + nb])
        raw[2 + nb] = flux
        raw[3 + nb] = strength
        chroma = raw[4 + nb:16 + nb]
        c0 = nb + nf
        top = float(proj[c0:c0 + 12].max())
        total = float(proj[-1])
        if top > 1e-12 and not quiet:
            np.multiply(proj[c0:c0 + 12], 1.0 / top, out=chroma)
        else:
            chroma[:] = 0.0
        centroid_hz = float(proj[-2]) / total if total > 1e-14 else 0.0
        raw[16 + nb] = (math.log10(centroid_hz / 20.0) / 3.0) if centroid_hz > 20.0 else 0.0
        if raw[16 + nb] > 1.0:
            raw[16 + nb] = 1.0
        values, at = self._values, len(raw)
        self._shaper(raw, values[:at])
        values[at] = level_db
        values[at + 1] = peak_db
        values[at + 2] = 1.0 if strength > 0 else 0.0
        values[at + 3] = 1.0 if beat else 0.0
        values[at + 4] = self._beats.bpm
        values[at + 5] = self._beats.phase
        values[at + 6] = self._beats.confidence
        values[at + 7] = centroid_hz
        values[at + 8] = 1.0 if silent else 0.0
