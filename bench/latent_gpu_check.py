"""On a CUDA machine: do bends, blends and W+ edits stay right inside a replayed CUDA graph?

Captures the runtime's synthesis graph once with bends installed, then changes every live amount
and checks each replay against the plain eager path: zero amounts give the unbent frame bit for
bit, non-zero amounts match eager bending, a moving blend is seen by the replay, and nothing is
captured again. Prints one line per check and exits 1 on the first failure. Needs a GPU; on a
CPU-only machine it says so and exits 0.

    .venv/bin/python bench/latent_gpu_check.py [--preset sg2-256]   (StyleGAN2 presets)
"""
from __future__ import annotations

import argparse
import copy
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="sg2-256")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check here")
        return 0
    from liveGAN.latent.bending import OPS, parse_bends
    from liveGAN.models.controls import ModelControls
    from liveGAN.models.presets import build_preset
    from liveGAN.models.runtime import GeneratorRuntime, exact_float32

    G = build_preset(args.preset, device="cuda")
    other = copy.deepcopy(G)
    with torch.no_grad():
        for p in other.parameters():
            p.mul_(1.1)
    layer = [n for n, _ in G.synthesis.named_children()][2] + ".conv1"
    specs = parse_bends([{"layer": layer, "op": op, "channels": 0.5, "seed": i}
                         for i, op in enumerate(OPS)])
    runtime = GeneratorRuntime(G, "cuda", precision="fp32", graph="on")
    controls = ModelControls(G, bends=specs, blend_with=other, mixing=True)
    z = torch.randn(1, G.z_dim, device="cuda")
    failures = 0

    def frame(values):
        with torch.inference_mode(), exact_float32():
            controls.apply(values)
            ws = controls.edit_ws(runtime.mapping(z, None, 0.7), values)
            return runtime.synthesis(ws).clone()

    def eager(values):
        with torch.inference_mode(), exact_float32():
            controls.apply(values)
            ws = controls.edit_ws(G.mapping(z, None, truncation_psi=0.7), values)
            return G.synthesis(ws, force_fp32=True)

    def check(name, ok, detail=""):
        nonlocal failures
        failures += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} {name} {detail}")

    plain = frame({})
    check("graph captured and replaying", runtime.graph_active)
    bent_values = {p.key: (p.max / 4 or 0.25) for p in controls.params()
                   if p.key.startswith("bend/")}
    bent = frame(bent_values)
    reference = eager(bent_values)
    check("bent replay matches eager bending", torch.allclose(bent, reference, atol=1e-3),
          f"max diff {float((bent - reference).abs().max()):.2e}")
    check("bent differs from plain", not torch.equal(bent, plain))
    back = frame({key: 0.0 for key in bent_values})
    check("amounts back at zero: the unbent frame bit for bit", torch.equal(back, plain))
    blended = frame({"model/blend": 1.0})
    check("blend seen by the replay", not torch.equal(blended, plain))
    check("blend 0 again: the first model bit for bit", torch.equal(frame({"model/blend": 0.0}),
                                                                   plain))
    mixed = frame({"mix/coarse": 1.0, "mix/seed": 3})
    check("style mixing through the graph", not torch.equal(mixed, plain))
    moving = [frame({"bend/1_rotate": i * 9.0, "model/blend": i / 20}) for i in range(20)]
    check("moving amounts: every replay a new frame, the graph still on",
          runtime.graph_active and all(not torch.equal(a, b) for a, b in zip(moving, moving[1:])))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
