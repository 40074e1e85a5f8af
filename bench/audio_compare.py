"""Audio analysis: liveGAN's numpy analyser against aubio, essentia and librosa.

Same generated material for all (tests/audio_signals.py: a click track and four drum patterns
at 80, 100, 120, 140 and 160 BPM, 10 s each), scored against the known onset and beat times:
- onsets: F-measure within +-25 ms (mean and worst over the 25 signals);
- tempo: within +-1 BPM, octave and 2:3 errors counted as errors. Live trackers must be and
  stay within 1 BPM from some time <= 8 s to the end (the median lock time is given); offline
  estimators get the first 8 s of audio. The median BPM error is taken at the end (live) or
  of the estimate (offline), octave errors included;
- cost: CPU ms of the calling thread per 512-sample block at 48 kHz (44.1 kHz for essentia,
  which assumes it), over a 10 s loop: median, p10, p90, p99, max, and the median wall time
  (CPU time leaves out waits for a core another process holds). For offline-only libraries,
  the whole analysis divided by the number of blocks.

The libraries are optional: each one that does not import is reported as skipped. Install them
in a separate virtual environment (librosa pulls numba and scipy):
    python -m venv /tmp/abench && /tmp/abench/bin/pip install numpy==2.4.6 av aubio essentia librosa
    /tmp/abench/bin/python bench/audio_compare.py
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from audio_signals import PATTERNS, click_track, drum_loop, f_measure  # noqa: E402
from liveGAN.audio.features import AudioAnalyzer, FeatureConfig  # noqa: E402
from liveGAN.audio.offline import analyse_samples  # noqa: E402

TEMPI = (80, 100, 120, 140, 160)
SECONDS = 10.0
BLOCK = 512


def material(rate: int):
    for bpm in TEMPI:
        yield "click", bpm, click_track(bpm, SECONDS, rate)
        for pattern in PATTERNS:
            yield pattern, bpm, drum_loop(bpm, SECONDS, rate, pattern=pattern)


def lock_time(times: np.ndarray, bpms: np.ndarray, truth: float) -> float:
    ok = np.abs(bpms - truth) <= 1.0
    if not len(ok) or not ok[-1]:
        return float("inf")
    bad = np.flatnonzero(~ok)
    return float(times[bad[-1] + 1]) if len(bad) else float(times[0])


def octave_error(bpm: float, truth: float) -> bool:
    return any(abs(bpm - truth * r) <= 1.0 for r in (0.5, 2.0, 2 / 3, 1.5, 1 / 3, 3.0))


# -- the contenders: onsets(x, rate) -> seconds; tempo(x, rate) -> (times, bpm) or bpm ------------

class LiveGAN:
    name = "liveGAN numpy (live)"
    rate = 48000
    live = True

    def run(self, x, rate):
        an = AudioAnalyzer(FeatureConfig(sample_rate=rate, block=BLOCK))
        lat = an.latency_s["onset"]
        onsets, times, bpms = [], [], []
        for i in range(0, len(x) - BLOCK + 1, BLOCK):
            f = an.process(x[i:i + BLOCK])
            if f["onset"]:
                onsets.append(an.time_s - lat)
            times.append(an.time_s)
            bpms.append(f["bpm"])
        return onsets, (np.array(times), np.array(bpms))

    def blocks(self, x, rate):
        an = AudioAnalyzer(FeatureConfig(sample_rate=rate, block=BLOCK))
        return lambda block: an.process(block)


class LiveGANOffline:
    name = "liveGAN numpy (offline)"
    rate = 48000
    live = False

    def run(self, x, rate):
        full = analyse_samples(x, rate, 30.0)
        first = analyse_samples(x[: int(8 * rate)], rate, 30.0)
        return list(full.onsets), first.bpm

    def cost_run(self, x, rate):
        analyse_samples(x, rate, 30.0)


class Aubio:
    name = "aubio 0.4.9 (live)"
    rate = 48000
    live = True

    def __init__(self, method="default"):
        import aubio
        self.aubio = aubio
        self.method = method
        self.name = f"aubio {aubio.version} {method} (live)"

    def run(self, x, rate):
        onset = self.aubio.onset(self.method, 1024, BLOCK, rate)
        tempo = self.aubio.tempo("default", 1024, BLOCK, rate)
        onsets, times, bpms = [], [], []
        for i in range(0, len(x) - BLOCK + 1, BLOCK):
            block = np.ascontiguousarray(x[i:i + BLOCK], np.float32)
            if onset(block)[0]:
                onsets.append(onset.get_last_s())
            tempo(block)
            times.append((i + BLOCK) / rate)
            bpms.append(tempo.get_bpm())
        return onsets, (np.array(times), np.array(bpms))

    def blocks(self, x, rate):
        onset = self.aubio.onset(self.method, 1024, BLOCK, rate)
        tempo = self.aubio.tempo("default", 1024, BLOCK, rate)

        def step(block):
            block = np.ascontiguousarray(block, np.float32)
            onset(block)
            tempo(block)
        return step


class Essentia:
    name = "essentia (offline)"
    rate = 44100
    live = False

    def __init__(self):
        import essentia
        import essentia.standard as es
        essentia.log.infoActive = False
        self.es = es
        self.name = f"essentia {essentia.__version__} OnsetRate + RhythmExtractor2013 degara (offline)"

    def run(self, x, rate):
        x = np.ascontiguousarray(x, np.float32)
        onsets, _ = self.es.OnsetRate()(x)
        bpm = self.es.RhythmExtractor2013(method="degara")(x[: int(8 * rate)])[0]
        return list(onsets), float(bpm)

    def blocks(self, x, rate):
        # Essentia has no streaming onset picker or beat tracker; time its per-frame onset
        # function (window, FFT, polar, complex-domain ODF), the part a live chain would run.
        es = self.es
        window, fft = es.Windowing(type="hann"), es.FFT(size=1024)
        polar, detect = es.CartesianToPolar(), es.OnsetDetection(method="complex")
        frame = np.zeros(1024, np.float32)

        def step(block):
            frame[:-BLOCK] = frame[BLOCK:]
            frame[-BLOCK:] = block
            mag, phase = polar(fft(window(frame)))
            detect(mag, phase)
        return step


class Librosa:
    name = "librosa (offline)"
    rate = 48000
    live = False

    def __init__(self):
        import librosa
        self.librosa = librosa
        self.name = f"librosa {librosa.__version__} onset_detect + beat_track (offline)"

    def run(self, x, rate):
        lr = self.librosa
        x = np.asarray(x, np.float32)
        onsets = lr.onset.onset_detect(y=x, sr=rate, hop_length=BLOCK, units="time")
        tempo, _ = lr.beat.beat_track(y=x[: int(8 * rate)], sr=rate, hop_length=BLOCK)
        return list(onsets), float(np.atleast_1d(tempo)[0])


def contenders():
    found, skipped = [LiveGAN(), LiveGANOffline()], []
    for make in (lambda: Aubio("default"), lambda: Aubio("specflux"), Essentia, Librosa):
        try:
            found.append(make())
        except ImportError as err:
            skipped.append(str(err))
    return found, skipped


def per_block_cost(method, rate: int) -> dict[str, float]:
    x = drum_loop(120, SECONDS, rate, pattern="funk").samples
    n_blocks = (len(x) - BLOCK) // BLOCK + 1
    if hasattr(method, "blocks"):
        step = method.blocks(x, rate)
        cpu, wall = [], []
        for i in range(0, len(x) - BLOCK + 1, BLOCK):
            block = x[i:i + BLOCK]
            c0, w0 = time.thread_time_ns(), time.perf_counter_ns()
            step(block)
            cpu.append(time.thread_time_ns() - c0)
            wall.append(time.perf_counter_ns() - w0)
        ms = np.array(cpu[50:]) / 1e6  # after warm-up
        return {"p50": float(np.median(ms)), "p10": float(np.percentile(ms, 10)),
                "p90": float(np.percentile(ms, 90)), "p99": float(np.percentile(ms, 99)),
                "max": float(ms.max()), "wall": float(np.median(wall[50:]) / 1e6), "kind": "per block"}
    run = getattr(method, "cost_run", method.run)  # the analysis of one whole file
    run(x[: rate * 2], rate)  # warm-up (numba compiles on the first call)
    c0, w0 = time.thread_time_ns(), time.perf_counter_ns()
    run(x, rate)
    cpu = (time.thread_time_ns() - c0) / 1e6 / n_blocks
    wall = (time.perf_counter_ns() - w0) / 1e6 / n_blocks
    return {"p50": cpu, "p10": float("nan"), "p90": float("nan"), "p99": float("nan"),
            "max": float("nan"), "wall": wall, "kind": "whole file / blocks"}


def main() -> None:
    found, skipped = contenders()
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"load before: {load}")
    rows = []
    for method in found:
        fs, ok, octave, locks, errors = [], 0, 0, [], []
        for kind, bpm, signal in material(method.rate):
            onsets, tempo = method.run(signal.samples, method.rate)
            fs.append(f_measure(onsets, signal.onsets, 0.025))
            if method.live:
                times, bpms = tempo
                errors.append(abs(bpms[-1] - bpm))
                t = lock_time(times, bpms, bpm)
                if t <= 8.0:
                    ok += 1
                    locks.append(t)
                elif octave_error(bpms[-1], bpm):
                    octave += 1
            else:
                errors.append(abs(tempo - bpm))
                if abs(tempo - bpm) <= 1.0:
                    ok += 1
                elif octave_error(tempo, bpm):
                    octave += 1
        cost = per_block_cost(method, method.rate)
        n = len(fs)
        lock = f"{statistics.median(locks):.1f}" if locks else "-"
        rows.append(f"| {method.name} | {np.mean(fs):.3f} | {min(fs):.3f} | {ok}/{n} | {octave} | "
                    f"{np.median(errors):.2f} | "
                    f"{lock if method.live else 'n/a (first 8 s)'} | {cost['p50']:.3f} | {cost['p10']:.3f} | "
                    f"{cost['p90']:.3f} | {cost['p99']:.3f} | {cost['max']:.3f} | {cost['wall']:.3f} | "
                    f"{cost['kind']} |")
        print(rows[-1], flush=True)
    print()
    print("| method | onset F mean | onset F worst | tempo +-1 BPM by 8 s | octave/2:3 errors | "
          "median BPM error | median lock s | CPU ms p50 | p10 | p90 | p99 | max | wall ms p50 | "
          "cost measured |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        print(row)
    for reason in skipped:
        print(f"skipped: {reason}")
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"load after: {load}")


if __name__ == "__main__":
    main()
