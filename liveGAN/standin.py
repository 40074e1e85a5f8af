"""A stand-in generator with a chosen cost, for benchmarks of the frame loop and its tests.

It follows the same runtime contract as a real model (mapping, synthesis, to_rgba8) but its
synthesis costs a fixed time (sleeping like a GPU-bound model, or burning CPU), so pacing can be
measured against a generator of known speed. Its image is a colour field that moves with z.
"""
from __future__ import annotations

import time

import numpy as np

from liveGAN.show.scene import ModelBundle

LAYERS = 10


class _Controls:
    def params(self):
        return []

    def apply(self, values) -> None:
        pass

    def labels(self, values, device):
        return None


class StandInRuntime:
    """`cost_ms` per frame: slept (`busy=False`) or spent computing on the CPU (`busy=True`)."""

    def __init__(self, resolution: int = 128, cost_ms: float = 0.0, busy: bool = False,
                 z_dim: int = 16) -> None:
        import torch

        self.device = torch.device("cpu")
        self.z_dim, self.w_dim, self.num_ws, self.c_dim = z_dim, z_dim, 1, 0
        self.img_resolution, self.img_channels = resolution, 3
        self.cost_ms, self.busy = cost_ms, busy
        self._check = None
        ramp = np.linspace(0.0, 1.0, resolution, dtype=np.float32)
        self._x, self._y = np.meshgrid(ramp, ramp)

    def mapping(self, z, c=None, truncation_psi=1.0, truncation_cutoff=None):
        return z.reshape(1, 1, -1) * truncation_psi

    def synthesis(self, ws, noise_mode="const"):
        import torch

        # Ten "layers" of equal cost, with the runtime's interruption check before each, as
        # a real network's synthesis has (GeneratorRuntime.interrupt_with).
        layer = max(self.cost_ms, 0.0) / 1000.0 / LAYERS
        start = time.perf_counter()
        for i in range(LAYERS):
            if self._check is not None:
                self._check()
            end = start + (i + 1) * layer   # absolute: sleep overshoots do not add up
            if self.busy:
                while time.perf_counter() < end:
                    np.sin(self._x * 3.0)
            else:
                time.sleep(max(end - time.perf_counter(), 0.0))
        w = ws.reshape(-1).numpy()
        r = np.sin(6.0 * self._x + w[0]) * 0.5 + 0.5
        g = np.sin(6.0 * self._y + w[1 % len(w)]) * 0.5 + 0.5
        b = np.sin(4.0 * (self._x + self._y) + w[2 % len(w)]) * 0.5 + 0.5
        return torch.from_numpy((np.stack([r, g, b])[None] * 2.0 - 1.0).astype(np.float32))

    def interrupt_with(self, check) -> bool:
        self._check = check
        return check is not None

    def to_rgba8(self, img):
        import torch

        rgb = ((img[0].permute(1, 2, 0) + 1.0) * 127.5).clamp(0, 255).to(torch.uint8)
        alpha = torch.full(rgb.shape[:2] + (1,), 255, dtype=torch.uint8)
        return torch.cat([rgb, alpha], dim=2).contiguous()


class _StandInG:
    def __init__(self, runtime: StandInRuntime) -> None:
        self.z_dim, self.num_ws = runtime.z_dim, runtime.num_ws


def stand_in_bundle(resolution: int = 128, cost_ms: float = 0.0, busy: bool = False) -> ModelBundle:
    import torch

    # As for a real model on the CPU (scene.load_bundle): one torch thread, because idle torch
    # worker threads spin and steal the core the renderer needs.
    torch.set_num_threads(1)
    runtime = StandInRuntime(resolution, cost_ms, busy)
    return ModelBundle(_StandInG(runtime), runtime, _Controls())
