"""The course library: models, losses, training steps, data, metrics and plots.

Model modules (each stands alone: TensorFlow, Keras and NumPy only):
    lib.gan             DCGAN, conditional GAN, WGAN-GP
    lib.vae             variational autoencoders
    lib.style_transfer  Gatys, fast (Johnson) and AdaIN style transfer
Helpers that use them:
    lib.data, lib.images, lib.training, lib.metrics, lib.plots, lib.results,
    lib.exercises, lib.runs (what the command line `python -m lib` calls)

Importing `lib` imports the model modules, which registers their Keras classes,
so `keras.saving.load_model("model.keras")` works for any model the course saved.
"""

from lib import gan  # noqa: F401  (registers course>GAN)
from lib import style_transfer  # noqa: F401  (registers the style networks' layers and models)
from lib import vae  # noqa: F401  (registers course>VAE and its sampling layer)
