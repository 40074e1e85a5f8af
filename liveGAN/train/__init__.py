"""Training: `livegan train` turns a folder of images into a playable model.

Place in the data flow: image folder -> data (cache) -> loop (G, D, augment, loss, EMA) ->
checkpoints, metrics, samples -> RUN/model.safetensors + RUN/patch.toml. Modules: data, augment,
loss, discriminator, metrics, plots, checkpoint, loop, procedural (the generator of
the default model's data set); the command is `commands/train.py`. Importing this package
imports nothing heavy.
"""
