"""liveGAN's audio analyser on a wider grid than the comparison: accuracy, lock time, cost.

Generated material (tests/audio_signals.py), scored against the known event times:
- onsets: F-measure within +-25 ms, clean and with white noise at -40 and -30 dBFS under the drums;
- tempo: live lock time (from then on within +-1 BPM to the end of 12 s; octave errors count),
  final error, and the live beat trigger's timing error after 8 s; offline global tempo;
- robustness: false onsets and beats in 10 s of white noise and of a steady tone;
- cost: CPU and wall ms per block at 8, 44.1, 48 and 192 kHz (default block for each rate).

Run: .venv/bin/python bench/audio_accuracy.py  (about a minute on one core)
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from audio_signals import PATTERNS, blocks, click_track, drum_loop, f_measure, sine  # noqa: E402
from liveGAN.audio.features import AudioAnalyzer, FeatureConfig  # noqa: E402
from liveGAN.audio.offline import analyse_samples  # noqa: E402

TEMPI = (80, 90, 97.5, 100, 110, 120, 123.4, 130, 140, 147.3, 150, 160)
SECONDS = 12.0


def live(samples: np.ndarray, rate: int = 48000):
    an = AudioAnalyzer(FeatureConfig(sample_rate=rate))
    lat = an.latency_s["onset"]
    onsets, beats, times, bpms = [], [], [], []
    for b in blocks(samples, an.block):
        f = an.process(b)
        if f["onset"]:
            onsets.append(an.time_s - lat)
        if f["beat"]:
            beats.append(an.time_s)
        times.append(an.time_s)
        bpms.append(f["bpm"])
    return np.array(onsets), np.array(beats), np.array(times), np.array(bpms)


def lock_time(times, bpms, truth) -> float:
    ok = np.abs(bpms - truth) <= 1.0
    if not ok[-1]:
        return float("inf")
    bad = np.flatnonzero(~ok)
    return float(times[bad[-1] + 1]) if len(bad) else float(times[0])


def accuracy() -> None:
    print("| material | signals | onset F mean | onset F worst | locked by 8 s | lock s median / worst | "
          "final BPM error max | beat error ms median / p90 (after 8 s) | offline BPM within 1 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind in ("click", *PATTERNS):
        fs, locks, final_err, beat_err, offline_ok = [], [], [], [], 0
        for bpm in TEMPI:
            sig = click_track(bpm, SECONDS) if kind == "click" else drum_loop(bpm, SECONDS, pattern=kind)
            onsets, beats, times, bpms = live(sig.samples)
            fs.append(f_measure(onsets, sig.onsets, 0.025))
            locks.append(lock_time(times, bpms, bpm))
            final_err.append(abs(bpms[-1] - bpm))
            late = beats[(beats > 8.0) & (beats < sig.beats[-1] + 0.1)]
            beat_err += [1000 * np.min(np.abs(sig.beats - b)) for b in late]
            offline_ok += abs(analyse_samples(sig.samples, 48000).bpm - bpm) <= 1.0
        ok = [t for t in locks if t <= 8.0]
        print(f"| {kind} | {len(TEMPI)} | {np.mean(fs):.3f} | {min(fs):.3f} | {len(ok)}/{len(TEMPI)} | "
              f"{np.median(locks):.1f} / {max(locks):.1f} | {max(final_err):.2f} | "
              f"{np.median(beat_err):.1f} / {np.percentile(beat_err, 90):.1f} | {offline_ok}/{len(TEMPI)} |")


def noisy() -> None:
    print("\n| noise under the drums | onset F mean | onset F worst | locked by 8 s |")
    print("|---|---:|---:|---:|")
    for db in (-40, -30):
        fs, ok, n = [], 0, 0
        for bpm in (80, 120, 160):
            for pattern in PATTERNS:
                sig = drum_loop(bpm, SECONDS, pattern=pattern, noise_db=db)
                onsets, _, times, bpms = live(sig.samples)
                fs.append(f_measure(onsets, sig.onsets, 0.025))
                ok += lock_time(times, bpms, bpm) <= 8.0
                n += 1
        print(f"| white noise {db} dBFS | {np.mean(fs):.3f} | {min(fs):.3f} | {ok}/{n} |")
    print("\n| 10 s of | false onsets | false beats | bpm at the end |")
    print("|---|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for name, x in (("white noise -60 dBFS", 0.001 * rng.standard_normal(480000)),
                    ("white noise -30 dBFS", 0.0316 * rng.standard_normal(480000)),
                    ("white noise -10 dBFS", 0.316 * rng.standard_normal(480000)),
                    ("440 Hz tone", sine(440, 10.0))):
        onsets, beats, _, bpms = live(x.astype(np.float32))
        print(f"| {name} | {len(onsets)} | {len(beats)} | {bpms[-1]:.1f} |")


def cost() -> None:
    print("\n| rate Hz | block | CPU ms p50 | p90 | p99 | max | wall ms p50 | p99 | max |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for rate in (8000, 44100, 48000, 192000):
        sig = drum_loop(120, SECONDS, rate, pattern="funk")
        an = AudioAnalyzer(FeatureConfig(sample_rate=rate))
        chunks = list(blocks(sig.samples, an.block))
        for b in chunks[:100]:  # warm-up
            an.process(b)
        cpu, wall = [], []
        for b in chunks[100:]:
            c0, w0 = time.thread_time_ns(), time.perf_counter_ns()
            an.process(b)
            cpu.append(time.thread_time_ns() - c0)
            wall.append(time.perf_counter_ns() - w0)
        c, w = np.array(cpu) / 1e6, np.array(wall) / 1e6
        print(f"| {rate} | {an.block} | {np.median(c):.3f} | {np.percentile(c, 90):.3f} | "
              f"{np.percentile(c, 99):.3f} | {c.max():.3f} | {np.median(w):.3f} | "
              f"{np.percentile(w, 99):.3f} | {w.max():.3f} |")


def main() -> None:
    print("load before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    cost()
    print()
    accuracy()
    noisy()
    print("\nload after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
