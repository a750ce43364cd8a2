"""Command-line runs of the style-transfer chapter: stylize, train, sample, evaluate.

`python -m lib stylize CONTENT STYLE -o OUT.png --method gatys|fast|adain` calls
`stylize` here: it loads both images with `lib.images.load_image` (paths, URLs or
built-in names such as "astronaut" and "brick"; bad files give a clear
`ValueError`), says which images and which VGG19 weights it uses, and shows a
progress bar.

`python -m lib train fast-style|adain --out RUN_DIR` calls `train` here: it
writes RUN_DIR/run.json first, then trains with `lib.training.train` (a
checkpoint every epoch; `--resume` continues) on random crops and flips of
scikit-image's photographs (astronaut, coffee, rocket, camera; "chelsea" is
held out) and, after each epoch, saves the network to load for `stylize`
(RUN_DIR/transform_network.keras or RUN_DIR/adain_decoder.keras) and a preview
RUN_DIR/samples/epoch_NNN.png.

VGG19 weights: "imagenet" (downloaded through Keras), "random" (seeded; the
offline mode), a path to a weights file, or "auto" (the default: ImageNet when
the download works, otherwise random weights with a printed line).

Public names: KINDS, DEFAULTS, TRAIN_CONTENT, HELD_OUT_CONTENT, ADAIN_STYLES,
JUDGE_SEED, resolve_weights, add_arguments, settings_for, load_training_images,
make_crops, build_model, load, stylize, train, sample, evaluate, quality_measures.
"""

import argparse
import json
import pathlib
import time

import keras
import numpy as np
import tensorflow as tf

from lib import images as images_module
from lib import style_transfer as st
from lib import training

KINDS = ("fast-style", "adain")
TRAIN_CONTENT = ("astronaut", "coffee", "rocket", "camera")  # scikit-image photos, offline
HELD_OUT_CONTENT = "chelsea"  # never trained on: shows the network on a new image
ADAIN_STYLES = ("brick", "grass", "gravel", "hubble_deep_field", "coffee", "rocket")
JUDGE_SEED = 12345  # the seed of the random VGG19 that scores results (never optimised against)

# Every setting of a run; `python -m lib train` flags and keyword overrides change them.
DEFAULTS = {
    "fast-style": dict(style="hubble_deep_field", weights="auto", vgg_seed=0, crop_size=128,
                       load_size=256, batch_size=4, steps_per_epoch=50, epochs=20,
                       learning_rate=1e-3, content_weight=1.0, style_weight=5e-6, tv_weight=1.0,
                       filters=[16, 32, 64], residual_blocks=5),
    "adain": dict(styles=list(ADAIN_STYLES), weights="auto", vgg_seed=0, crop_size=128,
                  load_size=256, batch_size=4, steps_per_epoch=50, epochs=20,
                  learning_rate=1e-4, style_weight=1.0, decoder_width=0.5,
                  decoder_feature_scale=None),  # None: measured on the training photos, then recorded
}
_FLAGS = {
    "style": (str, "fast-style: the style image (path, URL or built-in name; default hubble_deep_field)"),
    "weights": (str, "VGG19 weights: auto (ImageNet if downloadable, else random), imagenet, random or PATH"),
    "crop_size": (int, "side of the square training crops in pixels (128)"),
    "batch_size": (int, "images per step (4)"),
    "steps_per_epoch": (int, "steps per epoch (50)"),
    "learning_rate": (float, "Adam learning rate (fast-style 1e-3, adain 1e-4)"),
    "style_weight": (float, "weight of the style loss (fast-style 5e-6, adain 1; for random VGG19 weights)"),
}


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
            extractor = st.build_vgg_feature_extractor(layer_names, weights="imagenet", seed=seed)
            used = "imagenet"
        except OSError:
            if verbose:
                print("Could not download VGG19's ImageNet weights (offline?): using RANDOM weights.")
            extractor = st.build_vgg_feature_extractor(layer_names, weights="random", seed=seed)
            used = "random"
    else:
        try:
            extractor = st.build_vgg_feature_extractor(layer_names, weights=weights, seed=seed)
        except OSError as error:  # the download failed: a clear message, not a traceback
            raise ValueError(str(error)) from error
        used = str(weights)
    if verbose:
        print("Weights:", st.describe_vgg_weights(used, seed))
    return extractor, used


def add_arguments(parser):
    """Adds the style-transfer flags to `python -m lib train` (skips flags another chapter added)."""
    group = parser.add_argument_group("style transfer (fast-style, adain)")
    existing = set(getattr(parser, "_option_string_actions", {}))
    for name, (kind, help_text) in _FLAGS.items():
        flag = "--" + name.replace("_", "-")
        if flag not in existing:
            group.add_argument(flag, type=kind, help=help_text)


def _overrides(args, kind):
    if args is None:
        return {}
    values = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    return {key: value for key, value in values.items() if key in DEFAULTS[kind] and value is not None}


def settings_for(kind, args=None):
    """Returns the full settings dict of a run of `kind`, with `args` overriding the defaults.

    Raises:
        ValueError: for an unknown kind or a bad value.
    """
    if kind not in KINDS:
        raise ValueError(f"Expected a kind in {KINDS}. Received: kind={kind!r}")
    settings = {**DEFAULTS[kind], **_overrides(args, kind)}
    for key in ("crop_size", "batch_size", "steps_per_epoch", "load_size"):
        if not isinstance(settings[key], int) or settings[key] <= 0:
            raise ValueError(f"Expected {key} > 0. Received: {key}={settings[key]!r}")
    if settings["crop_size"] % 8 or settings["crop_size"] < 32:
        raise ValueError(f"Expected crop_size a multiple of 8 and >= 32. Received: crop_size={settings['crop_size']}")
    settings["load_size"] = max(settings["load_size"], settings["crop_size"])
    return settings


def load_training_images(names, load_size):
    """Loads built-in (or any) images with their longest side `load_size`; list of (H, W, 3)."""
    return [images_module.load_image(name, max_side=load_size) for name in names]


def make_crops(pictures, count, crop_size, seed, epoch):
    """Random square crops with random horizontal flips: float32 (count, crop, crop, 3).

    The crops depend only on (seed, epoch), so a resumed run sees the same batches.
    Images smaller than the crop are enlarged first.
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
        top = rng.integers(height - crop_size + 1)
        left = rng.integers(width - crop_size + 1)
        crop = picture[top: top + crop_size, left: left + crop_size]
        crops[index] = crop[:, ::-1] if rng.random() < 0.5 else crop
    return np.clip(crops, 0.0, 1.0)


def build_model(kind, settings, verbose=True):
    """Builds and compiles the training model of a run (FastStyleTransfer or AdaINStyleTransfer).

    Returns:
        (model, weights_used)
    """
    if kind == "fast-style":
        extractor, used = resolve_weights(settings["weights"], settings["vgg_seed"],
                                          st.FAST_CONTENT_LAYERS + st.STYLE_LAYERS, verbose)
        style_image = images_module.load_image(settings["style"], max_side=settings["load_size"])
        network = st.build_transform_network(tuple(settings["filters"]), settings["residual_blocks"])
        model = st.FastStyleTransfer(
            network, extractor, style_image, content_weight=settings["content_weight"],
            style_weight=settings["style_weight"], tv_weight=settings["tv_weight"])
    elif kind == "adain":
        extractor, used = resolve_weights(settings["weights"], settings["vgg_seed"], st.ADAIN_LAYERS, verbose)
        if settings.get("decoder_feature_scale") is None:
            # The std of relu4_1 features on crops like the training ones (about 80 for random
            # weights); the decoder divides by it, which trains far faster (st.adain_feature_scale).
            crops = make_crops(load_training_images(TRAIN_CONTENT, settings["load_size"]), 8,
                               settings["crop_size"], settings["seed"], 0)
            settings["decoder_feature_scale"] = st.adain_feature_scale(extractor, crops)
            if verbose:
                print(f"Decoder input divided by {settings['decoder_feature_scale']:.4g} "
                      "(the std of the encoder's relu4_1 features on the training photos)")
        decoder = st.build_adain_decoder(settings["decoder_width"], settings["decoder_feature_scale"])
        model = st.AdaINStyleTransfer(extractor, decoder, style_weight=settings["style_weight"])
    else:
        raise ValueError(f"Expected a kind in {KINDS}. Received: kind={kind!r}")
    model.compile(optimizer=keras.optimizers.Adam(settings["learning_rate"]))
    return model, used


def _network_file(kind):
    return "transform_network.keras" if kind == "fast-style" else "adain_decoder.keras"


def train(kind, run_dir, *, epochs=None, dataset=None, seed=0, resume=False, args=None, progress=True,
          verbose=True):
    """Trains a fast-style transformation network or an AdaIN decoder in `run_dir`.

    Args:
        kind: "fast-style" or "adain".
        run_dir: the run folder.
        epochs: total epochs (None: the default, 20).
        dataset: ignored (the content images are scikit-image's photos); accepted
            for the CLI's common signature.
        seed: seed of the weights and the crops.
        resume: continue from the latest checkpoint (settings come from run.json).
        args: argparse Namespace or dict of settings (style, weights, crop_size, ...).
        progress: show progress bars.
        verbose: print which images and weights are used.

    Returns:
        The history (list of per-epoch dicts).
    """
    run_dir = pathlib.Path(run_dir)
    if resume:
        run = training.read_run_config(run_dir)
        kind, settings = run["kind"], run["config"]
        if kind == "adain":
            settings.setdefault("decoder_feature_scale", 1.0)  # runs made before the scale: undivided
    else:
        settings = settings_for(kind, args)
        settings["seed"] = int(seed)
    if epochs is not None:
        settings["epochs"] = int(epochs)
    training.set_seed(settings["seed"])
    model, used = build_model(kind, settings, verbose)
    settings["weights"] = used  # what a later stylize/evaluate must rebuild
    settings["content_images"] = list(TRAIN_CONTENT)
    training.write_run_config(run_dir, kind, settings)  # first, so stylize/evaluate can rebuild
    if verbose:
        print("Content images:", ", ".join(TRAIN_CONTENT), "(scikit-image; random crops and flips)")
        if kind == "fast-style":
            print("Style image:", images_module.describe_source(settings["style"]))
        else:
            print("Style images:", ", ".join(settings["styles"]))
    contents = load_training_images(TRAIN_CONTENT, settings["load_size"])
    styles = load_training_images(settings["styles"], settings["load_size"]) if kind == "adain" else None
    count = settings["batch_size"] * settings["steps_per_epoch"]

    def make_dataset(epoch):
        content = make_crops(contents, count, settings["crop_size"], settings["seed"], epoch)
        if kind == "fast-style":
            data = tf.data.Dataset.from_tensor_slices(content)
        else:
            style = make_crops(styles, count, settings["crop_size"], settings["seed"] + 1, epoch)
            data = tf.data.Dataset.from_tensor_slices((content, style))
        return data.batch(settings["batch_size"], drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    network = model.transform_network if kind == "fast-style" else model.decoder

    def on_epoch_end(epoch, logs):
        network.save(run_dir / _network_file(kind))
        _save_preview(model, kind, run_dir, epoch, settings)

    return training.train(model, make_dataset, epochs=settings["epochs"], run_dir=run_dir, resume=resume,
                          on_epoch_end=on_epoch_end, progress=progress)


def _save_preview(model, kind, run_dir, epoch, settings):
    """Writes RUN_DIR/samples/epoch_NNN.png: the held-out photo, stylised."""
    content = images_module.load_image(HELD_OUT_CONTENT, max_side=settings["crop_size"] * 2)
    if kind == "fast-style":
        result = st.stylize_fast(model.transform_network, content)
    else:
        style = images_module.load_image(settings["styles"][0], max_side=settings["crop_size"] * 2)
        result = st.stylize_adain(model.encoder, model.decoder, content, style)
    folder = pathlib.Path(run_dir) / "samples"
    folder.mkdir(parents=True, exist_ok=True)
    images_module.save_image(np.concatenate([content, result], axis=1), folder / f"epoch_{epoch:03d}.png")


def load(run_dir, verbose=True):
    """Loads a trained run's network and the VGG19 it was trained with.

    Returns:
        (kind, settings, network, extractor): network is the transformation
        network (fast-style) or the AdaIN decoder; extractor is the VGG19 feature
        extractor of the run (the AdaIN encoder for adain).

    Raises:
        ValueError: if RUN_DIR has no run.json or no saved network.
    """
    run = training.read_run_config(run_dir)
    kind, settings = run["kind"], run["config"]
    if kind not in KINDS:
        raise ValueError(f"Expected a style-transfer run ({KINDS}). Received: {run_dir} holds a {kind!r} run")
    path = pathlib.Path(run_dir) / _network_file(kind)
    if not path.is_file():
        raise ValueError(f"Expected a trained network in {path}. Received: no such file (did an epoch finish?)")
    network = keras.saving.load_model(path)
    layers = st.FAST_CONTENT_LAYERS + st.STYLE_LAYERS if kind == "fast-style" else st.ADAIN_LAYERS
    extractor, _ = resolve_weights(settings["weights"], settings["vgg_seed"], layers, verbose)
    return kind, settings, network, extractor


def stylize(content, style, output, *, method="gatys", size=512, steps=None, weights="auto", model_dir=None,
            optimizer="lbfgs", alpha=1.0, preserve_colors=False, seed=0, progress=True, verbose=True):
    """Stylises one image and writes it to `output` (PNG or JPEG).

    Args:
        content: the content image: path, http(s) URL or built-in name.
        style: the style image (same forms). For method "fast" the style is the
            one the network was trained on; this argument is then only reported.
        output: where to write the result (.png, .jpg).
        method: "gatys" (optimise the image), "fast" (a trained transformation
            network, needs model_dir) or "adain" (a trained decoder, needs model_dir).
        size: the longest side of the content image in pixels.
        steps: optimiser iterations for "gatys" (default 200 with L-BFGS, 1000 with Adam).
        weights: VGG19 weights for "gatys": "auto", "imagenet", "random" or a path.
            "fast" and "adain" use the weights their run was trained with.
        model_dir: the RUN_DIR of `python -m lib train fast-style|adain`.
        optimizer: "lbfgs" or "adam" (gatys).
        alpha: style strength in [0, 1] (adain).
        preserve_colors: keep the content image's colours (luminance-only transfer).
        seed: seed of random VGG19 weights.
        progress: show a progress bar (gatys).
        verbose: print which images and weights are used.

    Returns:
        dict with "output", "method", "weights", "seconds" and the image's shape.

    Raises:
        ValueError: for a bad method, size, missing model_dir, or an image that
            cannot be used (from `lib.images.load_image`).
    """
    if method not in ("gatys", "fast", "adain"):
        raise ValueError(f"Expected method 'gatys', 'fast' or 'adain'. Received: method={method!r}")
    if not isinstance(size, int) or size < 16:
        raise ValueError(f"Expected size >= 16 pixels. Received: size={size!r}")
    if method in ("fast", "adain") and model_dir is None:
        raise ValueError(
            f"Expected --model RUN_DIR for method {method!r} (train one with "
            f"`python -m lib train {'fast-style' if method == 'fast' else 'adain'} --out RUN_DIR`). Received: none"
        )
    content_image = images_module.load_image(content, max_side=size)
    if verbose:
        print("Content:", images_module.describe_source(content), f"-> {content_image.shape[1]}x{content_image.shape[0]}")
    started = time.perf_counter()
    if method == "gatys":
        style_image = images_module.load_image(style, max_side=size)
        if verbose:
            print("Style:", images_module.describe_source(style), f"-> {style_image.shape[1]}x{style_image.shape[0]}")
        steps = steps if steps is not None else (200 if optimizer == "lbfgs" else 1000)
        extractor, used = resolve_weights(weights, seed, st.CONTENT_LAYERS + st.STYLE_LAYERS, verbose)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps, desc=f"gatys ({optimizer})")

        def callback(step, image, entry):
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{entry['total']:.4g}")

        result, history = st.stylize_gatys(content_image, style_image, extractor=extractor, steps=steps,
                                           optimizer=optimizer, callback=callback)
        if bar is not None:
            bar.close()
        extra = {"final_loss": history[-1]["total"], "steps": steps, "optimizer": optimizer}
    else:
        kind, settings, network, extractor = load(model_dir, verbose)
        used = settings["weights"]
        if method == "fast":
            if kind != "fast-style":
                raise ValueError(f"Expected a fast-style run for --method fast. Received: {model_dir} is {kind!r}")
            if verbose:
                print(f"Style: the network's own ({settings['style']}); the STYLE argument {style!r} is not used.")
            result = st.stylize_fast(network, content_image)
        else:
            if kind != "adain":
                raise ValueError(f"Expected an adain run for --method adain. Received: {model_dir} is {kind!r}")
            style_image = images_module.load_image(style, max_side=size)
            if verbose:
                print("Style:", images_module.describe_source(style))
            result = st.stylize_adain(extractor, network, content_image, style_image, alpha=alpha)
        extra = {"model_dir": str(model_dir)}
    if preserve_colors:
        result = st.keep_content_colors(result, content_image)
    seconds = time.perf_counter() - started
    path = images_module.save_image(result, output)
    if verbose:
        print(f"Wrote {path} ({result.shape[1]}x{result.shape[0]}) in {seconds:.1f} s")
    return {"output": str(path), "method": method, "weights": used, "seconds": seconds,
            "height": int(result.shape[0]), "width": int(result.shape[1]), **extra}


def quality_measures(image, content, style, judge):
    """Scores a stylised image with a feature extractor the method never optimised against.

    Args:
        image: float array (H, W, 3) in [0, 1], the result.
        content: the content image (H, W, 3).
        style: the style image (h, w, 3).
        judge: a `build_vgg_feature_extractor(st.CONTENT_LAYERS + st.STYLE_LAYERS, ...)`,
            e.g. random weights with seed JUDGE_SEED.

    Returns:
        dict: "judge_content_loss", "judge_style_loss" (the Gatys terms under the
        judge; lower is closer) and "color_distance" (|mean_r - mean_s| +
        ||cov_r - cov_s||_F over RGB pixels, result against style).
    """
    features = judge(np.asarray(image, np.float32)[None])
    content_features = judge(np.asarray(content, np.float32)[None])
    style_features = judge(np.asarray(style, np.float32)[None])
    content_value = st.content_loss([features[name] for name in st.CONTENT_LAYERS],
                                    [content_features[name] for name in st.CONTENT_LAYERS])
    style_value = st.style_loss([st.gram_matrix(features[name]) for name in st.STYLE_LAYERS],
                                [st.gram_matrix(style_features[name]) for name in st.STYLE_LAYERS])
    pixels = np.asarray(image, np.float64).reshape(-1, 3)
    style_pixels = np.asarray(style, np.float64).reshape(-1, 3)
    color = np.linalg.norm(pixels.mean(0) - style_pixels.mean(0)) + np.linalg.norm(
        np.cov(pixels, rowvar=False) - np.cov(style_pixels, rowvar=False))
    return {"judge_content_loss": float(content_value), "judge_style_loss": float(style_value),
            "color_distance": float(color)}


def sample(run_dir, n, *, seed=0):
    """Stylises `n` built-in photographs (held-out first) with a trained run.

    Returns:
        float32 (n, S, S, 3) in [0, 1], S = twice the training crop size (centre crops).
    """
    kind, settings, network, extractor = load(run_dir, verbose=False)
    size = settings["crop_size"] * 2
    names = [HELD_OUT_CONTENT, *TRAIN_CONTENT]
    pictures = [images_module.load_image(names[i % len(names)], max_side=size) for i in range(n)]
    results = []
    stylizer = st.AdaINStylizer(extractor, network) if kind == "adain" else None  # compiled once for all n
    for index, picture in enumerate(pictures):
        square = tf.image.resize_with_crop_or_pad(picture, size, size).numpy()  # centre crop
        if kind == "fast-style":
            results.append(st.stylize_fast(network, square))
        else:
            style = images_module.load_image(settings["styles"][index % len(settings["styles"])], max_side=size)
            results.append(stylizer(square, style))
    return np.stack(results).astype(np.float32)


def evaluate(run_dir, *, seed=0):
    """Scores a trained run on the held-out photograph (chelsea) with `quality_measures`.

    Returns:
        JSON-serialisable dict: the judge's content and style losses, the colour
        distance, the milliseconds of one forward pass, and which weights/images.
    """
    kind, settings, network, extractor = load(run_dir, verbose=False)
    size = settings["crop_size"] * 2
    content = images_module.load_image(HELD_OUT_CONTENT, max_side=size)
    style_name = settings["style"] if kind == "fast-style" else settings["styles"][0]
    style = images_module.load_image(style_name, max_side=size)
    if kind == "fast-style":
        run = lambda: st.stylize_fast(network, content)  # noqa: E731
    else:
        stylizer = st.AdaINStylizer(extractor, network)  # compiled: encodes content and style
        run = lambda: stylizer(content, style)  # noqa: E731
    run()  # warm up (and trace)
    started = time.perf_counter()
    result = run()
    milliseconds = 1000 * (time.perf_counter() - started)
    judge = st.build_vgg_feature_extractor(st.CONTENT_LAYERS + st.STYLE_LAYERS, weights="random", seed=JUDGE_SEED)
    scores = quality_measures(result, content, style, judge)
    return {"kind": kind, "content": HELD_OUT_CONTENT, "style": style_name, "weights": settings["weights"],
            "judge": f"random VGG19, seed {JUDGE_SEED}", "forward_ms": milliseconds,
            "size": f"{content.shape[1]}x{content.shape[0]}", **scores}
