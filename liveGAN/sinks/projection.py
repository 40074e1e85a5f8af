"""Projection mapping as a performer sets it: per-output parameters, the options of a mapped
output, the mask file, calibration moves and saving the corners into the patch.

Place in the data flow: patch `[[outputs]] kind = "window"` with `mapping = true` -> the window
sink declares **these params** (`<name>/corner_tl_x` ..., settable by OSC, mappings and the
calibration keys like any other) -> every frame the window reads their values from the show's
snapshot into a `liveGAN.render.mapping.Mapping` and draws the output with it.

Corner coordinates are fractions of the output's place on its display, (0, 0) top-left to
(1, 1) bottom-right; a corner may go past the edge (-1..2) to pull a tilted projector's picture
square. Blend widths are fractions of the output image, gammas the projector's.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Mapping as ValueMap

import numpy as np

from liveGAN.params import OSC_PREFIX, Param
from liveGAN.render.mapping import CORNER_NAMES, EDGE_NAMES, UNIT_CORNERS, Mapping

CORNER_RANGE = (-1.0, 2.0)
MAX_BLEND = 0.5
GAMMA_RANGE = (0.5, 4.0)
DEFAULT_GAMMA = 2.2
# Calibration keys move a corner by one pixel of the output (ten with Shift).
FINE_STEP_PX, COARSE_STEP_PX = 1, 10


def mapping_params(group: str) -> list[Param]:
    """The settable params of one mapped output: keystone corners, soft edges, calibration."""
    params = []
    for corner, (x, y) in zip(CORNER_NAMES, UNIT_CORNERS):
        for axis, default in (("x", x), ("y", y)):
            params.append(Param(group, f"corner_{corner}_{axis}", "float", default,
                                *CORNER_RANGE, 0.0,
                                f"keystone: {corner} corner {axis} (0..1 across the output)"))
    for edge in EDGE_NAMES:
        params.append(Param(group, f"blend_{edge}", "float", 0.0, 0.0, MAX_BLEND, 0.0,
                            f"soft edge width at the {edge}, fraction of the output (0 off)"))
        params.append(Param(group, f"blend_{edge}_gamma", "float", DEFAULT_GAMMA,
                            *GAMMA_RANGE, 0.0, f"projector gamma for the {edge} soft edge"))
    params.append(Param(group, "calibrate", "bool", 0, 0, 1, 0,
                        "calibration: grid and corner handles (K toggles, Tab picks, arrows move)"))
    return params


def read_values(mapping: Mapping, values: ValueMap[str, float], group: str) -> None:
    """Set `mapping` from the show's current values of `group`'s params (absent keys: kept)."""
    def get(name: str, default: float) -> float:
        return values.get(f"{group}/{name}", default)

    mapping.corners = tuple(
        (get(f"corner_{c}_x", mapping.corners[i][0]), get(f"corner_{c}_y", mapping.corners[i][1]))
        for i, c in enumerate(CORNER_NAMES))
    mapping.blend = tuple(get(f"blend_{e}", mapping.blend[i]) for i, e in enumerate(EDGE_NAMES))
    mapping.gamma = tuple(get(f"blend_{e}_gamma", mapping.gamma[i])
                          for i, e in enumerate(EDGE_NAMES))
    mapping.calibrate = get("calibrate", float(mapping.calibrate)) >= 0.5


def check_rect(value, what: str) -> tuple[float, float, float, float]:
    """An `[x, y, w, h]` option in 0..1 fractions; ValueError saying what is wrong."""
    if (not isinstance(value, (list, tuple)) or len(value) != 4
            or any(isinstance(v, bool) or not isinstance(v, (int, float))
                   or not math.isfinite(v) for v in value)):
        raise ValueError(f"{what} must be [x, y, width, height] in fractions 0..1, "
                         f"not {value!r}")
    x, y, w, h = (float(v) for v in value)
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > 1 + 1e-9 or y + h > 1 + 1e-9:
        raise ValueError(f"{what} {value!r} must lie inside 0..1 with a positive size")
    return (x, y, w, h)


def load_mask(path: Path, size: tuple[int, int], log: Callable[[str], None]) -> np.ndarray:
    """The mask at `path` as HxW uint8 luminance (white shows, black hides) at `size`
    (width, height); an image of another size is scaled, with a note. Raises ValueError with
    the reason when the file can't be read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            grey = image.convert("L") if "A" not in image.getbands() else \
                image.getchannel("A")
    except (OSError, UnidentifiedImageError) as err:
        raise ValueError(f"mask {path}: cannot read it as an image ({err})") from None
    if grey.size != tuple(size):
        log(f"mask {path.name} is {grey.size[0]}x{grey.size[1]}, the output is "
            f"{size[0]}x{size[1]}: scaled to fit")
        grey = grey.resize(tuple(size), Image.BILINEAR)
    return np.asarray(grey, np.uint8)


def corner_move(values: ValueMap[str, float], group: str, corner: int, dx_px: int, dy_px: int,
                output_size: tuple[int, int]) -> list[tuple[str, float]]:
    """The (param key, new value) pairs that move `corner` of output `group` by a few pixels of
    its `output_size`, clamped to the corner range."""
    name = CORNER_NAMES[corner]
    moves = []
    for axis, delta, extent in (("x", dx_px, output_size[0]), ("y", dy_px, output_size[1])):
        if delta:
            key = f"{group}/corner_{name}_{axis}"
            default = UNIT_CORNERS[corner][0 if axis == "x" else 1]
            value = values.get(key, default) + delta / max(1, extent)
            moves.append((key, min(max(value, CORNER_RANGE[0]), CORNER_RANGE[1])))
    return moves


def save_mapping(patch_path: Path, groups: list[str], values: ValueMap[str, float]) -> None:
    """Write each output's keystone and soft-edge values into the patch's `[params.<group>]`
    table, keeping the rest of the file (comments included) as it is. The show's hot reload
    then reads the same values back, so nothing moves."""
    import tomlkit

    document = tomlkit.parse(patch_path.read_text(encoding="utf-8"))
    params = document.get("params")
    if params is None:
        params = tomlkit.table()
        document["params"] = params
    for group in groups:
        table = params.get(group)
        if table is None:
            table = tomlkit.table()
            params[group] = table
        for param in mapping_params(group):
            if param.name == "calibrate" or param.key not in values:
                continue
            if param.key in params:
                del params[param.key]   # a flat `"out0/corner_tl_x" = ...` would win over it
            value = round(float(values[param.key]), 5)
            if value == param.default and param.name not in table:
                continue   # defaults stay out of the patch
            table[param.name] = value
    patch_path.write_text(tomlkit.dumps(document), encoding="utf-8")


class CalibrationKeys:
    """The window's calibration keys as a source: switching calibration and moving corners
    become events on the params' own addresses, as if a controller had sent them."""

    def __init__(self, options: dict | None = None) -> None:
        self._post: Callable[..., bool] | None = None

    def params(self) -> list:
        return []

    def start(self, post: Callable[..., bool]) -> None:
        self._post = post

    def stop(self) -> None:
        self._post = None

    def calibrate(self, groups: list[str], on: bool) -> None:
        """Calibration on or off for the outputs `groups`."""
        for group in groups:
            self.set(f"{group}/calibrate", 1.0 if on else 0.0)

    def set(self, key: str, value: float) -> None:
        """Set the param `key` (`group/name`) to `value`."""
        if self._post is not None:
            self._post(f"{OSC_PREFIX}/{key}", float(value))
