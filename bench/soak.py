"""Soak benchmark: a headless show recording for N minutes under random valid control and
garbage OSC from another process (issue 9's targets).

Place in the data flow: drives the whole show (`livegan run --headless --record`) as a user
would, from outside: a controller process sends random valid moves to the patch's addresses
and a stream of garbage datagrams; this script samples the show's memory every second and
reads its output at the end.

    .venv/bin/python bench/soak.py --minutes 10                 # the default patch
    .venv/bin/python bench/soak.py --minutes 1 --check-replay 300

Reports: frames shown, frames in the video against the show's length x fps and against frames
shown (and the recorder's own count of dropped frames), the performance log's frames against
frames shown, RSS at start (after the first 20 s) / middle / end, the display interval p50 /
p99, log lines (total and per minute), the exit code, and the load average before and after.
With `--check-replay N`, the first N frames of the performance log are rendered again and
compared with the live show, frame by frame.
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runs in another process: random valid moves (about `rate` a second) and garbage (about
# `garbage` datagrams a second) until killed.
CONTROLLER = textwrap.dedent("""
    import os, random, socket, struct, sys, time
    from pythonosc.osc_message_builder import OscMessageBuilder
    port, rate, garbage = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    rng = random.Random(9)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    def msg(address, *args):
        b = OscMessageBuilder(address)
        for a in args:
            b.add_arg(a)
        return b.build().dgram
    moves = [("/1/fader1", 0.0, 1.0), ("/livegan/output/fade", 0.4, 1.0),
             ("/livegan/latent/truncation", 0.5, 1.0), ("/livegan/grade/hue", -0.5, 0.5),
             ("/livegan/grade/saturation", 0.5, 2.0), ("/livegan/feedback/amount", 0.0, 0.8),
             ("/livegan/kaleido/segments", 2, 12), ("/livegan/clock/bpm", 90, 140)]
    good = msg("/livegan/output/fade", 0.5)
    sent = 0
    next_move = next_junk = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= next_move:
            address, lo, hi = rng.choice(moves)
            value = rng.randint(lo, hi) if isinstance(lo, int) else rng.uniform(lo, hi)
            sock.sendto(msg(address, value), ("127.0.0.1", port))
            if rng.random() < 0.01:
                sock.sendto(msg("/livegan/latent/next_seed", 1), ("127.0.0.1", port))
            next_move += 1.0 / rate
        if garbage > 0 and now >= next_junk:
            kind = rng.randrange(5)
            if kind == 0:
                data = os.urandom(rng.randint(1, 300))
            elif kind == 1:
                data = good[:rng.randint(1, len(good) - 1)]
            elif kind == 2:
                data = msg("/livegan/no/such/%d" % rng.randrange(10**6), 1.0)
            elif kind == 3:
                data = msg("/livegan/output/fade", "loud")
            else:
                data = msg("/livegan/output/fade", float("nan"))
            sock.sendto(data, ("127.0.0.1", port))
            next_junk += 1.0 / garbage
        time.sleep(max(0.0, min(next_move, next_junk) - time.monotonic()))
""")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def video_facts(path: Path) -> tuple[int, float]:
    """(frames, seconds from the first frame to the end of the last) of a video file."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [float(p.pts * p.time_base) for p in container.demux(stream)
                 if p.pts is not None]
    if not times:
        return 0, 0.0
    rate = float(stream.average_rate or 30)
    return len(times), max(times) - min(times) + 1.0 / max(rate, 1.0)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def check_replay(log: Path, frames: int) -> str:
    """Render the first `frames` of the performance log offline and compare with the live."""
    from liveGAN.show.performance import Replay
    from liveGAN.show.show import Show

    replay = Replay(log)
    try:
        count = min(frames, replay.frames)
        options = replay.options(frames=count, size=(160, 90))
        Show(replay.patch(), options, print_fn=lambda m: None).run()
        return (f"replayed the first {count} frames at 160x90: {replay.mismatches} differ "
                f"from the live show" + (f" (the first at frame {replay.first_mismatch})"
                                         if replay.mismatches else ""))
    finally:
        replay.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--patch", default=None, help="patch (default: the default patch)")
    parser.add_argument("--rate", type=float, default=20.0, help="valid moves a second")
    parser.add_argument("--garbage", type=float, default=200.0, help="garbage datagrams a second")
    parser.add_argument("--out", type=Path, default=None, help="folder for the recording")
    parser.add_argument("--check-replay", type=int, default=0, metavar="FRAMES",
                        help="replay the first FRAMES of the performance log and compare")
    args = parser.parse_args()

    folder = args.out or Path(tempfile.mkdtemp(prefix="livegan-soak-"))
    folder.mkdir(parents=True, exist_ok=True)
    video = folder / "soak.mp4"
    seconds = args.minutes * 60.0
    port = free_port()
    command = [sys.executable, "-m", "liveGAN.cli", "run", *([args.patch] if args.patch else []),
               "--headless", "--duration", str(seconds), "--record", str(video),
               "--osc-port", str(port), "--no-watch"]
    print(f"soak {args.minutes:g} min: {' '.join(command[2:])}")
    print(f"load average before: {load()}  ({os.cpu_count()} CPUs)")
    lines: list[tuple[float, str]] = []
    show = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=ROOT)
    started = time.monotonic()

    def read() -> None:
        for line in show.stdout:
            lines.append((time.monotonic() - started, line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    # The controller starts once the show listens.
    while show.poll() is None and not any("OSC listening" in l for _, l in lines):
        time.sleep(0.2)
    listening_at = time.monotonic() - started
    controller = subprocess.Popen([sys.executable, "-c", CONTROLLER, str(port), str(args.rate),
                                   str(args.garbage)], cwd=ROOT)
    samples: list[tuple[float, float]] = []
    loads: list[str] = []
    try:
        while show.poll() is None:
            rss = rss_mb(show.pid)
            if rss is not None:
                samples.append((time.monotonic() - started, rss))
            if int(time.monotonic() - started) % 60 == 0 and len(loads) < seconds / 60 + 2:
                loads.append(load())
            time.sleep(1.0)
    finally:
        controller.kill()
        controller.wait()
    reader.join(10)
    code = show.returncode
    elapsed = time.monotonic() - started

    text = "\n".join(l for _, l in lines)
    (folder / "show.log").write_text("".join(f"{t:8.2f} {l}\n" for t, l in lines))
    (folder / "rss.csv").write_text("".join(f"{t:.1f},{r:.1f}\n" for t, r in samples))
    summary = re.search(r"frames shown (\d+), generator frames (\d+), display interval p50 "
                        r"([\d.]+) ms p99 ([\d.]+) ms, late frames (\d+)", text)
    recorded = re.search(r"recorded (\d+) frames(?:, (\d+) dropped)?", text)
    shown = int(summary.group(1)) if summary else 0
    frames_in_video, video_seconds = video_facts(video) if video.exists() else (0, 0.0)
    show_seconds = seconds
    fps_match = re.search(r"patch's (\d+)", text)
    fps = float(fps_match.group(1)) if fps_match else 60.0
    log = folder / "soak.livegan.jsonl.gz"
    logged = 0
    if log.exists():
        from liveGAN.show.performance import read_log

        logged = len(read_log(log).frames)

    after_warmup = [r for t, r in samples if t >= listening_at + 20] or [r for _, r in samples]
    start_rss = after_warmup[0] if after_warmup else 0.0
    middle_rss = after_warmup[len(after_warmup) // 2] if after_warmup else 0.0
    end_rss = after_warmup[-1] if after_warmup else 0.0
    runtime_lines = [l for t, l in lines if t > listening_at + 5]
    print(f"exit code {code}; wall {elapsed:.0f} s; load average after: {load()}; "
          f"per minute: {', '.join(loads)}")
    if summary:
        print(f"frames shown {shown} ({shown / show_seconds:.1f}/s of the patch's {fps:g}), "
              f"generator frames {summary.group(2)}, display interval p50 {summary.group(3)} ms "
              f"p99 {summary.group(4)} ms, late frames {summary.group(5)}")
    else:
        print("no summary line: the show did not finish normally")
    dropped = int(recorded.group(2) or 0) if recorded else 0
    print(f"video: {frames_in_video} frames = {100 * frames_in_video / max(shown, 1):.2f} % of "
          f"frames shown ({dropped} dropped by the recorder); {video_seconds:.1f} s long for a "
          f"{show_seconds:.0f} s show")
    print(f"performance log: {logged} frames = {100 * logged / max(shown, 1):.2f} % of frames "
          f"shown; {log.stat().st_size / 1e6 if log.exists() else 0:.2f} MB")
    growth = 100 * (end_rss / start_rss - 1) if start_rss else 0.0
    minute = max(1, min(60, len(after_warmup) // 4))
    first, last = after_warmup[:minute], after_warmup[-minute:]
    trend = 100 * (sorted(last)[len(last) // 2] / sorted(first)[len(first) // 2] - 1) \
        if after_warmup else 0.0
    print(f"RSS start {start_rss:.0f} MB, middle {middle_rss:.0f} MB, end {end_rss:.0f} MB "
          f"(growth {growth:+.1f} %); min {min(after_warmup, default=0):.0f}, max "
          f"{max(after_warmup, default=0):.0f}; median of the last {minute} s against the "
          f"first {minute} s: {trend:+.1f} %")
    print(f"log lines: {len(lines)} in all, {len(runtime_lines)} while playing "
          f"({len(runtime_lines) / max(show_seconds / 60, 1e-9):.1f} per minute)")
    for _, line in lines:
        if "recording" in line and ("keeping up" in line or "dropped" in line):
            print(f"  recorder said: {line[:300]}")
    if args.check_replay and log.exists():
        print(check_replay(log, args.check_replay))
    print(f"files in {folder} (the show's output with times: show.log; RSS: rss.csv)")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
