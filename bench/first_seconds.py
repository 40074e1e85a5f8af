"""The first ten seconds of `livegan run`: how bright, alive and punctual the default show is.

    .venv/bin/python bench/first_seconds.py                       # every part, default patch
    .venv/bin/python bench/first_seconds.py --part exposure --model runs/default2/model.safetensors
    .venv/bin/python bench/first_seconds.py --part pacing --seconds 30
    .venv/bin/python bench/first_seconds.py --part costs          # the chain's parts, timed

Parts (targets from issue 14):
- exposure: the patch played live and headless at its own size for `--exposure-seconds` (10) as
  a newcomer's first run: a fresh exposure cache (a temporary XDG_CACHE_HOME), so the model is
  measured while the show plays (`--warm`: the user's cache, as on a second start). Every third presented frame is read back. Per second: mean
  brightness (target >= 20/255, the whole >= 40/255, none near black) and the motion from the
  second before (mean absolute difference of 64x36 thumbnails, target: visibly above 0).
- pacing: the patch played live for `--seconds` (20) with no read-back: displayed fps,
  generator fps, display interval p50/p99 and the share of frames on time (an interval at most
  1.5 periods; target >= 95 % on an idle 2-core machine), and the CPU time the whole process
  used (every thread: the show, llvmpipe's, the generator's), per second and per frame.
- costs: the default chain alone (no generator), per upscale filter and with/without the
  auto-exposure stage: median and p90 wall ms per frame after glFinish, and the CPU time the
  process spent per frame (llvmpipe's threads included), which other jobs on a shared machine
  do not inflate.
Each part prints the load average before and after: on a shared machine the wall-clock figures
are pessimistic, and only comparable between runs with similar load. Running the script under
`nice -n -10` (it says its niceness) approximates an idle machine when others are busy.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import percentiles  # noqa: E402

DARK = 20 / 255          # every second at least this bright
WHOLE = 40 / 255         # the whole run at least this bright
NEAR_BLACK = 8 / 255     # a frame this dark counts as near black
ON_TIME = 1.5            # an interval at most this many periods is on time


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return (f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min, "
            f"{os.cpu_count()} CPUs), this process at nice {os.nice(0)}")


def patch_with_model(patch: Path, model: Path | None) -> Path:
    """`patch`, or a copy of it beside itself playing `model` instead of its own."""
    if model is None:
        return patch
    text = patch.read_text()
    lines = [f'path = "{Path(model).resolve()}"' if line.startswith("path = ") else line
             for line in text.splitlines()]
    copy = Path(tempfile.mkdtemp(prefix="livegan-first-")) / patch.name
    copy.write_text("\n".join(lines) + "\n")
    return copy


def play(patch: Path, seconds: float, capture_every: int = 0):
    """Play `patch` live and headless; returns (show, [(time, pixels) read back])."""
    from liveGAN.show.options import RunOptions
    from liveGAN.show.show import Show

    said: list[str] = []
    started = time.perf_counter()
    engine = Show(patch, RunOptions(headless=True, duration=seconds, no_osc=True, watch=False),
                  print_fn=lambda line: said.append(
                      f"[{time.perf_counter() - started:4.1f} s] {line}"))
    captured: list[tuple[float, np.ndarray]] = []
    if capture_every:
        send = engine.sinks.send

        def send_and_keep(framebuffer, index, at):
            send(framebuffer, index, at)
            if index % capture_every == 0:
                width, height = framebuffer.size
                pixels = np.frombuffer(framebuffer.read(components=3), np.uint8)
                captured.append((at, pixels.reshape(height, width, 3)))
        engine.sinks.send = send_and_keep
    engine.run()
    engine.said = said
    return engine, captured


def thumbnail(pixels: np.ndarray, width: int = 64, height: int = 36) -> np.ndarray:
    rows = np.linspace(0, pixels.shape[0] - 1, height).astype(int)
    cols = np.linspace(0, pixels.shape[1] - 1, width).astype(int)
    return pixels[rows][:, cols].astype(np.float32) / 255.0


def exposure_part(patch: Path, seconds: float, cold: bool = True) -> bool:
    print(f"\n## exposure: {patch.name}, {seconds:g} s live, headless, "
          f"{'cold' if cold else 'warm'} exposure cache")
    print(load())
    with tempfile.TemporaryDirectory(prefix="livegan-cache-") as cache:
        if cold:
            os.environ["XDG_CACHE_HOME"] = cache
        engine, captured = play(patch, seconds, capture_every=3)
    for line in engine.said:
        print(f"    {line}")
    print(load())
    print("| second | mean brightness /255 | darkest frame /255 | motion from the second before |")
    print("|---:|---:|---:|---:|")
    ok = True
    whole: list[float] = []
    previous = None
    for second in range(int(seconds)):
        frames = [p for at, p in captured if second <= at < second + 1]
        if not frames:
            print(f"| {second} | (no frame read back) | | |")
            ok = False
            continue
        means = [float(f.mean()) / 255 for f in frames]
        whole += means
        thumb = np.mean([thumbnail(f) for f in frames], axis=0)
        motion = "" if previous is None else f"{255 * float(np.abs(thumb - previous).mean()):.1f}"
        previous = thumb
        mean = float(np.mean(means))
        flag = "" if mean >= DARK and min(means) >= NEAR_BLACK else " **below target**"
        ok &= not flag
        print(f"| {second} | {255 * mean:.1f}{flag} | {255 * min(means):.1f} | {motion} |")
    overall = float(np.mean(whole)) if whole else 0.0
    ok &= overall >= WHOLE
    print(f"whole run: {255 * overall:.1f}/255 over {len(whole)} frames read back "
          f"(targets: every second >= {255 * DARK:.0f}, whole >= {255 * WHOLE:.0f}, "
          f"no frame < {255 * NEAR_BLACK:.0f}): {'met' if ok else 'NOT met'}")
    return ok


def pacing_part(patch: Path, seconds: float) -> bool:
    print(f"\n## pacing: {patch.name}, {seconds:g} s live, headless")
    print(load())
    cpu_started = time.process_time()
    engine, _ = play(patch, seconds)
    cpu = time.process_time() - cpu_started
    print(load())
    for line in engine.said:
        print(f"    {line}")
    clock = engine.clock
    intervals = clock.intervals[5:]  # past the first frames
    period = 1.0 / clock.fps
    on_time = sum(1 for dt in intervals if dt <= ON_TIME * period) / max(len(intervals), 1)
    stats = percentiles(intervals)
    shown = engine.frames_shown / seconds
    made = engine.frames.frames_made / seconds
    print("| patch fps | shown fps | generator fps | interval p50 ms | p99 ms | max ms | on time |"
          " late (clock) | CPU cores used | CPU ms per shown frame |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {clock.fps:g} | {shown:.1f} | {made:.1f} | {stats['p50']:.1f} | {stats['p99']:.1f} "
          f"| {stats['max']:.1f} | {100 * on_time:.1f} % | {clock.late_frames} | "
          f"{cpu / seconds:.2f} | {1000 * cpu / max(engine.frames_shown, 1):.1f} |")
    return on_time >= 0.95


def costs_part(patch: Path, frames: int) -> None:
    """The patch's chain alone, per upscale filter, with and without auto-exposure."""
    import moderngl

    from liveGAN.patch import load_patch
    from liveGAN.render.chain import FrameUniforms, ShaderChain, Stage

    spec = load_patch(patch)
    print(f"\n## costs: {patch.name}'s chain at {spec.size[0]}x{spec.size[1]} (effects at "
          f"{spec.work_size}²), a 128² generator frame, {frames} frames after 5")
    print(load())
    ctx = moderngl.create_standalone_context(backend="egl")
    print(f"renderer: {ctx.info['GL_RENDERER']}")
    image = np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    texture = ctx.texture((128, 128), 3, image.tobytes())
    stages = [Stage(s.effect, s.name) for s in spec.stages]
    plain = [s for s in stages if s.effect != "autoexposure"]
    print("| chain | upscale | to the output too | median ms | p90 ms | CPU ms per frame |")
    print("|---|---|---|---:|---:|---:|")
    filters = [(0, False), (1, False), (2, False), (1, True), (2, True)]
    for label, chain_stages in (("patch", stages), ("without autoexposure", plain)):
        for upscale, final in filters:
            name = ("bilinear", "bicubic", "lanczos")[upscale]
            chain = ShaderChain(ctx, chain_stages, spec.size, work_size=spec.work_size,
                                search_path=spec.shader_paths)
            values = {**spec.values, "output/upscale": upscale,
                      "output/upscale_output": float(final)}
            times = []
            for index in range(frames + 5):
                if index == 5:
                    cpu_started = time.process_time()
                started = time.perf_counter()
                chain.render((texture, texture), 0.5, values,
                             FrameUniforms(time=index / 60, frame=index))
                ctx.finish()
                times.append(1000 * (time.perf_counter() - started))
            cpu_ms = 1000 * (time.process_time() - cpu_started) / frames
            chain.release()
            times = sorted(times[5:])
            print(f"| {label} | {name} | {'yes' if final else 'no'} | "
                  f"{statistics.median(times):.1f} | "
                  f"{times[int(0.9 * (len(times) - 1))]:.1f} | {cpu_ms:.1f} |")
    print(load())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patch", type=Path, default=ROOT / "patches" / "default.toml")
    parser.add_argument("--model", type=Path, help="play this model file instead (e.g. a new "
                                                   "default model before it ships)")
    parser.add_argument("--part", choices=("exposure", "pacing", "costs", "all"), default="all")
    parser.add_argument("--exposure-seconds", type=float, default=10.0)
    parser.add_argument("--warm", action="store_true",
                        help="exposure part with the user's exposure cache (a second start) "
                             "instead of a fresh one (a newcomer's first)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the pacing run")
    parser.add_argument("--frames", type=int, default=40, help="frames per costs row")
    args = parser.parse_args()
    patch = patch_with_model(args.patch, args.model)
    print(f"patch {args.patch}" + (f" playing {args.model}" if args.model else ""))
    ok = True
    if args.part in ("exposure", "all"):
        ok &= exposure_part(patch, args.exposure_seconds, cold=not args.warm)
    if args.part in ("pacing", "all"):
        ok &= pacing_part(patch, args.seconds)
    if args.part in ("costs", "all"):
        costs_part(patch, args.frames)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
