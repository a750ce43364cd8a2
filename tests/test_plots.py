"""Tests for lib/plots/: every public function on tiny inputs, with known values where there are any.

The VAE plots are driven by a stub model whose codes and decodings are known
(pixel (0, 0) holds z[0], pixel (0, 1) holds z[1], pixel (0, 2) the label), so
the tests check which latents each function decodes; one test runs them on a
small real `lib.vae` model to keep the stub honest.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from matplotlib import animation  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402
from PIL import Image  # noqa: E402

from lib import plots  # noqa: E402
from lib.plots import diffusion as diffusion_plots  # noqa: E402
from lib.plots import gan as gan_plots  # noqa: E402
from lib.plots import style as style_plots  # noqa: E402
from lib.plots import vae as vae_plots  # noqa: E402

PHI_INVERSE_095 = 1.6448536269514722  # the 95 % quantile of N(0, 1)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def _shown(axis):
    """The array an axis shows with imshow (the first image)."""
    return np.asarray(axis.images[0].get_array())


def _line(axis, label):
    (line,) = [line for line in axis.get_lines() if line.get_label() == label]
    return line


def _constant_images(values, size=2, channels=1):
    """One image per value, every pixel equal to it: (n, size, size, channels)."""
    values = np.asarray(values, dtype=np.float32)
    return np.broadcast_to(values[:, None, None, None], (len(values), size, size, channels)).copy()


# lib/plots/__init__.py: tile_images ---------------------------------------------------------


def test_tile_images_known_layout_with_padding_and_an_empty_slot():
    grid = plots.tile_images(_constant_images([0.1, 0.2, 0.3]), columns=2)
    assert grid.shape == (5, 5, 1) and grid.dtype == np.float32
    a, b, c = 0.1, 0.2, 0.3
    expected = np.array([
        [a, a, 1, b, b],
        [a, a, 1, b, b],
        [1, 1, 1, 1, 1],
        [c, c, 1, 1, 1],
        [c, c, 1, 1, 1],
    ], np.float32)
    np.testing.assert_allclose(grid[..., 0], expected)


def test_tile_images_padding_value_and_no_padding():
    images = _constant_images([0.25, 0.75])
    np.testing.assert_allclose(plots.tile_images(images, columns=2, padding=0)[..., 0],
                               [[0.25, 0.25, 0.75, 0.75]] * 2)
    np.testing.assert_allclose(plots.tile_images(images, columns=1, pad_value=0.0)[..., 0],
                               [[0.25, 0.25], [0.25, 0.25], [0, 0], [0.75, 0.75], [0.75, 0.75]])


@pytest.mark.parametrize("count, shape", [(1, (2, 2)), (4, (5, 5)), (5, (5, 8)), (10, (8, 11))])
def test_tile_images_default_columns_is_about_the_square_root(count, shape):
    # 4 -> 2 x 2, 5 -> 2 rows of 3, 10 -> 4 columns, 3 rows (2x2 images, 1 pixel of padding).
    assert plots.tile_images(np.zeros((count, 2, 2))).shape[:2] == shape


def test_tile_images_keeps_colour_and_accepts_rank_3():
    rgb = np.zeros((2, 2, 2, 3), np.float32)
    rgb[1, ..., 0] = 1.0  # the second image red
    grid = plots.tile_images(rgb, columns=2, pad_value=0.5)
    assert grid.shape == (2, 5, 3)
    np.testing.assert_allclose(grid[0, 3], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(grid[0, 2], [0.5, 0.5, 0.5])
    assert plots.tile_images(np.ones((2, 3, 3)), columns=2).shape == (3, 7, 1)


@pytest.mark.parametrize("shape", [(2, 2), (0, 2, 2, 1), (2, 2, 2, 2), (1, 1, 2, 2, 1)])
def test_tile_images_refuses_other_shapes_and_empty_batches(shape):
    with pytest.raises(ValueError, match=r"Expected a non-empty batch \(n, h, w\) or \(n, h, w, 1 or 3\)") as error:
        plots.tile_images(np.zeros(shape))
    assert f"Received: shape={shape}" in str(error.value)


@pytest.mark.parametrize("low, high", [(-1.0, 1.0), (0.0, 255.0)])
def test_tile_images_refuses_values_outside_0_1(low, high):
    images = np.array([[[low, high]]], np.float32)
    with pytest.raises(ValueError, match=r"Expected pixel values in \[0, 1\]") as error:
        plots.tile_images(images)
    assert f"Received: min={low:.3g}, max={high:.3g}" in str(error.value)
    assert "(x + 1) / 2" in str(error.value)


# save_image_grid --------------------------------------------------------------------------


def test_save_image_grid_writes_a_png_of_the_known_size_and_values(tmp_path):
    values = [0.0, 1 / 3, 2 / 3, 1.0]
    images = _constant_images(values, size=28)
    path = plots.save_image_grid(images, tmp_path / "grid.png", columns=2, scale=2)
    assert path == tmp_path / "grid.png" and path.is_file()
    assert [item.name for item in tmp_path.iterdir()] == ["grid.png"]  # no temporary file left
    with Image.open(path) as png:
        assert png.format == "PNG" and png.mode == "L"
        # 2 x 2 images of 28 pixels with 1 pixel between them: 57 pixels, doubled: 114.
        assert png.size == (114, 114)
        pixels = np.asarray(png)
    expected = np.round(np.asarray(values) * 255).astype(np.uint8)  # 0, 85, 170, 255
    for index, (top, left) in enumerate([(0, 0), (0, 58), (58, 0), (58, 58)]):
        assert (pixels[top : top + 56, left : left + 56] == expected[index]).all()
    assert (pixels[56:58, :] == 255).all() and (pixels[:, 56:58] == 255).all()  # white padding


def test_save_image_grid_colour_and_scale_1(tmp_path):
    images = np.zeros((1, 3, 4, 3), np.float32)
    images[0, 0, 0] = [1.0, 0.5, 0.0]
    path = plots.save_image_grid(images, str(tmp_path / "colour.png"), scale=1)
    with Image.open(path) as png:
        assert png.mode == "RGB" and png.size == (4, 3)
        pixels = np.asarray(png)
    assert pixels[0, 0].tolist() == [255, 128, 0]
    assert pixels[1:].max() == 0


def test_save_image_grid_refuses_what_tile_images_refuses(tmp_path):
    with pytest.raises(ValueError, match=r"Expected pixel values in \[0, 1\]"):
        plots.save_image_grid(np.full((1, 2, 2), 2.0), tmp_path / "bad.png")
    assert not list(tmp_path.iterdir())


# show_image_grid --------------------------------------------------------------------------


def test_show_image_grid_shows_the_tiled_grid_with_title():
    images = _constant_images([0.0, 0.5, 1.0, 0.25], size=3)
    figure = plots.show_image_grid(images, columns=2, title="Samples", size=2.0)
    assert isinstance(figure, matplotlib.figure.Figure)
    (axis,) = figure.axes
    np.testing.assert_allclose(_shown(axis), plots.tile_images(images, columns=2)[..., 0])
    assert axis.get_title() == "Samples"
    assert list(axis.get_xticks()) == [] and list(axis.get_yticks()) == []
    np.testing.assert_allclose(figure.get_size_inches(), [2.0, 2.0])


def test_show_image_grid_row_labels_sit_beside_their_rows():
    figure = plots.show_image_grid(np.zeros((6, 28, 28)), columns=3, row_labels=["real", "fake"])
    (axis,) = figure.axes
    assert [label.get_text() for label in axis.get_yticklabels()] == ["real", "fake"]
    for row, tick in enumerate(axis.get_yticks()):
        assert row * 29 <= tick < row * 29 + 28
    assert figure.axes[0].get_title() == ""


def test_show_image_grid_colour():
    figure = plots.show_image_grid(np.ones((2, 4, 4, 3)) * 0.5, columns=2)
    assert _shown(figure.axes[0]).shape == (4, 9, 3)


# plot_history -----------------------------------------------------------------------------


def test_plot_history_of_rows_plots_every_value_but_epoch_step_and_seconds():
    rows = [{"epoch": 1, "loss": 3.0, "kl_loss": 1.0, "seconds": 9.0},
            {"epoch": 2, "loss": 2.0, "kl_loss": 1.5, "seconds": 8.0}]
    figure = plots.plot_history(rows, title="VAE")
    (axis,) = figure.axes
    assert [line.get_label() for line in axis.get_lines()] == ["loss", "kl_loss"]
    np.testing.assert_allclose(_line(axis, "loss").get_xydata(), [[1, 3.0], [2, 2.0]])
    assert axis.get_xlabel() == "epoch"
    assert axis.get_title() == "VAE"
    assert [text.get_text() for text in axis.get_legend().get_texts()] == ["loss", "kl_loss"]


def test_plot_history_of_a_dict_with_chosen_keys_and_smoothing():
    history = {"loss": [1.0, 3.0, 5.0, 7.0], "accuracy": [0.1, 0.2, 0.3, 0.4]}
    figure = plots.plot_history(history, keys=["loss"], smooth=2)
    (axis,) = figure.axes
    (line,) = axis.get_lines()
    np.testing.assert_allclose(line.get_xydata(), [[1, 2.0], [2, 4.0], [3, 6.0]])
    assert axis.get_xlabel() == "step"
    assert axis.get_title() == "Training curves"


def test_plot_history_does_not_smooth_a_series_shorter_than_the_window():
    figure = plots.plot_history({"loss": [4.0, 2.0]}, smooth=5)
    np.testing.assert_allclose(figure.axes[0].get_lines()[0].get_ydata(), [4.0, 2.0])


# animate_grids ----------------------------------------------------------------------------


def test_animate_grids_makes_one_frame_per_grid_and_leaves_no_figure_open(tmp_path):
    before = plt.get_fignums()
    grids = [_constant_images([0.0] * 4), _constant_images([1.0] * 4), np.full((5, 5, 1), 0.5, np.float32)]
    result = plots.animate_grids(grids, titles=["epoch 1", "epoch 2", "tiled"], size=1.0)
    assert isinstance(result, animation.FuncAnimation)
    assert plt.get_fignums() == before  # closed: the notebook shows the animation, not a still
    path = tmp_path / "training.gif"
    result.save(path, writer="pillow", dpi=20)
    with Image.open(path) as gif:
        assert gif.n_frames == 3


# plot_class_histogram ---------------------------------------------------------------------


def test_plot_class_histogram_shows_fractions_and_the_reference():
    figure = plots.plot_class_histogram([1, 0, 3], reference=[5, 5, 10])
    (axis,) = figure.axes
    heights = [patch.get_height() for patch in axis.patches]
    np.testing.assert_allclose(heights, [0.25, 0.0, 0.75])
    np.testing.assert_allclose(_line(axis, "real data").get_ydata(), [0.25, 0.25, 0.5])
    assert sorted(text.get_text() for text in axis.get_legend().get_texts()) == ["generated", "real data"]
    assert (axis.get_xlabel(), axis.get_ylabel()) == ("class", "fraction")
    assert axis.get_title() == "Predicted classes of generated digits"
    assert list(axis.get_xticks()) == [0, 1, 2]


def test_plot_class_histogram_without_reference_has_no_legend():
    figure = plots.plot_class_histogram(np.array([2, 2]), title="Collapsed?")
    assert figure.axes[0].get_legend() is None
    assert figure.axes[0].get_title() == "Collapsed?"


# lib/plots/gan.py -------------------------------------------------------------------------


def test_plot_loss_shapes_draws_the_four_losses_exactly():
    figure = gan_plots.plot_loss_shapes(logit_range=(-3.0, 3.0))
    left, right = figure.axes
    assert left.get_title() == "Discriminator loss per example"
    assert right.get_title() == "Generator loss on a fake"
    expected = {  # written from the definitions, not from the code's softplus
        (0, "real image: -log sigmoid(t)"): lambda t: -np.log(_sigmoid(t)),
        (0, "fake image: -log(1 - sigmoid(t))"): lambda t: -np.log(1 - _sigmoid(t)),
        (1, "minimax: log(1 - sigmoid(t))"): lambda t: np.log(1 - _sigmoid(t)),
        (1, "non-saturating: -log sigmoid(t)"): lambda t: -np.log(_sigmoid(t)),
    }
    for (index, label), function in expected.items():
        x, y = _line(figure.axes[index], label).get_data()
        assert x[0] == -3.0 and x[-1] == 3.0
        np.testing.assert_allclose(y, function(x), rtol=1e-9)
    # The minimax loss is flat where the discriminator rejects the fake; the non-saturating one steep.
    minimax = _line(right, "minimax: log(1 - sigmoid(t))").get_ydata()
    non_saturating = _line(right, "non-saturating: -log sigmoid(t)").get_ydata()
    assert abs(minimax[1] - minimax[0]) < 0.1 * abs(non_saturating[1] - non_saturating[0])


def test_plot_loss_shapes_marks_the_given_logits_on_every_curve():
    figure = gan_plots.plot_loss_shapes(marked_logits=[[-2.0], [0.0]])
    left, _ = figure.axes
    dots = [line for line in left.get_lines() if line.get_marker() == "o"]
    assert len(dots) == 2
    np.testing.assert_allclose(sorted(dot.get_ydata()[1] for dot in dots), [np.log(2.0), np.log(2.0)])
    np.testing.assert_allclose(dots[0].get_xdata(), [-2.0, 0.0])


@pytest.mark.parametrize("logit_range", [(1.0, -1.0), (2.0, 2.0)])
def test_plot_loss_shapes_refuses_a_backwards_range(logit_range):
    with pytest.raises(ValueError, match=r"Expected logit_range=\(low, high\) with low < high") as error:
        gan_plots.plot_loss_shapes(logit_range)
    assert f"Received: {logit_range}" in str(error.value)


SCORES = {"DCGAN": {"fid": 17.5, "kid": 0.02, "kid_std": 0.004}, "WGAN-GP": {"fid": 20.6, "kid": 0.03}}


def test_plot_scores_one_panel_per_metric_with_the_values_and_floor():
    figure = gan_plots.plot_scores(SCORES, floor={"fid": 3.2})
    fid_axis, kid_axis = figure.axes
    assert (fid_axis.get_title(), kid_axis.get_title()) == ("FID", "KID")
    assert figure.get_suptitle() == "Sample quality (lower is better)"
    (fid_bars,), (kid_bars,) = [[container for container in axis.containers if isinstance(container, BarContainer)]
                                for axis in (fid_axis, kid_axis)]
    assert [bar.get_height() for bar in fid_bars] == [17.5, 20.6]
    assert [bar.get_height() for bar in kid_bars] == [0.02, 0.03]
    assert fid_bars.errorbar is None and kid_bars.errorbar is not None  # only KID has a std
    floor = _line(fid_axis, "real data floor 3.2")
    assert floor.get_ydata()[0] == 3.2
    assert kid_axis.get_legend() is None  # no KID floor given


def test_plot_scores_chosen_metrics_and_title():
    figure = gan_plots.plot_scores({"DDPM": {"fid": 13.3}}, metrics=("fid",), title="Diffusion")
    assert len(figure.axes) == 1 and figure.get_suptitle() == "Diffusion"


def test_plot_scores_refuses_empty_scores_and_missing_metrics():
    with pytest.raises(ValueError, match="Expected scores for at least one model. Received: an empty dict"):
        gan_plots.plot_scores({})
    expected = r"Expected \['fid', 'kid'\] for every model. Received: 'DDPM' lacks \['kid'\]"
    with pytest.raises(ValueError, match=expected):
        gan_plots.plot_scores({"DCGAN": {"fid": 1.0, "kid": 0.1}, "DDPM": {"fid": 2.0}})


def test_plot_runs_one_panel_per_run_on_a_shared_axis():
    runs = {"a": {"discriminator_loss": [1.0, 3.0, 5.0], "generator_loss": [0.0, 0.0, 3.0]},
            "b": {"discriminator_loss": [2.0, 2.0, 2.0], "generator_loss": [1.0, 1.0, 1.0]}}
    figure = gan_plots.plot_runs(runs, smooth=2, title="Two runs")
    first, second = figure.axes
    assert (first.get_title(), second.get_title()) == ("run a", "run b")
    assert figure.get_suptitle() == "Two runs"
    assert first.get_shared_y_axes().joined(first, second)
    np.testing.assert_allclose(_line(first, "discriminator_loss").get_xydata(), [[1, 2.0], [2, 4.0]])
    np.testing.assert_allclose(_line(first, "generator_loss").get_ydata(), [0.0, 1.5])
    assert first.get_legend() is not None and second.get_legend() is None
    assert first.get_xlabel() == "step"


def test_plot_runs_refuses_no_runs_and_missing_curves():
    with pytest.raises(ValueError, match="Expected at least one run. Received: an empty dict"):
        gan_plots.plot_runs({})
    with pytest.raises(ValueError, match=r"Received: 'b' lacks \['generator_loss'\]") as error:
        gan_plots.plot_runs({"a": {"discriminator_loss": [1], "generator_loss": [1]}, "b": {"discriminator_loss": [1]}})
    assert "Expected the curves ['discriminator_loss', 'generator_loss'] in every run" in str(error.value)


def test_show_grids_side_by_side_one_titled_panel_per_grid():
    grids = [_constant_images([0.0] * 4), _constant_images([1.0] * 2)]
    figure = gan_plots.show_grids_side_by_side(grids, ["raw", "averaged"], columns=2)
    left, right = figure.axes
    assert (left.get_title(), right.get_title()) == ("raw", "averaged")
    assert _shown(left).shape == (5, 5) and _shown(right).shape == (2, 5)
    assert _shown(left)[0, 0] == 0.0 and _shown(right)[0, 0] == 1.0


def test_show_grids_side_by_side_refuses_mismatched_or_no_grids():
    with pytest.raises(ValueError, match="Expected one title per grid. Received: 2 grids, 1 titles"):
        gan_plots.show_grids_side_by_side([np.zeros((1, 2, 2))] * 2, ["one"])
    with pytest.raises(ValueError, match="Received: 0 grids, 0 titles"):
        gan_plots.show_grids_side_by_side([], [])


# lib/plots/vae.py -------------------------------------------------------------------------


class StubVAE:
    """A VAE with known codes: mean = (image mean, 0, ...); logits (0, 0) = z[0], (0, 1) = z[1], (0, 2) = label."""

    def __init__(self, latent_dim=2, num_classes=None, beta=4.0):
        self.latent_dim, self.num_classes, self.beta = latent_dim, num_classes, beta

    def encode(self, images, labels=None):
        images = np.asarray(images, np.float32)
        mean = np.zeros((len(images), self.latent_dim), np.float32)
        mean[:, 0] = images.reshape(len(images), -1).mean(axis=1)
        return tf.constant(mean), tf.zeros_like(mean)

    def decode(self, latents, labels=None):
        latents = np.asarray(latents, np.float32)
        logits = np.zeros((len(latents), 28, 28, 1), np.float32)
        logits[:, 0, 0, 0] = latents[:, 0]
        logits[:, 0, 1, 0] = latents[:, 1]
        if labels is not None:
            logits[:, 0, 2, 0] = labels
        return tf.constant(logits)


def _codes(images):
    """The (z[0], z[1]) a StubVAE decoded each image from."""
    probabilities = np.asarray(images, np.float64)[:, 0, :2, 0]
    return np.log(probabilities / (1 - probabilities))


def test_latent_scatter_places_each_mean_and_colours_by_digit():
    means = np.array([[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]])
    figure = vae_plots.latent_scatter(means, labels=[3, 1, 4])
    axis, colorbar = figure.axes
    points = axis.collections[0]
    np.testing.assert_allclose(points.get_offsets(), means)
    np.testing.assert_allclose(points.get_array(), [3, 1, 4])
    assert (axis.get_xlabel(), axis.get_ylabel()) == ("z[0]", "z[1]")
    assert colorbar.get_ylabel() == "digit"
    assert axis.get_title() == "Test digits in the 2-D latent space (posterior means)"


@pytest.mark.parametrize("shape", [(4, 3), (4,), (1, 4, 2)])
def test_latent_scatter_refuses_means_that_are_not_n_by_2(shape):
    with pytest.raises(ValueError, match=r"Expected means of shape \(n, 2\)") as error:
        vae_plots.latent_scatter(np.zeros(shape), labels=[0] * 4)
    assert f"Received: {shape}" in str(error.value)


def test_manifold_images_decode_a_grid_at_prior_quantiles_top_row_high():
    images = vae_plots.manifold_images(StubVAE(), n=3)
    assert images.shape == (9, 28, 28, 1)
    q = [-PHI_INVERSE_095, 0.0, PHI_INVERSE_095]
    expected = np.array([[x, y] for y in reversed(q) for x in q])
    np.testing.assert_allclose(_codes(images), expected, atol=1e-4)


def test_manifold_images_need_a_2d_latent_space():
    with pytest.raises(ValueError, match="Expected a model with latent_dim=2. Received: latent_dim=3"):
        vae_plots.manifold_images(StubVAE(latent_dim=3))


def test_plot_manifold_shows_the_n_by_n_grid():
    figure = vae_plots.plot_manifold(StubVAE(), n=3, title="Manifold")
    (axis,) = figure.axes
    assert _shown(axis).shape == (86, 86)  # 3 images of 28 and 2 pixels of padding
    assert axis.get_title() == "Manifold"


def test_interpolate_decodes_the_straight_line_between_two_codes():
    zeros, ones = np.zeros((28, 28, 1), np.float32), np.ones((28, 28, 1), np.float32)
    images = vae_plots.interpolate(StubVAE(), zeros, ones, steps=5)
    assert images.shape == (5, 28, 28, 1)
    np.testing.assert_allclose(_codes(images), [[0, 0], [0.25, 0], [0.5, 0], [0.75, 0], [1, 0]], atol=1e-5)


def test_plot_interpolation_puts_the_inputs_at_the_ends_of_each_row():
    zeros, ones = np.zeros((28, 28, 1), np.float32), np.ones((28, 28, 1), np.float32)
    figure = vae_plots.plot_interpolation(StubVAE(), [(zeros, ones), (ones, zeros)], steps=3)
    shown = _shown(figure.axes[0])
    assert shown.shape == (57, 144)  # 2 rows of 3 + 2 images
    assert (shown[:28, :28] == 0).all() and (shown[:28, 116:] == 1).all()
    assert (shown[29:, :28] == 1).all() and (shown[29:, 116:] == 0).all()
    assert figure.axes[0].get_title() == "Interpolating between codes"


def test_plot_reconstructions_inputs_above_their_decodings():
    images = _constant_images([0.0, 0.5, 1.0], size=28)
    figure = vae_plots.plot_reconstructions(StubVAE(), images)
    shown = _shown(figure.axes[0])
    assert shown.shape == (57, 86)
    np.testing.assert_allclose(shown[:28, :28], 0.0)
    # The reconstruction of image k sits below it, decoded from its code (mean pixel, 0).
    np.testing.assert_allclose([shown[29, 0], shown[29, 29], shown[29, 58]], _sigmoid([0.0, 0.5, 1.0]), rtol=1e-6)


def test_traversal_images_change_one_dimension_at_a_time():
    image = np.full((28, 28, 1), 0.5, np.float32)
    images = vae_plots.traversal_images(StubVAE(), image, dimensions=[0, 1], values=[-1.0, 2.0])
    np.testing.assert_allclose(_codes(images), [[-1, 0], [2, 0], [0.5, -1], [0.5, 2]], atol=1e-5)


def test_plot_traversals_labels_each_row_with_its_dimension():
    image = np.full((28, 28, 1), 0.5, np.float32)
    figure = vae_plots.plot_traversals(StubVAE(beta=4.0), image, [0, 1], values=[-1.0, 0.0, 1.0])
    (axis,) = figure.axes
    assert _shown(axis).shape == (57, 86)
    assert [label.get_text() for label in axis.get_yticklabels()] == ["z[0]", "z[1]"]
    assert axis.get_title() == "Latent traversals, beta=4"


def test_label_swap_images_decode_each_latent_with_every_label():
    images = vae_plots.label_swap_images(StubVAE(num_classes=3), [[0.5, 0.0], [1.0, -1.0]])
    assert images.shape == (6, 28, 28, 1)
    np.testing.assert_allclose(_codes(images), [[0.5, 0]] * 3 + [[1, -1]] * 3, atol=1e-5)
    np.testing.assert_allclose(images[:, 0, 2, 0], _sigmoid([0, 1, 2, 0, 1, 2]), rtol=1e-6)


def test_plot_label_swap_one_column_per_class():
    figure = vae_plots.plot_label_swap(StubVAE(num_classes=3), [[0.5, 0.0], [1.0, -1.0]])
    assert _shown(figure.axes[0]).shape == (57, 86)
    assert figure.axes[0].get_title() == "Same latent per row, label 0..9 across"


def test_plot_rate_distortion_one_annotated_point_per_beta():
    figure = vae_plots.plot_rate_distortion([5.0, 20.0, 30.0], [120.0, 90.0, 80.0], [4.0, 1.0, 0.5])
    (axis,) = figure.axes
    np.testing.assert_allclose(axis.get_lines()[0].get_xydata(), [[5, 120], [20, 90], [30, 80]])
    assert [text.get_text() for text in axis.texts] == ["beta=4", "beta=1", "beta=0.5"]
    assert axis.texts[0].xy == (5.0, 120.0)
    assert axis.get_xlabel().startswith("rate") and axis.get_ylabel().startswith("distortion")


def test_plot_run_curves_one_panel_per_term_one_line_per_run():
    runs = {"a": {"reconstruction_loss": [100.0, 90.0], "kl_loss": [5.0, 6.0]},
            "b": {"reconstruction_loss": [110.0, 95.0], "kl_loss": [0.0, 0.0]}}
    figure = vae_plots.plot_run_curves(runs, title="Which run is broken?")
    left, right = figure.axes
    assert (left.get_title(), right.get_title()) == ("reconstruction_loss", "kl_loss")
    assert [line.get_label() for line in right.get_lines()] == ["run a", "run b"]
    np.testing.assert_allclose(_line(right, "run a").get_xydata(), [[1, 5.0], [2, 6.0]])
    assert figure.get_suptitle() == "Which run is broken?"
    assert left.get_xlabel() == "epoch"


def test_plot_run_curves_with_one_term():
    figure = vae_plots.plot_run_curves({"a": {"loss": [3.0, 2.0, 1.0]}}, keys=("loss",))
    (axis,) = figure.axes
    np.testing.assert_allclose(axis.get_lines()[0].get_ydata(), [3.0, 2.0, 1.0])


def test_vae_plots_run_on_a_real_small_model():
    from lib import vae

    model = vae.make_vae("vae", latent_dim=2, architecture="mlp", hidden_units=[8])
    images = _constant_images([0.0, 1.0], size=28)
    manifold = vae_plots.manifold_images(model, n=2)
    assert manifold.shape == (4, 28, 28, 1) and 0 < manifold.min() and manifold.max() < 1
    assert _shown(vae_plots.plot_reconstructions(model, images).axes[0]).shape == (57, 57)
    assert _shown(vae_plots.plot_interpolation(model, [(images[0], images[1])], steps=2).axes[0]).shape == (28, 115)
    assert _shown(vae_plots.plot_traversals(model, images[0], [0, 1], values=[-1.0, 1.0]).axes[0]).shape == (57, 57)
    conditional = vae.make_vae("cvae", latent_dim=2, architecture="mlp", hidden_units=[8])
    swapped = vae_plots.label_swap_images(conditional, [[0.0, 0.0]])
    assert swapped.shape == (10, 28, 28, 1)
    assert not np.allclose(swapped[0], swapped[1])  # the label changes the decoding


# lib/plots/diffusion.py -------------------------------------------------------------------


def test_plot_schedules_alpha_bar_its_root_and_the_signal_to_noise_ratio():
    alpha_bar = np.array([0.9, 0.5, 0.1])
    figure = diffusion_plots.plot_schedules({"linear": alpha_bar, "cosine": [0.99, 0.8, 0.2]})
    left, right = figure.axes
    assert len(left.get_lines()) == 4 and len(right.get_lines()) == 2
    np.testing.assert_allclose(_line(left, "linear: alpha_bar_t").get_xydata(), [[0, 0.9], [1, 0.5], [2, 0.1]])
    np.testing.assert_allclose(_line(left, "linear: sqrt(alpha_bar_t), the signal's scale").get_ydata(),
                               np.sqrt(alpha_bar))
    np.testing.assert_allclose(_line(right, "linear").get_ydata(), [9.0, 1.0, 1 / 9])
    assert right.get_yscale() == "log"
    assert left.get_title() == "Noise schedules: the signal left at each step"
    assert left.get_xlabel() == "timestep t"


def test_plot_forward_process_maps_minus_1_1_to_0_1_one_row_per_schedule():
    row = _constant_images([-1.0, 0.0, 3.0])  # x_t at three timesteps; 3 is clipped
    figure = diffusion_plots.plot_forward_process([row, -row], timesteps=[0, 10, 999], row_labels=["a", "b"])
    (axis,) = figure.axes
    shown = _shown(axis)
    assert shown.shape == (5, 8)
    np.testing.assert_allclose(shown[0, [0, 3, 6]], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(shown[3, [0, 3, 6]], [1.0, 0.5, 0.0])
    assert axis.get_title() == "The forward process q(x_t | x_0); t = 0, 10, 999"
    assert [label.get_text() for label in axis.get_yticklabels()] == ["a", "b"]


def test_plot_denoising_strip_two_rows_per_image():
    count = 2
    noise = np.full((count, 2, 2, 1), -1.0, np.float32)
    digit = np.ones((count, 2, 2, 1), np.float32)
    guess = np.zeros((count, 2, 2, 1), np.float32)
    snapshots = [(999, noise, guess), (0, digit, digit)]
    figure = diffusion_plots.plot_denoising_strip(snapshots)
    (axis,) = figure.axes
    shown = _shown(axis)
    assert shown.shape == (11, 5)  # 4 rows (x_t, x0_hat for each image), 2 columns (the kept steps)
    np.testing.assert_allclose(shown[0, [0, 3]], [0.0, 1.0])  # x_t of image 1: noise, then the digit
    np.testing.assert_allclose(shown[3, [0, 3]], [0.5, 1.0])  # x0_hat of image 1
    assert [label.get_text() for label in axis.get_yticklabels()] == [
        "x_t (1)", "x0_hat (1)", "x_t (2)", "x0_hat (2)"]
    assert axis.get_title().endswith("; t = 999, 0")


def test_plot_quality_against_steps_both_axes_every_step_count():
    table = {"DDPM": {1000: {"fid": 13.0, "confidently_read": 0.8}, 50: {"fid": 40.0, "confidently_read": 0.5}},
             "DDIM": {10: {"fid": 30.0, "confidently_read": 0.6}, 50: {"fid": 15.0, "confidently_read": 0.75}}}
    figure = diffusion_plots.plot_quality_against_steps(table)
    axis, right = figure.axes
    np.testing.assert_allclose(_line(axis, "DDPM: FID").get_xydata(), [[50, 40.0], [1000, 13.0]])
    np.testing.assert_allclose(_line(right, "DDIM: confidently read").get_xydata(), [[10, 0.6], [50, 0.75]])
    assert axis.get_xscale() == "log"
    assert list(axis.get_xticks()) == [10, 50, 1000]
    assert right.get_ylim() == (0.0, 1.0)
    assert [text.get_text() for text in axis.get_legend().get_texts()] == [
        "DDPM: FID", "DDIM: FID", "DDPM: confidently read", "DDIM: confidently read"]
    assert axis.get_title() == "Sample quality against sampling steps"


def test_plot_guidance_sorted_scales_on_both_axes():
    table = {3.0: {"fid": 20.0, "label_accuracy": 0.99}, 0.0: {"fid": 12.0, "label_accuracy": 0.3},
             1.0: {"fid": 10.0, "label_accuracy": 0.9}}
    figure = diffusion_plots.plot_guidance(table, title="Guidance")
    axis, right = figure.axes
    np.testing.assert_allclose(_line(axis, "FID").get_xydata(), [[0, 12.0], [1, 10.0], [3, 20.0]])
    np.testing.assert_allclose(_line(right, "read as the asked-for digit").get_ydata(), [0.3, 0.9, 0.99])
    assert right.get_ylim() == (0.0, 1.0)
    assert axis.get_title() == "Guidance"
    assert (axis.get_ylabel(), right.get_ylabel()) == ("FID (lower is better)", "label accuracy")


# lib/plots/style.py -----------------------------------------------------------------------


def test_show_images_side_by_side_clipped_with_titles():
    content = np.full((4, 5, 3), 2.0, np.float32)  # out of range: shown clipped to 1
    gray = np.full((4, 5, 1), 0.25, np.float32)
    figure = style_plots.show_images([content, gray], titles=["content", "gray"], suptitle="Inputs")
    left, right = figure.axes
    assert (left.get_title(), right.get_title()) == ("content", "gray")
    assert _shown(left).shape == (4, 5, 3) and _shown(left).max() == 1.0
    assert _shown(right).shape == (4, 5) and _shown(right)[0, 0] == 0.25
    assert figure.get_suptitle() == "Inputs"


def test_plot_feature_maps_one_row_per_layer():
    features = {"block1_conv1": np.arange(4 * 4 * 8, dtype=np.float32).reshape(1, 4, 4, 8),
                "block2_conv1": np.zeros((1, 2, 2, 8), np.float32)}
    figure = style_plots.plot_feature_maps(features, channels=3)
    assert len(figure.axes) == 6
    assert figure.axes[0].get_ylabel() == "block1_conv1\n4x4x8"
    assert figure.axes[3].get_ylabel() == "block2_conv1\n2x2x8"
    assert figure.axes[1].get_ylabel() == ""
    np.testing.assert_allclose(_shown(figure.axes[2]), features["block1_conv1"][0, :, :, 2])
    assert figure.get_suptitle() == "VGG19 feature maps (first channels of each layer)"


@pytest.mark.parametrize("gram", [np.arange(16.0).reshape(4, 4), np.arange(16.0).reshape(1, 4, 4)])
def test_plot_gram_matrix_shows_the_top_left_block(gram):
    figure = style_plots.plot_gram_matrix(gram, title="Gram of chelsea", channels=2)
    axis, _colorbar = figure.axes
    np.testing.assert_allclose(_shown(axis), [[0.0, 1.0], [4.0, 5.0]])
    assert axis.get_title() == "Gram of chelsea\n(first 2 of 4 channels)"


def test_plot_optimizer_comparison_against_iterations_and_seconds():
    adam = [{"step": 1, "seconds": 0.5, "loss": 100.0}, {"step": 2, "seconds": 1.0, "loss": 10.0}]
    lbfgs = [{"step": 1, "seconds": 2.0, "loss": 50.0}, {"step": 2, "seconds": 4.0, "loss": 1.0}]
    figure = style_plots.plot_optimizer_comparison({"Adam": adam, "L-BFGS": lbfgs})
    by_step, by_time = figure.axes
    np.testing.assert_allclose(_line(by_step, "L-BFGS").get_xydata(), [[1, 50.0], [2, 1.0]])
    np.testing.assert_allclose(_line(by_time, "L-BFGS").get_xydata(), [[2.0, 50.0], [4.0, 1.0]])
    assert by_step.get_yscale() == "log" and by_time.get_yscale() == "log"
    assert (by_step.get_xlabel(), by_time.get_xlabel()) == ("iteration", "seconds (this machine)")
    assert by_step.get_ylabel() == "loss"
    assert figure.get_suptitle() == "Gatys loss: Adam against L-BFGS"


def test_plot_image_grid_with_labels_labels_the_first_row_and_column():
    image = np.zeros((3, 3, 3), np.float32)
    rows = [[image, image, image], [image, image, image + 0.5]]
    figure = style_plots.plot_image_grid_with_labels(rows, ["style A", "style B"], ["0.25", "0.5", "1.0"])
    axes = np.array(figure.axes).reshape(2, 3)
    assert [axis.get_title() for axis in axes[0]] == ["0.25", "0.5", "1.0"]
    assert [axis.get_title() for axis in axes[1]] == ["", "", ""]
    assert [axis.get_ylabel() for axis in axes[:, 0]] == ["style A", "style B"]
    assert axes[0, 1].get_ylabel() == ""
    np.testing.assert_allclose(_shown(axes[1, 2]), image + 0.5)


def test_plot_layer_shares_raw_against_balanced():
    figure = style_plots.plot_layer_shares([1.0, 3.0], [0.5, 1 / 6], ["block1_conv1", "block2_conv1"])
    (axis,) = figure.axes
    heights = [patch.get_height() for patch in axis.patches]
    np.testing.assert_allclose(heights, [0.25, 0.75, 0.5, 0.5])  # raw shares, then balanced: equal
    assert [label.get_text() for label in axis.get_xticklabels()] == ["block1\nconv1", "block2\nconv1"]
    assert axis.get_ylabel() == "share of the style loss"


def test_plot_loss_terms_content_and_style_on_a_symlog_axis():
    history = [{"step": 1, "content_loss": 0.0, "style_loss": 5.0},
               {"step": 10, "content_loss": 2.0, "style_loss": 1.0}]
    figure = style_plots.plot_loss_terms(history)
    (axis,) = figure.axes
    np.testing.assert_allclose(_line(axis, "content loss").get_xydata(), [[1, 0.0], [10, 2.0]])
    np.testing.assert_allclose(_line(axis, "style loss").get_ydata(), [5.0, 1.0])
    assert axis.get_yscale() == "symlog"
    assert axis.get_title() == "The loss terms during optimisation"


def test_save_panel_writes_a_png_and_closes_its_figure(tmp_path):
    before = plt.get_fignums()
    path = style_plots.save_panel([np.zeros((8, 8, 3)), np.ones((8, 8, 3))], ["content", "result"],
                                  tmp_path / "new" / "panel.png", size=1.0)
    assert path == tmp_path / "new" / "panel.png" and path.is_file()
    with Image.open(path) as png:
        assert png.format == "PNG"
        width, height = png.size
    assert width > height  # two panels side by side
    assert plt.get_fignums() == before
