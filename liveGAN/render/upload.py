"""Frame upload: the generator's RGBA8 frame into the shader chain's input texture.

Place in the data flow: generator runtime (`runtime.GeneratorRuntime.frame` -> uint8 [H, W, 4])
-> **upload** -> render/ shader chain (a moderngl RGBA8 texture). The render thread calls it.

Two paths, same bytes in the texture:
- 'interop': CUDA-GL interop through cuda-python. The texture is registered with CUDA once, then
  each frame is one device-to-device copy into the texture's array, without a trip through host
  memory. Used when the frame is a CUDA tensor, cuda-python imports and the GL context runs on
  the NVIDIA driver.
- 'host': copy the frame to host memory (pinned staging buffer for CUDA tensors) and
  `texture.write` it. Always available; it is the fallback and the reference for interop.

Orientation convention (the whole shader chain relies on it): texture row 0 (texel y = 0,
texture coordinate v near 0) holds the image's TOP row. Both paths copy rows in memory order, so
no flip happens here; whoever draws the texture to a bottom-left-origin framebuffer (the window,
the recorder's read-back) samples at v = 1 - y to show the image upright.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

GL_TEXTURE_2D = 0x0DE1


def _load_cudart():
    """cuda-python's runtime module under its new or old import name, or None."""
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
        return cudart
    except Exception:
        pass
    try:
        from cuda import cudart  # older cuda-python
        return cudart
    except Exception:
        return None


class _Interop:
    """CUDA-GL interop for RGBA8 textures: register once per texture, map, copy, unmap."""

    def __init__(self, cudart) -> None:
        self.cudart = cudart
        self.resources: dict[int, object] = {}  # texture.glo -> cudaGraphicsResource
        self.stream: torch.cuda.Stream | None = None

    def _check(self, result, what: str):
        err = result[0]
        if int(err) != int(self.cudart.cudaError_t.cudaSuccess):
            raise RuntimeError(f"CUDA-GL interop: {what} failed ({err})")
        return result[1] if len(result) > 1 else None

    def _resource(self, texture):
        resource = self.resources.get(texture.glo)
        if resource is None:
            # WriteDiscard: CUDA overwrites the whole texture, so GL need not preserve old content.
            flags = self.cudart.cudaGraphicsRegisterFlags.cudaGraphicsRegisterFlagsWriteDiscard
            resource = self._check(
                self.cudart.cudaGraphicsGLRegisterImage(int(texture.glo), GL_TEXTURE_2D,
                                                        int(flags)),
                "cudaGraphicsGLRegisterImage")
            self.resources[texture.glo] = resource
        return resource

    def copy(self, frame: torch.Tensor, texture) -> None:
        """Copy a contiguous CUDA uint8 [H, W, 4] tensor into the texture; returns when done."""
        cudart = self.cudart
        if self.stream is None or self.stream.device != frame.device:
            self.stream = torch.cuda.Stream(device=frame.device)
        stream = self.stream
        # The frame was produced on another stream (the generator worker's): order after it.
        stream.wait_stream(torch.cuda.current_stream(frame.device))
        handle = stream.cuda_stream
        resource = self._resource(texture)
        height, width = frame.shape[0], frame.shape[1]
        self._check(cudart.cudaGraphicsMapResources(1, resource, handle), "map")
        try:
            array = self._check(cudart.cudaGraphicsSubResourceGetMappedArray(resource, 0, 0),
                                "get mapped array")
            self._check(cudart.cudaMemcpy2DToArrayAsync(
                array, 0, 0, frame.data_ptr(), width * 4, width * 4, height,
                cudart.cudaMemcpyKind.cudaMemcpyDeviceToDevice, handle), "copy")
        finally:
            self._check(cudart.cudaGraphicsUnmapResources(1, resource, handle), "unmap")
        # Waiting here keeps the frame's memory alive until the copy has read it, whichever
        # thread drops the tensor next (the caching allocator may hand it out again at once).
        stream.synchronize()

    def forget(self, glo: int) -> None:
        resource = self.resources.pop(glo, None)
        if resource is not None:
            self.cudart.cudaGraphicsUnregisterResource(resource)

    def release(self) -> None:
        for glo in list(self.resources):
            self.forget(glo)


class TextureUploader:
    """Writes uint8 [H, W, 4] frames (torch tensor on any device, or numpy) into RGBA8 textures.

    `mode` is 'interop' once a CUDA frame has gone through CUDA-GL interop, else 'host'. Create
    it and call it on the thread that owns the GL context (the render thread).
    """

    def __init__(self, ctx, allow_interop: bool = True,
                 log: Callable[[str], None] | None = None) -> None:
        self.ctx = ctx
        self.log = log or (lambda msg: print(msg, flush=True))
        self.mode = "host"
        self._interop: _Interop | None = None
        self._interop_failed = not allow_interop
        self._staging: torch.Tensor | None = None  # pinned host buffer for CUDA frames

    def _interop_possible(self) -> bool:
        if self._interop_failed or not torch.cuda.is_available():
            return False
        if self._interop is None:
            cudart = _load_cudart()
            vendor = str(self.ctx.info.get("GL_VENDOR", "")) + str(self.ctx.info.get("GL_RENDERER", ""))
            if cudart is None or "NVIDIA" not in vendor.upper():
                # Interop needs both cuda-python and a GL context on the NVIDIA driver.
                self._interop_failed = True
                return False
            self._interop = _Interop(cudart)
        return True

    @staticmethod
    def _check(frame, texture) -> None:
        shape = tuple(frame.shape)
        width, height = texture.size
        if shape != (height, width, 4):
            raise ValueError(f"upload: frame shape {shape} does not fit the {width}x{height} "
                             f"RGBA texture (expected ({height}, {width}, 4))")
        if texture.components != 4 or texture.dtype != "f1":
            raise ValueError(f"upload: texture must be RGBA8, got {texture.components} "
                             f"components of dtype {texture.dtype!r}")
        dtype = frame.dtype
        if dtype not in (torch.uint8, np.uint8):
            raise ValueError(f"upload: frame dtype must be uint8, got {dtype}")

    def upload(self, frame, texture) -> None:
        """Write `frame` into `texture`; texture row 0 receives the frame's row 0 (image top)."""
        self._check(frame, texture)
        if isinstance(frame, torch.Tensor) and frame.is_cuda and self._interop_possible():
            try:
                self._interop.copy(frame.contiguous(), texture)
                self.mode = "interop"
                return
            except Exception as exc:
                # One message, then the host path for good: a show keeps going on the slow path.
                self.log(f"upload: CUDA-GL interop unavailable ({exc}); using host copies")
                self._interop_failed = True
                self._interop.release()
                self._interop = None
        self.mode = "host"
        texture.write(self._host_bytes(frame))

    def _host_bytes(self, frame):
        if isinstance(frame, np.ndarray):
            return np.ascontiguousarray(frame)
        if frame.is_cuda:
            staging = self._staging
            if staging is None or staging.shape != frame.shape:
                staging = torch.empty(frame.shape, dtype=torch.uint8, pin_memory=True)
                self._staging = staging
            staging.copy_(frame, non_blocking=True)
            torch.cuda.current_stream(frame.device).synchronize()
            return staging.numpy()
        return frame.detach().contiguous().numpy()

    def forget(self, texture) -> None:
        """Unregister a texture from CUDA before it is released (only matters for interop)."""
        if self._interop is not None:
            self._interop.forget(texture.glo)

    def release(self) -> None:
        """Unregister every texture; call before the GL context goes away."""
        if self._interop is not None:
            self._interop.release()
            self._interop = None
