"""`livegan listen`: what the audio analysis hears, before a show.

`livegan listen [--device D]` opens an audio input exactly as a patch's `[[inputs]] kind =
"audio"` would and shows a meter for every feature in the terminal (redrawn in place; one line
a second when the output is not a terminal), until Ctrl-C or `--seconds N`.
`livegan listen FILE` analyses a song as `livegan render --audio` would and prints its tempo,
beats and onsets; `--json` prints them as one JSON object (`duration`, `bpm`, `beats`, `onsets`
in seconds, `sample_rate`, `path`).
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

BAR = 30                     # characters of a meter
REDRAW_S = 1 / 15            # terminal meters redraw this often
LOG_EVERY_S = 1.0            # ... and a plain output gets one line this often
DB_SHOWN = (-60.0, 0.0)      # the dB meters span this range


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", type=Path,
                        help="a song to analyse (WAV, FLAC, MP3, OGG...); omitted: listen live")
    parser.add_argument("--device", default="default",
                        help="audio input: part of its name or its number (`livegan devices`)")
    parser.add_argument("--channel", default="mix",
                        help="'mix' (default) or one input channel, 1, 2, ...")
    parser.add_argument("--sample-rate", type=int, default=48000, help="Hz (default 48000)")
    parser.add_argument("--seconds", type=float, help="stop after this long (live)")
    parser.add_argument("--json", action="store_true",
                        help="with FILE: print duration, bpm, beats and onsets as JSON")


def run(args: argparse.Namespace) -> int:
    if args.file is not None:
        return listen_file(args)
    if args.json:
        print("listen: --json is for a FILE (live, the meters are the output)", file=sys.stderr)
        return 2
    return listen_live(args)


def listen_file(args: argparse.Namespace) -> int:
    from liveGAN.audio.decode import AudioFileError
    from liveGAN.audio.offline import summary

    try:
        found = summary(args.file, sample_rate=args.sample_rate)
    except (AudioFileError, ValueError) as err:
        print(f"listen: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(found))
        return 0
    tempo = f"{found['bpm']:.2f} BPM" if found["bpm"] > 0 else "no steady beat"
    print(f"{found['path']}: {found['duration']:.2f} s at {found['sample_rate']} Hz, {tempo}, "
          f"{len(found['beats'])} beats, {len(found['onsets'])} onsets")
    for title in ("beats", "onsets"):
        times = found[title]
        shown = ", ".join(f"{t:.2f}" for t in times[:16])
        more = f", ... ({len(times) - 16} more)" if len(times) > 16 else ""
        print(f"  {title} (s): {shown or 'none'}{more}")
    return 0


class Meters:
    """The newest value of every feature, as the source posts them, and counts of the
    triggers (a source thread writes, the command's thread reads)."""

    def __init__(self, names) -> None:
        from liveGAN.sources.audio import rest_values

        self.names = tuple(names)
        self.values = dict(zip(self.names, rest_values(self.names)))
        self.counts = {"onset": 0, "beat": 0}
        self._lock = threading.Lock()

    def post(self, address: str, *values) -> bool:
        name = address.rsplit("/", 1)[-1]
        with self._lock:
            if name in self.counts and values[0] >= 0.5 and self.values.get(name, 0.0) < 0.5:
                self.counts[name] += 1
            self.values[name] = float(values[0])
        return True

    def read(self) -> tuple[dict, dict]:
        with self._lock:
            return dict(self.values), dict(self.counts)


class Notes:
    """What the source says (a device found, lost, missing), kept for the status line instead
    of printed through the meters; printed as it comes when the output is not a terminal.
    Stands for the show's link: the source also offers it its sound ring."""

    def __init__(self, echo: bool) -> None:
        self.echo = echo
        self.last = ""
        self._ring = None

    def say(self, message: str) -> None:
        self.last = message
        if self.echo:
            print(message, flush=True)

    def log(self, kind: str, message: str) -> None:
        self.say(message)

    def share_audio(self, ring) -> None:
        self._ring = ring

    def audio(self):
        return self._ring


def meter_lines(values: dict, counts: dict) -> list[str]:
    """One line per feature: name, a bar over the feature's range, the value."""
    from liveGAN.audio.features import feature_range

    lines = []
    for name, value in values.items():
        lo, hi, _, _ = feature_range(name)
        text = f"{value:9.1f}" if hi > 10 else f"{value:9.3f}"
        if name.endswith("_db"):
            lo, hi = DB_SHOWN
        if name in counts:
            text += f"  ({counts[name]} so far)"
        filled = 0.0 if hi <= lo else min(max((value - lo) / (hi - lo), 0.0), 1.0)
        cells = round(filled * BAR)
        lines.append(f"{name:<16}|{'#' * cells}{' ' * (BAR - cells)}|{text}")
    return lines


def listen_live(args: argparse.Namespace) -> int:
    from liveGAN.sources.audio import AudioSource

    device: str | int = int(args.device) if args.device.isdigit() else args.device
    channel: str | int = int(args.channel) if args.channel.isdigit() else args.channel
    options = {"device": device, "sample_rate": args.sample_rate, "channel": channel}
    if isinstance(channel, int):
        options["channels"] = max(2, channel)
    try:
        source = AudioSource(options)
    except ValueError as err:
        print(f"listen: {err}", file=sys.stderr)
        return 2
    meters = Meters(source.names)
    terminal = sys.stdout.isatty()
    notes = Notes(echo=not terminal)
    source.connect(notes)
    source.start(meters.post)
    started = time.monotonic()
    drawn = 0
    last_line = 0.0
    try:
        while args.seconds is None or time.monotonic() - started < args.seconds:
            time.sleep(REDRAW_S)
            values, counts = meters.read()
            if terminal:
                lines = meter_lines(values, counts)
                lines.append(_status(source, notes))
                # Back up over the last drawing and draw over it.
                sys.stdout.write((f"\x1b[{drawn}F" if drawn else "") +
                                 "".join(f"{line}\x1b[K\n" for line in lines))
                sys.stdout.flush()
                drawn = len(lines)
            elif time.monotonic() - last_line >= LOG_EVERY_S:
                last_line = time.monotonic()
                print(_compact(time.monotonic() - started, source.blocks, values, counts),
                      flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        source.stop()
    values, counts = meters.read()
    print(f"heard {source.blocks} blocks: {counts['onset']} onsets, {counts['beat']} beats, "
          f"tempo {values['bpm']:.1f} BPM, {source.overruns} overruns", flush=True)
    return 0


def _status(source, notes: Notes) -> str:
    if not source.listening:
        return notes.last or "(looking for the input)"
    return (f"{source.device_name} at {source.sample_rate} Hz: {source.blocks} blocks, "
            f"{source.overruns} overruns; Ctrl-C stops")


def _compact(seconds: float, blocks: int, values: dict, counts: dict) -> str:
    shown = ("level", "level_db", "low", "mid", "high", "onset_strength", "bpm", "beat_phase",
             "centroid_hz", "silence")
    parts = [f"{name} {values[name]:.3g}" for name in shown if name in values]
    return (f"{seconds:5.1f} s  blocks {blocks}  " + "  ".join(parts)
            + f"  onsets {counts['onset']}  beats {counts['beat']}")
