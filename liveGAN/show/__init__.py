"""The show: one thread that owns GL and every parameter value, between sources and sinks.

Place in the data flow: sources -> inbox -> **show** -> sinks. Each displayed frame is
`update` (drain the inbox -> mappings -> params -> clock -> latent -> generator request, in
`control.py` and `show.py`) then `view` (upload the newest generator frame -> shader chain ->
sinks, in `view.py` and `sinks.py`). Live and offline differ only in the clock and in how the
generator frame is obtained (`frames.py`), chosen once at start. After each frame a snapshot of
values is published (`link.py`) for whoever reports state.

Modules: show (the loop and its set-up), control (events -> params), view (picture), frames
(generator), sources and sinks (plugins), scene (model and registry), reload (patch watcher),
inbox, link, mappings, options. This package's top level imports nothing, so
`liveGAN.patch` can use `liveGAN.mappings` without a cycle.
"""
