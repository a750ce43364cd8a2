"""Benchmark of the style-transfer chapter: prints measured figures (not a test).

Sections (run some with --only NAME ...):
  gatys    the offline headline: astronaut in the style of the Hubble deep field,
           256 px, 100 L-BFGS iterations, random VGG19 weights, the default loss
           weights (st.LOSS_WEIGHTS): wall time, VGG19 evaluations per iteration,
           and the quality measures (lib/style_transfer/measures.py: structure,
           colour progress, the judge's losses) of the content, the result and any
           --compare IMAGE (e.g. an earlier version's output). Writes the result
           and a content | style | result panel to --out.
  lbfgs    L-BFGS against Adam on the same problem (--size px): Adam at each of
           --learning-rates for --adam-steps steps; then the iterations and seconds
           L-BFGS needs to reach the loss of Adam's best learning rate.
  forward  one 512x512 forward pass: the fast-style network, and AdaIN's encoder,
           decoder and whole stylisation with the style encoded per image and once.
  quality  the shipped networks (data/weights/fast_style, adain) on the held-out
           photograph (chelsea) at 256 px, beside Gatys at the same size.

Timings on a shared machine vary: the load average is printed with each section.

    python benchmarks/bench_style.py --only gatys            # about 70-90 s on an idle 2-core CPU
    python benchmarks/bench_style.py --only lbfgs --adam-steps 1000
    python benchmarks/bench_style.py                          # everything
"""

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from lib import images  # noqa: E402
from lib import style_transfer as st  # noqa: E402
from lib.plots import style as style_plots  # noqa: E402
from lib.style_transfer import measures  # noqa: E402

SECTIONS = ("gatys", "lbfgs", "forward", "quality")


def load_average():
    return "load average " + ", ".join(f"{value:.2f}" for value in os.getloadavg()) + f" ({os.cpu_count()} cores)"


def _median_seconds(function, repeats, warmup=1):
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def _score_rows(rows, content, style, judge):
    print(f"  {'image':<44} {'structure':>9} {'colour':>7} {'judge content':>13} {'judge style':>11}")
    for name, image in rows.items():
        scores = measures.quality_measures(image, content, style, judge)
        print(f"  {name:<44} {scores['structure']:>9.3f} {scores['color_progress']:>7.3f} "
              f"{scores['judge_content_loss']:>13.3f} {scores['judge_style_loss']:>11.3f}")


def bench_gatys(args, extractor, judge):
    content = images.load_image(args.content, max_side=args.gatys_size)
    style = images.load_image(args.style, max_side=args.gatys_size)
    weights = st.loss_weights("gatys", "random")
    print(f"\n## Gatys, {args.content} / {args.style}, {args.gatys_size} px, {args.gatys_steps} L-BFGS iterations, "
          f"random VGG19 weights, loss weights {weights}")
    print(f"  before: {load_average()}")
    started, cpu_started = time.perf_counter(), time.process_time()
    result, history = st.stylize_gatys(content, style, extractor=extractor, steps=args.gatys_steps, **weights)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    iterations = len(history) - 1
    print(f"  after:  {load_average()}")
    # CPU time does not grow with other jobs' load: on an idle machine the wall time is about
    # the CPU time divided by the cores TensorFlow keeps busy.
    print(f"  {iterations} iterations in {seconds:.1f} s wall, {cpu_seconds:.1f} s CPU time of this process "
          f"({cpu_seconds / seconds:.2f} cores busy on average)")
    print(f"  {iterations} iterations in {seconds:.1f} s wall ({seconds / iterations:.2f} s each), "
          f"{history[-1]['evaluations']} VGG19 evaluations ({history[-1]['evaluations'] / iterations:.2f} per "
          f"iteration); loss {history[0]['loss']:.4g} -> {history[-1]['loss']:.4g}")
    rows = {"content (no stylisation)": content, "Gatys, L-BFGS (this run)": result}
    for path in args.compare:
        rows[f"--compare {pathlib.Path(path).name}"] = images.load_image(path, max_side=args.gatys_size)
    print("  quality (measures.py; structure 1 and colour 0 for the content itself):")
    _score_rows(rows, content, style, judge)
    if args.out:
        out = pathlib.Path(args.out)
        images.save_image(result, out / "gatys_result.png")
        style_plots.save_panel([content, style, result], [f"content: {args.content}", f"style: {args.style}",
                               f"Gatys, {iterations} L-BFGS it., {seconds:.0f} s"], out / "gatys_panel.png")
        print(f"  wrote {out / 'gatys_result.png'} and {out / 'gatys_panel.png'}")


def bench_lbfgs(args, extractor):
    content = images.load_image(args.content, max_side=args.size)
    style = images.load_image(args.style, max_side=args.size)
    weights = st.loss_weights("gatys", "random")
    print(f"\n## L-BFGS against Adam, {args.content} / {args.style} at {args.size} px, random VGG19 weights "
          f"({load_average()})")
    adam = {}
    for learning_rate in args.learning_rates:
        _, history = st.stylize_gatys(content, style, extractor=extractor, steps=args.adam_steps, optimizer="adam",
                                      learning_rate=learning_rate, **weights)
        adam[learning_rate] = history
        print(f"  Adam lr {learning_rate:g}: loss {history[0]['loss']:.4g} -> {history[-1]['loss']:.4g} after "
              f"{args.adam_steps} steps in {history[-1]['seconds']:.1f} s")
    best = min(adam, key=lambda rate: adam[rate][-1]["loss"])
    target = adam[best][-1]["loss"]
    reached = {}

    def stop_when_reached(step, image, entry):
        if entry["loss"] <= target:
            reached.update(step=step, seconds=entry["seconds"], evaluations=entry["evaluations"])
            return True
        return False

    _, history = st.stylize_gatys(content, style, extractor=extractor, steps=args.lbfgs_iterations,
                                  callback=stop_when_reached, **weights)
    if reached:
        print(f"  L-BFGS reached Adam's best ({best:g}) loss {target:.4g} after {reached['step']} iterations "
              f"({reached['evaluations']} evaluations) in {reached['seconds']:.1f} s; Adam took "
              f"{args.adam_steps} steps and {adam[best][-1]['seconds']:.1f} s")
    else:
        print(f"  L-BFGS did NOT reach {target:.4g} within {args.lbfgs_iterations} iterations "
              f"(its loss: {history[-1]['loss']:.4g})")
    print(f"  ({load_average()})")


def bench_forward(args):
    print(f"\n## One 512x512 forward pass, median of {args.repeats} after a warm-up ({load_average()})")
    content = images.load_image("astronaut", max_side=512)  # (512, 512, 3)
    style = images.load_image(args.style, max_side=512)
    for name, preset in st.FAST_PRESETS.items():
        network = st.build_transform_network(tuple(preset["filters"]), preset["residual_blocks"])
        forward = tf.function(lambda x, network=network: network(x, training=False))
        milliseconds = 1000 * _median_seconds(lambda: forward(content[None]).numpy(), args.repeats)
        print(f"  fast style, preset {name!r} {tuple(preset['filters'])}: {milliseconds:.0f} ms")
    encoder = st.build_vgg_feature_extractor(["block4_conv1"], weights="random", seed=0)
    encode = tf.function(lambda x: encoder(x)["block4_conv1"])
    print(f"  AdaIN's VGG19 encoder to relu4_1 alone: "
          f"{1000 * _median_seconds(lambda: encode(content[None]).numpy(), args.repeats):.0f} ms")
    for name, preset in st.ADAIN_PRESETS.items():
        stylizer = st.AdaINStylizer(encoder, st.build_adain_decoder(preset["decoder_width"]))
        statistics = stylizer.encode_style(style)
        both = 1000 * _median_seconds(lambda: stylizer(content, style), args.repeats)
        once = 1000 * _median_seconds(lambda: stylizer(content, statistics), args.repeats)
        print(f"  AdaIN, preset {name!r} (decoder width {preset['decoder_width']}): {both:.0f} ms with the style "
              f"encoded each time, {once:.0f} ms with the style encoded once")


def bench_quality(args, extractor, judge):
    from lib import pretrained
    from lib.runs import style as runs

    size = 256
    content = images.load_image(runs.HELD_OUT_CONTENT, max_side=size)
    print(f"\n## The shipped networks on the held-out {runs.HELD_OUT_CONTENT} at {size} px ({load_average()})")
    for name, style_name, stylise in (
            ("fast_style", runs.FAST_STYLE, lambda network, style: st.stylize_fast(network, content)),
            ("adain", args.style, lambda decoder, style: st.AdaINStylizer(
                st.build_vgg_feature_extractor(st.adain_style_layers(st.decoder_encoder_layer(decoder)), weights="random",
                                               seed=0), decoder)(content, style))):
        style = images.load_image(style_name, max_side=size)
        rows = {"content (no stylisation)": content}
        try:
            rows[f"{name} (data/weights)"] = stylise(pretrained.load(name, verbose=False), style)
        except ValueError as error:
            print(f"  {name}: {error}")
        started = time.perf_counter()
        rows["Gatys, L-BFGS, 100 iterations"], _ = st.stylize_gatys(content, style, extractor=extractor, steps=100,
                                                                   **st.loss_weights("gatys", "random"))
        print(f"  style {style_name} (Gatys took {time.perf_counter() - started:.0f} s):")
        _score_rows(rows, content, style, judge)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--content", default="astronaut")
    parser.add_argument("--style", default="hubble_deep_field")
    parser.add_argument("--gatys-size", type=int, default=256)
    parser.add_argument("--gatys-steps", "--steps", type=int, default=100, help="L-BFGS iterations of `gatys`")
    parser.add_argument("--compare", nargs="*", default=[], help="image files to score beside the result")
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench_style"), help="where `gatys` writes its images")
    parser.add_argument("--size", type=int, default=96, help="image size of the L-BFGS/Adam comparison")
    parser.add_argument("--adam-steps", type=int, default=1000)
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[0.005, 0.01, 0.02, 0.05])
    parser.add_argument("--lbfgs-iterations", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    print(f"TensorFlow {tf.__version__}; {os.cpu_count()} CPU cores; {load_average()}; "
          f"{st.describe_vgg_weights('random', 0)}")
    extractor = st.build_vgg_feature_extractor(st.CONTENT_LAYERS + st.STYLE_LAYERS, weights="random", seed=0)
    judge = measures.build_judge()
    started = time.perf_counter()
    if "gatys" in args.only:
        bench_gatys(args, extractor, judge)
    if "lbfgs" in args.only:
        bench_lbfgs(args, extractor)
    if "forward" in args.only:
        bench_forward(args)
    if "quality" in args.only:
        bench_quality(args, extractor, judge)
    print(f"\nTotal {time.perf_counter() - started:.0f} s; {load_average()}")


if __name__ == "__main__":
    main()
