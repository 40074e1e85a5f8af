"""Which layer of a generator reads which row of W+, and the coarse / middle / fine ranges.

Place in the data flow: a map of the loaded network that the latent edits share. Directions
and style mixing edit rows of W+ [N, num_ws, w_dim]; SeFa reads the modulation weights of the
layers over a row range; bends name a layer; model blending blends each layer's weights with
the amount of the range its row falls in. All of them ask here, so the four agree.

Names are module paths under `G.synthesis`, as the network itself spells them:
StyleGAN2 `b32.conv1`, `b32.torgb`; StyleGAN3 `input`, `L3_52_512`; the light network
`blocks.3.conv1`; a custom generator its own conv modules (`net.2`, ...), all on row 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from liveGAN.latent import LatentConfigError

RANGE_NAMES = ("coarse", "middle", "fine")
# Style-based networks by resolution, as the StyleGAN paper splits them: 4²-8² coarse
# (pose, layout), 16²-32² middle (features), 64² and up fine (colour, texture).
COARSE_MAX_RES, MIDDLE_MAX_RES = 8, 32


@dataclass(frozen=True)
class Layer:
    """One layer of the synthesis network that a patch can name."""

    name: str          # module path under G.synthesis
    module: Any
    row: int           # the W+ row its style comes from
    kind: str          # "conv" (modulated conv), "torgb", "input" (SG3 Fourier features), "plain"
    channels: int      # feature channels it outputs
    resolution: int | None = None


def family(G: Any) -> str:
    """'stylegan2', 'stylegan3', 'light' or 'custom', told from the synthesis network's shape."""
    synthesis = getattr(G, "synthesis", None)
    if hasattr(synthesis, "block_resolutions"):
        return "stylegan2"
    if hasattr(synthesis, "layer_names") and hasattr(synthesis, "input"):
        return "stylegan3"
    if hasattr(synthesis, "blocks") and hasattr(synthesis, "resolutions"):
        return "light"
    return "custom"


def _out_channels(module: Any) -> int:
    import torch

    weight = getattr(module, "weight", None)
    if isinstance(module, torch.nn.ConvTranspose2d):
        return int(weight.shape[1] * module.groups)
    if isinstance(weight, torch.Tensor) and weight.dim() >= 2:
        return int(weight.shape[0])
    return int(getattr(module, "out_channels", 0) or 0)


def _blocked_layers(blocks: list[tuple[str, Any, int]]) -> list[Layer]:
    """StyleGAN2 and the light network: per resolution block conv0, conv1 and torgb read rows
    2*log2(res) - 5, - 4 and - 3 (the toRGB row is the next block's conv0 row)."""
    layers = []
    for prefix, block, res in blocks:
        base = 2 * int(round(math.log2(res)))
        for part, offset, kind in (("conv0", -5, "conv"), ("conv1", -4, "conv"),
                                   ("torgb", -3, "torgb")):
            module = getattr(block, part, None)
            if module is not None:
                layers.append(Layer(f"{prefix}.{part}", module, base + offset, kind,
                                    _out_channels(module), res))
    return layers


def network_layers(G: Any) -> list[Layer]:
    """The nameable layers of G's synthesis network, coarse to fine."""
    import torch

    kind = family(G)
    synthesis = G.synthesis
    if kind == "stylegan2":
        return _blocked_layers([(f"b{res}", getattr(synthesis, f"b{res}"), res)
                                for res in synthesis.block_resolutions])
    if kind == "light":
        return _blocked_layers([(f"blocks.{i}", block, res) for i, (block, res)
                                in enumerate(zip(synthesis.blocks, synthesis.resolutions))])
    if kind == "stylegan3":
        layers = [Layer("input", synthesis.input, 0, "input", int(synthesis.input.channels),
                        int(synthesis.input.size[0]))]
        last = len(synthesis.layer_names) - 1
        for index, name in enumerate(synthesis.layer_names):
            module = getattr(synthesis, name)
            layers.append(Layer(name, module, index + 1, "torgb" if index == last else "conv",
                                int(module.out_channels), int(module.out_size[0])))
        return layers
    convs = (torch.nn.Conv2d, torch.nn.ConvTranspose2d)
    return [Layer(name, module, 0, "plain", _out_channels(module))
            for name, module in synthesis.named_modules() if isinstance(module, convs)]


def find_layer(G: Any, name: str) -> Layer:
    """The layer called `name`; LatentConfigError naming the layers that exist otherwise."""
    layers = network_layers(G)
    for layer in layers:
        if layer.name == name:
            return layer
    raise LatentConfigError(f"layer {name!r} is not in this network ({describe(G)}); its layers: "
                            f"{', '.join(l.name for l in layers) or 'none'}",
                            [("layer", repr(name), "one of " + ", ".join(l.name for l in layers))])


def describe(G: Any) -> str:
    """'stylegan2, 256x256, 14 ws' - how error messages name a model."""
    return (f"{getattr(G, 'architecture', None) or family(G)}, "
            f"{G.img_resolution}x{G.img_resolution}, {G.num_ws} ws")


def style_ranges(G: Any) -> dict[str, tuple[int, int]]:
    """The coarse / middle / fine rows of W+ as {name: (start, stop)}, empty ranges left out.

    StyleGAN2 and the light network split by the resolution of the conv that reads a row
    (4²-8², 16²-32², 64²+); StyleGAN3, whose layers are not tied to a resolution that way, and
    anything else split the rows in three.
    """
    num_ws = int(G.num_ws)
    if family(G) in ("stylegan2", "light"):
        row_res: dict[int, int] = {}
        # A conv decides its row's resolution; a toRGB only where no conv reads the row (the
        # last one). Conv layers come first in this sort, coarse to fine within each kind.
        for layer in sorted(network_layers(G), key=lambda l: l.kind != "conv"):
            row_res.setdefault(layer.row, layer.resolution or 0)
        bounds = [0, 0, 0]
        for row in range(num_ws):
            res = row_res.get(row, 0)
            if res <= COARSE_MAX_RES:
                bounds[0] = row + 1
            elif res <= MIDDLE_MAX_RES:
                bounds[1] = row + 1
        coarse = bounds[0]
        middle = max(bounds[1], coarse)
        edges = [0, coarse, middle, num_ws]
    else:
        edges = [0, -(-num_ws // 3), -(-2 * num_ws // 3), num_ws]
    return {name: (edges[i], edges[i + 1]) for i, name in enumerate(RANGE_NAMES)
            if edges[i + 1] > edges[i]}


def parse_rows(text: Any, num_ws: int, key: str = "layers") -> tuple[int, int]:
    """W+ rows from 'A:B' (either side may be empty), [A, B] or None (all) -> (start, stop).

    Python slice rules without negative steps: 'A:' runs to the last row, ':B' starts at 0,
    negatives count from the end. LatentConfigError when the range is empty or not rows.
    """
    if text is None or text == "" or text == ":":
        return 0, num_ws
    if isinstance(text, (list, tuple)) and len(text) == 2:
        parts: list[Any] = list(text)
    elif isinstance(text, str) and text.count(":") == 1:
        parts = [p.strip() or None for p in text.split(":")]
    else:
        raise LatentConfigError(f"{key}: {text!r} is not a row range; write 'A:B' or [A, B]",
                                [(key, repr(text), "a row range 'A:B' or [A, B]")])
    try:
        start, stop = (None if p is None else int(p) for p in parts)
    except (TypeError, ValueError):
        raise LatentConfigError(f"{key}: {text!r} is not a row range of whole numbers",
                                [(key, repr(text), "a row range 'A:B' of whole numbers")]) from None
    start, stop, _ = slice(start, stop).indices(num_ws)
    if stop <= start:
        raise LatentConfigError(f"{key}: {text!r} selects no rows of this model's {num_ws} ws",
                                [(key, repr(text), f"rows within 0..{num_ws}")])
    return start, stop
