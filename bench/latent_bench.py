"""Latent navigation costs: SeFa, GANSpace, the per-frame W+ edits, and network bends.

What issue 12 asks of them, measured on this CPU with one torch thread (the show's setting):
- SeFa for an SG2-1024 preset (target < 1 s);
- GANSpace for SG2-256, 50 000 latents (target <= 60 s), and the default model's frame time
  while it runs on a worker thread (the show keeps playing);
- every per-frame latent edit together (two direction sets, style mixing with a gliding psi)
  at batch 1 (target <= 0.5 ms), and `apply` with a blend that moves every frame;
- each bend op on one layer, against the synthesis it bends (target <= 10 %).

    .venv/bin/python bench/latent_bench.py [--quick] [--skip-1024]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import percentiles  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / "patches" / "models" / "default.safetensors"
BEND_AMOUNTS = {"translate": [0.2, 0.1], "rotate": 30.0, "scale": 0.5, "erode": 0.7,
                "dilate": 0.7, "multiply": 1.0, "threshold": 1.0, "invert": 0.5, "ablate": 0.8}


def timed(fn, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def spread(samples_s: list[float], unit: float = 1.0, digits: int = 2) -> str:
    """'median (min-max)' in the given unit."""
    values = [s * unit for s in samples_s]
    return (f"{statistics.median(values):.{digits}f} "
            f"({min(values):.{digits}f}-{max(values):.{digits}f})")


def bench_sefa(repeats: int) -> None:
    from liveGAN.latent.directions import sefa
    from liveGAN.models.presets import build_preset

    G = build_preset("sg2-1024")
    sefa(G, 8)
    samples = timed(lambda: sefa(G, 8), repeats)
    coarse = timed(lambda: sefa(G, 8, "0:6"), repeats)
    print(f"| SeFa, sg2-1024, 8 directions, all 18 rows | {spread(samples, 1, 3)} s |")
    print(f"| SeFa, sg2-1024, 8 directions, rows 0:6 | {spread(coarse, 1, 3)} s |")


def show_frames(G, seconds: float, stop: threading.Event | None = None,
                fps: float = 30.0) -> tuple[list[float], int]:
    """Frame times of G (mapping + synthesis, batch 1), paced at `fps` as a show's generator
    is, for `seconds` or until `stop`; and how many frames missed their slot."""
    import torch

    times, late = [], 0
    deadline = time.perf_counter() + seconds
    slot = 1.0 / fps
    z = torch.randn(1, G.z_dim)
    with torch.inference_mode():
        while time.perf_counter() < deadline and not (stop is not None and stop.is_set()):
            start = time.perf_counter()
            G.synthesis(G.mapping(z, None, truncation_psi=0.8))
            took = time.perf_counter() - start
            times.append(took)
            late += took > slot
            time.sleep(max(slot - took, 0.0))
    return times, late


def bench_ganspace(repeats: int, samples: int) -> None:
    from liveGAN.latent.directions import ganspace, lower_thread_priority
    from liveGAN.models import load_generator
    from liveGAN.models.presets import build_preset

    G = build_preset("sg2-256")
    runs = timed(lambda: ganspace(G, 16, samples=samples), repeats)
    print(f"| GANSpace, sg2-256, {samples} latents, 16 directions | {spread(runs, 1, 1)} s |")
    # The show's model keeps rendering while GANSpace runs on a lower-priority worker thread.
    show = load_generator(DEFAULT_MODEL)
    alone, late_alone = show_frames(show, 10.0)
    done = threading.Event()
    took: list[float] = []

    def work() -> None:
        lower_thread_priority()
        start = time.perf_counter()
        ganspace(G, 16, samples=samples)
        took.append(time.perf_counter() - start)
        done.set()

    worker = threading.Thread(target=work)
    worker.start()
    during, late_during = show_frames(show, 600.0, stop=done)
    worker.join()
    a, d = percentiles(alone), percentiles(during)
    print(f"| default model at 30 fps alone: frame p50 / p90, late | {a['p50']:.1f} / "
          f"{a['p90']:.1f} ms, {late_alone} of {len(alone)} late |")
    print(f"| ... with GANSpace ({samples} latents) beside it: p50 / p90, late | {d['p50']:.1f} / "
          f"{d['p90']:.1f} ms, {late_during} of {len(during)} late; GANSpace took "
          f"{took[0]:.1f} s |")


def edit_setup(G):
    """Controls with two direction sets, mixing, and one bend of each op (amounts written in
    `apply`, outside the timed W+ edits: their cost is the bends' own, measured below)."""
    from liveGAN.latent.bending import OPS, parse_bends
    from liveGAN.latent.directions import direction_sets, parse_direction_specs
    from liveGAN.latent.layers import network_layers
    from liveGAN.models.controls import ModelControls

    sets, _ = direction_sets(parse_direction_specs(
        [{"method": "sefa", "count": 8}, {"method": "sefa", "count": 8, "layers": "0:4",
                                          "name": "coarse"}]), G)
    layer = [l.name for l in network_layers(G) if l.kind == "conv"][3]
    bends = parse_bends([{"layer": layer, "op": op} for op in OPS])
    controls = ModelControls(G, directions=sets, mixing=True, bends=bends)
    values = {f"direction/{k}": 0.5 for k in range(8)}
    values.update({f"direction/coarse_{k}": -0.5 for k in range(8)})
    values.update({"mix/seed": 3, "mix/coarse": 0.5, "mix/middle": 0.5, "mix/fine": 0.5,
                   "latent/truncation": 0.7})
    return controls, values


def bench_edits(calls: int) -> None:
    import copy

    import torch

    from liveGAN.models import load_generator
    from liveGAN.models.controls import ModelControls
    from liveGAN.models.presets import build_preset

    for label, G in (("sg2-256 (14 x 512)", build_preset("sg2-256")),
                     ("default light (12 x 256)", load_generator(DEFAULT_MODEL))):
        controls, values = edit_setup(G)
        with torch.inference_mode():
            ws = G.mapping(torch.randn(1, G.z_dim), None, truncation_psi=0.7)
            controls.edit_ws(ws, values)
            idle = timed(lambda: controls.edit_ws(ws, {}), calls)
            steady = timed(lambda: controls.edit_ws(ws, values), calls)
            gliding = []
            for i in range(calls):   # psi gliding: the second latent is re-truncated each frame
                values["latent/truncation"] = 0.7 + 1e-4 * (i % 100)
                gliding += timed(lambda: controls.edit_ws(ws, values), 1)
            bend_keys = [p.key for p in controls.params() if p.key.startswith("bend/")]
            applying = []
            for i in range(calls):   # every bend amount (10) moving every frame
                values.update({key: 0.01 * (1 + i % 50) for key in bend_keys})
                applying += timed(lambda: controls.apply(values), 1)
        for name, samples in (("nothing active", idle), ("16 directions + 3-range mix", steady),
                              ("... with psi gliding", gliding),
                              ("apply: 10 bend amounts moving", applying)):
            p = percentiles(samples)
            print(f"| {label}, {name} | {1000 * p['p50']:.0f} / {1000 * p['p90']:.0f} / "
                  f"{1000 * p['max']:.0f} us |")
        other = copy.deepcopy(G)
        blended = ModelControls(G, blend_with=other)
        moves = [{"model/blend": (i % 50) / 50 + 0.01} for i in range(60)]
        with torch.inference_mode():
            cost = [timed(lambda v=v: blended.apply(v), 1)[0] for v in moves]
        p = percentiles(cost)
        print(f"| apply, {label}, model/blend moving every frame (all weights rewritten) | "
              f"{p['p50']:.2f} / {p['p90']:.2f} / {p['max']:.2f} ms |")


def bench_bends(case: str, layers: list[str], repeats: int) -> None:
    """Each op on each layer, all channels: synthesis time bent vs unbent, and the op alone."""
    import torch

    from liveGAN.latent.bending import OPS, Bender, _run_op, parse_bends
    from liveGAN.models import load_generator
    from liveGAN.models.presets import build_preset

    G = load_generator(DEFAULT_MODEL) if case == "default" else build_preset(case)
    with torch.inference_mode():
        ws = G.mapping(torch.randn(1, G.z_dim), None, truncation_psi=0.7)
        G.synthesis(ws)
        modules = dict(G.synthesis.named_modules())
        for layer in layers:
            # The unbent time is taken around each layer's ops: the load on this shared
            # machine moves more than the bends cost.
            base = timed(lambda: G.synthesis(ws), repeats)
            captured = {}
            hook = modules[layer].register_forward_hook(
                lambda m, i, o: captured.__setitem__("x", o.clone()))
            G.synthesis(ws)
            hook.remove()
            x = captured["x"]
            rows = []
            for op in OPS:
                spec = parse_bends([{"layer": layer, "op": op}])[0]
                bender = Bender(G, [spec])
                amount = BEND_AMOUNTS[op]
                bender.apply(dict(zip(spec.keys(), amount if isinstance(amount, list)
                                      else [amount])))
                G.synthesis(ws)
                bent = timed(lambda: G.synthesis(ws), repeats)
                a = torch.tensor(amount if isinstance(amount, list) else [amount])
                alone = timed(lambda: torch.where(torch.ones(1, dtype=torch.bool),
                                                  _run_op(op, x, a, 3), x), max(repeats, 5))
                bender.remove()
                rows.append((op, bent, alone))
            base += timed(lambda: G.synthesis(ws), repeats)
            base_s = statistics.median(base)
            print(f"| {case} {layer}: synthesis unbent | {spread(base, 1000, 1)} ms | |")
            for op, bent, alone in rows:
                extra = statistics.median(alone) / base_s
                print(f"| {case} {layer} ({x.shape[1]}x{x.shape[2]}²) {op} | "
                      f"{spread(bent, 1000, 1)} ms | op alone {1000 * statistics.median(alone):.2f}"
                      f" ms = {100 * extra:.1f} % |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repeats, 20 000 latents")
    parser.add_argument("--skip-1024", action="store_true", help="no SG2-1024 (slow to build)")
    parser.add_argument("--only", default="sefa,ganspace,edits,bends")
    args = parser.parse_args()
    import torch

    from liveGAN.latent.directions import GANSPACE_SAMPLES

    torch.set_num_threads(1)
    only = args.only.split(",")
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"load before: {os.getloadavg()[0]:.2f}, {now}")
    print("| what | median (min-max) or p50 / p90 / max |\n|---|---|")
    if "sefa" in only and not args.skip_1024:
        bench_sefa(3 if args.quick else 7)
    if "ganspace" in only:
        bench_ganspace(1 if args.quick else 3, 20_000 if args.quick else GANSPACE_SAMPLES)
    if "edits" in only:
        bench_edits(500 if args.quick else 2000)
    if "bends" in only:
        print("\n| bend (all channels) | synthesis bent, median (min-max) "
              "| op alone / unbent synthesis |\n|---|---|---|")
        bench_bends("default", ["blocks.3.conv1", "blocks.5.conv1"], 9 if args.quick else 21)
        bench_bends("sg2-256", ["b64.conv1", "b256.conv1"], 3)
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
