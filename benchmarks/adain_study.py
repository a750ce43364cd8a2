"""Which AdaIN decoder settings learn on a CPU: a short study at a fixed number of steps.

    python benchmarks/adain_study.py --steps 300 --layer block3_conv1 --learning-rate 1e-3
    python benchmarks/adain_study.py --steps 300 --layer block4_conv1 --learning-rate 1e-4   # the old course preset

Trains an AdaIN decoder (random VGG19, seed 0) on the course's training crops
and styles exactly as `python -m lib train adain` does (same crops, balance and
feature scale), then scores held-out chelsea at 256 px with the three styles of
benchmarks/style_pictures.py at alpha 0 (pure reconstruction) and alpha 1:
structure and colour progress (lib/style_transfer/measures.py). Prints one JSON
line with the settings, the scores, the seconds per step and the load average.
"""

import argparse
import importlib
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from lib import images  # noqa: E402
from lib.runs import style as runs  # noqa: E402
from lib.style_transfer import common, measures  # noqa: E402

adain = importlib.import_module("lib.style_transfer.adain")
STYLES = ("immunohistochemistry", "hubble_deep_field", "brick")


def score(encoder, decoder, size=256):
    stylizer = adain.AdaINStylizer(encoder, decoder)
    content = images.load_image(runs.HELD_OUT_CONTENT, max_side=size)
    rows = {}
    for name in STYLES:
        style = images.load_image(name, max_side=size)
        for alpha in (0.0, 1.0):
            result = stylizer(content, style, alpha=alpha)
            rows[f"{name}@{alpha:g}"] = (measures.structure(result, content),
                                         measures.color_progress(result, content, style))
    mean = {alpha: np.mean([rows[f"{n}@{alpha:g}"] for n in STYLES], axis=0) for alpha in (0.0, 1.0)}
    return {"structure_alpha0": float(mean[0.0][0]), "structure_alpha1": float(mean[1.0][0]),
            "color_progress_alpha1": float(mean[1.0][1]),
            "per_style_alpha1": {n: [round(v, 3) for v in rows[f"{n}@1"]] for n in STYLES}}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--layer", default="block3_conv1", choices=common.ADAIN_LAYERS)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--decay", action="store_true", help="cosine decay of the learning rate to 0")
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--crop-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--content-weight", type=float, default=1.0)
    parser.add_argument("--style-weight", type=float, default=1.0)
    parser.add_argument("--save", help="save the decoder here (.keras)")
    args = parser.parse_args()

    started = time.perf_counter()
    layers = adain.adain_style_layers(args.layer)
    encoder = common.build_vgg_feature_extractor(layers, weights="random", seed=0)
    contents = runs.load_training_images(runs.TRAIN_CONTENT, 256)
    styles = runs.load_training_images(runs.ADAIN_STYLES, 256)
    reference = runs.make_crops(contents, 8, args.crop_size, 0, 0)
    style_reference = runs.make_crops(styles, 8, args.crop_size, 1, 0)
    content_layer_weight, style_layer_weights = adain.adain_layer_weights(
        encoder, reference, style_reference, balance=True, encoder_layer=args.layer)
    scale = adain.adain_feature_scale(encoder, reference, args.layer)
    keras.utils.set_random_seed(0)
    decoder = adain.build_adain_decoder(args.width, scale, args.layer)
    model = adain.AdaINStyleTransfer(encoder, decoder, content_weight=args.content_weight,
                                     style_weight=args.style_weight, content_layer_weight=content_layer_weight,
                                     style_layer_weights=style_layer_weights)
    rate = (keras.optimizers.schedules.CosineDecay(args.learning_rate, args.steps) if args.decay
            else args.learning_rate)
    model.compile(optimizer=keras.optimizers.Adam(rate))
    model.optimizer.build(decoder.trainable_variables)
    step = tf.function(model.train_step)
    chunk = 50
    train_started = time.perf_counter()
    logs = {}
    for first in range(0, args.steps, chunk):
        count = min(chunk, args.steps - first) * args.batch_size
        content = runs.make_crops(contents, count, args.crop_size, 0, first // chunk)
        style = runs.make_crops(styles, count, args.crop_size, 1, first // chunk)
        for index in range(0, count, args.batch_size):
            logs = step((tf.constant(content[index: index + args.batch_size]),
                         tf.constant(style[index: index + args.batch_size])))
        print(f"step {first + count // args.batch_size}: " + ", ".join(f"{k} {float(v):.4f}" for k, v in logs.items()),
              f"({time.perf_counter() - train_started:.0f} s)", file=sys.stderr, flush=True)
        for tracker in model.metrics:
            tracker.reset_state()
    train_seconds = time.perf_counter() - train_started
    if args.save:
        decoder.save(args.save)
    result = {**{k: v for k, v in vars(args).items() if k != "save"}, **score(encoder, decoder),
              "seconds_per_step": round(train_seconds / args.steps, 3), "seconds": round(time.perf_counter() - started),
              "load": ", ".join(f"{v:.2f}" for v in os.getloadavg())}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
