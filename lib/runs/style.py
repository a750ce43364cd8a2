"""Command-line runs of the style-transfer chapter: stylize, train, sample, evaluate.

`python -m lib stylize CONTENT STYLE -o OUT.png --method gatys|fast|adain`
runs `run_stylize` (its flags come from `add_stylize_arguments`): it checks the
output path and the loss weights before it loads anything, loads both images
with `lib.images.load_image` (paths, URLs or built-in names such as
"astronaut"), says which images, VGG19 weights and loss weights it uses, and
shows a progress bar.

`python -m lib train fast-style|adain --out RUN_DIR` runs `train`: it checks
the settings, loads the photographs, measures the layer balance on them
(random VGG19 weights; `lib.style_transfer.common`), then
`lib.training.prepare_run_dir` records the run and `lib.training.train` trains
it (a checkpoint every epoch; `--resume` continues). Content: random crops and
flips of scikit-image's photographs (`TRAIN_CONTENT`; "chelsea" is held out).
After each epoch the network that stylising needs is saved
(RUN_DIR/transform_network.keras or RUN_DIR/adain_decoder.keras) with a preview
RUN_DIR/samples/epoch_NNN.png.

VGG19 weights: "imagenet" (downloaded through Keras), "random" (seeded; the
offline mode), a path to a weights file, or "auto" (the default: ImageNet when
the download works, otherwise random weights, said in a printed line).

Public names: KINDS, TRAIN_CONTENT, HELD_OUT_CONTENT, ADAIN_STYLES, FAST_STYLE,
STYLIZE_DEFAULTS, resolve_weights, add_arguments, settings_for, build_model,
train, load, sample, evaluate, add_stylize_arguments, run_stylize, stylize,
check_output_path, make_crops, measure_fast_style, measure_adain.
"""

import argparse
import os
import pathlib
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from lib import images as images_module
from lib import style_transfer as st
from lib import training
from lib.style_transfer import measures

KINDS = ("fast-style", "adain")
TRAIN_CONTENT = ("astronaut", "coffee", "rocket", "camera")  # scikit-image photos, offline
HELD_OUT_CONTENT = "chelsea"  # never trained on: shows the network on a new image
FAST_STYLE = "immunohistochemistry"  # a colourful texture: the effect shows plainly
ADAIN_STYLES = ("immunohistochemistry", "brick", "gravel", "hubble_deep_field", "coffee", "rocket")
METHODS = ("gatys", "fast", "adain")
_METHOD_OF_KIND = {"fast-style": "fast", "adain": "adain"}
_NETWORK_FILE = {"fast-style": "transform_network.keras", "adain": "adain_decoder.keras"}
_REFERENCE_CROPS = 8  # training crops on which the layer balance and the decoder's feature scale are measured

# `python -m lib stylize` defaults that are not the model modules' (those come from
# st.GATYS_PRESETS and st.LOSS_WEIGHTS).
STYLIZE_DEFAULTS = {"size": 512, "optimizer": "lbfgs", "weights": "auto", "alpha": 1.0, "seed": 0}


def _training_defaults(kind):
    """The settings of a new run of `kind`, before flags: the module's "course" preset and more."""
    if kind == "fast-style":
        return {**st.FAST_PRESETS["course"], "style": FAST_STYLE, "weights": "auto", "vgg_seed": 0,
                "content_weight": None, "style_weight": None, "tv_weight": None}  # None: from LOSS_WEIGHTS
    return {**st.ADAIN_PRESETS["course"], "styles": list(ADAIN_STYLES), "weights": "auto", "vgg_seed": 0,
            "content_weight": None, "style_weight": None,
            "encoder_layer": None}  # None: st.ADAIN_ENCODER_LAYERS for the VGG19 weights


def _loss_weight(text):
    """argparse type of the loss weights: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, received {text!r}") from None
    if not 0.0 <= value < float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, received {text!r}")
    return value


def _weights_help(method, name):
    table = st.LOSS_WEIGHTS[method]
    return f"default {table['random'][name]:g} with random VGG19 weights, {table['imagenet'][name]:g} with ImageNet's"


def resolve_weights(weights="auto", seed=0, layer_names=st.STYLE_LAYERS, verbose=True):
    """Builds a VGG19 feature extractor, choosing the weights and saying which.

    Args:
        weights: "auto", "imagenet", "random" or a path to a VGG19 no-top weights file.
        seed: seed of random weights.
        layer_names: the VGG19 layers to return.
        verbose: print one line naming the weights.

    Returns:
        (extractor, used) where used is "imagenet", "random" or the path.

    Raises:
        ValueError: a bad path or weights value, or weights="imagenet" and the
            download failed (the message says to use "random" or a local file).
    """
    if weights == "auto":
        try:
            extractor, used = st.build_vgg_feature_extractor(layer_names, weights="imagenet", seed=seed), "imagenet"
        except OSError:
            if verbose:
                print("Could not download VGG19's ImageNet weights (offline?): using RANDOM weights.")
            extractor, used = st.build_vgg_feature_extractor(layer_names, weights="random", seed=seed), "random"
    else:
        try:
            extractor = st.build_vgg_feature_extractor(layer_names, weights=weights, seed=seed)
        except OSError as error:  # the download failed: a clear message, not a traceback
            raise ValueError(str(error)) from error
        used = str(weights)
    if verbose:
        print("Weights:", st.describe_vgg_weights(used, seed))
    return extractor, used


# ----------------------------------------------------------------------------
# Training: fast-style and adain
# ----------------------------------------------------------------------------

_FLAGS = {
    "style": (str, f"fast-style: the style image (path, URL or built-in name; default {FAST_STYLE})"),
    "weights": (str, "VGG19 weights: auto (ImageNet if downloadable, else random), imagenet, random or PATH"),
    "crop_size": (int, "side of the square training crops in pixels (default: the preset's)"),
    "batch_size": (int, "images per step (default: the preset's)"),
    "steps_per_epoch": (int, "steps per epoch (default: the preset's)"),
    "learning_rate": (float, "Adam learning rate (default: the preset's)"),
    "content_weight": (_loss_weight, "weight of the content loss (default: LOSS_WEIGHTS for the VGG19 weights)"),
    "style_weight": (_loss_weight, "weight of the style loss (default: LOSS_WEIGHTS for the VGG19 weights)"),
    "tv_weight": (_loss_weight, "fast-style: weight of the total variation (default: LOSS_WEIGHTS)"),
    "encoder_layer": (str, "adain: the VGG19 layer where AdaIN acts, one of " + ", ".join(st.ADAIN_LAYERS)
                      + " (default: lib/style_transfer/adain.py ENCODER_LAYERS for the VGG19 weights)"),
}


def add_arguments(parser):
    """Adds the style-transfer training flags to `python -m lib train fast-style|adain`."""
    group = parser.add_argument_group("style transfer (fast-style, adain); presets in lib/style_transfer/")
    for name, (kind, help_text) in _FLAGS.items():
        group.add_argument("--" + name.replace("_", "-"), type=kind, help=help_text)


def settings_for(kind, args=None):
    """Returns the settings of a new run of `kind`: the preset, with `args` overriding it.

    Loss weights left as None are filled in by `train` from `st.LOSS_WEIGHTS`
    once the VGG19 weights are known.

    Args:
        kind: "fast-style" or "adain".
        args: argparse Namespace or dict of settings (None values are ignored).

    Raises:
        ValueError: for an unknown kind, a setting the kind does not have, or a bad value.
    """
    if kind not in KINDS:
        raise ValueError(f"Expected a kind in {KINDS}. Received: kind={kind!r}")
    settings = _training_defaults(kind)
    given = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
    for key, value in given.items():
        if value is None:
            continue
        if key not in settings and key in {name for k in KINDS for name in _training_defaults(k)}:
            raise ValueError(f"Expected settings of {kind}. Received: {key}={value!r}, which {kind} runs do not use")
        if key in settings:
            settings[key] = value
    for key in ("crop_size", "batch_size", "steps_per_epoch", "load_size", "epochs"):
        value = settings[key]
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"Expected {key} > 0. Received: {key}={value!r}")
    if settings["crop_size"] % 8 or settings["crop_size"] < 32:
        raise ValueError(f"Expected crop_size a multiple of 8 and >= 32. Received: crop_size={settings['crop_size']}")
    if not (isinstance(settings["learning_rate"], (int, float)) and 0 < settings["learning_rate"] < 1):
        raise ValueError(f"Expected 0 < learning_rate < 1. Received: learning_rate={settings['learning_rate']!r}")
    for key in ("content_weight", "style_weight", "tv_weight"):
        if settings.get(key) is not None:
            settings[key] = st.common.check_loss_weight(key, settings[key])
    if settings.get("encoder_layer") is not None:
        st.adain_style_layers(settings["encoder_layer"])  # ValueError for a layer AdaIN cannot use
    settings["load_size"] = max(settings["load_size"], settings["crop_size"])
    settings["kind"] = kind
    return settings


def load_training_images(names, load_size):
    """Loads built-in (or any) images with their longest side `load_size`; list of (H, W, 3)."""
    return [images_module.load_image(name, max_side=load_size) for name in names]


def make_crops(pictures, count, crop_size, seed, epoch):
    """Random square crops with random horizontal flips: float32 (count, crop, crop, 3).

    The crops depend only on (seed, epoch), so a resumed run sees the same
    batches; images smaller than the crop are enlarged first.
    """
    rng = np.random.default_rng([seed, epoch])
    crops = np.empty((count, crop_size, crop_size, 3), np.float32)
    for index in range(count):
        picture = pictures[rng.integers(len(pictures))]
        height, width = picture.shape[:2]
        if min(height, width) < crop_size:
            scale = crop_size / min(height, width)
            picture = tf.image.resize(picture, (int(np.ceil(height * scale)), int(np.ceil(width * scale)))).numpy()
            height, width = picture.shape[:2]
        top, left = rng.integers(height - crop_size + 1), rng.integers(width - crop_size + 1)
        crop = picture[top: top + crop_size, left: left + crop_size]
        crops[index] = crop[:, ::-1] if rng.random() < 0.5 else crop
    return np.clip(crops, 0.0, 1.0)


def _extractor_layers(kind, settings=None):
    """The VGG19 layers a run needs (an AdaIN run whose layer is not yet known: all of ADAIN_LAYERS)."""
    if kind == "fast-style":
        return st.FAST_CONTENT_LAYERS + st.STYLE_LAYERS
    layer = (settings or {}).get("encoder_layer")
    return st.adain_style_layers(layer) if layer else st.ADAIN_LAYERS


def _encoder_layer(settings):
    """An AdaIN run's encoder layer (runs made before the setting existed used relu4_1)."""
    return settings.get("encoder_layer") or "block4_conv1"


def _complete_settings(settings, extractor, used, verbose):
    """Fills in what depends on the VGG19 weights: loss weights, layer balance, feature scale."""
    kind = settings["kind"]
    settings["weights"] = used  # what a later stylize / evaluate must rebuild
    defaults = st.loss_weights(_METHOD_OF_KIND[kind], used)
    for key in ("content_weight", "style_weight", "tv_weight"):
        if key in settings and settings[key] is None:
            settings[key] = defaults[key]
    settings["balance"] = defaults["balance"]
    if kind == "adain" and settings.get("encoder_layer") is None:
        settings["encoder_layer"] = st.adain_encoder_layer(used)
    reference = make_crops(load_training_images(TRAIN_CONTENT, settings["load_size"]), _REFERENCE_CROPS,
                           settings["crop_size"], settings["seed"], 0)
    if kind == "fast-style":
        style_image = images_module.load_image(settings["style"], max_side=settings["load_size"])
        settings["content_layer_weights"], settings["style_layer_weights"] = st.fast_style_layer_weights(
            extractor, style_image, reference, balance=settings["balance"])
    else:
        styles = make_crops(load_training_images(settings["styles"], settings["load_size"]), _REFERENCE_CROPS,
                            settings["crop_size"], settings["seed"] + 1, 0)
        layer = settings["encoder_layer"]
        settings["content_layer_weight"], settings["style_layer_weights"] = st.adain_layer_weights(
            extractor, reference, styles, balance=settings["balance"], encoder_layer=layer)
        # The encoder layer's typical size (far from 1 with random weights); the decoder divides by it.
        settings["decoder_feature_scale"] = st.adain_feature_scale(extractor, reference, layer)
    if verbose:
        weights = ", ".join(f"{key}={settings[key]:g}" for key in ("content_weight", "style_weight", "tv_weight")
                            if key in settings)
        balance = "balanced on the training photos" if settings["balance"] else "1 / n per style layer"
        print(f"Loss weights: {weights} (st.LOSS_WEIGHTS for {st.weight_source(used)} VGG19 weights unless "
              f"given); layers {balance}")
    return settings


def build_model(settings, *, seed=0, extractor=None, verbose=True):
    """Builds the compiled training model of a run (FastStyleTransfer or AdaINStyleTransfer).

    Args:
        settings: complete settings (from a run.json, or `train`'s).
        seed: seed of the network's initial weights.
        extractor: the VGG19 feature extractor (built from the settings when None).
        verbose: print which VGG19 weights are used.

    Returns:
        The compiled model, its optimizer built.
    """
    kind = settings["kind"]
    if extractor is None:
        extractor, _ = resolve_weights(settings["weights"], settings["vgg_seed"], _extractor_layers(kind, settings),
                                       verbose)
    keras.utils.set_random_seed(int(seed))
    if kind == "fast-style":
        style_image = images_module.load_image(settings["style"], max_side=settings["load_size"])
        model = st.FastStyleTransfer(
            st.build_transform_network(tuple(settings["filters"]), settings["residual_blocks"]), extractor,
            style_image, content_weight=settings["content_weight"], style_weight=settings["style_weight"],
            tv_weight=settings["tv_weight"], content_layer_weights=settings["content_layer_weights"],
            style_layer_weights=settings["style_layer_weights"])
    elif kind == "adain":
        decoder = st.build_adain_decoder(settings["decoder_width"], settings["decoder_feature_scale"],
                                         _encoder_layer(settings))
        model = st.AdaINStyleTransfer(
            extractor, decoder, content_weight=settings["content_weight"], style_weight=settings["style_weight"],
            content_layer_weight=settings["content_layer_weight"],
            style_layer_weights=settings["style_layer_weights"])
    else:
        raise ValueError(f"Expected a kind in {KINDS}. Received: kind={kind!r}")
    model.compile(optimizer=keras.optimizers.Adam(settings["learning_rate"]))
    training.build_optimizers(model)
    return model


def _network(model):
    return model.transform_network if isinstance(model, st.FastStyleTransfer) else model.decoder


def train(kind, run_dir, *, epochs=None, dataset=None, seed=0, resume=False, args=None, progress=True,
          verbose=True):
    """Trains a fast-style transformation network or an AdaIN decoder in `run_dir`.

    Args:
        kind: "fast-style" or "adain".
        run_dir: the run folder.
        epochs: total epochs (None: the preset's).
        dataset: ignored (the content images are scikit-image's photographs);
            accepted for the command line's common signature.
        seed: seed of the network's weights and of the crops.
        resume: continue from the latest checkpoint (settings come from run.json).
        args: argparse Namespace or dict of settings (style, weights, crop_size, ...).
        progress: show progress bars.
        verbose: print which images and weights are used.

    Returns:
        The history (list of per-epoch dicts).

    Raises:
        ValueError: for bad settings or a run folder that `prepare_run_dir` refuses.
    """
    run_dir = pathlib.Path(run_dir)
    if resume:
        settings = training.prepare_run_dir(run_dir, kind, None, resume=True)
    else:
        settings = settings_for(kind, args)
        settings["seed"] = int(seed)
    if epochs is not None:
        settings["epochs"] = int(epochs)
    contents = load_training_images(TRAIN_CONTENT, settings["load_size"])
    styles = load_training_images(settings["styles"], settings["load_size"]) if kind == "adain" else None
    extractor, used = resolve_weights(settings["weights"], settings["vgg_seed"], _extractor_layers(kind, settings),
                                      verbose)
    if not resume:
        settings = _complete_settings(settings, extractor, used, verbose)
        if kind == "adain" and tuple(extractor.output) != _extractor_layers(kind, settings):
            # "auto" weights: now the layer is known, VGG19 stops there (same weights, fewer layers)
            extractor = st.build_vgg_feature_extractor(_extractor_layers(kind, settings), used, settings["vgg_seed"])
        settings = training.prepare_run_dir(run_dir, kind, settings, resume=False)
    else:
        training.write_run_config(run_dir, kind, settings)  # the new epoch count
    if verbose:
        print("Content images:", ", ".join(TRAIN_CONTENT), "(scikit-image; random crops and flips)")
        print("Style:", images_module.describe_source(settings["style"]) if kind == "fast-style"
              else ", ".join(settings["styles"]))
    model = build_model(settings, seed=settings["seed"], extractor=extractor, verbose=False)
    count = settings["batch_size"] * settings["steps_per_epoch"]

    def make_dataset(epoch):
        content = make_crops(contents, count, settings["crop_size"], settings["seed"], epoch)
        if kind == "fast-style":
            data = tf.data.Dataset.from_tensor_slices(content)
        else:
            style = make_crops(styles, count, settings["crop_size"], settings["seed"] + 1, epoch)
            data = tf.data.Dataset.from_tensor_slices((content, style))
        return data.batch(settings["batch_size"], drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    preview_content = images_module.load_image(HELD_OUT_CONTENT, max_side=settings["crop_size"] * 2)
    preview_style = images_module.load_image(settings["style"] if kind == "fast-style" else settings["styles"][0],
                                             max_side=settings["crop_size"] * 2)

    def preview():
        if kind == "fast-style":
            return st.stylize_fast(model.transform_network, preview_content)
        return st.stylize_adain(model.encoder, model.decoder, preview_content, preview_style)

    def on_epoch_end(epoch, logs):
        _network(model).save(run_dir / _NETWORK_FILE[kind])
        folder = run_dir / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        images_module.save_image(np.concatenate([preview_content, preview()], axis=1), folder / f"epoch_{epoch:03d}.png")

    return training.train(model, make_dataset, epochs=settings["epochs"], run_dir=run_dir, resume=resume,
                          on_epoch_end=on_epoch_end, sample_images=lambda: preview()[None], progress=progress)


def load(run_dir, verbose=True):
    """Rebuilds a run's training model from run.json and restores its latest checkpoint.

    Returns:
        (model, run): the FastStyleTransfer or AdaINStyleTransfer, and the
        run.json dict ("kind", "config").

    Raises:
        ValueError: if RUN_DIR holds no style run or no readable checkpoint.
    """
    run = training.read_run_config(run_dir)
    if run["kind"] not in KINDS:
        raise ValueError(f"Expected a style-transfer run ({KINDS}). Received: {run_dir} holds a {run['kind']!r} run")
    model = build_model(run["config"], seed=run["config"].get("seed", 0), verbose=verbose)
    training.restore_latest(model, run_dir)
    return model, run


def _reject_options(command, options):
    if options:
        names = ", ".join("--" + name.replace("_", "-") for name in sorted(options))
        raise ValueError(f"Expected no {names} for a style run: {command} of fast-style and adain runs takes none "
                         "(--steps and --guidance are for diffusion runs, --label for conditional runs, "
                         "--num-images and --iwae-k for GAN and VAE runs)")


def sample(run_dir, n, *, seed=0, **options):
    """Stylises `n` built-in photographs (held-out first) with a trained run.

    Returns:
        float32 (n, S, S, 3) in [0, 1], S = twice the training crop size (centre crops).

    Raises:
        ValueError: for any option (style runs take none) or a bad run folder.
    """
    _reject_options("sample", options)
    model, run = load(run_dir, verbose=False)
    settings = run["config"]
    size = settings["crop_size"] * 2
    names = [HELD_OUT_CONTENT, *TRAIN_CONTENT]
    stylizer = st.AdaINStylizer(model.encoder, model.decoder) if run["kind"] == "adain" else None
    results = []
    for index in range(n):
        picture = images_module.load_image(names[index % len(names)], max_side=size)
        square = tf.image.resize_with_crop_or_pad(picture, size, size).numpy()  # centre crop
        if stylizer is None:
            results.append(st.stylize_fast(model.transform_network, square))
        else:
            style = images_module.load_image(settings["styles"][index % len(settings["styles"])], max_side=size)
            results.append(stylizer(square, style))
    return np.stack(results).astype(np.float32)


def _scores(stylise, content_name, style_name, size, judge):
    """`measures.quality_measures` of stylise(content, style) at `size` pixels (nothing timed)."""
    content = images_module.load_image(content_name, max_side=size)
    style = images_module.load_image(style_name, max_side=size)
    return measures.quality_measures(stylise(content, style), content, style, judge)


def measure_fast_style(network, *, seed=0, style=FAST_STYLE, size=256):
    """The quality of a fast-style network on the held-out photograph (chelsea), for `lib.pretrained`.

    Returns:
        dict: `measures.quality_measures` of the stylised chelsea at `size` px
        against `style`, and which images and judge (about 10 s on a 2-core CPU).
    """
    del seed  # nothing is drawn at random
    scores = _scores(lambda content, _: st.stylize_fast(network, content), HELD_OUT_CONTENT, style, size,
                     measures.build_judge())
    return {"content": HELD_OUT_CONTENT, "style": style, "size": size,
            "judge": f"random VGG19, seed {measures.JUDGE_SEED}", **scores}


def measure_adain(decoder, *, seed=0, encoder=None, styles=ADAIN_STYLES[:2], size=256):
    """The quality of an AdaIN decoder on the held-out photograph, averaged over `styles`, for `lib.pretrained`.

    The encoder is the random VGG19 (seed 0) the course's decoder was trained with, up to the layer the
    decoder inverts (`st.decoder_encoder_layer`), unless given.
    """
    del seed  # nothing is drawn at random
    encoder = encoder or st.build_vgg_feature_extractor(st.adain_style_layers(st.decoder_encoder_layer(decoder)),
                                                        weights="random", seed=0)
    stylizer = st.AdaINStylizer(encoder, decoder)
    judge = measures.build_judge()
    rows = [_scores(stylizer, HELD_OUT_CONTENT, name, size, judge) for name in styles]
    averaged = {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}
    return {"content": HELD_OUT_CONTENT, "styles": ", ".join(styles), "size": size,
            "judge": f"random VGG19, seed {measures.JUDGE_SEED}", **averaged}


def evaluate(run_dir, *, seed=0, progress=True, **options):
    """Scores a trained run on the held-out photograph (chelsea) with `measures.quality_measures`.

    Returns:
        JSON-ready dict: structure, colour progress and distance, the judge's
        losses, the milliseconds of one forward pass, and which weights and images.

    Raises:
        ValueError: for any option (style runs take none) or a bad run folder.
    """
    _reject_options("evaluate", options)
    model, run = load(run_dir, verbose=False)
    settings = run["config"]
    size = settings["crop_size"] * 2
    content = images_module.load_image(HELD_OUT_CONTENT, max_side=size)
    if run["kind"] == "fast-style":
        scores = measure_fast_style(model.transform_network, seed=seed, style=settings["style"], size=size)
        stylise = lambda: st.stylize_fast(model.transform_network, content)  # noqa: E731
    else:
        scores = measure_adain(model.decoder, seed=seed, encoder=model.encoder, styles=settings["styles"][:1],
                               size=size)
        stylizer = st.AdaINStylizer(model.encoder, model.decoder)
        style = stylizer.encode_style(images_module.load_image(settings["styles"][0], max_side=size))
        stylise = lambda: stylizer(content, style)  # noqa: E731
    stylise()  # warm up (and trace)
    started = time.perf_counter()
    stylise()
    return {"kind": run["kind"], "weights": settings["weights"], **scores,
            "forward_seconds": time.perf_counter() - started}


# ----------------------------------------------------------------------------
# python -m lib stylize
# ----------------------------------------------------------------------------


def add_stylize_arguments(parser):
    """Adds the flags of `python -m lib stylize` to `parser`; defaults from the one tables."""
    gatys_presets = st.GATYS_PRESETS
    parser.add_argument("content", help="path, http(s) URL or built-in name (e.g. astronaut)")
    parser.add_argument("style", help="path, http(s) URL or built-in name (e.g. immunohistochemistry)")
    parser.add_argument("-o", "--output", type=pathlib.Path, required=True, help="the .png or .jpg to write")
    parser.add_argument("--method", choices=METHODS, default="gatys",
                        help="gatys: optimise the image; fast / adain: a trained network (--model)")
    parser.add_argument("--size", type=int, default=STYLIZE_DEFAULTS["size"],
                        help=f"longest side in pixels (default {STYLIZE_DEFAULTS['size']})")
    parser.add_argument("--steps", type=int, help=f"gatys: iterations (default {gatys_presets['lbfgs']['steps']} "
                        f"with L-BFGS, {gatys_presets['adam']['steps']} with Adam)")
    parser.add_argument("--optimizer", choices=tuple(gatys_presets), default=STYLIZE_DEFAULTS["optimizer"],
                        help="gatys: lbfgs (SciPy's L-BFGS-B) or adam")
    parser.add_argument("--weights", default=STYLIZE_DEFAULTS["weights"],
                        help="gatys: VGG19 weights: auto (ImageNet if downloadable, else random), imagenet, "
                             "random or a weights file")
    for name, term in (("content_weight", "content"), ("style_weight", "style"), ("tv_weight", "total-variation")):
        parser.add_argument("--" + name.replace("_", "-"), type=_loss_weight,
                            help=f"gatys: weight of the {term} loss ({_weights_help('gatys', name)})")
    parser.add_argument("--model", type=pathlib.Path, help="fast / adain: the RUN_DIR of python -m lib train")
    parser.add_argument("--alpha", type=float, default=STYLIZE_DEFAULTS["alpha"],
                        help="adain: style strength in [0, 1] (default 1)")
    parser.add_argument("--preserve-colors", action="store_true", help="keep the content's colours (luminance only)")
    parser.add_argument("--seed", type=int, default=STYLIZE_DEFAULTS["seed"], help="seed of random VGG19 weights")


def check_output_path(output):
    """Raises ValueError unless an image can be written at `output` (checked by writing a temporary file).

    Refuses, before any work: a suffix other than .png/.jpg/.jpeg, an existing
    folder, an existing file that cannot be written, and a place where no file
    can be created (a read-only folder, /proc).
    """
    path = pathlib.Path(output).expanduser()
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise ValueError(f"Expected -o to end in .png, .jpg or .jpeg. Received: {output}")
    if path.is_dir():
        raise ValueError(f"Expected -o to be a file. Received: {output}, an existing folder")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"Expected -o to be a file that can be written. Received: {output} (read-only)")
    folder = path.parent if str(path.parent) else pathlib.Path(".")
    while not folder.exists():  # save_image makes missing folders: test the nearest existing one
        folder = folder.parent
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".stylize-check-"):
            pass
    except OSError as error:
        raise ValueError(f"Expected -o in a place where files can be written. Received: {output} "
                         f"({error.strerror or error})") from None


def _check_stylize_arguments(method, size, steps, alpha, model_dir, given_weights):
    if method not in METHODS:
        raise ValueError(f"Expected method in {METHODS}. Received: method={method!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 16:
        raise ValueError(f"Expected size >= 16 pixels. Received: size={size!r}")
    if steps is not None and (not isinstance(steps, int) or steps <= 0):
        raise ValueError(f"Expected steps > 0. Received: steps={steps!r}")
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"Expected alpha between 0 and 1. Received: alpha={alpha}")
    for name, value in given_weights.items():
        st.common.check_loss_weight(name, value)
    if method != "gatys":
        kind = "fast-style" if method == "fast" else "adain"
        if model_dir is None:
            raise ValueError(f"Expected --model RUN_DIR for method {method!r} (train one with "
                             f"`python -m lib train {kind} --out RUN_DIR`). Received: none")
        if given_weights:
            names = ", ".join("--" + name.replace("_", "-") for name in given_weights)
            raise ValueError(f"Expected {names} only with --method gatys: a {kind} network's loss weights were "
                             f"fixed when it was trained (python -m lib train {kind} {names.split(', ')[0]} ...)")


def stylize(content, style, output, *, method="gatys", size=STYLIZE_DEFAULTS["size"], steps=None,
            weights=STYLIZE_DEFAULTS["weights"], model_dir=None, optimizer=STYLIZE_DEFAULTS["optimizer"],
            alpha=STYLIZE_DEFAULTS["alpha"], preserve_colors=False, seed=STYLIZE_DEFAULTS["seed"],
            content_weight=None, style_weight=None, tv_weight=None, progress=True, verbose=True):
    """Stylises one image and writes it to `output` (PNG or JPEG).

    Every argument and the output path are checked before any image is loaded.

    Args:
        content: the content image: path, http(s) URL or built-in name.
        style: the style image (same forms). For method "fast" the style is the
            one the network was trained on; this argument is then only reported.
        output: where to write the result (.png, .jpg).
        method: "gatys" (optimise the image), "fast" or "adain" (a trained network in `model_dir`).
        size: the longest side of the content image in pixels.
        steps: gatys iterations (default `st.GATYS_PRESETS[optimizer]["steps"]`).
        weights: gatys VGG19 weights: "auto", "imagenet", "random" or a path.
        model_dir: the RUN_DIR of `python -m lib train fast-style|adain`.
        optimizer: gatys: "lbfgs" or "adam".
        alpha: adain style strength in [0, 1].
        preserve_colors: keep the content image's colours (luminance-only transfer).
        seed: seed of random VGG19 weights.
        content_weight, style_weight, tv_weight: gatys loss weights (None:
            `st.loss_weights("gatys", weights)`).
        progress: show a progress bar (gatys).
        verbose: print which images, weights and loss weights are used.

    Returns:
        dict with "output", "method", "weights", "seconds", the image's shape, and
        for gatys the loss weights, "final_loss", "steps", "evaluations".

    Raises:
        ValueError: for a bad argument, an output that cannot be written, or an
            image that cannot be used (from `lib.images.load_image`).
    """
    given = {name: value for name, value in (("content_weight", content_weight), ("style_weight", style_weight),
                                             ("tv_weight", tv_weight)) if value is not None}
    _check_stylize_arguments(method, size, steps, alpha, model_dir, given)
    check_output_path(output)
    content_image = images_module.load_image(content, max_side=size)
    if verbose:
        print("Content:", images_module.describe_source(content), f"-> {content_image.shape[1]}x{content_image.shape[0]}")
    started = time.perf_counter()
    if method == "gatys":
        style_image = images_module.load_image(style, max_side=size)
        if verbose:
            print("Style:", images_module.describe_source(style), f"-> {style_image.shape[1]}x{style_image.shape[0]}")
        steps = st.GATYS_PRESETS[optimizer]["steps"] if steps is None else steps
        extractor, used = resolve_weights(weights, seed, st.CONTENT_LAYERS + st.STYLE_LAYERS, verbose)
        loss_weights = {**st.loss_weights("gatys", used), **given}
        if verbose:
            print("Loss weights: " + ", ".join(
                f"{name}={loss_weights[name]:g} ({'given' if name in given else 'default'})"
                for name in ("content_weight", "style_weight", "tv_weight"))
                + f"; style layers {'balanced on the content image' if loss_weights['balance'] else 'equal'} "
                f"(defaults for {st.weight_source(used)} VGG19 weights: lib/style_transfer/common.py LOSS_WEIGHTS)")
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps, desc=f"gatys ({optimizer})")

        def callback(step, image, entry):
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{entry['loss']:.4g}")

        result, history = st.stylize_gatys(content_image, style_image, extractor=extractor, steps=steps,
                                           optimizer=optimizer, callback=callback, **loss_weights)
        if bar is not None:
            bar.close()
        extra = {"final_loss": history[-1]["loss"], "steps": len(history) - 1, "optimizer": optimizer,
                 "evaluations": history[-1]["evaluations"],
                 **{name: loss_weights[name] for name in ("content_weight", "style_weight", "tv_weight")}}
    else:
        model, run = load(model_dir, verbose)
        kind, settings = run["kind"], run["config"]
        used = settings["weights"]
        if kind != ("fast-style" if method == "fast" else "adain"):
            raise ValueError(f"Expected a {'fast-style' if method == 'fast' else 'adain'} run for --method "
                             f"{method}. Received: {model_dir} is {kind!r}")
        if method == "fast":
            if verbose:
                print(f"Style: the network's own ({settings['style']}); the STYLE argument {style!r} is not used.")
            result = st.stylize_fast(model.transform_network, content_image)
        else:
            style_image = images_module.load_image(style, max_side=size)
            if verbose:
                print("Style:", images_module.describe_source(style))
            result = st.stylize_adain(model.encoder, model.decoder, content_image, style_image, alpha=alpha)
        extra = {"model_dir": str(model_dir)}
    if preserve_colors:
        result = st.keep_content_colors(result, content_image)
    seconds = time.perf_counter() - started
    path = images_module.save_image(result, output)
    if verbose:
        print(f"Wrote {path} ({result.shape[1]}x{result.shape[0]}) in {seconds:.1f} s")
    return {"output": str(path), "method": method, "weights": used, "seconds": seconds,
            "height": int(result.shape[0]), "width": int(result.shape[1]), **extra}


def run_stylize(args):
    """Runs `python -m lib stylize` from its parsed flags; returns the exit status.

    Raises:
        ValueError: for bad input (the command line turns it into a usage error).
    """
    stylize(args.content, args.style, args.output, method=args.method, size=args.size, steps=args.steps,
            weights=args.weights, model_dir=args.model, optimizer=args.optimizer, alpha=args.alpha,
            preserve_colors=args.preserve_colors, seed=args.seed, content_weight=args.content_weight,
            style_weight=args.style_weight, tv_weight=args.tv_weight)
    return 0
