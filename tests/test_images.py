"""Tests for lib/images.py: every conversion and every refusal, on files made in tmp_path."""

import functools
import hashlib
import http.server
import io
import pathlib
import struct
import threading
import zlib

import numpy as np
import pytest
from PIL import Image

from lib import images


def _write(path, array, **save_args):
    Image.fromarray(array).save(path, **save_args)
    return path


def _png_with_header_only(path, width, height):
    """A PNG whose IHDR claims width x height but holds no pixel data."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


# ---------------------------------------------------------------- conversions


def test_rgb_png_values_and_range(tmp_path):
    pixels = np.zeros((32, 48, 3), np.uint8)
    pixels[:, :, 0] = 255  # pure red
    pixels[0, 0] = (0, 128, 255)
    image = images.load_image(_write(tmp_path / "red.png", pixels), max_side=None)
    assert image.dtype == np.float32 and image.shape == (32, 48, 3)
    np.testing.assert_allclose(image[5, 5], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(image[0, 0], [0.0, 128 / 255, 1.0], atol=1e-6)


def test_grayscale_is_repeated_to_rgb(tmp_path):
    gray = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (20, 1))  # (20, 64)
    image = images.load_image(_write(tmp_path / "gray.png", gray), max_side=None)
    assert image.shape == (20, 64, 3)
    np.testing.assert_array_equal(image[:, :, 0], image[:, :, 1])
    np.testing.assert_array_equal(image[:, :, 0], image[:, :, 2])
    np.testing.assert_allclose(image[0, :, 0], gray[0] / 255.0, atol=1e-6)


def test_rgba_is_composited_on_white(tmp_path):
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[:, :10] = (0, 0, 0, 0)  # fully transparent black -> white
    rgba[:, 10:] = (255, 0, 0, 255)  # opaque red stays red
    rgba[0, 0] = (0, 0, 0, 128)  # half-transparent black -> mid grey
    image = images.load_image(_write(tmp_path / "rgba.png", rgba), max_side=None)
    assert image.shape == (20, 20, 3)
    np.testing.assert_allclose(image[5, 5], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(image[5, 15], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(image[0, 0], [127 / 255] * 3, atol=1.5 / 255)


def test_grayscale_with_alpha_and_palette_with_transparency(tmp_path):
    la = Image.new("LA", (20, 20), (0, 0))  # black, fully transparent
    la.save(tmp_path / "la.png")
    np.testing.assert_allclose(images.load_image(tmp_path / "la.png", max_side=None), 1.0)

    palette = Image.new("P", (20, 20), 0)
    palette.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    palette.paste(1, (10, 0, 20, 20))  # right half: palette entry 1 (green)
    palette.save(tmp_path / "p.png", transparency=0)  # entry 0 (black) is transparent
    image = images.load_image(tmp_path / "p.png", max_side=None)
    np.testing.assert_allclose(image[5, 5], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(image[5, 15], [0.0, 1.0, 0.0])


def test_sixteen_bit_png_is_scaled_by_65535(tmp_path):
    values = np.array([[0, 256, 32768, 65535]], np.uint16).repeat(20, axis=0)  # (20, 4)
    values = np.repeat(values, 5, axis=1)  # (20, 20)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")  # really 16-bit on disk
    image = images.load_image(tmp_path / "deep.png", max_side=None)
    assert image.shape == (20, 20, 3) and image.dtype == np.float32
    np.testing.assert_allclose(image[0, [0, 5, 10, 15], 0], [0.0, 256 / 65535, 32768 / 65535, 1.0], atol=1e-6)
    # Precision beyond 8 bits survives: 256/65535 is not a multiple of 1/255.
    assert 0 < image[0, 5, 0] < 1 / 255


def _png16(path, array):
    """Write a 16-bit RGB or RGBA PNG by hand (Pillow cannot write one)."""
    height, width, channels = array.shape

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, {3: 2, 4: 6}[channels], 0, 0, 0)
    rows = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(height))  # filter 0
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )
    return path


def test_sixteen_bit_colour_and_rgba_png(tmp_path):
    colour = np.linspace(0, 65535, 20 * 20 * 4).reshape(20, 20, 4).astype(np.uint16)
    colour[:, :, 3] = 65535
    colour[0, 0, 3] = 0  # one transparent pixel -> white
    rgb = images.load_image(_png16(tmp_path / "rgb16.png", colour[:, :, :3]), max_side=None)
    np.testing.assert_allclose(rgb, colour[:, :, :3] / 65535.0, atol=1 / 255)  # read at 8-bit precision
    rgba = images.load_image(_png16(tmp_path / "rgba16.png", colour), max_side=None)
    np.testing.assert_allclose(rgba[0, 0], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(rgba[1:], colour[1:, :, :3] / 65535.0, atol=1 / 255)


def test_float_tiff_is_taken_as_zero_one_and_clipped(tmp_path):
    values = np.full((20, 20), 0.25, np.float32)
    Image.fromarray(values).save(tmp_path / "float.tiff")
    np.testing.assert_allclose(images.load_image(tmp_path / "float.tiff", max_side=None), 0.25)
    values[0, 0] = 3.0
    Image.fromarray(values).save(tmp_path / "bright.tiff")
    with pytest.warns(UserWarning, match="clipped"):
        image = images.load_image(tmp_path / "bright.tiff", max_side=None)
    assert image.max() == 1.0


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((20, 40, 3), np.uint8)  # wide as stored: left red, right blue
    stored[:, :20] = (255, 0, 0)
    stored[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(stored).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    image = images.load_image(tmp_path / "phone.jpg", max_side=None)
    assert image.shape == (40, 20, 3)  # displayed tall
    # Turning clockwise puts the stored left (red) on top, the right (blue) at the bottom.
    np.testing.assert_allclose(image[5, 10], [1, 0, 0], atol=0.05)
    np.testing.assert_allclose(image[35, 10], [0, 0, 1], atol=0.05)


def test_resize_keeps_aspect_ratio_down_and_up(tmp_path):
    path = _write(tmp_path / "wide.png", np.full((300, 600, 3), 200, np.uint8))
    assert images.load_image(path, max_side=128).shape == (64, 128, 3)
    assert images.load_image(path, max_side=1200).shape == (600, 1200, 3)  # enlarged to max_side
    assert images.load_image(path, max_side=None).shape == (300, 600, 3)
    tall = _write(tmp_path / "tall.jpg", np.full((500, 200, 3), 30, np.uint8))
    image = images.load_image(tall, max_side=250)
    assert image.shape == (250, 100, 3)
    assert image.min() >= 0.0 and image.max() <= 1.0


def test_resize_of_sixteen_bit_stays_in_range(tmp_path):
    values = np.zeros((40, 80), np.uint16)
    values[:, 40:] = 65535  # a hard edge makes Lanczos overshoot
    Image.fromarray(values).save(tmp_path / "edge16.png")
    image = images.load_image(tmp_path / "edge16.png", max_side=50)
    assert image.shape == (25, 50, 3)
    assert image.min() >= 0.0 and image.max() <= 1.0


@pytest.mark.parametrize("name", sorted(images.BUILTIN_IMAGES))
def test_builtin_images_load_offline(name):
    image = images.load_image(name, max_side=64)
    assert image.dtype == np.float32 and image.ndim == 3 and image.shape[2] == 3
    assert max(image.shape[:2]) == 64
    assert 0.0 <= image.min() and image.max() <= 1.0 and image.std() > 0.02  # a real picture
    assert name in images.describe_source(name)


def test_builtin_aspect_ratio_matches_the_original():
    # coffee is 600x400 (width x height) in scikit-image.
    assert images.load_image("coffee", max_side=300).shape == (200, 300, 3)


def test_save_load_round_trip_png_and_jpeg(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.random((24, 36, 3)).astype(np.float32)
    written = images.save_image(image, tmp_path / "sub" / "out.png")
    assert written == tmp_path / "sub" / "out.png"
    back = images.load_image(written, max_side=None)
    np.testing.assert_allclose(back, image, atol=0.5 / 255 + 1e-6)  # 8-bit rounding only
    smooth = np.tile(np.linspace(0, 1, 36, dtype=np.float32), (24, 1))[:, :, None].repeat(3, axis=2)
    images.save_image(smooth, tmp_path / "out.JPG")
    np.testing.assert_allclose(images.load_image(tmp_path / "out.JPG", max_side=None), smooth, atol=0.03)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["out.png"]  # no temporary left


def test_save_image_grayscale_shapes(tmp_path):
    gray = np.linspace(0, 1, 20 * 20, dtype=np.float32).reshape(20, 20, 1)
    images.save_image(gray, tmp_path / "g.png")
    assert Image.open(tmp_path / "g.png").mode == "L"


# ---------------------------------------------------------------- refusals


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        images.load_image(tmp_path / "nope.png")


def test_directory_is_not_an_image(tmp_path):
    with pytest.raises(ValueError, match="not a file"):
        images.load_image(tmp_path)


def test_text_file_named_png(tmp_path):
    (tmp_path / "notes.png").write_text("this is not a picture\n")
    with pytest.raises(ValueError, match="not an image"):
        images.load_image(tmp_path / "notes.png")


def _jpeg_bytes():
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_corrupt_jpeg(tmp_path):
    good = _jpeg_bytes()
    garbage = bytes(np.random.default_rng(1).integers(0, 255, 2000, dtype=np.uint8))
    (tmp_path / "corrupt.jpg").write_bytes(good[:200] + garbage)
    with pytest.raises(ValueError, match="corrupt or truncated"):
        images.load_image(tmp_path / "corrupt.jpg")


def test_truncated_jpeg(tmp_path):
    good = _jpeg_bytes()
    (tmp_path / "half.jpg").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        images.load_image(tmp_path / "half.jpg")


def test_one_pixel_image(tmp_path):
    path = _write(tmp_path / "dot.png", np.zeros((1, 1, 3), np.uint8))
    with pytest.raises(ValueError, match=r"at least 16 pixels.*1x1"):
        images.load_image(path)
    assert images.load_image(path, min_side=1, max_side=4).shape == (4, 4, 3)


def test_extreme_aspect_ratio_after_resize(tmp_path):
    path = _write(tmp_path / "strip.png", np.zeros((20, 2000, 3), np.uint8))
    with pytest.raises(ValueError, match="aspect ratio is too extreme"):
        images.load_image(path, max_side=512)


@pytest.mark.parametrize("width,height", [(11_000, 10_000), (20_000, 20_000)])
def test_huge_header_is_refused_before_decoding(tmp_path, width, height):
    # 110 MP (above our limit, below Pillow's own) and 400 MP (above both).
    path = _png_with_header_only(tmp_path / "bomb.png", width, height)
    with pytest.raises(ValueError, match="at most 100,000,000 pixels"):
        images.load_image(path)


def test_unknown_builtin_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="astronaut.*hubble_deep_field"):
        images.load_image("astronot")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"max_side": 0}, "max_side"),
        ({"max_side": 8}, "max_side"),  # smaller than min_side=16
        ({"min_side": 0}, "min_side"),
        ({"max_side": 64.5}, "max_side"),
        ({"file_hash": "abc"}, "only used for URLs"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        images.load_image("astronaut", **kwargs)


def test_bad_source_type():
    with pytest.raises(ValueError, match="Received: ndarray"):
        images.load_image(np.zeros((4, 4, 3)))


@pytest.mark.parametrize(
    "array,name,match",
    [
        (np.zeros((4, 4, 4)), "x.png", "shape"),
        (np.zeros((4,)), "x.png", "shape"),
        (np.full((4, 4, 3), 255.0), "x.png", r"values in \[0, 1\]"),
        (np.full((4, 4, 3), -0.5), "x.png", r"values in \[0, 1\]"),
        (np.full((4, 4, 3), np.nan), "x.png", "NaN"),
        (np.zeros((4, 4, 3)), "x.gif", ".png, .jpg"),
    ],
)
def test_save_image_refuses(tmp_path, array, name, match):
    with pytest.raises(ValueError, match=match):
        images.save_image(array, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- URLs


def test_unreachable_url_says_it_could_not_be_fetched(tmp_path):
    with pytest.raises(ValueError, match="Could not fetch the image URL"):
        images.load_image("https://nonexistent.invalid/picture.jpg", cache_dir=tmp_path)


@pytest.fixture
def local_server(tmp_path):
    """Serve tmp_path/www over http://127.0.0.1 (the only "network" a test can use)."""
    root = tmp_path / "www"
    root.mkdir()

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_url_download_is_cached_and_hash_checked(tmp_path, local_server):
    root, base = local_server
    pixels = np.full((20, 30, 3), (10, 200, 30), np.uint8)
    _write(root / "green.png", pixels)
    digest = hashlib.sha256((root / "green.png").read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    image = images.load_image(f"{base}/green.png", max_side=None, file_hash=digest, cache_dir=cache)
    np.testing.assert_allclose(image[0, 0], np.array([10, 200, 30]) / 255.0, atol=1e-6)
    assert (cache / "images" / "green.png").exists()
    (root / "green.png").unlink()  # the second call must come from the cache
    assert images.load_image(f"{base}/green.png", max_side=None, cache_dir=cache).shape == (20, 30, 3)
    assert "URL" in images.describe_source(f"{base}/green.png")

    (root / "other.png").write_bytes((cache / "images" / "green.png").read_bytes())
    with pytest.raises(ValueError, match="does not match file_hash"):
        images.load_image(f"{base}/other.png", file_hash="0" * 64, cache_dir=cache)


def test_url_that_is_not_an_image(tmp_path, local_server):
    root, base = local_server
    (root / "page.html").write_text("<html>hello</html>")
    with pytest.raises(ValueError, match="downloaded from .* not usable.*not an image"):
        images.load_image(f"{base}/page.html", cache_dir=tmp_path / "cache")


def test_describe_source_for_a_file(tmp_path):
    path = _write(tmp_path / "a.png", np.zeros((20, 30, 3), np.uint8))
    line = images.describe_source(path)
    assert "a.png" in line and "PNG" in line and "30x20" in line
    assert "no such file" in images.describe_source(tmp_path / "missing.png")
