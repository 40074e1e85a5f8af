"""Benchmark presets: generators at the official configurations, with random weights.

Place in the data flow: a stand-in for a loaded model file (models/formats) feeding the runtime,
so `livegan bench sg2-1024` measures real network sizes without downloading anything.

Configurations follow the official training setups:
- StyleGAN2 config-f: z/w 512, 8 mapping layers, channel_base 32768, channel_max 512,
  num_fp16_res 4, conv_clamp 256.
- StyleGAN3-T: 2 mapping layers, channel_base 32768, channel_max 512, num_fp16_res 4,
  conv_clamp 256, magnitude_ema_beta 0.5 ** (32 / 20000) (batch 32).
- StyleGAN3-R: as -T with channel_base and channel_max doubled (65536 / 1024), 1x1 convs
  (conv_kernel 1) and radial filters.
The '-tiny' presets are toy sizes for tests.

Random weights come from the networks' own initialisation (the official one). Two buffers that
training would have filled are set the way training starts them off: `w_avg` becomes the mean
of mapped random z, and each StyleGAN3 layer's `magnitude_ema` becomes the mean square of its
input on one pass, so every layer sees unit-scale activations and the image stays finite.
"""
from __future__ import annotations

MAGNITUDE_EMA_BETA = 0.5 ** (32 / 20000)  # official: 0.5 ** (batch / (20 * 1e3)), batch 32


def _sg2(res: int, tiny: bool = False) -> tuple[str, dict]:
    width = 32 if tiny else 512
    return "stylegan2", {
        "z_dim": width, "c_dim": 0, "w_dim": width, "img_resolution": res, "img_channels": 3,
        "mapping_kwargs": {"num_layers": 2 if tiny else 8},
        "channel_base": 1024 if tiny else 32768, "channel_max": width,
        "num_fp16_res": 4, "conv_clamp": 256,
    }


def _sg3(res: int, radial: bool, tiny: bool = False) -> tuple[str, dict]:
    width = 32 if tiny else 512
    kwargs = {
        "z_dim": width, "c_dim": 0, "w_dim": width, "img_resolution": res, "img_channels": 3,
        "mapping_kwargs": {"num_layers": 2},
        "channel_base": 1024 if tiny else 32768, "channel_max": width,
        "num_fp16_res": 4, "conv_clamp": 256, "magnitude_ema_beta": MAGNITUDE_EMA_BETA,
    }
    if radial:
        kwargs.update(conv_kernel=1, use_radial_filters=True,
                      channel_base=kwargs["channel_base"] * 2,
                      channel_max=kwargs["channel_max"] * 2)
    return "stylegan3", kwargs


FAMILIES = {
    "sg2": lambda res, tiny=False: _sg2(res, tiny),
    "sg3t": lambda res, tiny=False: _sg3(res, radial=False, tiny=tiny),
    "sg3r": lambda res, tiny=False: _sg3(res, radial=True, tiny=tiny),
}
PRESETS = (["sg2-256", "sg2-512", "sg2-1024", "sg3t-256", "sg3t-512", "sg3t-1024",
            "sg3r-256", "sg3r-1024", "sg2-tiny", "sg3t-tiny", "sg3r-tiny"])


def is_preset(name: str) -> bool:
    """True if `name` names a preset (e.g. 'sg2-512', 'sg3t-tiny')."""
    return name in PRESETS


def preset_config(name: str, res: int | None = None) -> tuple[str, dict]:
    """(architecture, official constructor kwargs) of a preset; `res` overrides its resolution."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r} (presets: {', '.join(PRESETS)})")
    family, size = name.split("-")
    tiny = size == "tiny"
    resolution = int(res) if res else (32 if tiny else int(size))
    if resolution < 16 or resolution & (resolution - 1):
        raise ValueError(f"preset resolution must be a power of two >= 16, got {resolution}")
    return FAMILIES[family](resolution, tiny)


def build_preset(name: str, device="cpu", seed: int = 0, res: int | None = None):
    """A generator for preset `name` on `device` with seeded random weights, ready to run."""
    import torch

    architecture, kwargs = preset_config(name, res)
    if architecture == "stylegan2":
        from liveGAN.models.networks.stylegan2 import Generator
    else:
        from liveGAN.models.networks.stylegan3 import Generator
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G = Generator(**kwargs)
    G.init_kwargs = kwargs
    G.architecture = architecture
    G = G.to(device).eval().requires_grad_(False)
    _settle_buffers(G, seed)
    return G


def _settle_buffers(G, seed: int) -> None:
    """Fill w_avg and the StyleGAN3 magnitude EMAs as the start of training would."""
    import torch

    device = next(G.parameters()).device
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        z = torch.randn([256, G.z_dim], generator=generator).to(device)
        if hasattr(G.mapping, "w_avg"):
            G.mapping.w_avg.copy_(G.mapping(z, None)[:, 0].mean(dim=0))
        layers = [m for m in G.synthesis.modules() if "magnitude_ema" in m._buffers]
        hooks = [m.register_forward_pre_hook(_set_magnitude) for m in layers]
        try:
            img = G.synthesis(G.mapping(z[:1], None), noise_mode="const", force_fp32=True)
        finally:
            for hook in hooks:
                hook.remove()
    if not torch.isfinite(img).all():
        raise RuntimeError("random preset produced a non-finite image")


def _set_magnitude(module, args) -> None:
    x = args[0]
    module.magnitude_ema.copy_(x.detach().to(module.magnitude_ema.dtype).square().mean())
