"""Offline analysis of a whole file: one row of features per video frame, and a summary.

Place in the data flow: audio file -> decode -> the live analyser (`features.AudioAnalyzer`,
block by block, exactly as live) -> **per-frame features** -> `livegan render PATCH --audio FILE`
(the same `audio/...` params a live show reads) and `livegan listen FILE --json` (`summary`).

The output is deterministic: the same file, fps and config give the same numbers, bit for bit.

What differs from live, and why (offline can look ahead, live cannot):
- Alignment: live features come `AudioAnalyzer.latency_s` late (a spectral feature describes
  the middle of its FFT window, an onset is known at the end of its block). Offline, each
  feature is read that much later in the stream, so frame i shows the audio at time i / fps.
- bpm: one tempo for the whole file (the same scoring on all of it), from the first frame on;
  live needs about 2-4 s to lock and follows tempo changes. A song whose tempo changes gets its
  dominant tempo.
- beat, beat_phase: beats placed by dynamic programming over the whole file (each beat on an
  accent, about one period after the last), so there is no lock-in time and no phase drift.
- onset: each onset lands on the frame nearest to when it happened, and every onset reaches
  a frame even if several blocks fall inside one frame.
Everything else (levels, bands, flux, chroma, centroid, silence, auto-gain and envelopes) is the
live analyser's own output.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from liveGAN.audio.beat import global_tempo, track_beats
from liveGAN.audio.decode import iter_mono, probe_rate
from liveGAN.audio.features import RATE_MAX, RATE_MIN, AudioAnalyzer, FeatureConfig

TRIGGERS = ("onset", "beat")


@dataclass
class OfflineAnalysis:
    """Per-frame features of a file. `values[i]` is frame i, shown at time i / fps."""

    fps: float
    duration: float  # seconds of audio
    sample_rate: int  # the rate analysed at
    names: tuple[str, ...]
    values: np.ndarray  # float32 [frames, len(names)]
    bpm: float  # 0 if no steady beat was found
    beats: np.ndarray  # seconds
    onsets: np.ndarray  # seconds

    @property
    def frames(self) -> int:
        return len(self.values)

    def column(self, name: str) -> np.ndarray:
        """One feature over all frames."""
        return self.values[:, self.names.index(name)]

    def frame(self, i: int) -> dict[str, float]:
        """Frame i as {name: value}."""
        return {name: float(v) for name, v in zip(self.names, self.values[i])}


def analyse_file(path: str | Path, fps: float = 30.0, config: FeatureConfig | None = None,
                 sample_rate: int | None = 48000) -> OfflineAnalysis:
    """Decode `path` (at `sample_rate`; None keeps the file's rate) and analyse it per frame.

    `config.sample_rate` is replaced by the rate analysed at. Raises AudioFileError for a file
    that cannot be read, ValueError for a bad fps or config.
    """
    if not (fps > 0 and math.isfinite(fps)):
        raise ValueError(f"fps must be a positive number, got {fps}")
    rate = sample_rate or probe_rate(path)
    rate = min(max(rate, RATE_MIN), RATE_MAX)
    cfg = _with_rate(config, rate)
    return _analyse_chunks(iter_mono(path, rate), cfg, fps)


def analyse_samples(samples: np.ndarray, sample_rate: int, fps: float = 30.0,
                    config: FeatureConfig | None = None) -> OfflineAnalysis:
    """`analyse_file` for samples already in memory (float [n] or [n, channels])."""
    if not (fps > 0 and math.isfinite(fps)):
        raise ValueError(f"fps must be a positive number, got {fps}")
    return _analyse_chunks(iter([np.asarray(samples)]), _with_rate(config, sample_rate), fps)


def summary(path: str | Path, config: FeatureConfig | None = None,
            sample_rate: int | None = 48000) -> dict:
    """A JSON-able overview of a file: duration, bpm, beat and onset times (seconds)."""
    result = analyse_file(path, 30.0, config, sample_rate)
    return {
        "path": str(path),
        "duration": round(result.duration, 4),
        "sample_rate": result.sample_rate,
        "bpm": round(result.bpm, 2),
        "beats": [round(float(t), 4) for t in result.beats],
        "onsets": [round(float(t), 4) for t in result.onsets],
    }


def _with_rate(config: FeatureConfig | None, rate: int) -> FeatureConfig:
    cfg = config or FeatureConfig()
    return cfg if cfg.sample_rate == rate else replace(cfg, sample_rate=rate)


def _analyse_chunks(chunks, cfg: FeatureConfig, fps: float) -> OfflineAnalysis:
    analyser = AudioAnalyzer(cfg)
    series, accent, total = _run(analyser, chunks)
    duration = total / cfg.sample_rate
    hop_s = analyser.hop_s
    hop_end = hop_s * np.arange(1, len(series) + 1)
    names = analyser.features.names()
    index = {name: i for i, name in enumerate(names)}
    latency = analyser.latency_s

    onsets = hop_end[np.flatnonzero(series[:, index["onset"]] > 0.5)] - latency["onset"]
    onsets = onsets[(onsets >= 0) & (onsets < duration)]
    # Tempo and beats over the whole file; the padding after the end is left out.
    accent = accent[: max(1, int(math.ceil(duration / hop_s)))]
    bpm = global_tempo(accent, 1.0 / hop_s, cfg.bpm_range)
    beats = (track_beats(accent, 1.0 / hop_s, bpm) + 1) * hop_s - analyser.accent_delay_s
    beats = beats[(beats >= 0) & (beats < duration)]
    if bpm <= 0 or len(beats) < 2:
        bpm, beats = 0.0, np.zeros(0)

    n_frames = max(1, int(math.ceil(duration * fps - 1e-9)))
    times = np.arange(n_frames) / fps
    values = np.zeros((n_frames, len(names)), np.float32)
    for name, i in index.items():
        if name not in TRIGGERS:
            # Read each feature when it describes the frame's time: `latency` later.
            values[:, i] = np.interp(times + latency[name], hop_end, series[:, i])
    values[:, index["silence"]] = np.round(values[:, index["silence"]])
    _mark(values[:, index["onset"]], onsets, fps)
    _mark(values[:, index["beat"]], beats, fps)
    values[:, index["bpm"]] = bpm
    values[:, index["beat_phase"]] = _phase(times, beats, 60.0 / bpm) if bpm > 0 else 0.0
    return OfflineAnalysis(fps, duration, cfg.sample_rate, names, values, bpm, beats, onsets)


def _run(analyser: AudioAnalyzer, chunks) -> tuple[np.ndarray, np.ndarray, int]:
    """Feed the chunks block by block: (features per block, accent flux per block, samples)."""
    block = analyser.block
    rows: list[np.ndarray] = []
    accents: list[float] = []

    def blocks(samples: np.ndarray) -> None:
        for start in range(0, len(samples) - block + 1, block):
            rows.append(analyser.process(samples[start:start + block]).values.copy())
            accents.append(analyser.last_accent)

    total = 0
    carry = np.zeros(0, np.float32)
    for chunk in chunks:
        if chunk.ndim == 2:  # [n, channels] in memory: mixed as live input is
            chunk = chunk.mean(axis=1)
        total += len(chunk)
        joined = np.concatenate([carry, chunk]) if len(carry) else chunk
        whole = len(joined) - len(joined) % block
        blocks(joined[:whole])
        carry = joined[whole:]
    # The tail: the last partial block padded, then one window of silence, so the last sounds
    # are fully analysed (frames read features up to a window past their time).
    tail = np.zeros(len(carry) + (-len(carry)) % block + analyser.window, np.float32)
    tail[:len(carry)] = carry
    blocks(tail)
    return np.array(rows), np.array(accents), total


def _mark(column: np.ndarray, times: np.ndarray, fps: float) -> None:
    """Set 1 on the frame nearest each time."""
    frames = np.rint(times * fps).astype(np.intp)
    frames = frames[(frames >= 0) & (frames < len(column))]
    column[frames] = 1.0


def _phase(times: np.ndarray, beats: np.ndarray, period: float) -> np.ndarray:
    """Beat phase 0..1 at each time: the way from the last beat to the next, with beats
    extrapolated every `period` before the first and after the last."""
    before = int(math.ceil(beats[0] / period)) + 1
    after = int(math.ceil(max(0.0, times[-1] - beats[-1]) / period)) + 1
    grid = np.concatenate([beats[0] - period * np.arange(before, 0, -1), beats,
                           beats[-1] + period * np.arange(1, after + 1)])
    k = np.clip(np.searchsorted(grid, times, side="right") - 1, 0, len(grid) - 2)
    start, end = grid[k], grid[k + 1]
    return np.clip((times - start) / (end - start), 0.0, 1.0)
