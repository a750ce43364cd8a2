"""The course library: models, losses, training steps, data, metrics and plots.

Model modules (each stands alone: TensorFlow, Keras and NumPy only; copy one
into another project and it works):
    lib.gan             DCGAN, conditional GAN, WGAN-GP
    lib.vae             variational autoencoders
    lib.style_transfer  Gatys, fast (Johnson) and AdaIN style transfer (a shared
                        file and one file per method)
    lib.diffusion       DDPM training, DDPM and DDIM sampling
Helpers that use them:
    lib.data, lib.images, lib.training, lib.metrics, lib.plots, lib.results,
    lib.mode, lib.pretrained, lib.exercises, lib.runs (what `python -m lib` calls)

docs/library.md describes the design they share. Importing `lib` imports
nothing else, so `from lib import exercises` stays quick; import a model module
(or `lib.pretrained`, which imports them all) before `keras.saving.load_model`
so that Keras knows the course's registered classes.
"""
