"""Projection mapping on the GPU: one pass per output draws its part of the frame with a
corner-pin keystone, soft edges for overlapping projectors, a mask and the calibration grid.

Place in the data flow: the show's finished frame (a GL texture) -> **mapping** -> one viewport
of the window (a projector). Nothing is read back and nothing is drawn twice: the pass samples
the frame directly, so an output costs one textured pass whether it is mapped or not.

Two ways to draw. Playing, the output image's quad is drawn with its corners where the keystone
puts them and homogeneous positions, so the rasteriser itself interpolates the image
coordinates with perspective (as it does for any 3D surface): per pixel only the texture read
and, when on, the mask. Soft edges make the quad a mesh with vertices across each ramp that
carry the blend factors, so they cost the rasteriser one multiply per pixel, not two texture
reads (on llvmpipe that took a soft-edged output from about +3 ms to about the plain draw). Calibrating, a pass over the whole output undoes the
keystone per pixel, so the grid and the corner handles can be drawn past the picture's edges.

Coordinates, as a person calibrating sees them: an output's place on its display runs from
(0, 0) at the top-left to (1, 1) at the bottom-right. The output image (the frame's region,
letterboxed into the output) is a unit square; the keystone moves its four corners to
`corners` (top-left, top-right, bottom-left, bottom-right), and the pass inverts that
homography per pixel, so the picture stays straight-lined and perspective-correct.

Soft edges (Paul Bourke's projector blending): across an edge of width `w` (a fraction of the
output image) the picture fades with `f(x)^(1/gamma)`, where x runs from 0 at the image edge to
1 at the inner end of the ramp and f(x) = 0.5 (2x)^2 below one half, 1 - 0.5 (2 (1 - x))^2
above. Two projectors overlapping by `w`, one fading out where the other fades in, add up to
the full brightness in linear light; `gamma` is the projector's (about 2.2).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import moderngl
import numpy as np

UNIT_CORNERS = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0))  # tl, tr, bl, br
CORNER_NAMES = ("tl", "tr", "bl", "br")
EDGE_NAMES = ("left", "right", "top", "bottom")
GRID_CELLS = 8          # calibration grid: lines every 1/8 of the output image
HANDLE_RADIUS_PX = 10   # calibration corner handles

# The playing path: the image quad itself, drawn with perspective-correct interpolation.
PLAY_VERTEX = """
in vec2 in_corner;          // a corner of the output image (0..1, y down)
uniform mat3 to_output;     // the keystone: output image coords -> output coords (y down)
uniform vec4 picture;       // the frame's region inside the output image (letterbox): x, y, w, h
uniform vec4 region;        // which part of the frame: x, y, w, h (y down)
uniform bool rows_top_first;
out vec2 s;                 // where in the output image
out vec2 t;                 // where in the picture (outside 0..1: a letterbox bar)
out vec2 f;                 // where in the frame's texture
#ifdef BLEND
in vec2 in_ramp;            // the soft edges' factors across and down, at this vertex
out vec2 ramp;
#endif
void main() {
#ifdef BLEND
    ramp = in_ramp;
#endif
    vec3 h = to_output * vec3(in_corner, 1.0);
    // output coords (y down) to GL clip space (y up), kept homogeneous (w = h.z): the
    // rasteriser then interpolates `s` with the keystone's perspective
    gl_Position = vec4(2.0 * h.x - h.z, h.z - 2.0 * h.y, 0.0, h.z);
    s = in_corner;
    t = (s - picture.xy) / picture.zw;
    f = region.xy + t * region.zw;
    if (!rows_top_first) f.y = 1.0 - f.y;
}
"""

# The calibration path: every pixel of the output, the keystone undone per pixel.
CALIBRATE_VERTEX = """
in vec2 in_corner;
void main() { gl_Position = vec4(in_corner.x * 2.0 - 1.0, 1.0 - in_corner.y * 2.0, 0.0, 1.0); }
"""

# One fragment shader for both, its optional parts compiled in only when used (BLEND, MASK,
# CALIBRATE): a software rasteriser (llvmpipe) runs every branch with a mask, even one on a
# uniform, so code that is switched off must not be there at all. For the same reason nothing
# branches on a per-pixel value.
FRAGMENT_SHADER = """
uniform sampler2D image;
uniform sampler2D mask;
uniform vec4 viewport;      // the output's place in the window: x, y, w, h (GL pixels)
uniform vec4 picture;       // the frame's region inside the output image (letterbox): x, y, w, h
uniform vec4 region;        // which part of the frame: x, y, w, h (y down)
uniform bool rows_top_first;
uniform sampler2D ramps;    // soft edges: row 0 across the image, row 1 down it (blend_ramps)
uniform mat3 to_image;      // calibrating: output coords -> output image coords
uniform vec2 corners[4];    // calibrating: keystone corners in output coords, for the handles
uniform int selected;       // calibrating: the handle the keys move (-1: none)
uniform float grid_cells;
uniform float handle_px;
#ifndef CALIBRATE
in vec2 s;
in vec2 t;
in vec2 f;
#ifdef BLEND
in vec2 ramp;
#endif
#endif
out vec4 colour;

void main() {
    vec2 local = gl_FragCoord.xy - viewport.xy;
    vec2 p = vec2(local.x / viewport.z, 1.0 - local.y / viewport.w);   // output coords
#ifdef CALIBRATE
    vec3 q = to_image * vec3(p, 1.0);
    vec2 s = q.xy / q.z;
    float on_image = step(0.0, q.z) * step(0.0, min(s.x, s.y)) * step(max(s.x, s.y), 1.0);
    vec2 t = (s - picture.xy) / picture.zw;
    vec2 f = region.xy + t * region.zw;
    if (!rows_top_first) f.y = 1.0 - f.y;
#else
    float on_image = 1.0;   // the quad drawn is the output image
#endif
    // the picture lies inside the output image: a pixel inside it is on the image too (and
    // one in a letterbox bar reads outside the region, which `inside` turns black)
    float inside = on_image * step(0.0, min(t.x, t.y)) * step(max(t.x, t.y), 1.0);
    vec3 c = texture(image, f).rgb * inside;
#ifdef BLEND
#ifdef CALIBRATE
    c *= texture(ramps, vec2(s.x, 0.25)).r * texture(ramps, vec2(s.y, 0.75)).r;
#else
    c *= ramp.x * ramp.y;   // interpolated from the edge mesh's vertices: no texture read
#endif
#endif
#ifdef CALIBRATE
    vec2 cells = s * grid_cells;
    vec2 line = abs(fract(cells + 0.5) - 0.5) / max(fwidth(cells), vec2(1e-6));
    c = mix(c, vec3(1.0), 0.8 * on_image * step(min(line.x, line.y), 1.0));
    vec2 here = p * viewport.zw;
    for (int i = 0; i < 4; i++) {
        float d = distance(here, corners[i] * viewport.zw);
        if (d < handle_px && d > handle_px - 3.0)
            c = i == selected ? vec3(1.0, 0.85, 0.0) : vec3(0.0, 0.9, 1.0);
    }
#endif
#ifdef MASK
    c *= texture(mask, p).r;
#endif
    colour = vec4(c, 1.0);
}
"""


RAMP_SAMPLES = 2048   # soft-edge curves are tabulated this finely across the output image


def blend_curve(x: np.ndarray, gamma: float) -> np.ndarray:
    """Bourke's soft-edge curve (p = 2) with gamma: x from 0 at the edge to 1 inside."""
    x = np.clip(x, 0.0, 1.0)
    f = np.where(x < 0.5, 2.0 * x * x, 1.0 - 2.0 * (1.0 - x) ** 2)
    return f ** (1.0 / gamma)


def blend_ramps(widths, gammas) -> np.ndarray:
    """The soft edges as two rows of RAMP_SAMPLES factors (across, down the output image):
    each pixel's brightness is row 0 at its x times row 1 at its y. Tabulated once when the
    edges change, so the shader reads two numbers instead of computing four powers."""
    u = (np.arange(RAMP_SAMPLES) + 0.5) / RAMP_SAMPLES
    rows = np.ones((2, RAMP_SAMPLES))
    for axis, (near, far) in enumerate(((0, 1), (2, 3))):
        for edge, distance in ((near, u), (far, 1.0 - u)):
            if widths[edge] > 0:
                rows[axis] *= blend_curve(distance / widths[edge], max(gammas[edge], 0.05))
    return rows.astype("f4")


RAMP_STEPS = 32   # soft edges drawn as a mesh: vertices across each edge's ramp
RAMP_SPACING = 2.0  # ... closer together at the outer end, where the curve bends most


def _axis_ramp(width_near: float, width_far: float, gamma_near: float, gamma_far: float):
    """Break points along one axis of the output image (0..1) and the soft edges' factor at
    each: the ends, and RAMP_STEPS points across each edge's ramp."""
    steps = (np.arange(RAMP_STEPS + 1) / RAMP_STEPS) ** RAMP_SPACING
    points = [np.array([0.0, 1.0])]
    if width_near > 0:
        points.append(np.minimum(steps * width_near, 1.0))
    if width_far > 0:
        points.append(np.maximum(1.0 - steps * width_far, 0.0))
    u = np.unique(np.concatenate(points))
    factor = np.ones_like(u)
    for width, gamma, distance in ((width_near, gamma_near, u), (width_far, gamma_far, 1.0 - u)):
        if width > 0:
            factor *= blend_curve(distance / width, max(gamma, 0.05))
    return u, factor


def blend_mesh(widths, gammas) -> tuple[np.ndarray, np.ndarray]:
    """The output image as a grid of vertices (x, y, factor across, factor down) with triangle
    indices, its columns and rows at the soft edges' break points: each factor is then linear
    inside every cell, so the rasteriser's interpolation gives the blend curve (piecewise
    linear, within 0.5/255 for gamma up to 3) with no work per pixel but one multiply."""
    xs, fx = _axis_ramp(widths[0], widths[1], gammas[0], gammas[1])
    ys, fy = _axis_ramp(widths[2], widths[3], gammas[2], gammas[3])
    gx, gy = np.meshgrid(np.arange(len(xs)), np.arange(len(ys)))
    vertices = np.stack([xs[gx], ys[gy], fx[gx], fy[gy]], axis=-1).reshape(-1, 4)
    n = len(xs)
    cell = (gy[:-1, :-1] * n + gx[:-1, :-1]).reshape(-1)
    indices = np.stack([cell, cell + 1, cell + n, cell + 1, cell + n + 1, cell + n], axis=1)
    return vertices.astype("f4"), indices.reshape(-1).astype("i4")


def homography(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 3x3 projective map taking the four `source` points (4x2) onto the four `target`
    points, scaled so H[2, 2] = 1. Raises ValueError when three points are in a line."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(np.asarray(source, float), np.asarray(target, float)):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    try:
        h = np.linalg.solve(np.array(rows), np.array(rhs))
    except np.linalg.LinAlgError:
        raise ValueError("the corners are degenerate (three of them in a line)") from None
    h = np.append(h, 1.0).reshape(3, 3)
    if abs(np.linalg.det(h)) < 1e-12:   # three target corners in a line: a flat picture
        raise ValueError("the corners are degenerate (three of them in a line)")
    return h


def convex(corners) -> bool:
    """True when the corners (tl, tr, bl, br) make a convex quad that keeps its orientation,
    the only shapes a keystone can show without folding the picture over."""
    tl, tr, bl, br = (np.asarray(c, float) for c in corners)
    loop = [tl, tr, br, bl]
    turns = []
    for i in range(4):
        a, b, c = loop[i], loop[(i + 1) % 4], loop[(i + 2) % 4]
        (ux, uy), (vx, vy) = b - a, c - b
        turns.append(ux * vy - uy * vx)
    return all(t > 1e-9 for t in turns) or all(t < -1e-9 for t in turns)


@dataclass
class Mapping:
    """How one output shows its part of the frame (all in the coordinates of the module doc).

    `region`: the part of the frame (x, y, w, h, y down); `corners`: the keystone; `blend` and
    `gamma`: soft-edge width and projector gamma per edge (left, right, top, bottom);
    `calibrate`: draw the grid and corner handles, `selected` the handle the keys move.
    """

    region: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    corners: tuple = UNIT_CORNERS
    blend: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    gamma: tuple[float, float, float, float] = (2.2, 2.2, 2.2, 2.2)
    calibrate: bool = False
    selected: int = -1
    _last_corners: tuple = field(default=None, repr=False)
    _matrices: tuple[bytes, bytes] = field(default=(b"", b""), repr=False)

    def matrices(self) -> tuple[bytes, bytes]:
        """The keystone (output image -> output) and its inverse, column-major mat3s for the
        shaders; cached per corners, and a folded quad keeps the last good ones."""
        corners = tuple(tuple(float(v) for v in c) for c in self.corners)
        if corners != self._last_corners:
            self._last_corners = corners
            if convex(corners) or not self._matrices[0]:
                try:
                    forward = homography(np.array(UNIT_CORNERS), np.array(corners))
                    inverse = np.linalg.inv(forward)
                except (ValueError, np.linalg.LinAlgError):
                    forward = inverse = np.eye(3)
                self._matrices = (forward.T.astype("f4").tobytes(),
                                  inverse.T.astype("f4").tobytes())
        return self._matrices


class MappedDraw:
    """The GL programs that draw one output of the frame, mapped, into a viewport: one
    variant per combination of soft edges, mask and calibration, compiled when first used."""

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self._corners = ctx.buffer(np.array(UNIT_CORNERS, dtype="f4").tobytes())
        self._variants: dict[tuple[bool, bool, bool], tuple] = {}
        self._sampler = ctx.sampler(filter=(moderngl.LINEAR, moderngl.LINEAR),
                                    repeat_x=False, repeat_y=False)
        self._ramps: dict[int, tuple[tuple, moderngl.Texture]] = {}   # per mapping
        self._meshes: dict[int, tuple] = {}   # per mapping: (key, vbo, ibo, vao) of its edges

    def _ramp_texture(self, mapping: Mapping) -> moderngl.Texture:
        """The mapping's soft edges as a texture, remade only when they change."""
        key = (tuple(mapping.blend), tuple(mapping.gamma))
        known = self._ramps.get(id(mapping))
        if known is not None and known[0] == key:
            return known[1]
        texture = known[1] if known is not None else self.ctx.texture(
            (RAMP_SAMPLES, 2), 1, dtype="f4")
        texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        texture.repeat_x = texture.repeat_y = False
        texture.write(blend_ramps(mapping.blend, mapping.gamma).tobytes())
        self._ramps[id(mapping)] = (key, texture)
        return texture

    def _mesh(self, mapping: Mapping, program) -> moderngl.VertexArray:
        """The mapping's soft edges as a mesh (`blend_mesh`), remade only when they change."""
        key = (tuple(mapping.blend), tuple(mapping.gamma), id(program))
        known = self._meshes.get(id(mapping))
        if known is not None and known[0] == key:
            return known[3]
        if known is not None:
            for item in known[1:]:
                item.release()
        vertices, indices = blend_mesh(mapping.blend, mapping.gamma)
        vbo, ibo = self.ctx.buffer(vertices.tobytes()), self.ctx.buffer(indices.tobytes())
        vao = self.ctx.vertex_array(program, [(vbo, "2f 2f", "in_corner", "in_ramp")],
                                    index_buffer=ibo, index_element_size=4)
        self._meshes[id(mapping)] = (key, vbo, ibo, vao)
        return vao

    def _variant(self, blend: bool, mask: bool, calibrate: bool):
        key = (blend, mask, calibrate)
        if key not in self._variants:
            defines = "".join(f"#define {name}\n" for name, on in
                              (("BLEND", blend), ("MASK", mask), ("CALIBRATE", calibrate)) if on)
            program = self.ctx.program(
                vertex_shader="#version 330\n" + defines
                + (CALIBRATE_VERTEX if calibrate else PLAY_VERTEX),
                fragment_shader="#version 330\n" + defines + FRAGMENT_SHADER)
            for name, value in (("image", 0), ("mask", 1), ("ramps", 2),
                                ("grid_cells", GRID_CELLS), ("handle_px", HANDLE_RADIUS_PX)):
                if name in program:
                    program[name].value = value
            # Playing with soft edges draws the edge mesh instead of the plain quad.
            quad = None if blend and not calibrate else self.ctx.vertex_array(
                program, [(self._corners, "2f", "in_corner")])
            self._variants[key] = (program, quad)
        return self._variants[key]

    def draw(self, texture: moderngl.Texture, viewport: tuple[int, int, int, int],
             mapping: Mapping, picture: tuple[float, float, float, float],
             rows_top_first: bool, mask: moderngl.Texture | None = None) -> None:
        """Draw `texture`'s `mapping.region` into `viewport` (x, y, w, h of the bound
        framebuffer, GL pixels), fitted at `picture` inside the output image."""
        blend = any(width > 0 for width in mapping.blend)
        program, quad = self._variant(blend, mask is not None, mapping.calibrate)
        to_output, to_image = mapping.matrices()
        self.ctx.viewport = viewport
        if "viewport" in program:   # only the mask and calibration read it
            program["viewport"].value = tuple(float(v) for v in viewport)
        program["picture"].value = picture
        program["region"].value = tuple(mapping.region)
        program["rows_top_first"].value = rows_top_first
        if blend and mapping.calibrate:
            self._ramp_texture(mapping).use(2)
        if mapping.calibrate:
            program["to_image"].write(to_image)
            program["corners"].value = [tuple(c) for c in mapping.corners]
            program["selected"].value = mapping.selected
        else:
            program["to_output"].write(to_output)
        texture.use(0)
        self._sampler.use(0)
        if mask is not None:
            mask.use(1)
        if quad is None:
            self._mesh(mapping, program).render(moderngl.TRIANGLES)
        else:
            quad.render(moderngl.TRIANGLE_STRIP)
        self._sampler.clear(0)

    def release(self) -> None:
        for _, *items in self._meshes.values():
            for item in reversed(items):
                item.release()
        self._meshes.clear()
        for program, quad in self._variants.values():
            if quad is not None:
                quad.release()
            program.release()
        self._variants.clear()
        for _, texture in self._ramps.values():
            texture.release()
        self._ramps.clear()
        self._corners.release()
        self._sampler.release()
