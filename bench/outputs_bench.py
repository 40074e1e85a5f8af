"""What outputs cost: each extra sink beyond the shared readback, projection mapping per output,
and the display rate of two fullscreen projectors against one.

Place in the data flow: measures the show's last stage (`liveGAN.show.sinks` and the sinks in
`liveGAN.sinks`). Three parts:

1. `sinks`: at 1280x720, the shared asynchronous readback (`FrameGrabber.grab`) alone, then what
   each sink's `send` adds on the show's thread (record, NDI when installed, a second record),
   and the CPU its own thread spends per frame (the encoder, the NDI sender).
2. `mapping`: a 1280x720 window (SDL offscreen, EGL) presenting the frame plainly, mapped with
   no change, and with a keystone plus two soft edges; `ctx.finish()` makes the GPU's (here:
   llvmpipe's) time part of each figure.
3. `displays`: `livegan run` on an Xorg dummy server with two 1280x720 displays, one fullscreen
   output against two (each its half of the frame, the second keystoned and soft-edged):
   display intervals from the show's own summary.

    python bench/outputs_bench.py [--parts sinks mapping displays] [--frames 300]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from common import percentiles, row  # noqa: E402

SIZE = (1280, 720)
HEADER = "| what | p50 ms | p10 | p90 | p99 | max | notes |\n|---|---|---|---|---|---|---|"


class _Frame:
    """A sink's view of one frame (as liveGAN.show.sinks.OutputFrame gives it)."""

    def __init__(self, index: int, pixels: np.ndarray, fps: float) -> None:
        self.index, self.time, self.realtime = index, index / fps, True
        self.texture = None
        self._pixels = pixels

    def pixels(self) -> np.ndarray:
        return self._pixels


class _Link:
    def __init__(self) -> None:
        from liveGAN.show.link import Snapshot

        self._snapshot = Snapshot()
        self.say = lambda message: None
        self.log = lambda kind, message: None

    def snapshot(self):
        return self._snapshot

    def audio(self):
        return None


def bench_sinks(frames: int, fps: float = 30.0) -> list[str]:
    import moderngl

    from liveGAN.render.readback import FrameGrabber
    from liveGAN.sinks.record import RecordSink

    ctx = moderngl.create_standalone_context(backend="egl")
    rng = np.random.default_rng(0)
    texture = ctx.texture(SIZE, 3, rng.integers(0, 255, (SIZE[1], SIZE[0], 3), np.uint8).tobytes())
    framebuffer = ctx.framebuffer(color_attachments=[texture])
    grabber = FrameGrabber(ctx, SIZE, rows_top_first=False)
    folder = Path(tempfile.mkdtemp(prefix="livegan-outputs-bench-"))

    sinks = [("record", RecordSink({"path": str(folder / "a.mkv")}))]
    try:
        from liveGAN.sinks.ndi import NdiSink, ndi_problem

        if ndi_problem() is None:
            sinks.append(("ndi", NdiSink({"name": "liveGAN bench"})))
    except ImportError:
        pass
    sinks.append(("record (a second one)", RecordSink({"path": str(folder / "b.mkv")})))
    link = _Link()
    for _, sink in sinks:
        sink.connect(link)
        sink.open(SIZE, fps)

    readback, costs = [], {name: [] for name, _ in sinks}
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    for index in range(frames):
        framebuffer.use()
        ctx.clear(index % 7 / 7.0, 0.3, 0.5)   # a new frame for the readback to wait on
        started = time.perf_counter()
        pixels = grabber.grab(framebuffer)
        readback.append(time.perf_counter() - started)
        if pixels is None:
            continue
        frame = _Frame(index, pixels, fps)
        for name, sink in sinks:
            started = time.perf_counter()
            sink.send(frame)
            costs[name].append(time.perf_counter() - started)
        time.sleep(max(0.0, (index + 1) / fps - (time.perf_counter() - wall_start)))
    wall = time.perf_counter() - wall_start
    cpu = time.process_time() - cpu_start
    extra = {}
    for name, sink in sinks:
        if hasattr(sink, "send_ms") and sink.send_ms:
            extra[name] = f"its sender thread: {np.median(sink.send_ms):.2f} ms/frame"
        if hasattr(sink, "recorder") and sink.recorder is not None:
            median, p90 = sink.recorder.encode_stats()
            extra[name] = f"its encoder thread: {median:.2f} ms/frame (p90 {p90:.2f})"
    for _, sink in sinks:
        sink.close()
    grabber.release()
    lines = [f"sinks at {SIZE[0]}x{SIZE[1]}, {frames} frames paced at {fps:g} fps; "
             f"whole process CPU {1000 * cpu / frames:.1f} ms per frame over {wall:.1f} s",
             HEADER, row("shared readback (grab)", percentiles(readback), "once per frame")]
    for name, _ in sinks:
        lines.append(row(f"+ {name} send", percentiles(costs[name]), extra.get(name, "")))
    return lines


def bench_mapping(frames: int) -> list[str]:
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    from liveGAN.render.mapping import UNIT_CORNERS
    from liveGAN.sinks.window import OutputView, Window

    view = OutputView(name="out0")
    window = Window(SIZE, vsync=False, log=lambda m: None, output=view)
    rng = np.random.default_rng(1)
    texture = window.ctx.texture(SIZE, 3, rng.integers(0, 255, (SIZE[1], SIZE[0], 3),
                                                       np.uint8).tobytes())
    warp = ((0.05, 0.02), (0.97, 0.0), (0.0, 0.95), (1.0, 1.0))
    setups = {"plain (the quick path)": (False, UNIT_CORNERS, (0.0,) * 4),
              "mapped, nothing moved": (True, UNIT_CORNERS, (0.0,) * 4),
              "keystone only": (True, warp, (0.0,) * 4),
              "2 soft edges only": (True, UNIT_CORNERS, (0.2, 0.2, 0.0, 0.0)),
              "keystone + 2 soft edges": (True, warp, (0.2, 0.2, 0.0, 0.0))}
    samples = {name: [] for name in setups}
    window.present(texture)
    view.mapped = True
    window._prepare(view)   # the mapped programs, as a mapped output would have them
    for index in range(frames * len(setups)):
        # interleaved, so a change in the machine's load falls on every case alike
        name = list(setups)[index % len(setups)]
        view.mapped, view.mapping.corners, view.mapping.blend = setups[name]
        started = time.perf_counter()
        window.present(texture, rows_top_first=False)
        window.ctx.finish()
        samples[name].append(time.perf_counter() - started)
    window.close()
    lines = [f"one output at {SIZE[0]}x{SIZE[1]} (window present incl. ctx.finish, cases "
             "interleaved)", HEADER]
    results = {name: percentiles(times[3:]) for name, times in samples.items()}
    for name, stats in results.items():
        lines.append(row(name, stats))
    added = results["keystone + 2 soft edges"]["p50"] - results["plain (the quick path)"]["p50"]
    lines.append(f"keystone and soft edges add {added:.2f} ms per output (p50) over the plain "
                 "draw")
    return lines


DISPLAY_PATCH = """
[model]
preset = "stand-in"
[latent]
speed = 1.0
[output]
size = [1280, 360]
work_size = 128
fps = {fps}
fit = "stretch"
window = false
[osc]
enabled = false
{outputs}
"""
ONE = """
[[outputs]]
kind = "window"
fullscreen = true
vsync = false
"""
TWO = """
[[outputs]]
kind = "window"
display = 0
fullscreen = true
region = [0, 0, 0.5, 1]
vsync = false

[[outputs]]
kind = "window"
display = 1
fullscreen = true
region = [0.5, 0, 0.5, 1]
mapping = true
vsync = false

[params.out1]
corner_tl_x = 0.05
corner_br_y = 0.97
blend_left = 0.15
"""


# The show as `livegan run` plays it, with the stand-in generator (a known, small cost), so what
# is measured is the display side.
PLAY = """
import sys
from liveGAN.show.options import RunOptions
from liveGAN.show.show import Show
from liveGAN.standin import stand_in_bundle
show = Show(sys.argv[1], RunOptions(duration=float(sys.argv[2]), watch=False),
            bundle=stand_in_bundle(128))
print(show.run().line(), flush=True)
"""


def bench_displays(seconds: float, fps: float = 30.0) -> list[str]:
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from conftest import TwoDisplays

        server = TwoDisplays(Path(tempfile.mkdtemp(prefix="livegan-xorg-")), size=(1280, 720))
    except BaseException as err:  # pytest's Skipped when Xorg is not installed
        return [f"displays: not measured ({err})"]
    lines = [f"display rate, {seconds:g} s per run at {fps:g} fps target, Xorg dummy with two "
             "1280x720 displays, frame 1280x360 (stand-in generator, effects at 128x128)",
             "| outputs | display interval p50 ms | p99 ms | late frames | frames shown |",
             "|---|---|---|---|---|"]
    try:
        for name, outputs in (("one fullscreen", ONE), ("two fullscreen (halves, keystone + "
                                                        "soft edge on one)", TWO)):
            folder = Path(tempfile.mkdtemp(prefix="livegan-displays-"))
            patch = folder / "bench.toml"
            patch.write_text(DISPLAY_PATCH.format(fps=fps, outputs=outputs))
            run = subprocess.run([sys.executable, "-c", PLAY, str(patch), str(seconds)],
                                 env=server.env, capture_output=True, text=True,
                                 timeout=seconds + 240)
            summary = [line for line in run.stdout.splitlines() if line.startswith("frames shown")]
            if run.returncode != 0 or not summary:
                lines.append(f"| {name} | failed: {run.stderr.strip()[-300:]} | | | |")
                continue
            found = re.search(r"frames shown (\d+).*p50 ([\d.]+) ms p99 ([\d.]+) ms, "
                              r"late frames (\d+)", summary[-1])
            shown, p50, p99, late = found.groups()
            lines.append(f"| {name} | {p50} | {p99} | {late} | {shown} |")
    finally:
        server.stop()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["sinks", "mapping", "displays"],
                        choices=["sinks", "mapping", "displays"])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for part in args.parts:
        if part == "sinks":
            lines = bench_sinks(args.frames)
        elif part == "mapping":
            lines = bench_mapping(args.frames)
        else:
            lines = bench_displays(args.seconds)
        print("\n".join(lines), "\n", flush=True)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
