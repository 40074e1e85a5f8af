"""The displays this machine has (monitors, projectors, LED processors), and which one an output
means.

Place in the data flow: patch `[[outputs]] display = 1` or `display = "HDMI-2"` -> **displays**
-> the window puts that output on that screen. `livegan devices` lists the same table.

SDL knows each display's name and its place on the desktop, but pygame only passes on the
sizes; the rest is read from the SDL library pygame already loaded (the same copy, so the same
state), through ctypes. Where that library can't be found, displays are taken to sit side by
side in index order, which is how most projector set-ups are arranged anyway.
"""
from __future__ import annotations

import ctypes
import glob
import os
from dataclasses import asdict, dataclass
from typing import Callable

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame  # noqa: E402


@dataclass(frozen=True)
class Display:
    """One screen: its index (SDL's order), its name, its place and size on the desktop."""

    index: int
    name: str
    x: int
    y: int
    width: int
    height: int

    @property
    def rect(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.width, self.height)

    def describe(self) -> str:
        """`1 "HDMI-2" 1920x1080 at +1920+0`, as people read it in a message."""
        return f"{self.index} \"{self.name}\" {self.width}x{self.height} at +{self.x}+{self.y}"

    def as_dict(self) -> dict:
        return asdict(self)


class _Rect(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int), ("w", ctypes.c_int),
                ("h", ctypes.c_int)]


def _sdl_library():
    """The SDL2 library pygame loaded, or None. Only files shipped with pygame are tried, so
    the library opened is the one already in the process (a second copy would know no
    displays)."""
    folder = os.path.dirname(pygame.__file__)
    patterns = [os.path.join(folder, os.pardir, "pygame.libs", "libSDL2-*"),  # Linux wheels
                os.path.join(folder, ".dylibs", "libSDL2*"),                  # macOS wheels
                os.path.join(folder, "SDL2.dll")]                             # Windows wheels
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            try:
                library = ctypes.CDLL(path)
                library.SDL_GetDisplayName.restype = ctypes.c_char_p
                library.SDL_GetDisplayName.argtypes = [ctypes.c_int]
                library.SDL_GetDisplayBounds.argtypes = [ctypes.c_int, ctypes.POINTER(_Rect)]
                return library
            except (OSError, AttributeError):
                continue
    return None


def list_displays() -> list[Display]:
    """Every connected display in SDL's order (the order of `display = <index>`).

    Raises pygame.error when there is no display server to ask."""
    if not pygame.display.get_init():
        pygame.display.init()
    sizes = [tuple(size) for size in pygame.display.get_desktop_sizes()]
    library = _sdl_library()
    displays, next_x = [], 0
    for index, (width, height) in enumerate(sizes):
        name, x, y = f"display {index}", next_x, 0
        if library is not None:
            raw = library.SDL_GetDisplayName(index)
            if raw:
                name = raw.decode("utf-8", "replace")
            rect = _Rect()
            if library.SDL_GetDisplayBounds(index, ctypes.byref(rect)) == 0:
                x, y, width, height = rect.x, rect.y, rect.w, rect.h
        displays.append(Display(index, name, x, y, width, height))
        next_x = x + width
    return displays


def find_display(wanted: int | str, displays: list[Display],
                 log: Callable[[str], None] = print) -> Display:
    """The display `wanted` (an index, or a name compared without case), or the first one
    with a message that lists those that exist."""
    for display in displays:
        if isinstance(wanted, int) and display.index == wanted:
            return display
        if isinstance(wanted, str) and display.name.casefold() == wanted.casefold():
            return display
    listing = "; ".join(d.describe() for d in displays) or "none"
    what = f"display {wanted}" if isinstance(wanted, int) else f"display {wanted!r}"
    log(f"{what} does not exist (connected: {listing}); using display "
        f"{displays[0].index if displays else 0}")
    return displays[0] if displays else Display(0, "display 0", 0, 0, 0, 0)


def bounding_box(rects: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    """The smallest (x, y, width, height) that holds every rect."""
    left = min(r[0] for r in rects)
    top = min(r[1] for r in rects)
    right = max(r[0] + r[2] for r in rects)
    bottom = max(r[1] + r[3] for r in rects)
    return (left, top, right - left, bottom - top)
