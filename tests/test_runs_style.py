"""Tests for lib/runs/style.py through the command line: stylize, train, sample, evaluate, bad input.

Tiny sizes (32 px, a few steps) and random VGG19 weights keep it offline and quick.
"""

import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
from PIL import Image

from lib import cli, images, training
from lib import style_transfer as st
from lib.runs import style as runs


def _cli(*argv):
    return cli.main([str(a) for a in argv])


def test_stylize_gatys_writes_an_image_and_says_what_it_used(tmp_path, capsys):
    output = tmp_path / "out.png"
    assert _cli("stylize", "astronaut", "brick", "-o", output, "--size", 32, "--steps", 2, "--weights", "random") == 0
    printed = capsys.readouterr().out
    assert "RANDOM VGG19" in printed and "astronaut" in printed and "brick" in printed
    defaults = st.loss_weights("gatys", "random")
    for name in ("content_weight", "style_weight", "tv_weight"):
        assert f"{name}={defaults[name]:g} (default)" in printed
    assert images.load_image(output, max_side=None).shape == (32, 32, 3)


def test_help_shows_the_loss_weight_defaults_from_the_table(capsys):
    with pytest.raises(SystemExit):
        _cli("stylize", "--help")
    text = " ".join(capsys.readouterr().out.split())
    for name in ("--content-weight", "--style-weight", "--tv-weight"):
        assert name in text
    random, imagenet = st.LOSS_WEIGHTS["gatys"]["random"], st.LOSS_WEIGHTS["gatys"]["imagenet"]
    assert f"default {random['style_weight']:g} with random VGG19 weights, {imagenet['style_weight']:g}" in text


def test_the_weight_flags_reach_the_loss(tmp_path, capsys):
    outputs = {}
    for style_weight in ("1", "100"):
        outputs[style_weight] = tmp_path / f"out_{style_weight}.png"
        assert _cli("stylize", "astronaut", "brick", "-o", outputs[style_weight], "--size", 32, "--steps", 3,
                    "--weights", "random", "--style-weight", style_weight, "--tv-weight", "0.5") == 0
        printed = capsys.readouterr().out
        assert f"style_weight={float(style_weight):g} (given)" in printed and "tv_weight=0.5 (given)" in printed
    first, second = (images.load_image(path, max_side=None) for path in outputs.values())
    assert np.abs(first - second).mean() > 0.01  # a changed --style-weight changes the picture
    result = runs.stylize("astronaut", "brick", tmp_path / "o.png", size=32, steps=1, weights="random",
                          content_weight=2.0, progress=False, verbose=False)
    assert result["content_weight"] == 2.0 and result["style_weight"] == st.loss_weights("gatys", "random")["style_weight"]


@pytest.mark.parametrize("flag, value", [("--style-weight", "-1"), ("--content-weight", "abc"),
                                         ("--tv-weight", "nan"), ("--style-weight", "inf")])
def test_bad_weights_are_a_usage_error_before_anything_is_written(tmp_path, capsys, flag, value):
    output = tmp_path / "out.png"
    with pytest.raises(SystemExit) as exit_info:
        _cli("stylize", "astronaut", "brick", "-o", output, "--size", 32, "--steps", 1, "--weights", "random",
             flag, value)
    assert exit_info.value.code == 2
    assert flag in capsys.readouterr().err
    assert not output.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["existing folder", "read-only place", "not an image suffix"])
def test_an_output_that_cannot_be_written_is_refused_at_once(tmp_path, capsys, monkeypatch, where):
    output = {"existing folder": tmp_path, "read-only place": "/proc/out.png",
              "not an image suffix": tmp_path / "out.txt"}[where]

    def must_not_load(*args, **kwargs):
        raise AssertionError("an image was loaded before the output path was checked")

    monkeypatch.setattr(images, "load_image", must_not_load)
    started = time.perf_counter()
    with pytest.raises(SystemExit) as exit_info:
        _cli("stylize", "astronaut", "brick", "-o", output, "--size", 256, "--steps", 100, "--weights", "random")
    assert exit_info.value.code == 2
    assert time.perf_counter() - started < 5.0  # at once, not after minutes of optimisation
    assert "-o" in capsys.readouterr().err


def _bad_images(folder):
    good = folder / "good.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(good)
    corrupt = folder / "corrupt.png"
    corrupt.write_bytes(good.read_bytes()[:60])  # a truncated PNG
    text = folder / "notes.jpg"
    text.write_text("this is not an image")
    tiny = folder / "tiny.png"
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tiny)
    huge = folder / "huge.png"
    Image.new("1", (12_000, 9_000)).save(huge)  # 108 megapixels declared, a small file
    return {"corrupt": corrupt, "not an image": text, "1x1": tiny, "huge": huge, "missing": folder / "missing.png"}


def test_bad_images_give_a_clear_error_not_a_crash(tmp_path, capsys):
    for name, path in _bad_images(tmp_path).items():
        with pytest.raises(SystemExit) as exit_info:
            _cli("stylize", path, "brick", "-o", tmp_path / "out.png", "--size", 32, "--steps", 1, "--weights", "random")
        assert exit_info.value.code == 2, name
        message = capsys.readouterr().err
        assert ("Expected" in message or "not" in message) and "Traceback" not in message, (name, message)
        assert not (tmp_path / "out.png").exists()


def test_rgba_and_16_bit_images_are_converted(tmp_path):
    rgba = tmp_path / "rgba.png"
    pixels = np.zeros((32, 32, 4), np.uint8)
    pixels[..., 0] = 255  # red, fully transparent -> composited on white
    Image.fromarray(pixels, "RGBA").save(rgba)
    sixteen = tmp_path / "gray16.png"
    Image.fromarray(np.full((32, 32), 65535 // 2, np.uint16)).save(sixteen)
    for path in (rgba, sixteen):
        result = runs.stylize(path, sixteen, tmp_path / f"{path.stem}_out.png", size=32, steps=1, weights="random",
                              progress=False, verbose=False)
        assert (result["height"], result["width"]) == (32, 32)


def test_stylize_errors(tmp_path):
    with pytest.raises(ValueError, match="--model RUN_DIR"):
        runs.stylize("astronaut", "brick", tmp_path / "o.png", method="fast", size=32)
    with pytest.raises(ValueError, match="method"):
        runs.stylize("astronaut", "brick", tmp_path / "o.png", method="magic", size=32)
    with pytest.raises(ValueError, match="run.json|Expected"):
        runs.stylize("astronaut", "brick", tmp_path / "o.png", method="adain", size=32, model_dir=tmp_path)
    with pytest.raises(ValueError, match="only with --method gatys"):
        runs.stylize("astronaut", "brick", tmp_path / "o.png", method="fast", size=32, model_dir=tmp_path,
                     style_weight=2.0)


TINY_FAST = ["--weights", "random", "--crop-size", 32, "--batch-size", 2, "--steps-per-epoch", 2]


def test_train_fast_style_then_resume_stylize_sample_and_evaluate(tmp_path, capsys):
    run_dir = tmp_path / "fast"
    assert _cli("train", "fast-style", "--out", run_dir, "--epochs", 1, *TINY_FAST, "--style-weight", 2) == 0
    assert (run_dir / "transform_network.keras").is_file()
    settings = json.loads((run_dir / "run.json").read_text())["config"]
    assert settings["style_weight"] == 2.0 and settings["weights"] == "random" and settings["balance"]
    assert len(settings["style_layer_weights"]) == len(st.STYLE_LAYERS)
    assert _cli("train", "fast-style", "--out", run_dir, "--epochs", 2, "--resume") == 0
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in history] == [1, 2]
    assert set(history[0]) >= {"loss", "content_loss", "style_loss", "tv_loss"}
    output = tmp_path / "fast.png"
    assert _cli("stylize", "chelsea", "brick", "-o", output, "--method", "fast", "--model", run_dir, "--size", 40) == 0
    assert images.load_image(output, max_side=None).shape == (27, 40, 3)  # chelsea is 451x300
    assert runs.sample(run_dir, 2).shape == (2, 64, 64, 3)
    capsys.readouterr()
    assert _cli("evaluate", run_dir, "--json") == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["kind"] == "fast-style" and scores["weights"] == "random"
    assert -1.0 <= scores["structure"] <= 1.0 and scores["judge_style_loss"] > 0
    assert np.isfinite(scores["forward_seconds"])
    with pytest.raises(ValueError, match="adain run"):
        runs.stylize("chelsea", "brick", tmp_path / "o.png", method="adain", size=32, model_dir=run_dir)
    with pytest.raises(ValueError, match="--steps"):
        runs.sample(run_dir, 2, steps=10)
    with pytest.raises(ValueError, match="--num-images"):
        runs.evaluate(run_dir, num_images=10)


def test_a_second_run_in_the_same_folder_is_refused(tmp_path):
    run_dir = tmp_path / "fast"
    training.write_run_config(run_dir, "fast-style", runs.settings_for("fast-style"))  # a run is there
    with pytest.raises(ValueError, match="already holds a run"):
        runs.train("adain", run_dir, epochs=1, progress=False, verbose=False,
                   args=dict(weights="random", crop_size=32, batch_size=2, steps_per_epoch=2))


def test_train_adain_and_stylize_with_any_style(tmp_path):
    run_dir = tmp_path / "adain"
    runs.train("adain", run_dir, epochs=1, progress=False, verbose=False,
               args=dict(weights="random", crop_size=32, batch_size=2, steps_per_epoch=2, decoder_width=0.125))
    result = runs.stylize("chelsea", "gravel", tmp_path / "adain.png", method="adain", size=40, model_dir=run_dir,
                          alpha=0.5, verbose=False)
    assert (result["height"], result["width"]) == (27, 40)
    assert runs.sample(run_dir, 2).shape == (2, 64, 64, 3)
    settings = json.loads((run_dir / "run.json").read_text())["config"]
    assert settings["decoder_feature_scale"] > 10.0  # random weights on 0-255 inputs
    assert settings["encoder_layer"] == st.ADAIN_ENCODER_LAYERS["random"]  # from the table, for random weights
    assert len(settings["style_layer_weights"]) == len(st.adain_style_layers(settings["encoder_layer"]))
    assert settings["content_layer_weight"] > 0
    decoder = keras.saving.load_model(run_dir / "adain_decoder.keras", safe_mode=True)
    assert decoder.get_layer("decoder_feature_scale").scale == pytest.approx(1.0 / settings["decoder_feature_scale"])
    scores = runs.measure_adain(decoder, styles=("brick",), size=64)
    assert set(scores) >= {"structure", "color_progress", "judge_style_loss"}


def test_settings_come_from_the_presets_and_are_checked():
    assert runs.settings_for("fast-style")["filters"] == st.FAST_PRESETS["course"]["filters"]
    assert runs.settings_for("adain")["decoder_width"] == st.ADAIN_PRESETS["course"]["decoder_width"]
    with pytest.raises(ValueError, match="kind"):
        runs.settings_for("pix2pix")
    with pytest.raises(ValueError, match="crop_size"):
        runs.settings_for("adain", {"crop_size": 30})
    with pytest.raises(ValueError, match="style_weight"):
        runs.settings_for("fast-style", {"style_weight": -2.0})
    with pytest.raises(ValueError, match="adain runs do not use"):
        runs.settings_for("adain", {"style": "brick"})
    assert runs.settings_for("adain")["encoder_layer"] is None  # filled in from the VGG19 weights by train
    assert runs.settings_for("adain", {"encoder_layer": "block4_conv1"})["encoder_layer"] == "block4_conv1"
    with pytest.raises(ValueError, match="encoder_layer"):
        runs.settings_for("adain", {"encoder_layer": "block4_conv2"})


def test_an_adain_run_can_choose_its_encoder_layer_and_old_runs_keep_relu4_1(tmp_path):
    run_dir = tmp_path / "adain4"
    runs.train("adain", run_dir, epochs=1, progress=False, verbose=False,
               args=dict(weights="random", crop_size=32, batch_size=2, steps_per_epoch=1, decoder_width=0.125,
                         encoder_layer="block4_conv1"))
    model, run = runs.load(run_dir, verbose=False)
    assert model.encoder_layer == "block4_conv1" and len(run["config"]["style_layer_weights"]) == 4
    assert st.decoder_encoder_layer(model.decoder) == "block4_conv1"
    # a run.json written before the setting existed: relu4_1, the only layer there was
    settings = {key: value for key, value in run["config"].items() if key != "encoder_layer"}
    assert runs.build_model(settings, verbose=False).encoder_layer == "block4_conv1"
