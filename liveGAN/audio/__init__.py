"""Audio analysis: samples in, named features out (level, bands, onsets, beat, chroma, ...).

Place in the data flow: audio input (a live device, or a file decoded by `decode.py`) ->
**analysis** (`features.AudioAnalyzer`, one block at a time) -> read-only `audio/...` params ->
mappings and shader uniforms. `offline.py` runs the same analyser over a whole file to give one
row of features per video frame, for `livegan render --audio` and `livegan listen --json`.

Modules: `features` (the analyser, its config and the feature list), `onset` (onset picker),
`beat` (tempo, beat phase; offline tempo and beat tracking), `shaping` (auto-gain, envelopes),
`decode` (files via PyAV, `AudioFileError`), `offline` (`analyse_file`, `summary`).
Only numpy is needed on the live path; `decode` and `offline` also use PyAV.
"""
from __future__ import annotations

from liveGAN.audio.features import AudioAnalyzer, FeatureConfig, Features
from liveGAN.audio.shaping import Shaping

__all__ = ["AudioAnalyzer", "FeatureConfig", "Features", "Shaping"]
