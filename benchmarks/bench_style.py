"""Benchmark of the style-transfer chapter: prints measured figures (not a test).

Sections (each can be skipped with --skip NAME):
  iteration  Gatys iteration time (forward + backward through VGG19 + Adam update)
             at 256 and 512 px: eager against tf.function against jit_compile.
  lbfgs      L-BFGS against Adam: run Adam for --adam-steps steps, then count the
             iterations and seconds L-BFGS needs to reach Adam's final loss (same
             images, size and weights).
  forward    milliseconds of one forward pass for a 512x512 image: the fast-style
             transformation network (ours and Johnson et al.'s width); AdaIN's parts
             (VGG19 encoder to block4_conv1, decoders of three widths) with their
             GFLOP counts, and whole stylisations through st.AdaINStylizer (eager,
             tf.function, XLA; style encoded per image or once and reused); the
             machine's matmul GFLOP/s, which bounds how fast the encoder can be.
  quality    content and style losses under a JUDGE feature extractor the methods
             never optimised against (random VGG19, seed 12345), and a colour
             distance to the style image, for: the content image itself, the
             content recoloured to the style's colour statistics, Gatys-Adam and
             Gatys-L-BFGS (from the lbfgs section), and trained fast-style / AdaIN
             runs given with --fast-run / --adain-run; then a second table at the
             networks' training scale (--held-out-size, 256 px) on chelsea, a photo
             none of them trained on, with Gatys L-BFGS (--gatys-iterations) as the
             reference.

Offline, VGG19 has random weights (seed 0): said at the top of the output.

Run (about 12 minutes on an idle 2-core CPU with the defaults):
    python benchmarks/bench_style.py
    python benchmarks/bench_style.py --adam-steps 200 --skip iteration   # a quick look
"""

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from lib import images  # noqa: E402
from lib import style_transfer as st  # noqa: E402
from lib.runs import style as runs_style  # noqa: E402


def _median_seconds(function, repeats, warmup):
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def bench_iteration(extractor, sizes, repeats):
    print("\n## Gatys iteration time (VGG19 forward + backward + Adam update), median of", repeats)
    print(f"{'size':>6} {'eager s':>9} {'tf.function s':>14} {'jit_compile s':>14}  (first call incl. tracing/compiling)")
    for size in sizes:
        content = images.load_image("astronaut", max_side=size)
        style = images.load_image("hubble_deep_field", max_side=size)
        row = []
        for execution in ("eager", "function", "jit"):
            content_targets = [extractor(content[None])[name] for name in st.CONTENT_LAYERS]
            style_targets = [st.gram_matrix(extractor(style[None])[name]) for name in st.STYLE_LAYERS]
            image = tf.Variable(content[None])
            adam = keras.optimizers.Adam(0.02)
            adam.build([image])

            def step():
                with tf.GradientTape() as tape:
                    terms = st.gatys_losses(image, extractor, content_targets, style_targets,
                                            content_layers=st.CONTENT_LAYERS, style_layers=st.STYLE_LAYERS,
                                            content_weight=1.0, style_weight=1e-2, tv_weight=1.0)
                gradient = tape.gradient(terms["total"], image)
                adam.apply_gradients([(gradient, image)])
                return terms["total"]

            if execution != "eager":
                step = tf.function(step, jit_compile=(execution == "jit"))
            started = time.perf_counter()
            float(step())
            first = time.perf_counter() - started
            seconds = _median_seconds(lambda: float(step()), repeats, warmup=1)
            row.append((seconds, first))
        print(f"{size:>6} " + " ".join(f"{s:>9.3f} ({f:4.1f})" for s, f in row))


def bench_lbfgs(extractor, size, adam_steps, max_lbfgs):
    print(f"\n## L-BFGS against Adam at {size} px (astronaut / hubble_deep_field, style_weight 1e-2)")
    content = images.load_image("astronaut", max_side=size)
    style = images.load_image("hubble_deep_field", max_side=size)
    adam_image, adam_history = st.stylize_gatys(content, style, extractor=extractor, steps=adam_steps,
                                                optimizer="adam", learning_rate=0.02)
    target = adam_history[-1]["total"]
    adam_seconds = adam_history[-1]["seconds"]
    print(f"Adam (lr 0.02, tf.function): loss {adam_history[0]['total']:.4g} -> {target:.4g} "
          f"after {adam_steps} steps in {adam_seconds:.1f} s")
    reached = {}

    def stop_when_reached(step, image, entry):
        if entry["total"] <= target and "step" not in reached:
            reached.update(step=step, seconds=entry["seconds"])
        return False

    lbfgs_image, lbfgs_history = st.stylize_gatys(content, style, extractor=extractor, steps=max_lbfgs,
                                                  optimizer="lbfgs", callback=stop_when_reached)
    if reached:
        print(f"L-BFGS reached Adam's final loss {target:.4g} after {reached['step']} iterations "
              f"in {reached['seconds']:.1f} s (goal: within 200 iterations)")
    else:
        print(f"L-BFGS did NOT reach {target:.4g} within {max_lbfgs} iterations "
              f"(its loss: {lbfgs_history[-1]['total']:.4g})")
    print(f"L-BFGS after {max_lbfgs} iterations: loss {lbfgs_history[-1]['total']:.4g} "
          f"in {lbfgs_history[-1]['seconds']:.1f} s")
    for checkpoint in (10, 50, 100, 200):
        if checkpoint < len(adam_history) and checkpoint < len(lbfgs_history):
            print(f"  after {checkpoint:>4} iterations: Adam {adam_history[checkpoint]['total']:.4g}  "
                  f"L-BFGS {lbfgs_history[checkpoint]['total']:.4g}")
    return content, style, {"Gatys, Adam": adam_image, "Gatys, L-BFGS": lbfgs_image}


def _gflops(function, input_shapes):
    """Floating-point operations of one call, counted by TensorFlow's graph profiler (2 per multiply-add)."""
    specs = [tf.TensorSpec(shape, tf.float32) for shape in input_shapes]
    graph = tf.function(function).get_concrete_function(*specs).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops / 1e9


def _matmul_gflops_per_second(repeats):
    """This machine's float32 matrix-multiply speed: the ceiling for convolution layers."""
    a = tf.random.uniform((2048, 2048))
    b = tf.random.uniform((2048, 2048))
    multiply = tf.function(lambda: tf.matmul(a, b))
    seconds = _median_seconds(lambda: multiply().numpy(), max(repeats, 5), warmup=2)
    return 2 * 2048 ** 3 / seconds / 1e9


def bench_forward(extractor_seed, repeats):
    print("\n## One forward pass for a 512x512 image, milliseconds (median of", repeats, "after warm-up)")
    peak = _matmul_gflops_per_second(repeats)
    print(f"float32 matmul (2048x2048, tf.function): {peak:.0f} GFLOP/s on this machine, the ceiling below")
    content = images.load_image("astronaut", max_side=512)  # (512, 512, 3)
    style = images.load_image("brick", max_side=512)

    def report(label, milliseconds, gflops=None):
        speed = f"  {gflops:6.1f} GFLOP, {gflops / milliseconds * 1000:4.0f} GFLOP/s" if gflops else ""
        print(f"  {label:<66} {milliseconds:6.0f} ms{speed}")

    print("fast style (Johnson et al.), tf.function:")
    for filters in ((16, 32, 64), (32, 64, 128)):
        network = st.build_transform_network(filters)
        forward = tf.function(lambda x, network=network: network(x, training=False))
        milliseconds = 1000 * _median_seconds(lambda: forward(content[None]).numpy(), repeats, warmup=1)
        label = "ours (default)" if filters == (16, 32, 64) else "Johnson et al.'s width"
        report(f"filters {filters} [{label}], {network.count_params():,} weights", milliseconds,
               _gflops(lambda x, network=network: network(x), [(1, 512, 512, 3)]))

    print("AdaIN (Huang & Belongie), its parts, tf.function:")
    encoder = st.build_vgg_feature_extractor(["block4_conv1"], weights="random", seed=extractor_seed)
    encode = tf.function(lambda x: encoder(x)["block4_conv1"])
    encoder_ms = 1000 * _median_seconds(lambda: encode(content[None]).numpy(), repeats, warmup=1)
    encoder_gflops = _gflops(lambda x: encoder(x)["block4_conv1"], [(1, 512, 512, 3)])
    report("VGG19 encoder to block4_conv1", encoder_ms, encoder_gflops)
    features = encode(content[None])
    decoders = {}
    for width in (0.25, 0.5, 1.0):
        decoders[width] = decoder = st.build_adain_decoder(width)
        decode = tf.function(lambda x, decoder=decoder: decoder(x, training=False))
        milliseconds = 1000 * _median_seconds(lambda: decode(features).numpy(), repeats, warmup=1)
        label = {0.5: " [ours, default]", 1.0: " [Huang & Belongie]"}.get(width, "")
        report(f"decoder, width {width}{label}", milliseconds,
               _gflops(lambda x, decoder=decoder: decoder(x), [(1, 64, 64, 512)]))

    print("AdaIN, whole stylisation with st.AdaINStylizer (encoder + AdaIN + decoder, clipped NumPy out):")
    for width in (0.5, 1.0):
        for execution in ("eager", "function", "jit"):
            stylizer = st.AdaINStylizer(encoder, decoders[width], execution=execution)
            statistics = stylizer.encode_style(style)
            both = 1000 * _median_seconds(lambda: stylizer(content, style), repeats, warmup=1)
            reused = 1000 * _median_seconds(lambda: stylizer(content, statistics), repeats, warmup=1)
            report(f"width {width}, {execution}: content and style encoded", both)
            report(f"width {width}, {execution}: style encoded once, reused", reused)
    print(f"Lower bound for AdaIN at 512x512 on this machine: the content encoding alone is "
          f"{encoder_gflops:.0f} GFLOP, {1000 * encoder_gflops / peak:.0f} ms at the matmul speed above "
          f"(measured: {encoder_ms:.0f} ms)")


def _score_table(rows, content, style, judge):
    print(f"{'method':<64} {'content':>10} {'style':>11} {'colour':>7}")
    for name, image in rows.items():
        scores = runs_style.quality_measures(image, content, style, judge)
        print(f"{name:<64} {scores['judge_content_loss']:>10.4g} {scores['judge_style_loss']:>11.4g} "
              f"{scores['color_distance']:>7.3f}")


def bench_quality(content, style, results, fast_run, adain_run, extractor, held_out_size, gatys_iterations):
    judge = st.build_vgg_feature_extractor(st.CONTENT_LAYERS + st.STYLE_LAYERS, weights="random",
                                           seed=runs_style.JUDGE_SEED)
    networks = {}
    for name, run_dir in (("fast-style run", fast_run), ("AdaIN run", adain_run)):
        if run_dir is None:
            print(f"({name}: not scored; pass --{name.split()[0].lower().replace('-style', '')}-run RUN_DIR)")
            continue
        networks[run_dir] = runs_style.load(run_dir, verbose=False)

    def stylise_with_networks(content_image, style_image, rows):
        for run_dir, (kind, settings, network, encoder) in networks.items():
            if kind == "fast-style":
                rows[f"fast-style ({run_dir}; trained on {settings['style']})"] = st.stylize_fast(network, content_image)
            else:
                rows[f"AdaIN ({run_dir})"] = st.stylize_adain(encoder, network, content_image, style_image)

    print("\n## Quality under a judge VGG19 the methods never used (random weights, seed "
          f"{runs_style.JUDGE_SEED}); lower is closer")
    print(f"astronaut / hubble_deep_field at {content.shape[1]} px, the images of the L-BFGS comparison "
          "(astronaut is one of the networks' training photos)")
    rows = {"content image (no stylisation)": content,
            "content recoloured to the style (match_color_statistics)": st.match_color_statistics(content, style)}
    rows.update(results)
    stylise_with_networks(content, style, rows)
    _score_table(rows, content, style, judge)

    # The networks were trained on 128 px crops of 256 px photos: judge them at that scale too, on a
    # photo none of them trained on, with Gatys (L-BFGS) at the same size as the reference.
    held_out = runs_style.HELD_OUT_CONTENT
    print(f"\n{held_out} (never trained on) / hubble_deep_field at {held_out_size} px")
    content = images.load_image(held_out, max_side=held_out_size)
    style = images.load_image("hubble_deep_field", max_side=held_out_size)
    rows = {"content image (no stylisation)": content,
            "content recoloured to the style (match_color_statistics)": st.match_color_statistics(content, style)}
    if gatys_iterations > 0:
        started = time.perf_counter()
        rows[f"Gatys, L-BFGS, {gatys_iterations} iterations"], _ = st.stylize_gatys(
            content, style, extractor=extractor, steps=gatys_iterations, optimizer="lbfgs")
        print(f"(Gatys took {time.perf_counter() - started:.0f} s)")
    stylise_with_networks(content, style, rows)
    _score_table(rows, content, style, judge)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="auto", help="VGG19 weights: auto, imagenet, random or PATH")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="iteration-time sizes")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (median)")
    parser.add_argument("--size", type=int, default=96, help="image size of the L-BFGS/Adam comparison")
    parser.add_argument("--adam-steps", "--steps", type=int, default=1000, help="Adam steps (README: 1000)")
    parser.add_argument("--lbfgs-iterations", type=int, default=200, help="the most L-BFGS iterations")
    parser.add_argument("--fast-run", help="a fast-style RUN_DIR to score")
    parser.add_argument("--adain-run", help="an AdaIN RUN_DIR to score")
    parser.add_argument("--held-out-size", type=int, default=256, help="size of the held-out quality table")
    parser.add_argument("--gatys-iterations", type=int, default=100,
                        help="L-BFGS iterations of the held-out table's Gatys reference (0: none)")
    parser.add_argument("--skip", nargs="*", default=[], choices=("iteration", "lbfgs", "forward", "quality"))
    args = parser.parse_args()

    print(f"TensorFlow {tf.__version__}; devices: {[d.device_type for d in tf.config.list_physical_devices()]}; "
          f"{os.cpu_count()} CPU cores (shared machines: timings vary)")
    extractor, used = runs_style.resolve_weights(args.weights, 0, st.CONTENT_LAYERS + st.STYLE_LAYERS)
    started = time.perf_counter()
    if "iteration" not in args.skip:
        bench_iteration(extractor, args.sizes, args.repeats)
    results = {}
    content = style = None
    if "lbfgs" not in args.skip:
        content, style, results = bench_lbfgs(extractor, args.size, args.adam_steps, args.lbfgs_iterations)
    if "forward" not in args.skip:
        bench_forward(0, args.repeats)
    if "quality" not in args.skip:
        if content is None:
            content = images.load_image("astronaut", max_side=args.size)
            style = images.load_image("hubble_deep_field", max_side=args.size)
        bench_quality(content, style, results, args.fast_run, args.adain_run, extractor,
                      args.held_out_size, args.gatys_iterations)
    print(f"\nTotal {time.perf_counter() - started:.0f} s; weights: {st.describe_vgg_weights(used, 0)}")


if __name__ == "__main__":
    main()
