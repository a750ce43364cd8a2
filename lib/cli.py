"""The command line: train, sample, evaluate and stylise without Jupyter.

    python -m lib train KIND --out RUN_DIR [--epochs N] [--dataset mnist|fashion_mnist]
                             [--seed S] [--resume] [KIND's own flags: train KIND --help]
    python -m lib sample RUN_DIR -n 1000 -o samples.npy [--steps N] [--guidance W] [--label D]
    python -m lib evaluate RUN_DIR [--json] [--num-images N] [--iwae-k K] [--steps N] [--guidance W]
    python -m lib stylize CONTENT STYLE -o OUT.png --method gatys|fast|adain [...]

The kinds come from the family modules in lib/runs/ (`lib.runs.kinds()`):
dcgan, cgan, wgan-gp; vae, beta-vae, cvae; fast-style, adain; ddpm, ddpm-cond.
Each family adds its own training flags, so `python -m lib train vae --help`
lists the VAE's.

Bad input ends with a usage message and exit status 2, before anything is
written. Ctrl-C during training prints one line: the checkpoint kept and the
command that resumes the run (exit status 130). `--json` prints one JSON
object on stdout and nothing else; messages and progress bars go to stderr.
"""

import argparse
import contextlib
import json
import pathlib
import sys

from lib import runs


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}")
    return value


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, received {text!r}") from None
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a number >= 0, received {text!r}")
    return value


def _digit(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a class label (an integer >= 0), received {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a class label (an integer >= 0), received {text!r}")
    return value


def _parser():
    parser = argparse.ArgumentParser(prog="python -m lib", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model into a run folder", add_help=False)
    train.add_argument("kind", choices=sorted(runs.kinds()), help="what to train")
    train.add_argument("--out", type=pathlib.Path, help="the run folder (required)")
    train.add_argument("--epochs", type=_positive_int, help="total epochs (default: the kind's preset)")
    train.add_argument("--dataset", default="mnist", choices=("mnist", "fashion_mnist"))
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    train.add_argument("-h", "--help", action="store_true", help="show the flags of this kind and exit")

    sample = commands.add_parser("sample", help="write generated images to a .npy file")
    sample.add_argument("run_dir", type=pathlib.Path)
    sample.add_argument("-n", type=_positive_int, default=1000, help="how many images (1000)")
    sample.add_argument("-o", "--output", type=pathlib.Path, required=True, help="the .npy file")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--steps", type=_positive_int, help="sampling steps (diffusion runs)")
    sample.add_argument("--guidance", type=_non_negative_float,
                        help="classifier-free guidance scale (conditional diffusion runs)")
    sample.add_argument("--label", type=_digit, help="draw only this class (conditional runs)")

    evaluate = commands.add_parser(
        "evaluate", help="measure a run (FID/KID, nats, style losses)",
        description="Measure a run: FID and KID for GANs and diffusion models, nats for VAEs "
                    "(the importance-weighted bound with k samples per image; the default k = 5,000 "
                    "is the published protocol and takes minutes on a CPU; --iwae-k 500 gives an "
                    "estimate within a few tenths of a nat in a tenth of the time), style losses "
                    "for style networks.")
    evaluate.add_argument("run_dir", type=pathlib.Path)
    evaluate.add_argument("--json", action="store_true", help="print one JSON object on stdout, nothing else")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--num-images", type=_positive_int, help="generated / held-out images to use")
    evaluate.add_argument("--iwae-k", type=_positive_int,
                          help="importance samples per image for a VAE's bound (default: the run's, 5,000 "
                               "for vae); smaller is faster and slightly looser")
    evaluate.add_argument("--steps", type=_positive_int, help="sampling steps (diffusion runs)")
    evaluate.add_argument("--guidance", type=_non_negative_float,
                          help="classifier-free guidance scale (conditional diffusion runs)")

    stylize = commands.add_parser("stylize", help="stylise CONTENT with STYLE")
    runs.family_module("style").add_stylize_arguments(stylize)
    return parser


def _options(args, names):
    """The family options the user gave (None means not given)."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _train(parser, args, rest):
    family = runs.family_of_kind(args.kind)
    module = runs.family_module(family)
    kind_parser = argparse.ArgumentParser(prog=f"python -m lib train {args.kind} --out RUN_DIR",
                                          description=f"Flags of {args.kind} (lib/runs/{family}.py).")
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


def _family_of_run(run_dir):
    from lib import training

    return runs.family_of_kind(training.read_run_config(run_dir)["kind"])


def _sample(parser, args):
    import numpy as np

    if args.output.suffix != ".npy":
        parser.error(f"-o: expected a .npy file, received {args.output}")
    if args.output.is_dir() or not args.output.parent.is_dir():
        parser.error(f"-o: expected a file in an existing folder, received {args.output}")
    module = runs.family_module(_family_of_run(args.run_dir))
    images = module.sample(args.run_dir, args.n, seed=args.seed, **_options(args, ("steps", "guidance", "label")))
    temporary = args.output.with_name(args.output.name + ".tmp.npy")
    np.save(temporary, images.astype(np.float32))
    temporary.replace(args.output)  # never a half-written file
    print(f"Wrote {len(images)} images {images.shape[1:]} in [0, 1] to {args.output}")
    return 0


def _evaluate(args):
    module = runs.family_module(_family_of_run(args.run_dir))
    options = _options(args, ("num_images", "iwae_k", "steps", "guidance"))
    # With --json, stdout carries the JSON object alone: everything the library
    # prints on the way (Keras' "Downloading data from ..." line, which data was
    # used) goes to stderr.
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        result = module.evaluate(args.run_dir, seed=args.seed, **options)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for name, value in result.items():
            print(f"{name:>24}: {value}")
    return 0


def main(argv=None):
    """Runs the command line; returns the exit status."""
    from lib import training

    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if args.command != "train" and rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        if args.command == "train":
            return _train(parser, args, rest)
        if args.command == "sample":
            return _sample(parser, args)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "stylize":
            return runs.family_module("style").run_stylize(args)
    except ValueError as error:
        parser.error(str(error))  # prints usage and the message, exits with status 2
    except training.TrainingInterrupted as stop:
        print(stop, file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("Stopped by Ctrl-C.", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
