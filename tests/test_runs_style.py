"""Tests for lib/runs/style.py through the command line: stylize, train, evaluate, bad images.

Tiny sizes (32 px, a few steps) and random VGG19 weights keep it offline and quick.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
from PIL import Image

from lib import cli, images
from lib.runs import style as runs


def _cli(*argv):
    return cli.main([str(a) for a in argv])


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("images") / "photo.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(path)
    return path


def test_stylize_gatys_writes_an_image_and_says_what_it_used(tmp_path, capsys):
    output = tmp_path / "out.png"
    assert _cli("stylize", "astronaut", "brick", "-o", output, "--size", 32, "--steps", 2,
                "--weights", "random") == 0
    printed = capsys.readouterr().out
    assert "RANDOM VGG19" in printed and "astronaut" in printed and "brick" in printed
    written = images.load_image(output, max_side=None)
    assert written.shape == (32, 32, 3)


def _bad_images(folder):
    corrupt = folder / "corrupt.png"
    good = folder / "good.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(good)
    corrupt.write_bytes(good.read_bytes()[:60])  # a truncated PNG
    text = folder / "notes.jpg"
    text.write_text("this is not an image")
    tiny = folder / "tiny.png"
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tiny)
    huge = folder / "huge.png"
    Image.new("1", (12_000, 9_000)).save(huge)  # 108 megapixels declared, a small file
    return {"corrupt": corrupt, "not an image": text, "1x1": tiny, "huge": huge,
            "missing": folder / "missing.png"}


def test_bad_images_give_a_clear_error_not_a_crash(tmp_path, capsys):
    for name, path in _bad_images(tmp_path).items():
        with pytest.raises(SystemExit) as exit_info:
            _cli("stylize", path, "brick", "-o", tmp_path / "out.png", "--size", 32, "--steps", 1,
                 "--weights", "random")
        assert exit_info.value.code == 2, name
        message = capsys.readouterr().err
        assert "Expected" in message or "not" in message, (name, message)
        assert "Traceback" not in message
        assert not (tmp_path / "out.png").exists()


def test_rgba_and_16_bit_images_are_converted(tmp_path):
    rgba = tmp_path / "rgba.png"
    pixels = np.zeros((32, 32, 4), np.uint8)
    pixels[..., 0] = 255  # red, fully transparent -> composited on white
    Image.fromarray(pixels, "RGBA").save(rgba)
    sixteen = tmp_path / "gray16.png"
    Image.fromarray(np.full((32, 32), 65535 // 2, np.uint16)).save(sixteen)
    for path in (rgba, sixteen):
        result = runs.stylize(path, sixteen, tmp_path / f"{path.stem}_out.png", method="gatys", size=32, steps=1,
                              weights="random", progress=False, verbose=False)
        assert (result["height"], result["width"]) == (32, 32)


def test_stylize_errors(tmp_path):
    with pytest.raises(ValueError, match="--model RUN_DIR"):
        runs.stylize("astronaut", "brick", tmp_path / "o.png", method="fast", size=32)
    with pytest.raises(ValueError, match="method"):
        runs.stylize("astronaut", "brick", tmp_path / "o.png", method="magic", size=32)
    with pytest.raises(ValueError, match="run.json|Expected"):
        runs.stylize("astronaut", "brick", tmp_path / "o.png", method="adain", size=32, model_dir=tmp_path)


def test_train_fast_style_then_resume_stylize_and_evaluate(tmp_path, capsys):
    run_dir = tmp_path / "fast"
    flags = ["--weights", "random", "--crop-size", 32, "--batch-size", 2, "--steps-per-epoch", 2]
    assert _cli("train", "fast-style", "--out", run_dir, "--epochs", 1, *flags) == 0
    assert (run_dir / "transform_network.keras").is_file()
    assert _cli("train", "fast-style", "--out", run_dir, "--epochs", 2, "--resume") == 0
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in history] == [1, 2]
    output = tmp_path / "fast.png"
    assert _cli("stylize", "chelsea", "brick", "-o", output, "--method", "fast", "--model", run_dir,
                "--size", 40) == 0
    assert images.load_image(output, max_side=None).shape == (27, 40, 3)  # chelsea is 451x300
    capsys.readouterr()
    assert _cli("evaluate", run_dir, "--json") == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert scores["kind"] == "fast-style" and scores["weights"] == "random"
    assert scores["judge_style_loss"] > 0 and np.isfinite(scores["forward_ms"])
    with pytest.raises(ValueError, match="adain run"):
        runs.stylize("chelsea", "brick", tmp_path / "o.png", method="adain", size=32, model_dir=run_dir)


def test_train_adain_and_stylize_with_any_style(tmp_path):
    run_dir = tmp_path / "adain"
    runs.train("adain", run_dir, epochs=1, progress=False, verbose=False,
               args=dict(weights="random", crop_size=32, batch_size=2, steps_per_epoch=2, decoder_width=0.125))
    result = runs.stylize("chelsea", "gravel", tmp_path / "adain.png", method="adain", size=40, model_dir=run_dir,
                          alpha=0.5, verbose=False)
    assert (result["height"], result["width"]) == (27, 40)
    assert runs.sample(run_dir, 2).shape == (2, 64, 64, 3)
    # the decoder divides by the feature scale measured at the start, and run.json records it
    scale = json.loads((run_dir / "run.json").read_text())["config"]["decoder_feature_scale"]
    assert scale > 10.0  # random weights on 0-255 inputs
    decoder = keras.saving.load_model(run_dir / "adain_decoder.keras")
    assert decoder.get_layer("decoder_feature_scale").scale == pytest.approx(1.0 / scale)


def test_settings_errors():
    with pytest.raises(ValueError, match="kind"):
        runs.settings_for("pix2pix")
    with pytest.raises(ValueError, match="crop_size"):
        runs.settings_for("adain", {"crop_size": 30})
