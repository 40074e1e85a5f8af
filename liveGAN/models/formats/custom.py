"""Loading any PyTorch generator: the user's own class, weights read as data.

Place in the data flow: patch `[model] custom = "module:callable"` + weights file -> **custom**
-> `networks/custom.py`'s wrapper -> runtime.

The user's module is imported because the patch names it (their own code), from the folders the
patch makes importable (its own folder and `[model] python_path`). The weights file is only read
as data: safetensors, or `torch.load(weights_only=True)`. Inside a training checkpoint the
generator's state dict is found without glue code: `weights_key` names it (a key, a/b path, or
the prefix of flat names); without it, the one dict of tensors whose names fit the network is
taken (the DCGAN tutorial's `{"netG": ..., "netD": ...}` finds netG), and an ambiguous file gets
an error that lists what it holds.

`livegan convert` writes a custom model in the native format: the network's own state dict plus
a `custom` record (factory, z_dim, z_shape, output_range) in the metadata. That record never
chooses which code runs: loading the file still needs the patch to name the same factory.
"""
from __future__ import annotations

import importlib
import json
import math
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from liveGAN.models import ModelLoadError
from liveGAN.models.networks.custom import CustomGenerator, first_layer_z_shape

# The native header names custom models by this architecture; they rebuild only through a factory
# the user names, never from the file.
CUSTOM_ARCHITECTURE = "custom"
# Prefixes that wrappers add to every weight name: DataParallel/DDP and torch.compile.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


# ---- the user's code --------------------------------------------------------------------------

def add_import_paths(python_path: Sequence[Any]) -> list[str]:
    """Put each folder of `python_path` at the front of `sys.path` (once); returns them as str.

    They stay there: a user's module may import its siblings lazily, during its forward pass.
    """
    folders = [str(Path(p).expanduser().resolve()) for p in python_path or ()]
    for folder in reversed(folders):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    return folders


def _factory(spec: str, path: Path, folders: list[str]):
    module_name, _, attr = (spec or "").partition(":")
    if not module_name or not attr:
        raise ModelLoadError(f"{path}: custom factory {spec!r} must be 'module:callable'")
    try:
        target = importlib.import_module(module_name)
    except ImportError as err:
        where = (f"; looked beside the patch and in python_path ({', '.join(folders)})"
                 if folders else "")
        raise ModelLoadError(f"{path}: cannot import custom factory module {module_name!r} "
                             f"({err}){where}; put {module_name.split('.')[0]}.py beside the "
                             f"patch or name its folder in [model] python_path") from None
    except Exception as err:  # the user's module failed while importing
        raise ModelLoadError(f"{path}: importing {module_name!r} failed: "
                             f"{type(err).__name__}: {err}") from None
    try:
        for part in attr.split("."):
            target = getattr(target, part)
    except AttributeError:
        raise ModelLoadError(f"{path}: module {module_name!r} has no {attr!r}") from None
    if not callable(target):
        raise ModelLoadError(f"{path}: custom factory {spec!r} is not callable")
    return target


def _build(factory: str, path: Path, folders: list[str]) -> nn.Module:
    make = _factory(factory, path, folders)
    try:
        net = make()
    except Exception as err:
        raise ModelLoadError(f"{path}: custom factory {factory} failed: "
                             f"{type(err).__name__}: {err}") from None
    if not isinstance(net, nn.Module):
        raise ModelLoadError(f"{path}: custom factory {factory} returned a "
                             f"{type(net).__name__}, not a torch.nn.Module")
    return net


# ---- the weights --------------------------------------------------------------------------

def read_custom_header(path) -> dict | None:
    """The `custom` record of a native file written by `livegan convert`, or None for any other
    file (including a plain safetensors state dict)."""
    from liveGAN.models.formats.common import sniff_format
    from liveGAN.models.formats.native import METADATA_KEY

    path = Path(path)
    if sniff_format(path) != "native":
        return None
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as err:
        raise ModelLoadError(f"{path}: damaged or truncated .safetensors file ({err})") from None
    try:
        header = json.loads(meta.get(METADATA_KEY, "{}"))
    except ValueError:
        return None
    if not isinstance(header, dict) or header.get("architecture") != CUSTOM_ARCHITECTURE:
        return None
    record = header.get("custom")
    if not isinstance(record, dict) or not isinstance(record.get("factory"), str):
        raise ModelLoadError(f"{path}: a custom model whose metadata has no 'custom.factory'")
    return record


def refuse_unnamed_custom(path) -> None:
    """Raise the message for a converted custom model loaded without `custom=`: the file holds
    no code, so the patch must name the factory (the file names which one)."""
    record = read_custom_header(path)
    if record is not None:
        raise ModelLoadError(
            f"{path}: a custom generator (converted from {record['factory']}); the file holds "
            f"only its weights, so the patch must name its code: add [model] custom = "
            f"\"{record['factory']}\" (and python_path if its module is not beside the patch)")


def _read_file(path: Path):
    from liveGAN.models.formats.common import sniff_format

    kind = sniff_format(path)
    if kind == "native":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as err:
            raise ModelLoadError(f"{path}: cannot read the tensors ({err})") from None
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelLoadError(f"{path}: not a weights-only PyTorch checkpoint ({first}); save "
                             f"the generator's state_dict() rather than the module") from None


def _is_tensor_dict(obj) -> bool:
    return (isinstance(obj, Mapping) and len(obj) > 0
            and all(isinstance(k, str) for k in obj)
            and all(isinstance(v, torch.Tensor) for v in obj.values()))


def _tensor_dicts(obj, trail: str = "", depth: int = 0) -> list[tuple[str, Mapping]]:
    """(path, dict) of every dict of named tensors inside a checkpoint, a few levels deep.

    Only dicts with string keys are entered: an optimizer's `state` (keyed by parameter index)
    holds no network weights.
    """
    if _is_tensor_dict(obj):
        return [(trail, obj)]
    found: list[tuple[str, Mapping]] = []
    if depth >= 4:
        return found
    if isinstance(obj, Mapping) and all(isinstance(k, str) for k in obj):
        for key, value in obj.items():
            found += _tensor_dicts(value, f"{trail}/{key}" if trail else key, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            found += _tensor_dicts(value, f"{trail}/{i}" if trail else str(i), depth + 1)
    return found


def _fitted(state: Mapping, wanted: set[str]) -> dict | None:
    """`state` renamed to fit `wanted` (as is, or without a wrapper's prefix), or None."""
    if set(state) == wanted:
        return dict(state)
    for prefix in _WRAPPER_PREFIXES:
        if all(k.startswith(prefix) for k in state):
            stripped = {k[len(prefix):]: v for k, v in state.items()}
            if set(stripped) == wanted:
                return stripped
    return None


def _describe(trail: str, state: Mapping) -> str:
    names = list(state)
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return f"'{trail or '(top level)'}' ({len(names)} tensors: {shown})"


def _keys_of(obj) -> str:
    if isinstance(obj, Mapping):
        keys = [str(k) for k in obj]
        return ", ".join(keys[:12]) + (" ..." if len(keys) > 12 else "") if keys else "none"
    return f"none (a {type(obj).__name__})"


def _select(data, weights_key: str, path: Path):
    """The part of a checkpoint that `weights_key` names: a key, an a/b path, or a name prefix."""
    if isinstance(data, Mapping) and weights_key in data:
        return data[weights_key]
    node = data
    for part in weights_key.split("/"):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            node = None
            break
    if node is not None:
        return node
    if _is_tensor_dict(data):   # a flat file (safetensors): the key is a prefix of the names
        prefix = weights_key.rstrip(".") + "."
        chosen = {k[len(prefix):]: v for k, v in data.items() if k.startswith(prefix)}
        if chosen:
            return chosen
    raise ModelLoadError(f"{path}: weights_key {weights_key!r} not found; the checkpoint's keys: "
                         f"{_keys_of(data)}")


def find_state_dict(data, path: Path, net: nn.Module, weights_key: str | None = None) -> dict:
    """The generator's state dict inside the loaded checkpoint `data`, renamed to fit `net` when
    only a wrapper's prefix differs. ModelLoadError (naming the file and what it holds) when it
    cannot be told which dict to take."""
    wanted = set(net.state_dict())
    if weights_key:
        chosen = _select(data, weights_key, path)
        if not _is_tensor_dict(chosen):
            raise ModelLoadError(f"{path}: weights_key {weights_key!r} holds no dict of tensors; "
                                 f"its keys: {_keys_of(chosen)}")
        return _fitted(chosen, wanted) or dict(chosen)
    candidates = _tensor_dicts(data)
    if not candidates:
        raise ModelLoadError(f"{path}: no state dict (names -> tensors) inside; the checkpoint's "
                             f"keys: {_keys_of(data)}")
    if len(candidates) == 1:
        state = candidates[0][1]
        return _fitted(state, wanted) or dict(state)
    fitting = [(trail, fitted) for trail, state in candidates
               if (fitted := _fitted(state, wanted)) is not None]
    if len(fitting) == 1:
        return fitting[0][1]
    listing = "; ".join(_describe(trail, state) for trail, state in candidates[:6])
    why = "several fit the network" if fitting else "none fits the network's weight names"
    raise ModelLoadError(f"{path}: {len(candidates)} state dicts inside and {why}: {listing}; "
                         f"name the generator's with [model] weights_key")


# ---- z and the whole load ----------------------------------------------------------------------

def _z_shapes(net: nn.Module, z_dim: int | None, z_shape, path: Path, factory: str):
    """(z_dim, the z shapes worth trying in order, a hint about the first layer)."""
    if z_shape is not None:
        try:
            shape = tuple(int(s) for s in z_shape)
        except (TypeError, ValueError):
            raise ModelLoadError(f"{path}: z_shape must be a list of sizes, got {z_shape!r}") \
                from None
        if not shape or min(shape) < 1:
            raise ModelLoadError(f"{path}: z_shape must be a list of positive sizes, got "
                                 f"{list(shape)}")
        if z_dim is not None and int(z_dim) != math.prod(shape):
            raise ModelLoadError(f"{path}: z_dim {z_dim} does not match z_shape {list(shape)} "
                                 f"({math.prod(shape)} numbers)")
        return math.prod(shape), [shape], ""
    layer = first_layer_z_shape(net)
    hint = ""
    if layer is not None:
        name, kind, shape = layer
        hint = (f"; its first layer '{name}' ({kind}) takes z as [N, "
                f"{', '.join(str(s) for s in shape)}]")
    if z_dim is None or int(z_dim) < 1:
        raise ModelLoadError(f"{path}: a custom generator needs its z size (model.z_dim, or "
                             f"model.z_shape){hint}")
    z_dim = int(z_dim)
    shapes = [layer[2]] if layer is not None and math.prod(layer[2]) == z_dim else []
    if (z_dim,) not in shapes:
        shapes.append((z_dim,))
    return z_dim, shapes, hint


def load_custom(path, device: Any = "cpu", *, factory: str | None, z_dim: int | None,
                output_range: Sequence[float] | None = None, weights_key: str | None = None,
                z_shape: Sequence[int] | None = None,
                python_path: Sequence[Any] = ()) -> CustomGenerator:
    """Build `factory()`, load the weights at `path` into it, and wrap it (eval, no grads).

    - `python_path`: folders made importable first (the patch's folder, then its python_path);
    - `weights_key`: which state dict of a checkpoint to take (see `find_state_dict`);
    - `z_shape`: the shape of one z as the network takes it (e.g. [100, 1, 1]); without it, the
      shape the first layer implies (a transposed conv: [z_dim, 1, 1]) if it holds z_dim
      numbers, else [z_dim]; z_dim may be left out when z_shape is given;
    - `output_range`: the range of the network's output (default: recorded, else [-1, 1]).
    A native file written by `livegan convert` supplies its recorded z_dim, z_shape and
    output_range when these are not given, and must be loaded with the factory it records.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such weights file")
    record = read_custom_header(path)
    if record is not None:
        if factory and factory != record["factory"]:
            raise ModelLoadError(f"{path}: converted from custom factory {record['factory']}, "
                                 f"but the patch names {factory}: set [model] custom = "
                                 f"\"{record['factory']}\"")
        z_dim = z_dim if z_dim is not None else record.get("z_dim")
        z_shape = z_shape if z_shape is not None else record.get("z_shape")
        output_range = output_range if output_range is not None else record.get("output_range")
    if not factory:
        raise ModelLoadError(f"{path}: a custom generator needs its factory (model.custom = "
                             f"\"module:callable\")")
    output_range = tuple(output_range) if output_range is not None else (-1.0, 1.0)
    folders = add_import_paths(python_path)
    net = _build(factory, path, folders)
    z_dim, shapes, hint = _z_shapes(net, z_dim, z_shape, path, factory)

    state = find_state_dict(_read_file(path), path, net, weights_key)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        raise ModelLoadError(f"{path}: weights do not fit {factory} "
                             f"({' '.join(s.strip() for s in first[:3])})") from None
    net.eval()
    errors = []
    for shape in shapes:
        try:
            G = CustomGenerator(net, z_dim, output_range, shape)
            break
        except (ValueError, RuntimeError, TypeError) as err:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            errors.append(f"as {[int(s) for s in shape]}: {first}")
    else:
        raise ModelLoadError(f"{path}: {factory} with z_dim {z_dim} cannot be called with z "
                             f"{'; '.join(errors)}{hint}; set model.z_dim / model.z_shape")
    G.source_format = "custom"
    G.architecture = f"custom:{factory}"
    G.custom_options = {"factory": factory, "z_dim": z_dim, "z_shape": list(G.z_shape),
                        "output_range": list(G.output_range)}
    from liveGAN.models.formats.common import to_device

    return to_device(G, device, path)


def save_custom_native(path, G: CustomGenerator, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write a loaded custom generator to `path` (.safetensors) atomically: the network's own
    state dict (its own weight names) and a `custom` record of how to call it."""
    from safetensors.torch import save_file

    from liveGAN.files import atomic_path
    from liveGAN.models.formats.native import FORMAT_VERSION, METADATA_KEY

    options = getattr(G, "custom_options", None)
    if not options:
        raise ValueError("not a custom generator loaded by load_custom")
    header = dict(metadata or {})
    header.update(format=FORMAT_VERSION, architecture=CUSTOM_ARCHITECTURE, init_kwargs={},
                  num_ws=1, custom=dict(options), img_size=list(G.img_size),
                  img_channels=int(G.img_channels))
    tensors = {k: t.detach().to("cpu").contiguous().clone() for k, t in G.net.state_dict().items()}
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(header, sort_keys=True)})
    return path
