"""The heads-up display: a few lines of text (fps, generator fps, last parameter changed) as a
GL texture that the window blends over the frame.

Place in the data flow: the window sink (formats the strings) -> **sinks/window** (draws this
texture in a corner). Text is rendered with pygame.font and uploaded only when it changes; the texture is
reused while the text fits, so a steady HUD costs no allocation per frame.
"""
from __future__ import annotations

import os

# pygame greets on import; keep a performer's terminal for liveGAN's own messages.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import moderngl  # noqa: E402
import pygame  # noqa: E402

TEXT_COLOUR = (255, 255, 255)
BACKGROUND = (0, 0, 0, 150)  # translucent, so the frame stays visible behind the text
PADDING = 6


class Hud:
    """Text lines rendered into an RGBA texture, stored row 0 at the bottom (the plain-GL way,
    drawn with `rows_top_first=False`).

    After `update(lines)`, `texture` holds the text in its lower-left `width` x `height` texels;
    the rest of the texture is spare room kept for longer text later.
    """

    def __init__(self, ctx: moderngl.Context, font_size: int = 18) -> None:
        if not pygame.font.get_init():
            pygame.font.init()
        # None selects pygame's bundled font, so the HUD looks the same on every machine.
        self.font = pygame.font.Font(None, font_size)
        self.ctx = ctx
        self.texture: moderngl.Texture | None = None
        self.width = 0
        self.height = 0
        self._lines: list[str] = []

    def update(self, lines: list[str]) -> None:
        """Show `lines`; re-renders and uploads only when they differ from the last ones."""
        if lines == self._lines:
            return
        self._lines = list(lines)
        if not lines:
            self.width = self.height = 0
            return
        rendered = [self.font.render(line, True, TEXT_COLOUR) for line in lines]
        line_height = self.font.get_linesize()
        width = max(surface.get_width() for surface in rendered) + 2 * PADDING
        height = line_height * len(rendered) + 2 * PADDING
        panel = pygame.Surface((width, height), pygame.SRCALPHA)
        panel.fill(BACKGROUND)
        for row, surface in enumerate(rendered):
            panel.blit(surface, (PADDING, PADDING + row * line_height))
        # flipped=True: pygame stores the top row first, GL expects the bottom row first.
        pixels = pygame.image.tobytes(panel, "RGBA", True)
        if self.texture is None or self.texture.width < width or self.texture.height < height:
            if self.texture is not None:
                self.texture.release()
            # Room to grow, so a counter gaining a digit does not reallocate.
            size = (max(256, width * 3 // 2), max(64, height * 3 // 2))
            self.texture = self.ctx.texture(size, 4)
        self.texture.write(pixels, viewport=(0, 0, width, height))
        self.width, self.height = width, height

    def release(self) -> None:
        """Free the GL texture (the window calls this when it closes)."""
        if self.texture is not None:
            self.texture.release()
            self.texture = None
