"""OpenGL contexts without a window: EGL, so rendering works with no display at all."""
from __future__ import annotations

import moderngl


def headless_context() -> moderngl.Context:
    """A standalone GL 3.3+ context through EGL (Mesa llvmpipe here, the NVIDIA driver on GPUs)."""
    try:
        return moderngl.create_standalone_context(backend="egl", require=330)
    except Exception as err:
        raise RuntimeError(f"no headless OpenGL context through EGL ({err}); install Mesa's "
                           "libegl1 libegl-mesa0 libgl1-mesa-dri, or run with a window") from None
