"""The latent stage: where in the model's space each frame looks, and how that point is edited.

Place in the data flow: params + clock -> **latent** -> generator. Modules:
- `walks`: paths through Z (noise, circle, beats, still);
- `state`: the show's `LatentState`, one walk at a time, gliding across seeds and walks;
- `keyframes`: bookmarked latents beside the patch and walks through them, beat-timed loops,
  a random walk with momentum;
- `layers`: which network layer reads which row of W+, and the coarse/middle/fine ranges;
- `directions`: GANSpace and SeFa directions, their files and cache, `direction/<k>` amounts;
- `mixing`: style mixing of a second latent per layer range (`mix/...`);
- `bending`: network bending, live transforms of a layer's feature maps (`bend/...`);
- `blending`: layer-wise blends of two models (`model/blend...`) and crossfades on a swap.

Importing this package imports nothing heavy (no torch): `livegan --help` passes through here.
"""
from __future__ import annotations


class LatentConfigError(ValueError):
    """A latent set-up that does not fit the model (directions made for another model, a bend on
    a layer the network lacks, a blend of two different architectures ...).

    The message is one line naming what does not match. `problems` lists the same as
    (key, found, expected) triples, so a patch loader can report each under its own key; the
    show keeps playing its last good state when it catches this.
    """

    def __init__(self, message: str,
                 problems: list[tuple[str, str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


__all__ = ["LatentConfigError"]
