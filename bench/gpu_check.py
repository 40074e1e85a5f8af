"""One pass over everything the generator runtime does differently on a GPU.

Place in the data flow: a benchmark and check harness over models/runtime, models/presets and
render/upload; run by bench/gpu_check.sh on a lent H100/H200 (or `--device cpu --quick` here,
to know it runs). Sections, each guarded so a failure prints one line and the rest goes on:
  1. environment (torch, device, cuda-python, EGL vendor)
  2. parity: the official fixture outputs vs ours on the device, plain float32 (TF32 off), and
     through the runtime (CUDA graph) in float32
  3. fast-path error: rel err vs float32 of official fp16 / bf16 / fp16 / fp32+graph
  4. timings: presets batch 1, precision auto, graph on and off, upload host vs interop
  5. upload alone: host vs interop at 1024² and 2048², bit-exactness
and a short table with the targets (H200: SG2-1024 <= 3 ms incl. upload, SG2-512 <= 2 ms,
SG3-T-1024 <= 8 ms, SG3-R-1024 <= 15 ms median).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from liveGAN.models.networks import stylegan2, stylegan3  # noqa: E402
from liveGAN.commands.bench import bench_generator  # noqa: E402
from liveGAN.models.presets import build_preset  # noqa: E402
from liveGAN.models.runtime import (GeneratorRuntime, compare_to_fp32, exact_float32,  # noqa: E402
                                    pick_device)

FIXTURES = ROOT / "tests" / "fixtures" / "stylegan"
TARGETS_MS = {"sg2-1024+upload": 3.0, "sg2-512": 2.0, "sg3t-1024": 8.0, "sg3r-1024": 15.0}


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def guarded(fn):
    """Run one check; a failure prints one line (and the last frame) and the script goes on."""
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            print(f"FAIL {fn.__name__}: {type(exc).__name__}: {exc} "
                  f"({Path(where.filename).name}:{where.lineno})", flush=True)
            return None
    return wrapper


@guarded
def environment(device: torch.device) -> None:
    section("environment")
    print(f"torch {torch.__version__}, python {sys.version.split()[0]}, device {device}")
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        print(f"gpu: {props.name}, {props.total_memory / 2**30:.0f} GiB, "
              f"{props.multi_processor_count} SMs, capability {props.major}.{props.minor}")
    from liveGAN.render.upload import _load_cudart
    print(f"cuda-python runtime: {'yes' if _load_cudart() is not None else 'no'}")
    try:
        import moderngl
        ctx = moderngl.create_standalone_context(backend="egl")
        print(f"EGL: {ctx.info['GL_VENDOR']} / {ctx.info['GL_RENDERER']} / {ctx.info['GL_VERSION']}")
        ctx.release()
    except Exception as exc:
        print(f"EGL: unavailable ({type(exc).__name__}: {exc})")


def _load_fixture(name: str, device):
    from safetensors.torch import load_file
    config = json.loads((FIXTURES / f"{name}.json").read_text())
    module = stylegan2 if config["architecture"] == "stylegan2" else stylegan3
    G = module.Generator(**config["init_kwargs"]).eval()
    G.load_state_dict(load_file(str(FIXTURES / f"{name}.safetensors")), strict=True)
    expected = {k: v.to(device) for k, v in load_file(str(FIXTURES / f"{name}.expected.safetensors")).items()}
    return G.to(device), expected


@guarded
def parity(device: torch.device) -> None:
    section("parity with the official outputs (float32, TF32 off), max abs error; tol 1e-4")
    if not FIXTURES.exists():
        print(f"skipped: no fixtures at {FIXTURES}")
        return
    for name in ("sg2-tiny", "sg2-cond", "sg3t-tiny", "sg3r-tiny"):
        G, e = _load_fixture(name, device)
        c = e["c"] if e["c"].numel() else None
        errors = {}
        with torch.no_grad(), exact_float32():
            errors["ws"] = (G.mapping(e["z"], c, truncation_psi=0.7) - e["ws_psi07"]).abs().max()
            errors["const"] = (G.synthesis(e["ws_psi07"], noise_mode="const", force_fp32=True)
                               - e["img_const"]).abs().max()
            errors["none"] = (G.synthesis(e["ws_psi07"], noise_mode="none", force_fp32=True)
                              - e["img_none"]).abs().max()
            if "input_transform" in e:
                stylegan3.set_input_transform(G, e["input_transform"])
                errors["transformed"] = (G.synthesis(e["ws_psi07"], force_fp32=True)
                                         - e["img_transformed"]).abs().max()
                stylegan3.set_input_transform(G, torch.eye(3))
        with exact_float32():
            runtime = GeneratorRuntime(G, device, precision="fp32", log=print)
            img = runtime.synthesis(e["ws_psi07"][:1]).clone()
            errors["runtime"] = (img - e["img_const"][:1]).abs().max()
        worst = max(float(v) for v in errors.values())
        detail = " ".join(f"{k}={float(v):.1e}" for k, v in errors.items())
        print(f"{'ok  ' if worst <= 1e-4 else 'BAD '} {name:10s} {detail} "
              f"(runtime graph={'on' if runtime.graph_active else 'off'})", flush=True)


@guarded
def precision_errors(device: torch.device, presets: list[str]) -> None:
    section("fast paths vs plain float32 (rel err = |a-b|_2 / |b|_2 over 4 samples)")
    modes = ["fp32", "official", "bf16", "fp16"] if device.type == "cuda" else ["fp32", "bf16"]
    for name in presets:
        G = build_preset(name, device=device)
        cells = []
        for precision in modes:
            runtime = GeneratorRuntime(G, device, precision=precision, log=print)
            result = compare_to_fp32(G, runtime, n=4)
            graph = "graph" if runtime.graph_active else "eager"
            cells.append(f"{precision}/{graph} {result['rel_err']:.1e} (max {result['max_abs']:.1e})")
            del runtime
        print(f"{name:10s} " + " | ".join(cells), flush=True)
        del G
        if device.type == "cuda":
            torch.cuda.empty_cache()


@guarded
def timing(name: str, device, frames: int, warmup: int, graph: str, upload: bool,
           precision: str = "auto", rows: list | None = None, layout: str = "auto") -> dict | None:
    G = build_preset(name, device=device)
    try:
        r = bench_generator(G, device=device, precision=precision, graph=graph, upload=upload,
                            frames=frames, warmup=warmup, check=2, layout=layout, log=print)
    except ValueError as exc:  # e.g. no EGL for --upload: say so, keep going
        print(f"skip {name} upload={upload}: {exc}")
        return None
    label = name + ("+upload" if upload else "") + ("" if layout == "auto" else f"/{layout[:6]}")
    err = "-" if r["rel_err"] is None else f"{r['rel_err']:.1e}"
    line = (f"{label:18s} {r['precision']:8s} graph={'on ' if r['graph'] else 'off'} "
            f"upload={r['upload'] or '-':7s} median {r['median_ms']:7.2f} ms  min {r['min_ms']:7.2f}"
            f"  p90 {r['p90_ms']:7.2f}  fps {r['fps']:7.1f}  err {err}")
    print(line, flush=True)
    if rows is not None:
        rows.append((label, r))
    del G
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return r


@guarded
def upload_alone(device: torch.device, sizes: list[int], reps: int) -> None:
    section("upload alone: uint8 RGBA frame -> RGBA8 texture (median ms)")
    import moderngl
    import numpy as np

    from liveGAN.render.upload import TextureUploader
    ctx = moderngl.create_standalone_context(backend="egl")
    try:
        for size in sizes:
            frame = torch.randint(0, 256, (size, size, 4), dtype=torch.uint8, device=device)
            results = {}
            for allow in (False, True):
                texture = ctx.texture((size, size), 4)
                uploader = TextureUploader(ctx, allow_interop=allow, log=print)
                times = []
                for _ in range(reps):
                    start = time.perf_counter()
                    uploader.upload(frame, texture)
                    ctx.finish()
                    times.append((time.perf_counter() - start) * 1e3)
                data = np.frombuffer(texture.read(), np.uint8).reshape(size, size, 4)
                results[uploader.mode] = (statistics.median(times), data)
                uploader.release()
                texture.release()
            reference = frame.cpu().numpy()
            cells = [f"{mode} {ms:.3f} ms exact={bool((data == reference).all())}"
                     for mode, (ms, data) in results.items()]
            print(f"{size}x{size}: " + " | ".join(cells), flush=True)
    finally:
        ctx.release()


def summary(rows: list) -> None:
    section("summary: median ms per frame (batch 1) vs targets (targets are for an H200)")
    print(f"{'case':18s} {'precision':9s} {'graph':5s} {'upload':7s} {'median':>8s} {'target':>7s}")
    for label, r in rows:
        target = TARGETS_MS.get(label)
        verdict = "" if target is None else ("  ok" if r["median_ms"] <= target else "  over")
        print(f"{label:18s} {r['precision']:9s} {'on' if r['graph'] else 'off':5s} "
              f"{r['upload'] or '-':7s} {r['median_ms']:8.2f} "
              f"{'' if target is None else f'{target:7.1f}'}{verdict}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true", help="tiny presets, few frames (CPU)")
    parser.add_argument("--budget", type=float, default=240.0,
                        help="seconds; timing cases past this are skipped")
    args = parser.parse_args(argv)
    started = time.monotonic()
    device = pick_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    else:
        torch.set_num_threads(1)  # two spinning threads crawl on a shared 2-core machine
    environment(device)
    parity(device)
    if args.quick:
        precision_errors(device, ["sg2-tiny", "sg3t-tiny"])
        frames, warmup = 5, 2
        cases = [("sg2-tiny", "auto", False), ("sg3t-tiny", "auto", False),
                 ("sg2-tiny", "auto", True)]
        graph_off = ["sg2-tiny"]
        upload_sizes, reps = [256], 5
    else:
        precision_errors(device, ["sg2-256", "sg3t-256", "sg3r-256"])
        frames, warmup = 200, 20
        # The four cases with targets first, so a short lease still measures them.
        cases = [("sg2-512", "auto", False), ("sg2-1024", "auto", True),
                 ("sg3t-1024", "auto", False), ("sg3r-1024", "auto", False),
                 ("sg2-256", "auto", False), ("sg2-1024", "auto", False),
                 ("sg3t-512", "auto", False), ("sg3t-1024", "auto", True)]
        graph_off = ["sg2-1024", "sg3t-1024"]
        upload_sizes, reps = [1024, 2048], 50
    section(f"timings: batch 1, {frames} frames after {warmup} warm-up, graph on (auto)")
    rows: list = []
    for name, precision, upload in cases:
        if time.monotonic() - started > args.budget:
            print(f"skip {name}: over the {args.budget:.0f} s budget")
            continue
        timing(name, device, frames, warmup, "auto", upload, precision, rows)
    section("timings: graph off (eager), same settings")
    for name in graph_off:
        if time.monotonic() - started > args.budget:
            print(f"skip {name}: over the {args.budget:.0f} s budget")
            continue
        timing(name, device, frames, warmup, "off", False, "auto", rows)
    if device.type == "cuda":
        section("timings: fp32 with graph (reference for the fp16 gain); contiguous weights")
        if time.monotonic() - started <= args.budget:
            timing("sg2-1024", device, frames // 2, warmup, "auto", False, "fp32", rows)
        if time.monotonic() - started <= args.budget:
            timing("sg2-1024", device, frames // 2, warmup, "auto", False, "auto", rows,
                   layout="contiguous")
    upload_alone(device, upload_sizes, reps)
    summary(rows)
    print(f"\ntotal {time.monotonic() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
