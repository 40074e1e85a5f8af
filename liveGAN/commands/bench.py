"""`livegan bench`: how fast a model or preset renders, batch 1, on this machine.

Place in the data flow: a measuring harness around models/runtime (mapping + synthesis + RGBA8)
and, with --upload, render/upload (frame -> GL texture through EGL). It times the same calls
the engine's generator worker and render thread make each frame.

Prints min / median / p90 ms per frame, fps from the median, the device, precision, graph and
upload mode actually used, and the relative error of the chosen fast path against the plain
float32 path. Module-level imports stay light: `livegan --help` imports this file.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time


def add_arguments(parser) -> None:
    """Options of `livegan bench`."""
    parser.add_argument("model", help="model file, or a preset: sg2-256, sg2-512, sg2-1024, "
                        "sg3t-256, sg3t-512, sg3t-1024, sg3r-256, sg3r-1024, sg2-tiny, "
                        "sg3t-tiny, sg3r-tiny (random weights at official configs)")
    parser.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, mps")
    parser.add_argument("--precision", default="auto",
                        choices=["auto", "fp32", "official", "bf16", "fp16"],
                        help="auto: official fp16 blocks (or bf16) on CUDA, fp32 on CPU")
    parser.add_argument("--graph", default="auto", choices=["auto", "on", "off"],
                        help="CUDA graph of mapping and synthesis (auto: on with CUDA)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the synthesis")
    parser.add_argument("--layout", default="auto", choices=["auto", "channels_last", "contiguous"],
                        help="weight memory format (auto: channels_last on CUDA, contiguous elsewhere)")
    parser.add_argument("--upload", action="store_true",
                        help="also upload each frame into an RGBA8 texture through EGL")
    parser.add_argument("--frames", type=int, default=100, help="timed frames (default 100)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed frames first (10)")
    parser.add_argument("--res", type=int, default=None,
                        help="presets only: build at this resolution instead (e.g. 512)")
    parser.add_argument("--psi", type=float, default=0.7, help="truncation_psi (default 0.7)")
    parser.add_argument("--check", type=int, default=2,
                        help="samples for the error vs float32 (0 skips it; default 2)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for weights and z")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's own choice)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")


def load_for_bench(model: str, device, seed: int = 0, res: int | None = None):
    """(G, label) for a preset name or a model file path; ValueError with a clear reason."""
    from liveGAN.models.presets import build_preset, is_preset

    if is_preset(model):
        return build_preset(model, device=device, seed=seed, res=res), model
    if res:
        raise ValueError("--res applies to presets only")
    if not os.path.exists(model):
        raise ValueError(f"{model}: no such model file and not a preset "
                         "(see `livegan bench --help` for the presets)")
    try:
        from liveGAN.models import ModelLoadError, load_generator
    except ImportError as exc:
        raise ValueError(f"{model}: model loading is not available ({exc})") from exc
    try:
        return load_generator(model, device=device), os.path.basename(model)
    except ModelLoadError as exc:
        raise ValueError(str(exc)) from exc


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def bench_generator(G, device="auto", precision="auto", graph="auto", compile=False,
                    upload=False, frames=100, warmup=10, psi=0.7, check=2, seed=0,
                    layout="auto", log=None) -> dict:
    """Time `frames` batch-1 frames of G (after `warmup`); returns the figures as a dict.

    Each frame is mapping + synthesis + RGBA8 conversion, finished on the device (the runtime
    synchronizes), plus the texture upload when `upload` is set. Wall-clock per frame.
    """
    import torch

    from liveGAN.models.runtime import GeneratorRuntime, compare_to_fp32

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    channels_last = {"auto": None, "channels_last": True, "contiguous": False}[layout]
    runtime = GeneratorRuntime(G, device=device, precision=precision, graph=graph,
                               compile=compile, channels_last=channels_last, log=log)
    generator = torch.Generator().manual_seed(seed)
    total = max(1, frames) + max(0, warmup)
    zs = torch.randn([total, runtime.z_dim], generator=generator).to(runtime.device)
    c = None
    if runtime.c_dim:
        c = torch.zeros([1, runtime.c_dim], device=runtime.device)
        c[0, 0] = 1
    uploader = texture = gl = None
    if upload:
        import moderngl

        from liveGAN.render.upload import TextureUploader
        try:
            gl = moderngl.create_standalone_context(backend="egl")
        except Exception as exc:
            raise ValueError(f"--upload needs an EGL OpenGL context: {exc}") from exc
        texture = gl.texture((runtime.img_resolution, runtime.img_resolution), 4)
        uploader = TextureUploader(gl, log=log)
    frame_ms, upload_ms = [], []
    try:
        for i in range(total):
            start = time.perf_counter()
            rgba = runtime.frame(zs[i:i + 1], c, truncation_psi=psi)
            generated = time.perf_counter()
            if uploader is not None:
                uploader.upload(rgba, texture)
            done = time.perf_counter()
            if i >= warmup:
                frame_ms.append((done - start) * 1e3)
                upload_ms.append((done - generated) * 1e3)
        error = None
        # The plain path itself: float32, eager, uncompiled, on the CPU (no TF32 question).
        reference = (runtime.precision == "fp32" and not runtime.graph_active
                     and not runtime.compiled and runtime.device.type == "cpu")
        if check > 0 and not reference:
            error = compare_to_fp32(G, runtime, n=check, seed=seed, truncation_psi=psi)
        result = {
            "model_resolution": runtime.img_resolution, "num_ws": runtime.num_ws,
            "device": runtime.device.type,
            "device_name": (torch.cuda.get_device_name(runtime.device)
                            if runtime.device.type == "cuda" else runtime.device.type),
            "precision": runtime.precision, "graph": runtime.graph_active,
            "compile": runtime.compiled, "channels_last": runtime.channels_last,
            "upload": uploader.mode if uploader is not None else None,
            "frames": len(frame_ms), "warmup": warmup,
            "min_ms": min(frame_ms), "median_ms": statistics.median(frame_ms),
            "p90_ms": _percentile(frame_ms, 0.9), "max_ms": max(frame_ms),
            "upload_median_ms": statistics.median(upload_ms) if uploader is not None else None,
            "fps": 1e3 / statistics.median(frame_ms),
            "rel_err": None if error is None else error["rel_err"],
            "max_abs_err": None if error is None else error["max_abs"],
            "threads": torch.get_num_threads(), "reference_path": reference,
        }
    finally:
        if uploader is not None:
            uploader.release()
            texture.release()
            gl.release()
    return result


def format_result(label: str, r: dict) -> str:
    """The human-readable report printed by `livegan bench`."""
    res = r["model_resolution"]
    lines = [
        f"model: {label} ({res}x{res}, num_ws {r['num_ws']})",
        f"device={r['device_name']} precision={r['precision']} "
        f"graph={'on' if r['graph'] else 'off'} compile={'on' if r['compile'] else 'off'} "
        f"upload={r['upload'] or 'off'} threads={r['threads']} "
        f"layout={'channels_last' if r['channels_last'] else 'contiguous'}",
        f"frames: {r['frames']} timed after {r['warmup']} warm-up",
        f"ms/frame: min {r['min_ms']:.2f}  median {r['median_ms']:.2f}  "
        f"p90 {r['p90_ms']:.2f}  max {r['max_ms']:.2f}",
        f"fps: {r['fps']:.1f} (from the median)",
    ]
    if r["upload_median_ms"] is not None:
        lines.append(f"upload ({r['upload']}): median {r['upload_median_ms']:.2f} ms, "
                     "included above")
    if r["rel_err"] is None and r["reference_path"]:
        lines.append("rel err vs fp32: - (this is the plain float32 path)")
    elif r["rel_err"] is None:
        lines.append("rel err vs fp32: not checked (--check 0)")
    else:
        lines.append(f"rel err vs fp32: {r['rel_err']:.2e} (max abs {r['max_abs_err']:.2e})")
    return "\n".join(lines)


def run(args) -> int:
    """Entry point of `livegan bench`."""
    if args.frames < 1 or args.warmup < 0:
        print("livegan bench: --frames must be >= 1 and --warmup >= 0", file=sys.stderr)
        return 1
    try:
        import torch

        from liveGAN.models.runtime import pick_device

        if args.threads:
            torch.set_num_threads(args.threads)
        device = pick_device(args.device)
        G, label = load_for_bench(args.model, device, seed=args.seed, res=args.res)
        result = bench_generator(G, device=device, precision=args.precision, graph=args.graph,
                                 compile=args.compile, upload=args.upload, frames=args.frames,
                                 warmup=args.warmup, psi=args.psi, check=args.check,
                                 seed=args.seed, layout=args.layout)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"livegan bench: {exc}", file=sys.stderr)
        return 1
    print(format_result(label, result), flush=True)
    if args.json:
        result["model"] = label
        from liveGAN.files import write_text

        write_text(args.json, json.dumps(result, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m liveGAN.commands.bench ...`: the same command without the `livegan` wrapper."""
    import argparse

    parser = argparse.ArgumentParser(prog="livegan bench",
                                     description="time a model or preset: ms per frame, fps")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
