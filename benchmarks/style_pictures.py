"""Makes the style-transfer pictures of the README (docs/images/), each from one named command.

Every picture shows the content and the style beside the result, and its title
says how it was made. Offline: VGG19 has random weights (seed 0).

    python benchmarks/style_pictures.py gatys          # astronaut x immunohistochemistry, 256 px, 100 L-BFGS it.
    python benchmarks/style_pictures.py gatys-hubble   # astronaut x Hubble deep field (the issue's command)
    python benchmarks/style_pictures.py fast           # the shipped fast-style network on held-out chelsea
    python benchmarks/style_pictures.py adain          # the shipped AdaIN decoder, three styles, held-out chelsea
    python benchmarks/style_pictures.py all

Each prints the file it wrote, the seconds it took, the load average and the
measures of lib/style_transfer/measures.py for its result.
"""

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lib import images, pretrained  # noqa: E402
from lib import style_transfer as st  # noqa: E402
from lib.plots import style as style_plots  # noqa: E402
from lib.runs import style as runs  # noqa: E402
from lib.style_transfer import measures  # noqa: E402

IMAGES = ROOT / "docs" / "images"
PICTURES = ("gatys", "gatys-hubble", "fast", "adain")


def _load_average():
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def _report(path, started, scores):
    print(f"wrote {path.relative_to(ROOT)} in {time.perf_counter() - started:.0f} s (load average {_load_average()})")
    for name, row in scores.items():
        print(f"  {name}: " + ", ".join(f"{key} {value:.3f}" for key, value in row.items()))


def gatys(style_name, file_name):
    started = time.perf_counter()
    content = images.load_image("astronaut", max_side=256)
    style = images.load_image(style_name, max_side=256)
    extractor = st.build_vgg_feature_extractor(st.CONTENT_LAYERS + st.STYLE_LAYERS, weights="random", seed=0)
    result, history = st.stylize_gatys(content, style, extractor=extractor, steps=100,
                                       **st.loss_weights("gatys", "random"))
    seconds = history[-1]["seconds"]
    path = style_plots.save_panel(
        [content, style, result], ["content: astronaut", f"style: {style_name}",
                                   f"Gatys, 100 L-BFGS iterations, {seconds:.0f} s"], IMAGES / file_name)
    _report(path, started, {"result": measures.quality_measures(result, content, style)})


def fast():
    started = time.perf_counter()
    network = pretrained.load("fast_style")
    rows, names = [], (runs.HELD_OUT_CONTENT, "coffee")
    style = images.load_image(runs.FAST_STYLE, max_side=256)
    scores = {}
    for name in names:
        content = images.load_image(name, max_side=256)
        result = st.stylize_fast(network, content)
        rows.append((content, result))
        scores[name] = measures.quality_measures(result, content, style)
    path = style_plots.save_panel(
        [rows[0][0], style, rows[0][1], rows[1][1]],
        [f"content: {names[0]} (held out)", f"style: {runs.FAST_STYLE}", "fast style (one forward pass)",
         f"the same network on {names[1]}"], IMAGES / "fast_style_chelsea_immunohistochemistry.png")
    _report(path, started, scores)


def adain():
    started = time.perf_counter()
    decoder = pretrained.load("adain")
    # the random VGG19 (seed 0) it was trained with, up to the layer it inverts (relu3_1)
    encoder = st.build_vgg_feature_extractor(st.adain_style_layers(st.decoder_encoder_layer(decoder)),
                                             weights="random", seed=0)
    stylizer = st.AdaINStylizer(encoder, decoder)
    content = images.load_image(runs.HELD_OUT_CONTENT, max_side=256)
    style_names = ("immunohistochemistry", "hubble_deep_field", "brick")
    styles = [images.load_image(name, max_side=256) for name in style_names]
    results = [stylizer(content, style) for style in styles]
    import matplotlib.pyplot as plt

    figure = style_plots.plot_image_grid_with_labels(
        [[content, *styles], [content, *results]], ["content / style", "AdaIN result"],
        [f"{runs.HELD_OUT_CONTENT} (held out)", *style_names], size=2.6)
    figure.savefig(IMAGES / "adain_chelsea_three_styles.png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    scores = {name: measures.quality_measures(result, content, style)
              for name, result, style in zip(style_names, results, styles)}
    _report(IMAGES / "adain_chelsea_three_styles.png", started, scores)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("picture", choices=PICTURES + ("all",))
    args = parser.parse_args()
    chosen = PICTURES if args.picture == "all" else (args.picture,)
    if "gatys" in chosen:
        gatys("immunohistochemistry", "gatys_astronaut_immunohistochemistry_256px_random_vgg.png")
    if "gatys-hubble" in chosen:
        gatys("hubble_deep_field", "gatys_astronaut_hubble_256px_random_vgg.png")
    if "fast" in chosen:
        fast()
    if "adain" in chosen:
        adain()


if __name__ == "__main__":
    main()
