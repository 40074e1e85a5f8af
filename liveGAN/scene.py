"""Loading what a patch's `[model]` names: the generator, its runtime and its live controls.

Place in the data flow: patch -> **scene** -> generator worker. Used at start-up and, for a
patch edited while playing, on the reloader thread (never on the render thread).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from liveGAN.patch import ModelSpec


@dataclass
class ModelBundle:
    """A loaded generator with everything the worker needs to play it."""

    G: Any
    runtime: Any
    controls: Any

    @property
    def z_dim(self) -> int:
        return int(self.G.z_dim)

    @property
    def num_ws(self) -> int:
        return int(self.G.num_ws)


def load_bundle(spec: ModelSpec, device: str | None = None,
                log: Callable[[str], None] | None = None) -> ModelBundle:
    """Load the model of `spec` on `device` (or the patch's device) with its runtime.

    `log` gets the runtime's one-line notices (a failed graph capture or compile)."""
    import torch

    from liveGAN.models import load_generator
    from liveGAN.models.controls import ModelControls
    from liveGAN.models.runtime import GeneratorRuntime, pick_device

    target = pick_device(device or spec.device)
    if target.type == "cpu":
        # One thread for the generator leaves the other core to GL rendering and encoding.
        torch.set_num_threads(1)
    if spec.preset is not None:
        from liveGAN.models.presets import build_preset

        G = build_preset(spec.preset).to(target).eval().requires_grad_(False)
    elif spec.custom is not None:
        G = load_generator(spec.path, target, custom={"factory": spec.custom,
                                                      "z_dim": spec.z_dim,
                                                      "output_range": spec.output_range})
    else:
        G = load_generator(spec.path, target)
    runtime = GeneratorRuntime(G, target, precision=spec.precision, graph=spec.graph,
                               compile=spec.compile, log=log)
    # Capture CUDA graphs and compile now, on this loading thread, rather than on the first
    # live frame (a compile takes seconds to a minute; the show plays the old model meanwhile).
    if target.type == "cuda" or spec.compile:
        runtime.warmup(noise_modes=(spec.noise_mode,))
    return ModelBundle(G, runtime, ModelControls(G))
