"""What a patch builds before anything plays: the model and the registry of every parameter.

Place in the data flow: patch -> **scene** -> the show (and `livegan check`, `livegan osc list`,
the README's generated address table). The model is loaded here at start-up and, for a patch
edited while playing, on the reload thread (never on the show's thread).

`scene_registry` is the one place a scene's registry is put together: each owner declares its
own params (the walk, the clock, the outputs, the model's controls, the shader effects, the
sources) and this function only gathers them, so the running show and every command list the
same parameters.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from liveGAN.clock import tempo_params
from liveGAN.latent.walks import walk_params
from liveGAN.params import Param, Registry
from liveGAN.patch import ModelSpec, Patch, Problem


@dataclass
class ModelBundle:
    """A loaded generator with everything the worker needs to play it."""

    G: Any
    runtime: Any
    controls: Any
    keyframes: Any = None     # the patch's KeyframeStore (liveGAN.latent.keyframes), if any
    jobs: tuple = ()          # directions still being computed (GANSpace) for this model

    def close(self) -> None:
        """Stop this model's background work and take its bends and blends off (it is no
        longer played)."""
        for job in self.jobs:
            job.cancel()
        if self.keyframes is not None:
            self.keyframes.flush()
        close = getattr(self.controls, "close", None)
        if close is not None:
            close()

    @property
    def z_dim(self) -> int:
        return int(self.G.z_dim)

    @property
    def num_ws(self) -> int:
        return int(self.G.num_ws)


def output_params() -> list[Param]:
    """The `output/...` controls every show has (the fit mode comes with the `fit` effect)."""
    return [
        Param("output", "fade", "float", 1.0, 0.0, 1.0, 0.25, "master fade: 0 black, 1 full"),
        Param("output", "blackout", "bool", 0, 0, 1, 0, "cut to black (and back) on the next frame"),
        Param("output", "blend", "bool", 1, 0, 1, 0,
              "blend the last two generator frames when the generator is slower than the display"),
    ]


def scene_registry(num_ws: int, model_params: Iterable[Param] = (),
                   effect_params: Iterable[Param] = (),
                   source_params: Iterable[Param] = (),
                   sink_params: Iterable[Param] = ()) -> Registry:
    """Every parameter of a scene: the show's own controls, then the model's, the effects',
    what the sources publish and what the sinks can be set with (a projector's keystone)."""
    registry = Registry(walk_params(num_ws))
    registry.extend(tempo_params())
    registry.extend(output_params())
    for params in (model_params, effect_params, source_params, sink_params):
        registry.extend(params)
    return registry


def load_bundle(spec: ModelSpec, device: str | None = None,
                log: Callable[[str], None] | None = None) -> ModelBundle:
    """Load the model of `spec` on `device` (or the patch's device) with its runtime.

    `log` gets the runtime's one-line notices (a failed graph capture or compile)."""
    import torch

    from liveGAN.models import load_generator
    from liveGAN.models.controls import ModelControls
    from liveGAN.models.runtime import GeneratorRuntime, pick_device

    target = pick_device(device or spec.device)
    if target.type == "cpu":
        # One thread for the generator leaves the other core to GL rendering and encoding.
        torch.set_num_threads(1)
    if spec.preset is not None:
        from liveGAN.models.presets import build_preset

        G = build_preset(spec.preset).to(target).eval().requires_grad_(False)
    elif spec.custom is not None:
        G = load_generator(spec.path, target, custom=spec.custom_options())
    else:
        G = load_generator(spec.path, target)
    runtime = GeneratorRuntime(G, target, precision=spec.precision, graph=spec.graph,
                               compile=spec.compile, log=log)
    bundle = _with_controls(G, runtime, spec, target, log)
    # Capture CUDA graphs and compile now, on this loading thread, rather than on the first
    # live frame (a compile takes seconds to a minute; the show plays the old model meanwhile).
    # After the controls: bends live inside the captured graph.
    if target.type == "cuda" or spec.compile:
        runtime.warmup(noise_modes=(spec.noise_mode,))
    return bundle


def _with_controls(G, runtime, spec: ModelSpec, device, log) -> ModelBundle:
    """The model's live controls with the patch's latent navigation: directions (SeFa at once,
    GANSpace from the cache or in the background), style mixing, bends, a blended second model,
    and the keyframes kept beside the patch. LatentConfigError names what does not fit."""
    from liveGAN.models.controls import ModelControls

    say = log or (lambda message: None)
    store = None
    if spec.patch_path is not None:
        from liveGAN.latent.keyframes import KeyframeStore

        store = KeyframeStore.beside(spec.patch_path, say)
    sets, jobs = [], []
    if spec.directions:
        from liveGAN.latent.directions import direction_sets, model_hash, preset_hash

        identity = model_hash(spec.path) if spec.path is not None else preset_hash(spec.preset)
        base = spec.patch_path.parent if spec.patch_path is not None else "."
        sets, jobs = direction_sets(list(spec.directions), G, identity, base, say)
    try:
        other = None
        if spec.blend is not None:
            from liveGAN.models import load_generator

            other = load_generator(spec.blend, device)
        mixing = False if spec.mixing is None else (dict(spec.mixing) or True)
        controls = ModelControls(G, directions=sets, mixing=mixing, keyframes=store,
                                 bends=list(spec.bends), blend_with=other)
    except Exception:
        for job in jobs:
            job.cancel()
        raise
    return ModelBundle(G, runtime, controls, store, tuple(jobs))


def effect_params(patch: Patch) -> tuple[list[Param], list[Problem]]:
    """The params of the patch's shader stages and of the output `fit` stage, read from the
    effect files (parsed, not compiled), and a problem for each effect that can't be read."""
    from liveGAN.render.chain import FIT_EFFECT, FIT_GROUP
    from liveGAN.render.shaders import find_effect, parse_effect, search_path

    params: list[Param] = []
    problems: list[Problem] = []
    folders = search_path(patch.shader_paths)
    stages = [(f"shaders[{i}].effect", s.effect, s.name) for i, s in enumerate(patch.stages)]
    for where, effect, group in stages + [("output.fit", FIT_EFFECT, FIT_GROUP)]:
        try:
            params.extend(parse_effect(find_effect(effect, folders)).declared(group))
        except Exception as err:  # noqa: BLE001 - reported with the key, the rest goes on
            problems.append(Problem(str(patch.path), where, f"{effect!r} ({err})",
                                    "an effect found on the shader search path "
                                    "(see `livegan shaders`)"))
    return params, problems


def patch_registry(patch: Patch, bundle: ModelBundle | None = None, load_model: bool = True
                   ) -> tuple[Registry, list[Problem]]:
    """The registry a patch would play with, without starting a show (check, osc list, docs),
    and every problem found on the way: a model that does not load, an effect that is not
    there, an input that refuses its options. Nothing stops at the first one; when the model
    could not be loaded the registry's `model_missing` is True (its own params are absent)."""
    from liveGAN.show.sinks import sink_params
    from liveGAN.show.sources import source_params

    problems: list[Problem] = []
    file = str(patch.path)
    if bundle is None and load_model:
        from liveGAN.latent import LatentConfigError

        try:
            bundle = load_bundle(patch.model, "cpu")
            bundle.close()  # a check computes nothing in the background
        except LatentConfigError as err:  # a bend, a directions file... that doesn't fit
            for key, found, expected in err.problems or [("model", str(err), "")]:
                problems.append(Problem(file, key, found, expected or "what the model has"))
        except Exception as err:  # noqa: BLE001 - one problem, the rest is still checked
            problems.append(Problem(file, "model", f"a model that does not load ({err})",
                                    "a loadable model"))
    effects, effect_problems = effect_params(patch)
    problems += effect_problems
    published, source_problems = source_params(patch)
    problems += source_problems
    settable, sink_problems = sink_params(patch)
    problems += sink_problems
    registry = scene_registry(bundle.num_ws if bundle else 18,
                              bundle.controls.params() if bundle else (), effects, published,
                              settable)
    registry.model_missing = bundle is None
    return registry, problems
