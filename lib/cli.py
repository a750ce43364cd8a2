"""The command line: train, sample, evaluate and stylise without Jupyter.

    python -m lib train KIND --out RUN_DIR [--epochs N] [--dataset mnist|fashion_mnist]
                             [--seed S] [--resume] [KIND's own flags; see train KIND --help]
    python -m lib sample RUN_DIR -n 1000 -o samples.npy
    python -m lib evaluate RUN_DIR [--json]
    python -m lib stylize CONTENT STYLE -o OUT.png --method gatys|fast|adain [--size 512]
                          [--steps N] [--weights auto|imagenet|random|PATH] [--model RUN_DIR]

KIND is one of dcgan, cgan, wgan-gp (lib/runs/gan.py), vae, beta-vae, cvae
(lib/runs/vae.py), fast-style, adain (lib/runs/style.py). Each chapter module
adds its own flags, so `python -m lib train vae --help` lists the VAE's.

Bad input ends with a usage message and exit status 2, before anything is
written; a run interrupted later keeps its last checkpoint (`--resume`).
"""

import argparse
import importlib
import json
import pathlib
import sys

FAMILIES = {
    "gan": ("dcgan", "cgan", "wgan-gp"),
    "vae": ("vae", "beta-vae", "cvae"),
    "style": ("fast-style", "adain"),
}
KIND_TO_FAMILY = {kind: family for family, kinds in FAMILIES.items() for kind in kinds}


def _module(family):
    return importlib.import_module(f"lib.runs.{family}")


def _family_of_run(run_dir):
    from lib import training

    kind = training.read_run_config(run_dir)["kind"]
    if kind not in KIND_TO_FAMILY:
        raise ValueError(f"Expected a run of one of {sorted(KIND_TO_FAMILY)}. Received: kind={kind!r}")
    return KIND_TO_FAMILY[kind]


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}")
    return value


def _parser():
    parser = argparse.ArgumentParser(prog="python -m lib", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model into a run folder", add_help=False)
    train.add_argument("kind", choices=sorted(KIND_TO_FAMILY), help="what to train")
    train.add_argument("--out", type=pathlib.Path, help="the run folder (required)")
    train.add_argument("--epochs", type=_positive_int, help="total epochs (default: the kind's)")
    train.add_argument("--dataset", default="mnist", choices=("mnist", "fashion_mnist"))
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    train.add_argument("-h", "--help", action="store_true", help="show the flags of this kind and exit")

    sample = commands.add_parser("sample", help="write generated images to a .npy file")
    sample.add_argument("run_dir", type=pathlib.Path)
    sample.add_argument("-n", type=_positive_int, default=1000, help="how many images (1000)")
    sample.add_argument("-o", "--output", type=pathlib.Path, required=True, help="the .npy file")
    sample.add_argument("--seed", type=int, default=0)

    evaluate = commands.add_parser("evaluate", help="measure a run (FID/KID, nats, style losses)")
    evaluate.add_argument("run_dir", type=pathlib.Path)
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--seed", type=int, default=0)

    stylize = commands.add_parser("stylize", help="stylise CONTENT with STYLE")
    stylize.add_argument("content", help="path, http(s) URL or built-in name (e.g. astronaut)")
    stylize.add_argument("style", help="path, http(s) URL or built-in name (e.g. brick)")
    stylize.add_argument("-o", "--output", type=pathlib.Path, required=True)
    stylize.add_argument("--method", choices=("gatys", "fast", "adain"), default="gatys")
    stylize.add_argument("--size", type=_positive_int, default=512, help="longest side in pixels (512)")
    stylize.add_argument("--steps", type=_positive_int, help="optimisation steps for gatys")
    stylize.add_argument("--weights", default="auto", help="VGG19 weights: auto, imagenet, random or a file")
    stylize.add_argument("--model", type=pathlib.Path, help="a run folder of fast-style or adain")
    stylize.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs", help="for gatys")
    stylize.add_argument("--alpha", type=float, default=1.0, help="style strength for adain, in [0, 1]")
    stylize.add_argument("--preserve-colors", action="store_true", help="keep the content's colours")
    stylize.add_argument("--seed", type=int, default=0)
    return parser


def _train(parser, args, rest):
    family = KIND_TO_FAMILY[args.kind]
    module = _module(family)
    kind_parser = argparse.ArgumentParser(prog=f"python -m lib train {args.kind} --out RUN_DIR",
                                          description=f"Flags of {args.kind} (lib/runs/{family}.py).")
    if hasattr(module, "add_arguments"):
        module.add_arguments(kind_parser)
    if args.help:
        kind_parser.print_help()
        return 0
    kind_args = kind_parser.parse_args(rest)
    if args.out is None:
        parser.error("train: the following argument is required: --out RUN_DIR")
    if args.seed < 0:
        parser.error(f"--seed: expected a non-negative integer, received {args.seed}")
    module.train(args.kind, args.out, epochs=args.epochs, dataset=args.dataset, seed=args.seed,
                 resume=args.resume, args=kind_args)
    print(f"Done. Sample with: python -m lib sample {args.out} -n 1000 -o samples.npy; "
          f"measure with: python -m lib evaluate {args.out} --json")
    return 0


def main(argv=None):
    """Runs the command line; returns the exit status."""
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if args.command != "train" and rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        if args.command == "train":
            return _train(parser, args, rest)
        if args.command == "sample":
            import numpy as np

            if args.output.suffix != ".npy":
                parser.error(f"-o: expected a .npy file, received {args.output}")
            images = _module(_family_of_run(args.run_dir)).sample(args.run_dir, args.n, seed=args.seed)
            temporary = args.output.with_name(args.output.name + ".tmp.npy")
            np.save(temporary, images.astype(np.float32))
            temporary.replace(args.output)  # never a half-written file
            print(f"Wrote {len(images)} images {images.shape[1:]} in [0, 1] to {args.output}")
            return 0
        if args.command == "evaluate":
            result = _module(_family_of_run(args.run_dir)).evaluate(args.run_dir, seed=args.seed)
            if args.json:
                print(json.dumps(result, sort_keys=True))
            else:
                for name, value in result.items():
                    print(f"{name:>24}: {value}")
            return 0
        if args.command == "stylize":
            _module("style").stylize(
                args.content, args.style, args.output, method=args.method, size=args.size, steps=args.steps,
                weights=args.weights, model_dir=args.model, optimizer=args.optimizer, alpha=args.alpha,
                preserve_colors=args.preserve_colors, seed=args.seed)
            return 0
    except ValueError as error:
        parser.error(str(error))  # prints usage and the message, exits with status 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
