"""The keyboard of a liveGAN window, as a source like any other.

Place in the data flow: window key presses (polled by the window sink on the show's thread) ->
**keys** -> `post` into the show's inbox. The show's own keys post the addresses a controller
would (`N` posts `/livegan/latent/next_seed`), and every other key posts `/key/<name> 1`, which a
patch maps like any address:

    [[mappings]]
    source = "/key/x"
    target = "latent/next_seed"
"""
from __future__ import annotations

from typing import Callable

# The window's actions (see liveGAN.sinks.window.Window.poll) as show addresses.
ACTIONS: dict[str, tuple] = {
    "quit": ("/livegan/quit",),
    "blackout": ("/livegan/toggle", "output/blackout"),
    "next_seed": ("/livegan/latent/next_seed", 1.0),
}


class KeySource:
    """Turns a window's key actions and unbound keys into posted events."""

    def __init__(self, options: dict | None = None) -> None:
        self._post: Callable[..., bool] | None = None

    def params(self) -> list:
        return []

    def start(self, post: Callable[..., bool]) -> None:
        self._post = post

    def stop(self) -> None:
        self._post = None

    def action(self, name: str) -> None:
        """One of the window's own actions ('quit', 'blackout', 'next_seed')."""
        event = ACTIONS.get(name)
        if event is not None and self._post is not None:
            self._post(*event)

    def key(self, name: str) -> None:
        """A key the window does not use itself: `/key/<name> 1`."""
        if self._post is not None and name:
            self._post(f"/key/{name.replace(' ', '_')}", 1.0)
