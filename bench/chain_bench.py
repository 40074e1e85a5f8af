"""Benchmark: cost per displayed frame of a typical shader chain.

Place in the data flow: measures the image -> shader chain -> output step on its own. Each frame
blends two 256² generator frames, runs the chain and the fit pass, then either waits for the GL
queue to drain (`finish`) or reads the output back to host memory (`read`, what a recorder
pays), so the figures are time actually spent, not time to queue commands.

    python bench/chain_bench.py [--sizes 512 1024] [--frames 120] [--chain feedback,kaleido,...]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def measure(chain, frames, count: int, mode: str, out_buffer) -> list[float]:
    from liveGAN.render.chain import FrameUniforms

    values: dict[str, float] = {}
    times = []
    for index in range(count):
        uniforms = FrameUniforms(time=index / 60.0, frame=index, beat=index / 30.0,
                                 beat_phase=(index / 30.0) % 1.0, level=0.3)
        start = time.perf_counter()
        fbo = chain.render(frames, (index % 10) / 10.0, values, uniforms)
        if mode == "read":
            fbo.read_into(out_buffer, components=3)
        else:
            chain.ctx.finish()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--chain", default="feedback,kaleido,grade,rgbshift")
    parser.add_argument("--input", type=int, default=256, help="generator frame side")
    args = parser.parse_args()

    import moderngl

    from liveGAN.render.chain import ShaderChain, Stage

    ctx = moderngl.create_standalone_context(backend="egl")
    print(f"renderer: {ctx.info['GL_RENDERER']}  chain: {args.chain} + fit  "
          f"input: {args.input}²  frames: {args.frames}")
    rng = np.random.default_rng(0)
    frames = tuple(ctx.texture((args.input, args.input), 3,
                               rng.integers(0, 256, (args.input, args.input, 3), np.uint8).tobytes())
                   for _ in range(2))
    stages = [Stage(name) for name in args.chain.split(",") if name]
    for side in args.sizes:
        chain = ShaderChain(ctx, stages, (side, side))
        out_buffer = bytearray(side * side * 3)
        for mode in ("finish", "read"):
            measure(chain, frames, 10, mode, out_buffer)  # warm up: shader JIT, first allocations
            times = measure(chain, frames, args.frames, mode, out_buffer)
            p90 = float(np.percentile(times, 90))
            print(f"{side}² output ({chain.work_size}² working), {mode:6s}: "
                  f"median {statistics.median(times):6.2f} ms  p90 {p90:6.2f} ms  "
                  f"min {min(times):6.2f} ms")
        chain.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
