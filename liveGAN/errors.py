"""How the command line reports failures: one clear line, no traceback.

Set LIVEGAN_DEBUG=1 to get the traceback instead (for bug reports).
"""
from __future__ import annotations

import os


def user_message(err: BaseException) -> str | None:
    """The one line to show for `err`, or None to let it raise (debug mode)."""
    if os.environ.get("LIVEGAN_DEBUG"):
        return None
    text = str(err).strip() or type(err).__name__
    known = {"ModelLoadError", "ShaderError", "RecorderError", "PatchError", "WindowError"}
    if type(err).__name__ in known or isinstance(err, (OSError, ValueError)):
        return f"error: {text}"
    return f"error: {type(err).__name__}: {text} (set LIVEGAN_DEBUG=1 for the traceback)"
