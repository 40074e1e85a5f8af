"""Display pacing with a slow generator: the display interval must not jitter.

Runs the real engine headless (EGL) at 60 fps with a shader chain, against generators of known
speed: as fast as the display, three times slower (sleeping, like a GPU-bound model) and, if the
default model is there, the real model on this CPU. Reports display-interval percentiles.

    .venv/bin/python bench/pacing.py [--seconds 10]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import percentiles, row, write_patch  # noqa: E402

PATCH = """
[model]
{model}
[output]
size = [960, 540]
work_size = 384
fps = {fps}
[[shaders]]
effect = "feedback"
[[shaders]]
effect = "kaleido"
[[shaders]]
effect = "grade"
"""


def run_case(name: str, fps: float, seconds: float, bundle=None, model_line='preset = "x"'):
    from liveGAN.show.options import RunOptions
    from liveGAN.show.show import Show

    patch = write_patch(PATCH.format(model=model_line, fps=fps))
    engine = Show(patch, RunOptions(headless=True, duration=seconds, no_osc=True,
                                    watch=False), print_fn=lambda m: None, bundle=bundle)
    summary = engine.run()
    from liveGAN.clock import RealtimeClock  # noqa: F401  (intervals come from the clock)
    intervals = engine_intervals(engine)
    gen_fps = summary.generator_frames / seconds
    return row(name, percentiles(intervals),
               f"{summary.frames_shown / seconds:.1f} fps shown, {gen_fps:.1f} generator fps, "
               f"{summary.late_frames} late")


def engine_intervals(engine) -> list[float]:
    return engine.clock.intervals[5:]  # skip start-up frames


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=float, default=60.0)
    args = parser.parse_args()
    from liveGAN.resources import patches_dir
    from liveGAN.standin import stand_in_bundle

    period_ms = 1000.0 / args.fps
    print(f"display {args.fps:g} fps (interval {period_ms:.2f} ms), 960x540 (effects at 384²), "
          f"chain feedback + kaleido + grade, {args.seconds:g} s each, EGL llvmpipe")
    print("| generator | p50 ms | p10 ms | p90 ms | p99 ms | max ms | |")
    print("|---|---|---|---|---|---|---|")
    print(run_case("as fast as the display", args.fps, args.seconds,
                   stand_in_bundle(256, 0.0)))
    print(run_case("3x slower than the display (sleeps)", args.fps, args.seconds,
                   stand_in_bundle(256, 3 * period_ms)))
    model = patches_dir() / "models" / "default.safetensors"
    if model.exists():
        print(run_case("default model on this CPU", args.fps, args.seconds, None,
                       f'path = "{model}"'))


if __name__ == "__main__":
    main()
