"""How much a recording costs per frame: GL readback (`FrameGrabber`), the frame loop's
`write`, and the encoder worker.

Place in the data flow: measures `liveGAN.sinks.record.Recorder`, the last stage after the
shader chain. Frames are textured and moving (smooth colour fields with fine grain, scrolled a
few pixels per frame), closer to a GAN's output than solid colours, which x264 finds too easy.

Writes are paced (each frame is encoded before the next is written) so the worker's time per
frame is measured alone, without drops. Run:

    python bench/record_bench.py [--sizes 512 1024] [--frames 120] [--preset ultrafast]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from liveGAN.sinks.record import Recorder


def make_frames(size: int, count: int, seed: int = 0) -> list[np.ndarray]:
    """`count` distinct RGB frames of `size`²: a smooth colour field plus grain."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        coarse = rng.uniform(0, 255, (size // 64 + 1, size // 64 + 1, 3))
        smooth = np.repeat(np.repeat(coarse, 64, axis=0), 64, axis=1)[:size, :size]
        # a box blur across the 64-pixel blocks turns them into soft gradients
        for axis in (0, 1):
            smooth = sum(np.roll(smooth, shift, axis=axis) for shift in range(-16, 17, 4)) / 9
        grain = rng.normal(0, 6, (size, size, 3))
        frames.append(np.clip(smooth + grain, 0, 255).astype(np.uint8))
    return frames


def bench_size(size: int, frames: int, preset: str | None, codec: str | None,
               folder: Path) -> dict[str, float]:
    images = make_frames(size, 8)
    path = folder / f"bench_{size}.mp4"
    recorder = Recorder(path, (size, size), fps=30, codec=codec, preset=preset,
                        log=lambda message: None, queue_frames=4, overwrite=True)
    write_ms = np.empty(frames)
    for i in range(frames):
        # scroll the content so consecutive frames differ the way a latent walk does
        image = np.roll(images[(i // 15) % len(images)], 3 * i, axis=1)
        started = time.perf_counter()
        recorder.write(image)
        write_ms[i] = (time.perf_counter() - started) * 1e3
        while recorder.frames_written < i + 1 and recorder.frames_dropped == 0:
            time.sleep(0.0002)
    encode_median, encode_p90 = recorder.encode_stats()  # over the last 256 frames
    recorder.close()
    bytes_per_frame = os.path.getsize(path) / max(recorder.frames_written, 1)
    return {
        "write_median": float(np.median(write_ms)), "write_p90": float(np.percentile(write_ms, 90)),
        "encode_median": encode_median, "encode_p90": encode_p90,
        "mbit_at_30fps": bytes_per_frame * 8 * 30 / 1e6, "dropped": recorder.frames_dropped,
    }


def bench_grab(size: int, frames: int) -> tuple[float, float] | None:
    """(median, p90) ms of `FrameGrabber.grab` on a headless GL context, or None without GL."""
    try:
        import moderngl

        from liveGAN.render.readback import FrameGrabber
        ctx = moderngl.create_standalone_context(backend="egl")
    except Exception:
        return None
    framebuffer = ctx.framebuffer(color_attachments=[ctx.texture((size, size), 4)])
    grabber = FrameGrabber(ctx, (size, size))
    times = np.empty(frames)
    for i in range(frames):
        framebuffer.clear(i % 2, 0.5, 0.25, 1.0)  # some GPU work for the read to wait on
        started = time.perf_counter()
        grabber.grab(framebuffer)
        times[i] = (time.perf_counter() - started) * 1e3
    grabber.release()
    ctx.release()
    return float(np.median(times)), float(np.percentile(times, 90))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--preset", default=None, help="encoder preset (default: chosen by size)")
    parser.add_argument("--codec", default=None, help="libx264 (default) or h264_nvenc")
    args = parser.parse_args()
    print(f"{args.frames} frames per size, codec {args.codec or 'libx264'}, "
          f"preset {args.preset or 'auto'}, {os.cpu_count()} CPUs")
    print("size   write ms (median / p90)   encode ms (median / p90)   Mbit/s at 30 fps")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            r = bench_size(size, args.frames, args.preset, args.codec, Path(folder))
            print(f"{size:<6} {r['write_median']:7.3f} / {r['write_p90']:<7.3f}          "
                  f"{r['encode_median']:7.2f} / {r['encode_p90']:<7.2f}            "
                  f"{r['mbit_at_30fps']:6.1f}")
    for size in args.sizes:
        grab = bench_grab(size, args.frames)
        if grab is not None:
            print(f"FrameGrabber.grab at {size}²: {grab[0]:.3f} / {grab[1]:.3f} ms "
                  "(median / p90; GL readback, one frame late)")


if __name__ == "__main__":
    main()
