"""Engine cost per frame without the generator, at 512² and 1024² output.

The render thread's own work per frame: input drain, smoothing, latent walk, texture upload,
the shader chain (feedback, kaleido, grade, rgbshift, fit) and, with --record, the read-back and
hand-off to the encoder. The generator is a zero-cost stand-in whose time is excluded.

    .venv/bin/python bench/engine_bench.py [--frames 200]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import percentiles, row, write_patch  # noqa: E402

PATCH = """
[model]
preset = "stand-in"
[output]
size = [{size}, {size}]
[[shaders]]
effect = "feedback"
[[shaders]]
effect = "kaleido"
[[shaders]]
effect = "grade"
[[shaders]]
effect = "rgbshift"
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    from liveGAN.show.options import RunOptions
    from liveGAN.show.show import Show
    from liveGAN.standin import stand_in_bundle

    print(f"engine cost per frame, generator excluded, {args.frames} frames, EGL llvmpipe")
    print("| output | p50 ms | p10 ms | p90 ms | p99 ms | max ms | |")
    print("|---|---|---|---|---|---|---|")
    for size in (512, 1024):
        for record in (False, True):
            out = Path(tempfile.mkdtemp()) / "bench.mp4" if record else None
            engine = Show(write_patch(PATCH.format(size=size)),
                          RunOptions(headless=True, offline=True, frames=args.frames,
                                     record=out, no_osc=True, watch=False),
                          print_fn=lambda m: None, bundle=stand_in_bundle(256))
            engine.run()
            name = f"{size}² {'+ record' if record else ''}"
            print(row(name, percentiles(engine.frame_costs[10:]),
                      "with H.264 recording" if record else ""))


if __name__ == "__main__":
    main()
