"""Network bending (Broad, Leymarie & Grierson 2021): live transforms inside the generator.

Place in the data flow: bend params (`bend/...`) -> **Bender.apply** (in-place buffers) ->
synthesis, where a forward hook on each bent layer transforms its output feature maps before
the next layer reads them.

A patch lists bends as `[[bends]]` tables:

    [[bends]]
    layer = "b32.conv1"     # a synthesis layer (the error for a wrong name lists them all)
    op = "rotate"           # translate rotate scale erode dilate multiply threshold invert ablate
    channels = 0.5          # "all" (default), a fraction picked by `seed`, or a list [0, 5, 9]
    seed = 3                # which fraction (default 0)
    size = 3                # erode/dilate: odd kernel width (default 3)
    amount = 0.0            # starting amount (translate: [x, y]); the param's default
    name = "spin"           # param name (default "<index>_<op>")

Each bend's amount is the param `bend/<name>` (translate: `bend/<name>_x`, `bend/<name>_y`).
Zero means untouched, exactly: a bend whose amounts are all zero is skipped when running
eagerly, and inside a CUDA graph its result is discarded by a `where` on the amount, so the
frame is the unbent one bit for bit either way.

CUDA-graph safety: the amounts and channel masks live in non-persistent buffers registered on
the bent layer (as `noise_gain` is) and are written in place; every op is a tensor op reading
them, so a captured graph replays with new amounts. Bends added after a capture are not in the
graph: build them before `runtime.warmup()` or call `runtime.reset_graphs()` afterwards.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from liveGAN.latent import LatentConfigError
from liveGAN.latent.layers import Layer, describe, find_layer, network_layers
from liveGAN.params import Param

# op -> (amount names (suffixes of the param name), min, max, what the amount means)
OPS: dict[str, tuple[tuple[str, ...], float, float, str]] = {
    "translate": (("x", "y"), -1.0, 1.0,
                  "shift by this fraction of the layer's width/height, wrapping"),
    "rotate": (("",), -180.0, 180.0, "rotate the feature maps by this many degrees"),
    "scale": (("",), -3.0, 3.0, "zoom the feature maps by 2**amount"),
    "erode": (("",), 0.0, 1.0, "blend toward a minimum filter (shrinks bright features)"),
    "dilate": (("",), 0.0, 1.0, "blend toward a maximum filter (grows bright features)"),
    "multiply": (("",), -1.0, 4.0, "multiply activations by 1 + amount"),
    "threshold": (("",), 0.0, 3.0, "zero activations smaller than amount x the channel's RMS"),
    "invert": (("",), 0.0, 1.0, "blend toward the activations mirrored about the channel mean"),
    "ablate": (("",), 0.0, 1.0, "fade the chosen channels out (1: switched off)"),
}
BEND_KEYS = ("layer", "op", "channels", "seed", "size", "amount", "name")
BUFFER_AMOUNTS = "livegan_bend_amounts"
BUFFER_MASKS = "livegan_bend_masks"
MAX_SIZE = 15


@dataclass(frozen=True)
class BendSpec:
    """One `[[bends]]` entry, checked for its own shape (not yet against a network)."""

    layer: str
    op: str
    channels: Any = "all"              # "all", a fraction in (0, 1], or a tuple of indices
    seed: int = 0
    size: int = 3
    amount: tuple[float, ...] = ()     # starting amounts, one per OPS[op] name
    name: str = ""

    def keys(self) -> list[str]:
        """The param keys of this bend's amounts."""
        suffixes = OPS[self.op][0]
        return [f"bend/{self.name}" + (f"_{s}" if s else "") for s in suffixes]


def parse_bends(tables: Sequence[Mapping[str, Any]]) -> list[BendSpec]:
    """`[[bends]]` tables -> specs; LatentConfigError listing every problem with its key
    (`bends[2].op`), so a patch loader can report them all at once."""
    problems: list[tuple[str, str, str]] = []
    specs: list[BendSpec] = []
    names: set[str] = set()
    for i, table in enumerate(tables):
        where = f"bends[{i}]"
        if not isinstance(table, Mapping):
            problems.append((where, repr(table), "a table"))
            continue
        before = len(problems)
        for key in table:
            if key not in BEND_KEYS:
                problems.append((f"{where}.{key}", repr(key), "one of " + ", ".join(BEND_KEYS)))
        layer, op = table.get("layer"), table.get("op")
        if not isinstance(layer, str) or not layer:
            problems.append((f"{where}.layer", repr(layer), "a layer name such as \"b32.conv1\""))
        if op not in OPS:
            problems.append((f"{where}.op", repr(op), " | ".join(OPS)))
        channels = table.get("channels", "all")
        if isinstance(channels, list):
            if not channels or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0
                                       for c in channels):
                problems.append((f"{where}.channels", repr(channels),
                                 "a non-empty list of channel numbers"))
            channels = tuple(channels)
        elif isinstance(channels, bool) or not (
                channels == "all" or (isinstance(channels, (int, float))
                                      and 0 < channels <= 1)):
            problems.append((f"{where}.channels", repr(channels),
                             "\"all\", a fraction in (0, 1], or a list of channel numbers"))
        seed, size = table.get("seed", 0), table.get("size", 3)
        if isinstance(seed, bool) or not isinstance(seed, int):
            problems.append((f"{where}.seed", repr(seed), "a whole number"))
        if isinstance(size, bool) or not isinstance(size, int) or size % 2 == 0 \
                or not 3 <= size <= MAX_SIZE:
            problems.append((f"{where}.size", repr(size), f"an odd whole number 3..{MAX_SIZE}"))
        amount: tuple[float, ...] = ()
        if op in OPS:
            suffixes, low, high, _ = OPS[op]
            raw = table.get("amount", [0.0] * len(suffixes))
            raw = raw if isinstance(raw, list) else [raw]
            if len(raw) != len(suffixes) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool)
                    and math.isfinite(v) and low <= v <= high for v in raw):
                problems.append((f"{where}.amount", repr(table.get("amount")),
                                 f"{len(suffixes)} number(s) in {low:g}..{high:g}"))
            else:
                amount = tuple(float(v) for v in raw)
        name = table.get("name", f"{i}_{op}")
        if not isinstance(name, str) or not name.replace("_", "").isalnum():
            problems.append((f"{where}.name", repr(name), "letters, digits and _"))
        elif name in names:
            problems.append((f"{where}.name", repr(name), "a name no other bend has"))
        names.add(str(name))
        if len(problems) == before:
            specs.append(BendSpec(layer, op, channels, seed, size, amount, name))
    if problems:
        raise LatentConfigError("; ".join(f"{k}: found {f}, expected {e}" for k, f, e in problems),
                                problems)
    return specs


def channel_mask(spec: BendSpec, channels: int) -> np.ndarray:
    """Which of a layer's `channels` the bend touches (bool [channels])."""
    mask = np.zeros(channels, dtype=bool)
    if spec.channels == "all":
        mask[:] = True
    elif isinstance(spec.channels, tuple):
        mask[list(spec.channels)] = True
    else:
        count = max(1, int(round(float(spec.channels) * channels)))
        picked = np.random.default_rng(int(spec.seed)).permutation(channels)[:count]
        mask[picked] = True
    return mask


def check_bends(specs: Sequence[BendSpec], G: Any) -> list[Layer]:
    """The layer of each spec in network G; LatentConfigError naming every bend that does not
    fit (a layer the network lacks - with the layers it has - or channels out of range)."""
    by_name = {layer.name: layer for layer in network_layers(G)}
    problems: list[tuple[str, str, str]] = []
    messages: list[str] = []
    layers: list[Layer] = []
    for i, spec in enumerate(specs):
        layer = by_name.get(spec.layer)
        if layer is None:
            try:
                find_layer(G, spec.layer)
            except LatentConfigError as err:
                messages.append(f"bends[{i}]: {err}")
                problems.append((f"bends[{i}].layer", repr(spec.layer),
                                 "a layer of this network: " + ", ".join(by_name)))
            continue
        if isinstance(spec.channels, tuple) and max(spec.channels) >= layer.channels:
            messages.append(f"bends[{i}]: layer {spec.layer} has {layer.channels} channels "
                            f"(0..{layer.channels - 1}), not {max(spec.channels)}")
            problems.append((f"bends[{i}].channels", repr(list(spec.channels)),
                             f"channel numbers 0..{layer.channels - 1}"))
            continue
        layers.append(layer)
    if problems:
        raise LatentConfigError("; ".join(messages), problems)
    return layers


# ------------------------------------------------------------------ the ops (tensor code)
def _affine_sample(x, theta, wrap: bool):
    """Resample feature maps through the 2x3 `theta` (normalised coordinates)."""
    import torch
    import torch.nn.functional as F

    grid = F.affine_grid(theta.to(x.dtype).unsqueeze(0).expand(x.shape[0], 2, 3),
                         list(x.shape), align_corners=False)
    if wrap:
        grid = torch.remainder(grid + 1, 2) - 1
    return F.grid_sample(x, grid, mode="bilinear", align_corners=False,
                         padding_mode="zeros" if wrap else "reflection")


def _extreme_filter(x, size: int, largest: bool):
    """size x size maximum (or minimum) filter of x [N, C, H, W], edges not padded in.

    The same as max_pool2d(stride 1), done as size // 2 rounds per axis of "take the larger
    of me and my neighbour" in place: on this CPU 5-15x faster than max_pool2d's stride-1
    path, which is what keeps erode/dilate under a tenth of a frame."""
    y = x
    for dim in (3, 2):
        n = y.shape[dim]
        if n < 2:
            continue
        for _ in range(size // 2):
            out = y.clone()
            ahead, behind = out.narrow(dim, 1, n - 1), out.narrow(dim, 0, n - 1)
            if largest:
                ahead.clamp_min_(y.narrow(dim, 0, n - 1))
                behind.clamp_min_(y.narrow(dim, 1, n - 1))
            else:
                ahead.clamp_max_(y.narrow(dim, 0, n - 1))
                behind.clamp_max_(y.narrow(dim, 1, n - 1))
            y = out
    return y


def _run_op(op: str, x, a, size: int):
    """`op` applied to x [N, C, H, W] with amount tensor `a` (shape [1] or [2]), same dtype."""
    import torch

    a = a.to(x.dtype)
    if op in ("translate", "rotate", "scale"):
        zero, one = torch.zeros_like(a[0]), torch.ones_like(a[0])
        if op == "translate":
            theta = torch.stack([torch.stack([one, zero, -2 * a[0]]),
                                 torch.stack([zero, one, -2 * a[1]])])
        elif op == "rotate":
            # Rotation in pixel space, written in normalised coordinates (maps may be oblong).
            angle = a[0] * (math.pi / 180.0)
            aspect = x.shape[3] / x.shape[2]
            cos, sin = torch.cos(angle), torch.sin(angle)
            theta = torch.stack([torch.stack([cos, -sin / aspect, zero]),
                                 torch.stack([sin * aspect, cos, zero])])
        else:
            inverse = torch.exp2(-a[0])
            theta = torch.stack([torch.stack([inverse, zero, zero]),
                                 torch.stack([zero, inverse, zero])])
        return _affine_sample(x, theta.float(), wrap=op == "translate")
    if op in ("erode", "dilate"):
        return torch.lerp(x, _extreme_filter(x, size, largest=op == "dilate"), a[0])
    if op == "multiply":
        return x * (1 + a[0])
    if op == "ablate":
        return x * (1 - a[0])
    if op == "invert":
        mean = x.mean(dim=(2, 3), keepdim=True)
        return torch.lerp(x, 2 * mean - x, a[0])
    if op == "threshold":
        rms = x.float().square().mean(dim=(2, 3), keepdim=True).sqrt().to(x.dtype)
        return torch.where(x.abs() >= a[0] * rms, x, torch.zeros_like(x))
    raise ValueError(f"unknown bend op {op!r}")


class _LayerBends:
    """The forward hook of one bent layer: its bends in patch order."""

    def __init__(self, module, bends: list[tuple[BendSpec, slice, int]], static: bool) -> None:
        self.module = module
        self.bends = bends                       # (spec, slot in the amounts buffer, mask row)
        self.live = [any(spec.amount) for spec, _, _ in bends]   # eager mirror of the amounts
        self.static = static
        self.whole = [spec.channels == "all" for spec, _, _ in bends]
        self.handle = module.register_forward_hook(self)

    def __call__(self, module, inputs, output):
        import torch

        capturing = self.static or (output.is_cuda and torch.cuda.is_current_stream_capturing())
        if not capturing and not any(self.live):
            return None                          # the output exactly as it was
        amounts = getattr(module, BUFFER_AMOUNTS)
        masks = getattr(module, BUFFER_MASKS)
        x = output
        for (spec, slot, row), live, whole in zip(self.bends, self.live, self.whole):
            if not live and not capturing:
                continue
            a = amounts[slot]
            bent = _run_op(spec.op, x, a, spec.size)
            if whole and not capturing:
                x = bent   # every channel, and the amount is not zero: nothing to keep
                continue
            # Channels outside the mask, and every channel while the amounts are zero, keep x.
            gate = (masks[row] & (a != 0).any()).reshape(1, -1, 1, 1)
            x = torch.where(gate, bent, x)
        return x


class Bender:
    """Bends installed on a generator: declares `bend/...` params, writes their amounts.

    Building one removes any bends an earlier Bender left on the same generator (a reloaded
    patch replaces its bends). `remove()` takes them all off again. `static=True` runs every
    bend on every frame, the way a CUDA graph captures them (for torch.compile, which would
    otherwise recompile each time a bend switches on or off); the default decides per frame
    and skips bends at zero.
    """

    def __init__(self, G: Any, specs: Sequence[BendSpec], static: bool = False) -> None:
        import torch

        self.G = G
        self.specs = list(specs)
        layers = check_bends(self.specs, G)
        remove_bends(G)
        self._hooks: list[_LayerBends] = []
        self._slots: list[tuple[_LayerBends, int, slice]] = []   # per spec
        grouped: dict[str, list[int]] = {}
        for index, layer in enumerate(layers):
            grouped.setdefault(layer.name, []).append(index)
        by_name = {layer.name: layer for layer in layers}
        for name, indices in grouped.items():
            layer = by_name[name]
            module = layer.module
            device = _module_device(module)
            bends, amounts, masks = [], [], []
            for row, index in enumerate(indices):
                spec = self.specs[index]
                slot = slice(len(amounts), len(amounts) + len(OPS[spec.op][0]))
                amounts += list(spec.amount) or [0.0] * len(OPS[spec.op][0])
                masks.append(channel_mask(spec, layer.channels))
                bends.append((spec, slot, row))
            # Plain tensors even when built under inference_mode: they are written every frame.
            with torch.inference_mode(False):
                module.register_buffer(BUFFER_AMOUNTS, torch.tensor(amounts, dtype=torch.float32,
                                                                    device=device),
                                       persistent=False)
                module.register_buffer(BUFFER_MASKS, torch.from_numpy(np.stack(masks)).to(device),
                                       persistent=False)
            hook = _LayerBends(module, bends, static)
            module._livegan_bends = hook
            self._hooks.append(hook)
            for row, index in enumerate(indices):
                self._slots.append((hook, row, bends[row][1]))
        self._order = [i for indices in grouped.values() for i in indices]
        self._last: dict[str, float] = {}

    def params(self) -> list[Param]:
        params = []
        for spec in self.specs:
            suffixes, low, high, meaning = OPS[spec.op]
            starts = list(spec.amount) or [0.0] * len(suffixes)
            for key, suffix, start in zip(spec.keys(), suffixes, starts):
                axis = f" ({suffix})" if suffix else ""
                params.append(Param("bend", key.split("/", 1)[1], "float", start, low, high,
                                    0.05, f"{spec.op}{axis} on {spec.layer}: {meaning}; "
                                          "0 untouched"))
        return params

    def apply(self, values: Mapping[str, float]) -> None:
        """Write this frame's amounts into the layers' buffers, in place, where they changed."""
        import torch

        with torch.no_grad():
            for index, (hook, row, slot) in zip(self._order, self._slots):
                spec = self.specs[index]
                defaults = list(spec.amount) or [0.0] * len(OPS[spec.op][0])
                buffer = getattr(hook.module, BUFFER_AMOUNTS)
                live = False
                for offset, (key, default) in enumerate(zip(spec.keys(), defaults)):
                    value = values.get(key)
                    value = float(default if value is None else value)
                    if self._last.get(key) != value:
                        buffer[slot.start + offset].fill_(value)
                        self._last[key] = value
                    live = live or value != 0.0
                hook.live[row] = live

    def remove(self) -> None:
        """Take these bends off the generator (the frame is the unbent one again)."""
        for hook in self._hooks:
            _remove_hook(hook)
        self._hooks = []


def _module_device(module) -> Any:
    import torch

    for tensor in list(module.parameters()) + list(module.buffers()):
        return tensor.device
    return torch.device("cpu")


def _remove_hook(hook: _LayerBends) -> None:
    hook.handle.remove()
    module = hook.module
    for name in (BUFFER_AMOUNTS, BUFFER_MASKS):
        module._buffers.pop(name, None)
    if getattr(module, "_livegan_bends", None) is hook:
        del module._livegan_bends


def remove_bends(G: Any) -> None:
    """Remove every bend installed on G (by any Bender)."""
    for module in G.modules():
        hook = getattr(module, "_livegan_bends", None)
        if isinstance(hook, _LayerBends):
            _remove_hook(hook)


def describe_layers(G: Any) -> str:
    """One line per bendable layer: name, channels, resolution (for `livegan directions`
    --list-layers and error messages)."""
    return "\n".join(f"{l.name}: {l.channels} channels" + (f", {l.resolution}px" if l.resolution
                                                          else "") + f", row {l.row}"
                     for l in network_layers(G)) + f"\n({describe(G)})"
