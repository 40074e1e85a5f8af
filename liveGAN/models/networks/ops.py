"""Low-level tensor ops shared by our StyleGAN2 and StyleGAN3 generators, in plain PyTorch.

Place in the data flow: generator internals. `stylegan2.py` and `stylegan3.py` build their
layers from these functions; nothing here knows about parameters, names or devices.

The official networks ship CUDA kernels for these ops (upfirdn2d, bias_act, filtered_lrelu).
We compute the same maths with stock PyTorch operators instead, so nothing is compiled and the
same code runs on CPU, on CUDA, under autocast and under CUDA graph capture:

- FIR upsampling ("insert zeros, then filter") runs polyphase for separable filters: one short
  depthwise conv per output phase, interleaved, so no multiply ever touches an inserted zero;
  2-D filters use a depthwise `conv_transpose2d` with the factor as stride. Downsampling is a
  strided depthwise `conv2d`, which only computes the samples that are kept.
- Separable filters run as two 1-D passes; radial filters (StyleGAN3-R) as one 2-D pass.
- The filtered leaky ReLU works channels-last (NHWC): oneDNN's depthwise convs are several
  times faster that way on CPU.
- No host-side tensors are built per call, so everything can be captured in a CUDA graph.
- Conventions (filter flipping, padding, gains) follow the official reference implementation
  so that official weights give official images.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

# Default gain per activation, chosen (as in the papers) to keep the signal's magnitude.
ACTIVATION_GAINS = {
    "linear": 1.0, "relu": math.sqrt(2), "lrelu": math.sqrt(2), "tanh": 1.0,
    "sigmoid": 1.0, "swish": math.sqrt(2),
}


_allocator_tuned = False


def tune_cpu_allocator(mmap_threshold: int = 32 << 20, trim_threshold: int = 256 << 20) -> bool:
    """Keep freed tensor memory in the heap instead of returning it to the OS (glibc only).

    By default glibc serves every allocation above ~128 KiB with a fresh mmap, so each frame
    page-faults its way through new zeroed pages: on CPU that made StyleGAN3's filtered ReLU
    up to 8x slower. Process-wide, so it is opt-in: the CPU runtime and benchmarks call it once.
    Returns True when the setting took effect.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return True
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # from <malloc.h>
        ok = (libc.mallopt(m_mmap_threshold, int(mmap_threshold)) == 1
              and libc.mallopt(m_trim_threshold, int(trim_threshold)) == 1)
    except (OSError, AttributeError):
        ok = False
    _allocator_tuned = ok
    return ok


def _needs_grad(x: torch.Tensor) -> bool:
    """True when autograd records ops on `x`, so in-place tricks must be avoided."""
    return torch.is_grad_enabled() and x.requires_grad


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale each vector to unit root-mean-square along `dim` (the mapping network's input)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def bias_act(x: torch.Tensor, b: torch.Tensor | None = None, act: str = "linear",
             alpha: float | None = None, gain: float | None = None,
             clamp: float | None = None) -> torch.Tensor:
    """Add a per-channel bias (dim 1), apply an activation, multiply by a gain, clamp.

    `gain` defaults to the activation's standard gain; `clamp` None or negative means none.
    """
    if act not in ACTIVATION_GAINS:
        raise ValueError(f"unknown activation {act!r}; expected one of {sorted(ACTIVATION_GAINS)}")
    gain = ACTIVATION_GAINS[act] if gain is None else float(gain)
    fresh = False  # whether x is a tensor we allocated here and may overwrite
    if b is not None:
        x = x + b.to(x.dtype).reshape([1, -1] + [1] * (x.ndim - 2))
        fresh = True
    inplace = fresh and not _needs_grad(x)
    if act == "lrelu":
        slope = 0.2 if alpha is None else float(alpha)
        x = F.leaky_relu_(x, slope) if inplace else F.leaky_relu(x, slope)
    elif act == "relu":
        x = F.relu_(x) if inplace else F.relu(x)
    elif act == "tanh":
        x = torch.tanh(x)
    elif act == "sigmoid":
        x = torch.sigmoid(x)
    elif act == "swish":
        x = F.silu(x)
    fresh = fresh or act != "linear"
    inplace = fresh and not _needs_grad(x)
    if gain != 1:
        x = x.mul_(gain) if inplace else x * gain
        inplace = not _needs_grad(x)
    if clamp is not None and clamp >= 0:
        x = x.clamp_(-clamp, clamp) if inplace else x.clamp(-clamp, clamp)
    return x


# ---------------------------------------------------------------------------------------------
# FIR filters
# ---------------------------------------------------------------------------------------------

def setup_filter(f, normalize: bool = True, flip_filter: bool = False, gain: float = 1,
                 separable: bool | None = None) -> torch.Tensor:
    """Turn a list of taps into a filter tensor the way the official code stores it.

    Short 1-D lists (fewer than 8 taps, e.g. [1, 3, 3, 1]) become their 2-D outer product,
    longer ones stay 1-D (separable). The filter is normalised to sum to 1.
    """
    f = torch.as_tensor(1 if f is None else f, dtype=torch.float32)
    if f.ndim == 0:
        f = f[None]
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if f.ndim == 1 and not separable:
        f = torch.outer(f, f)
    if normalize:
        f = f / f.sum()
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    return f * (gain ** (f.ndim / 2))


def filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    """(width, height) of a 1-D or 2-D filter; (1, 1) for no filter."""
    if f is None:
        return 1, 1
    return (int(f.shape[-1]), int(f.shape[0])) if f.ndim == 2 else (int(f.shape[0]),) * 2


def _pair(v) -> tuple[int, int]:
    """(x, y) from an int or a pair."""
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


def _padding4(p) -> tuple[int, int, int, int]:
    """(x0, x1, y0, y1) from an int, an (x, y) pair or four values."""
    if isinstance(p, (int, np.integer)):
        return (int(p),) * 4
    if len(p) == 2:
        return int(p[0]), int(p[0]), int(p[1]), int(p[1])
    return tuple(int(v) for v in p)  # type: ignore[return-value]


def _polyphase_layout(k: int, up: int, crop0: int) -> tuple[int, int, int, tuple[int, ...], int]:
    """How to cut a k-tap upsampling filter into `up` short phase filters (plain ints only).

    Output sample q*up + r of "insert zeros, convolve, crop crop0" is
    sum_t x[q + t] * f[r + crop0 - t*up] for t in [t_min, t_max]. With f zero-padded by
    (pad_lo, pad_hi) and reversed, phase r's taps are the strided slice starting at
    starts[r] with step `up` and `count` taps. Returns (pad_lo, pad_hi, count, starts, t_min).
    Plain ints, no index tensors: nothing is copied to the device (safe inside CUDA graph
    capture) and torch.compile traces it without a graph break.
    """
    t_min = -((k - 1 - crop0) // up)
    t_max = (up - 1 + crop0) // up
    count = t_max - t_min + 1
    pad_lo = max(0, -(crop0 - t_max * up))
    pad_hi = max(0, (up - 1 + crop0 - t_min * up) - (k - 1))
    length = k + pad_lo + pad_hi
    starts = tuple(length - 1 - (r + crop0 - t_min * up + pad_lo) for r in range(up))
    return pad_lo, pad_hi, count, starts, t_min


def _resample_axis(x: torch.Tensor, taps: torch.Tensor, axis: int, up: int, down: int,
                   pad0: int, pad1: int) -> torch.Tensor:
    """One axis of upfirdn: insert zeros, pad, filter with `taps` (a true convolution), decimate.

    `axis` is 2 (rows) or 3 (columns); `taps` is 1-D, already scaled by its gain.
    """
    k = taps.numel()
    channels = x.shape[1]
    if up == 1:
        # Correlation with the flipped taps == convolution with the taps.
        shape = (channels, 1, k, 1) if axis == 2 else (channels, 1, 1, k)
        weight = taps.flip(0).reshape(1, 1, *shape[2:]).expand(shape)
        conv_pad = (0, 0)
        if pad0 == pad1 >= 0:
            conv_pad = (pad0, 0) if axis == 2 else (0, pad0)  # no padded copy needed
        elif pad0 or pad1:
            x = F.pad(x, [0, 0, pad0, pad1] if axis == 2 else [pad0, pad1, 0, 0])
        stride = (down, 1) if axis == 2 else (1, down)
        return F.conv2d(x, weight, stride=stride, padding=conv_pad, groups=channels)
    # Polyphase upsampling: each of the `up` output phases is a short depthwise conv over x;
    # the phases are written interleaved into one buffer. This never touches the inserted
    # zeros, and plain depthwise convs are far faster on CPU than a transposed conv or a conv
    # with a channel multiplier.
    size = x.shape[axis]
    out_len = size * up + pad0 + pad1 - k + 1
    pad_lo, pad_hi, count, starts, t_min = _polyphase_layout(k, up, k - 1 - pad0)
    reversed_taps = (F.pad(taps, [pad_lo, pad_hi]) if pad_lo or pad_hi else taps).flip(0)
    steps = -(-out_len // up)
    lo, hi = -t_min, steps - 1 + (t_min + count - 1) - (size - 1)
    if lo or hi:
        x = F.pad(x, [0, 0, lo, hi] if axis == 2 else [lo, hi])
    shape = (channels, 1, -1, 1) if axis == 2 else (channels, 1, 1, -1)
    buf = None
    for r in range(up):
        phase_taps = reversed_taps[starts[r]:starts[r] + (count - 1) * up + 1:up]
        weight = phase_taps.reshape(1, 1, *shape[2:]).expand(shape)
        phase = F.conv2d(x, weight, groups=channels).permute(0, 2, 3, 1)  # NHWC view
        if buf is None:
            # [N, H, W, C] with the phase index right after the upsampled axis.
            n, h, w = phase.shape[:3]
            dims = (n, h, up, w, channels) if axis == 2 else (n, h, w, up, channels)
            buf = phase.new_empty(dims)
        if axis == 2:
            buf[:, :, r] = phase
        else:
            buf[:, :, :, r] = phase
    if axis == 2:
        y = buf.reshape(n, h * up, w, channels).permute(0, 3, 1, 2)[:, :, :out_len]
        return y[:, :, ::down] if down > 1 else y
    y = buf.reshape(n, h, w * up, channels).permute(0, 3, 1, 2)[:, :, :, :out_len]
    return y[:, :, :, ::down] if down > 1 else y


def upfirdn2d(x: torch.Tensor, f: torch.Tensor | None, up=1, down=1, padding=0,
              flip_filter: bool = False, gain: float = 1) -> torch.Tensor:
    """Upsample (zero insertion), pad (negative = crop), FIR filter, downsample; [N, C, H, W].

    Same semantics as the official `upfirdn2d`: by default the filter is applied as a true
    convolution (flipped); a 1-D filter is applied separably along both axes.
    """
    upx, upy = _pair(up)
    downx, downy = _pair(down)
    px0, px1, py0, py1 = _padding4(padding)
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    dtype = x.dtype if x.dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64) \
        else torch.float32
    f = f.to(dtype) * (gain ** (f.ndim / 2))
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    if f.ndim == 1:
        x = _resample_axis(x, f, 3, upx, downx, px0, px1)
        return _resample_axis(x, f, 2, upy, downy, py0, py1)
    channels = x.shape[1]
    kh, kw = f.shape
    weight = f.reshape(1, 1, kh, kw).expand(channels, 1, kh, kw)
    if upx == 1 and upy == 1:
        conv_pad = (0, 0)
        if px0 == px1 >= 0 and py0 == py1 >= 0:
            conv_pad = (py0, px0)  # the conv pads for free, without a padded copy
        elif any((px0, px1, py0, py1)):
            x = F.pad(x, [px0, px1, py0, py1])
        return F.conv2d(x, weight.flip([2, 3]), stride=(downy, downx), padding=conv_pad,
                        groups=channels)
    cx0, cx1 = kw - 1 - px0, kw - upx - px1
    cy0, cy1 = kh - 1 - py0, kh - upy - py1
    sx, sy = max(min(cx0, cx1), 0), max(min(cy0, cy1), 0)
    x = F.conv_transpose2d(x, weight, stride=(upy, upx), padding=(sy, sx), groups=channels)
    rest = [-(cx0 - sx), -(cx1 - sx), -(cy0 - sy), -(cy1 - sy)]
    if any(rest):
        x = F.pad(x, rest)
    if downx > 1 or downy > 1:
        x = x[:, :, ::downy, ::downx]
    return x


def upsample2d(x: torch.Tensor, f: torch.Tensor | None, up=2, padding=0,
               flip_filter: bool = False, gain: float = 1) -> torch.Tensor:
    """Upsample by `up` with FIR filter `f`, keeping the image centred (output = input * up)."""
    upx, upy = _pair(up)
    px0, px1, py0, py1 = _padding4(padding)
    fw, fh = filter_size(f)
    pads = [px0 + (fw + upx - 1) // 2, px1 + (fw - upx) // 2,
            py0 + (fh + upy - 1) // 2, py1 + (fh - upy) // 2]
    return upfirdn2d(x, f, up=(upx, upy), padding=pads, flip_filter=flip_filter,
                     gain=gain * upx * upy)


def downsample2d(x: torch.Tensor, f: torch.Tensor | None, down=2, padding=0,
                 flip_filter: bool = False, gain: float = 1) -> torch.Tensor:
    """Downsample by `down` with FIR filter `f`, keeping the image centred."""
    downx, downy = _pair(down)
    px0, px1, py0, py1 = _padding4(padding)
    fw, fh = filter_size(f)
    pads = [px0 + (fw - downx + 1) // 2, px1 + (fw - downx) // 2,
            py0 + (fh - downy + 1) // 2, py1 + (fh - downy) // 2]
    return upfirdn2d(x, f, down=(downx, downy), padding=pads, flip_filter=flip_filter, gain=gain)


# ---------------------------------------------------------------------------------------------
# Convolutions
# ---------------------------------------------------------------------------------------------

def _conv(x, w, stride=1, padding=0, groups=1, transpose=False, flip_weight=True):
    """conv2d / conv_transpose2d; `flip_weight=False` flips the kernel (a true convolution)."""
    if not flip_weight and (w.shape[2] > 1 or w.shape[3] > 1):
        w = w.flip([2, 3])
    if transpose:
        return F.conv_transpose2d(x, w, stride=stride, padding=padding, groups=groups)
    return F.conv2d(x, w, stride=stride, padding=padding, groups=groups)


def conv2d_resample(x: torch.Tensor, w: torch.Tensor, f: torch.Tensor | None = None, up: int = 1,
                    down: int = 1, padding=0, groups: int = 1, flip_weight: bool = True,
                    flip_filter: bool = False) -> torch.Tensor:
    """2-D convolution with optional FIR up/down-sampling, in the cheapest order.

    Upsampling + 3x3 conv runs as one strided transposed conv followed by the FIR filter;
    downsampling runs the FIR filter first and then a strided conv (official conventions).
    """
    out_channels, in_per_group, kh, kw = w.shape
    fw, fh = filter_size(f)
    px0, px1, py0, py1 = _padding4(padding)
    if up > 1:
        px0 += (fw + up - 1) // 2
        px1 += (fw - up) // 2
        py0 += (fh + up - 1) // 2
        py1 += (fh - up) // 2
    if down > 1:
        px0 += (fw - down + 1) // 2
        px1 += (fw - down) // 2
        py0 += (fh - down + 1) // 2
        py1 += (fh - down) // 2
    if kw == 1 and kh == 1 and down > 1 and up == 1:
        x = upfirdn2d(x, f, down=down, padding=[px0, px1, py0, py1], flip_filter=flip_filter)
        return _conv(x, w, groups=groups, flip_weight=flip_weight)
    if kw == 1 and kh == 1 and up > 1 and down == 1:
        x = _conv(x, w, groups=groups, flip_weight=flip_weight)
        return upfirdn2d(x, f, up=up, padding=[px0, px1, py0, py1], gain=up ** 2,
                         flip_filter=flip_filter)
    if down > 1 and up == 1:
        x = upfirdn2d(x, f, padding=[px0, px1, py0, py1], flip_filter=flip_filter)
        return _conv(x, w, stride=down, groups=groups, flip_weight=flip_weight)
    if up > 1:
        # A transposed conv wants the weight as [in, out/groups, k, k].
        if groups == 1:
            w = w.transpose(0, 1)
        else:
            w = w.reshape(groups, out_channels // groups, in_per_group, kh, kw)
            w = w.transpose(1, 2).reshape(groups * in_per_group, out_channels // groups, kh, kw)
        px0 -= kw - 1
        px1 -= kw - up
        py0 -= kh - 1
        py1 -= kh - up
        pxt = max(min(-px0, -px1), 0)
        pyt = max(min(-py0, -py1), 0)
        x = _conv(x, w, stride=up, padding=[pyt, pxt], groups=groups, transpose=True,
                  flip_weight=not flip_weight)
        x = upfirdn2d(x, f, padding=[px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt], gain=up ** 2,
                      flip_filter=flip_filter)
        if down > 1:
            x = upfirdn2d(x, f, down=down, flip_filter=flip_filter)
        return x
    if px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0:
        return _conv(x, w, padding=[py0, px0], groups=groups, flip_weight=flip_weight)
    x = upfirdn2d(x, None, padding=[px0, px1, py0, py1])
    return _conv(x, w, groups=groups, flip_weight=flip_weight)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                     noise: torch.Tensor | None = None, up: int = 1, down: int = 1,
                     padding: int = 0, resample_filter: torch.Tensor | None = None,
                     demodulate: bool = True, flip_weight: bool = True,
                     fused_modconv: bool = True) -> torch.Tensor:
    """StyleGAN2 modulated convolution: per-sample styles scale the weight's input channels.

    `fused_modconv=True` folds the styles (and demodulation) into per-sample weights and runs one
    grouped convolution for the whole batch (fastest for inference); False scales activations
    instead and shares one weight (what training uses, and cheaper in memory for big batches).
    `noise` (broadcastable to the output) is added after demodulation.
    """
    batch = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    if x.dtype == torch.float16 and demodulate:
        # Pre-normalise so the fp16 products cannot overflow; demodulation undoes the scale.
        weight = weight * (1 / math.sqrt(in_channels * kh * kw)
                           / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
    dcoefs = None
    if demodulate or fused_modconv:
        w = weight.unsqueeze(0) * styles.reshape(batch, 1, -1, 1, 1)
        if demodulate:
            dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
    if not fused_modconv:
        x = x * styles.to(x.dtype).reshape(batch, -1, 1, 1)
        x = conv2d_resample(x, weight.to(x.dtype), f=resample_filter, up=up, down=down,
                            padding=padding, flip_weight=flip_weight)
        if dcoefs is not None:
            x = x * dcoefs.to(x.dtype).reshape(batch, -1, 1, 1)
        if noise is not None:
            x = x + noise.to(x.dtype)
        return x
    if dcoefs is not None:
        w = w * dcoefs.reshape(batch, -1, 1, 1, 1)
    if batch > 1:  # a reshape of a batch of one would leave odd strides that slow oneDNN
        x = x.reshape(1, -1, *x.shape[2:])
    w = w.reshape(-1, in_channels, kh, kw)
    x = conv2d_resample(x, w.to(x.dtype), f=resample_filter, up=up, down=down, padding=padding,
                        groups=batch, flip_weight=flip_weight)
    x = x.reshape(batch, -1, *x.shape[2:])
    if noise is not None:
        x = x.add_(noise.to(x.dtype)) if not _needs_grad(x) else x + noise.to(x.dtype)
    return x


def modulated_conv2d_sg3(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                         demodulate: bool = True, padding: int = 0,
                         input_gain: torch.Tensor | None = None) -> torch.Tensor:
    """StyleGAN3 modulated convolution: always fused (one grouped conv for the batch).

    Differs from StyleGAN2's by normalising weight and styles first (fp16 safety) and by an
    optional `input_gain` (the layer's running input magnitude) folded into the weights.
    """
    batch = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    if demodulate:
        weight = weight * weight.square().mean([1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean().rsqrt()
    w = weight.unsqueeze(0) * styles.reshape(batch, 1, -1, 1, 1)
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
        w = w * dcoefs.reshape(batch, -1, 1, 1, 1)
    if input_gain is not None:
        w = w * input_gain.expand(batch, in_channels).reshape(batch, 1, -1, 1, 1)
    if kh == 1 and kw == 1 and padding == 0:
        # A 1x1 conv is a batched matmul over pixels; done channels-last it needs no grouped
        # conv and hands the filtered ReLU the NHWC layout it wants.
        n, _, h, width = x.shape
        pixels = x.permute(0, 2, 3, 1).reshape(n, h * width, in_channels)
        y = torch.bmm(pixels, w.reshape(batch, out_channels, in_channels).transpose(1, 2)
                      .to(pixels.dtype))
        return y.reshape(n, h, width, out_channels).permute(0, 3, 1, 2)
    if batch > 1:  # a reshape of a batch of one would leave odd strides that slow oneDNN
        x = x.reshape(1, -1, *x.shape[2:])
    w = w.reshape(-1, in_channels, kh, kw)
    x = F.conv2d(x, w.to(x.dtype), padding=padding, groups=batch)
    return x.reshape(batch, -1, *x.shape[2:])


# ---------------------------------------------------------------------------------------------
# StyleGAN3: filtered leaky ReLU and its filters
# ---------------------------------------------------------------------------------------------

def filtered_lrelu(x: torch.Tensor, fu: torch.Tensor | None, fd: torch.Tensor | None,
                   b: torch.Tensor | None = None, up: int = 1, down: int = 1, padding=0,
                   gain: float = math.sqrt(2), slope: float = 0.2, clamp: float | None = None,
                   flip_filter: bool = False) -> torch.Tensor:
    """Alias-free nonlinearity: bias, upsample (FIR fu), leaky ReLU * gain, clamp, downsample.

    The leaky ReLU creates high frequencies; running it at `up` times the sampling rate and
    low-pass filtering before decimation keeps them from aliasing back into the image.
    """
    # Depthwise FIR convs are several times faster channels-last (NHWC) on CPU.
    x = x.contiguous(memory_format=torch.channels_last)
    if b is not None:
        x = x + b.to(x.dtype).reshape(1, -1, 1, 1)
    fresh = b is not None  # x is ours to overwrite
    # The leaky ReLU is positively homogeneous, so its gain rides along with the upsampling
    # filter's gain for free (one pass over the largest tensor fewer).
    fold_gain = gain > 0
    up_gain = up ** 2 * (gain if fold_gain else 1)
    if fu is not None or up > 1 or any(_padding4(padding)):
        x = upfirdn2d(x, fu, up=up, padding=padding, gain=up_gain, flip_filter=flip_filter)
        fresh = True
    elif up_gain != 1:
        x = x * up_gain
        fresh = True
    inplace = fresh and not _needs_grad(x)
    if slope != 1:
        x = F.leaky_relu_(x, slope) if inplace else F.leaky_relu(x, slope)
        inplace = not _needs_grad(x)
    if not fold_gain and gain != 1:
        x = x.mul_(gain) if inplace else x * gain
        inplace = not _needs_grad(x)
    if clamp is not None and clamp >= 0:
        x = x.clamp_(-clamp, clamp) if inplace else x.clamp(-clamp, clamp)
    if fd is None and down == 1:
        return x
    return upfirdn2d(x, fd, down=down, flip_filter=flip_filter)


def _kaiser_beta(numtaps: int, width: float) -> float:
    """Kaiser window beta for a transition band `width` (fraction of Nyquist), as in scipy."""
    atten = 2.285 * (numtaps - 1) * math.pi * width + 7.95
    if atten > 50:
        return 0.1102 * (atten - 8.7)
    if atten > 21:
        return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21)
    return 0.0


def design_lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float,
                          radial: bool = False) -> torch.Tensor | None:
    """Kaiser-windowed low-pass FIR (1-D separable, or 2-D radial jinc); None for one tap.

    Matches scipy's `firwin(numtaps, cutoff, width=width, fs=fs)` without needing scipy; the
    loaded checkpoint's buffers are used when present, this only builds fresh networks.
    """
    if numtaps < 1:
        raise ValueError(f"numtaps must be >= 1, got {numtaps}")
    if numtaps == 1:
        return None
    beta = _kaiser_beta(numtaps, width / (fs / 2))
    window = np.kaiser(numtaps, beta)
    m = np.arange(numtaps) - (numtaps - 1) / 2
    if not radial:
        c = cutoff / (fs / 2)
        f = c * np.sinc(c * m) * window
        return torch.as_tensor(f / f.sum(), dtype=torch.float32)
    x = m / fs
    r = np.hypot(*np.meshgrid(x, x))
    arg = torch.as_tensor(2 * cutoff * np.pi * r, dtype=torch.float64)
    j1 = torch.special.bessel_j1(arg).numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(r > 0, j1 / (np.pi * np.maximum(r, 1e-30)), cutoff)  # jinc limit at 0
    f = f * np.outer(window, window)
    return torch.as_tensor(f / f.sum(), dtype=torch.float32)
