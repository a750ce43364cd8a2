"""Load any user image, a URL or a built-in scikit-image photo as float RGB, robustly.

Style transfer (notebooks 07-09 and `python -m lib stylize`) takes whatever image a
user hands it: a phone JPEG with an EXIF rotation, a PNG with transparency, a 16-bit
scan, a grayscale photograph, a 40-megapixel original, or a URL. This module turns all
of them into one thing, a float32 array of shape (height, width, 3) with values in
[0, 1], and refuses what it cannot turn into that with a `ValueError` that says what
was expected and what was received, instead of a crash deep inside TensorFlow.

Sources (the `source` argument of `load_image`):
    * a path (str or `pathlib.Path`) to any file Pillow reads: JPEG, PNG, BMP, GIF
      (first frame), TIFF, WebP, ...;
    * an http(s) URL, downloaded once through `keras.utils.get_file` into Keras' cache
      (`~/.keras/images/`, or `$KERAS_HOME/images/`), checked against `file_hash`
      when given;
    * a built-in name from `BUILTIN_IMAGES`, read offline from the copies that
      scikit-image ships (`skimage.data`).

Public names: `load_image`, `describe_source`, `save_image`, `BUILTIN_IMAGES`,
`MAX_PIXELS`.
"""

import os
import pathlib
import tempfile
import urllib.parse
import warnings

import numpy as np
from PIL import Image, ImageOps

# The largest image we agree to decode: 100 megapixels (e.g. 10,000 x 10,000). A
# decoded 100 MP RGB image already takes 300 MB as uint8 and 1.2 GB as float32, and
# style transfer resizes it to a few hundred pixels anyway. The check uses the size
# written in the file's header, so a file that claims a huge size is refused before
# its pixels are decoded (a "decompression bomb" costs nothing).
MAX_PIXELS = 100_000_000

# Built-in images: name -> one line. All of them ship inside scikit-image's wheel and
# load offline (checked with scikit-image 0.26).
BUILTIN_IMAGES = {
    # Content photographs.
    "astronaut": "content photo: astronaut Eileen Collins, 512x512 colour (NASA)",
    "coffee": "content photo: a cup of coffee on a saucer, 600x400 colour",
    "chelsea": "content photo: Chelsea the cat, 451x300 colour",
    "rocket": "content photo: a rocket on its launch pad, 640x427 colour (NASA)",
    "camera": "content photo: the cameraman, 512x512 grayscale (repeated to RGB)",
    # Style textures.
    "brick": "style texture: a brick wall, 512x512 grayscale (repeated to RGB)",
    "grass": "style texture: grass, 512x512 grayscale (repeated to RGB)",
    "gravel": "style texture: gravel, 512x512 grayscale (repeated to RGB)",
    "hubble_deep_field": "style texture: the Hubble deep field, 1000x872 colour (NASA)",
    "immunohistochemistry": "style texture: stained tissue, brown cells on blue, 512x512 colour",
}

_PNG_SUFFIXES = (".png",)
_JPEG_SUFFIXES = (".jpg", ".jpeg")


def _is_url(source):
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def _builtin_names():
    return ", ".join(sorted(BUILTIN_IMAGES))


def _check_sides(max_side, min_side):
    if not isinstance(min_side, (int, np.integer)) or isinstance(min_side, bool) or min_side < 1:
        raise ValueError(f"Expected min_side to be an int >= 1. Received: min_side={min_side!r}")
    if max_side is None:
        return
    if not isinstance(max_side, (int, np.integer)) or isinstance(max_side, bool) or max_side < min_side:
        raise ValueError(
            "Expected max_side to be None or an int >= min_side "
            f"({min_side}). Received: max_side={max_side!r}"
        )


def _url_file_name(url):
    """A cache file name for `url`: its last path component, made safe."""
    path = urllib.parse.urlparse(url).path
    name = os.path.basename(path) or "image"
    name = "".join(c if (c.isalnum() or c in "._-") else "_" for c in name)
    return name[:100]


def _download(url, file_hash=None, cache_dir=None):
    """Fetch `url` into Keras' cache (or find it there) and return the local path."""
    import keras  # imported here: reading a local file should not start TensorFlow

    if cache_dir is not None:
        # get_file silently falls back to /tmp/.keras when the folder is not writable
        # (for example because it does not exist yet).
        pathlib.Path(cache_dir).mkdir(parents=True, exist_ok=True)
    try:
        return keras.utils.get_file(
            fname=_url_file_name(url),
            origin=url,
            file_hash=file_hash,
            cache_subdir="images",
            cache_dir=None if cache_dir is None else str(cache_dir),
        )
    except ValueError as error:  # keras' message for a hash mismatch
        raise ValueError(
            f"The file downloaded from {url!r} does not match file_hash={file_hash!r} "
            f"(Keras said: {error}). Expected the file the hash was made from; check the "
            "URL and the hash."
        ) from error
    except Exception as error:  # keras raises a bare Exception on URL errors
        raise ValueError(
            f"Could not fetch the image URL {url!r}: {error}. Expected a reachable "
            "http(s) URL (with no network, use a local file or one of the built-in "
            f"images: {_builtin_names()})."
        ) from error


def _builtin_image(name):
    """A built-in scikit-image picture as a PIL image (uint8 'L' or 'RGB')."""
    import skimage.data  # imported here: it is only needed for built-in names

    array = getattr(skimage.data, name)()
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    return Image.fromarray(np.ascontiguousarray(array))


def _open_file(path, min_side):
    """Open and decode an image file; refuse bad, tiny or huge ones with ValueError."""
    path = pathlib.Path(path)
    if not path.exists():
        raise ValueError(
            "Expected an existing image file, an http(s) URL or a built-in name "
            f"({_builtin_names()}). Received: {str(path)!r} (no such file)"
        )
    if not path.is_file():
        raise ValueError(f"Expected an image file. Received: {str(path)!r} (not a file)")
    try:
        with warnings.catch_warnings():
            # Between PIL's own limit (89 MP) and ours, PIL only warns: we decide below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as error:
        raise ValueError(
            f"Expected an image of at most {MAX_PIXELS:,} pixels. Received: {str(path)!r}, "
            f"whose header claims more ({error})"
        ) from error
    except Exception as error:  # UnidentifiedImageError, OSError, SyntaxError, ...
        raise ValueError(
            f"Expected an image file that Pillow can read (JPEG, PNG, ...). Received: "
            f"{str(path)!r}, which is not an image ({type(error).__name__}: {error})"
        ) from error
    width, height = image.size
    _check_size(width, height, min_side, str(path))
    try:
        image.load()  # decodes the pixels: corrupt or truncated data fails here
    except Exception as error:
        raise ValueError(
            f"Expected a complete, readable image file. Received: {str(path)!r}, which is "
            f"corrupt or truncated ({type(error).__name__}: {error})"
        ) from error
    return image


def _check_size(width, height, min_side, name):
    if width * height > MAX_PIXELS:
        raise ValueError(
            f"Expected an image of at most {MAX_PIXELS:,} pixels (100 megapixels). "
            f"Received: {name!r} of {width}x{height} = {width * height:,} pixels; "
            "resize it first (for example with Pillow's Image.thumbnail)"
        )
    if min(width, height) < min_side:
        raise ValueError(
            f"Expected an image at least {min_side} pixels on each side. Received: "
            f"{name!r} of {width}x{height} pixels"
        )


def _apply_exif_orientation(image):
    """Rotate/flip as the EXIF orientation tag says (phone photos); ignore bad EXIF."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block should not make a good picture unreadable
        return image


def _to_rgb(image):
    """Convert a PIL image to either an 8-bit 'RGB' PIL image or a float32 (H, W) array.

    16-bit and float images stay in float to keep their precision; everything else
    becomes 8-bit RGB, alpha composited on white.
    """
    mode = image.mode
    if mode.startswith("I;16"):
        # (H, W) uint16 -> [0, 1] by the 16-bit range.
        return np.asarray(image, dtype=np.float32) / 65535.0
    if mode == "I":
        # 32-bit integer mode is how Pillow opens many 16-bit grayscale files (PNG,
        # TIFF): we take it as 16-bit data, so 65535 is white.
        return np.clip(np.asarray(image, dtype=np.float32), 0, 65535) / 65535.0
    if mode == "F":
        # Float images follow the usual convention that [0, 1] is the range.
        array = np.asarray(image, dtype=np.float32)
        if not np.isfinite(array).all():
            raise ValueError("Expected finite pixel values. Received: a float image with NaN or inf")
        if array.min() < 0.0 or array.max() > 1.0:
            warnings.warn(
                f"Float image with values in [{array.min():.3g}, {array.max():.3g}] "
                "clipped to [0, 1]",
                stacklevel=3,
            )
        return np.clip(array, 0.0, 1.0)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")  # "1", "L", "P", "CMYK", "YCbCr", "LAB", "HSV", ...


def _target_size(width, height, max_side):
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def load_image(source, *, max_side=512, min_side=16, file_hash=None, cache_dir=None):
    """Load an image file, URL or built-in picture as float32 RGB in [0, 1].

    Conversions (each one documented here so nothing surprises you):
        * EXIF orientation is applied first, so a phone photo stands the way it was
          taken.
        * Grayscale ("L", "1", 16-bit) becomes RGB by repeating the channel 3 times.
        * Transparency (RGBA, LA, palette "P" with a transparent colour) is
          composited on a white background, then dropped.
        * Palette, CMYK, YCbCr and other modes are converted to RGB by Pillow.
        * 8-bit values are divided by 255; 16-bit values by 65535 (Pillow's 32-bit
          integer mode "I", which is how it opens 16-bit grayscale PNGs, is read as
          16-bit); float images are taken to be in [0, 1] already and clipped with a
          warning if they are not. (Pillow reads 16-bit *colour* PNGs as 8-bit RGB.)
        * Resizing keeps the aspect ratio and makes the LONGEST side equal to
          `max_side`, down or up: style transfer runs at the size you ask for
          (`--size`), so a 300-pixel photo is enlarged to 512 when you ask for 512
          (enlarging adds no detail; pass a smaller max_side, or None, to avoid it).
          Resampling is Lanczos, done in float for 16-bit/float images; the result
          is clipped to [0, 1] because Lanczos can overshoot slightly.

    Limits: images whose header declares more than `MAX_PIXELS` (100 megapixels) are
    refused before their pixels are decoded; images smaller than `min_side` on a
    side (before or after resizing) are refused.

    Args:
        source: a path (str or pathlib.Path) to an image file; an "http://" or
            "https://" URL; or a name from `BUILTIN_IMAGES` (used when no file of
            that name exists), read offline from scikit-image.
        max_side: the length of the longest side after resizing, in pixels; None
            keeps the original size.
        min_side: the smallest side accepted, in pixels (default 16).
        file_hash: for URLs only: the expected SHA-256 (or MD5) of the file, checked
            by `keras.utils.get_file`; a mismatch is an error.
        cache_dir: for URLs only: the Keras cache folder (default `~/.keras`, or
            `$KERAS_HOME`); files go into its "images" subfolder.

    Returns:
        A float32 NumPy array of shape (height, width, 3) with values in [0, 1].

    Raises:
        ValueError: for a missing file, a file that is not an image, a corrupt or
            truncated file, an image smaller than `min_side` or larger than
            `MAX_PIXELS`, an unknown built-in name, a URL that could not be fetched
            (for example offline) or whose hash does not match, or bad arguments.
    """
    _check_sides(max_side, min_side)
    if isinstance(source, pathlib.PurePath):
        name = str(source.expanduser())
    elif isinstance(source, str):
        name = source if _is_url(source) else os.path.expanduser(source)
    else:
        raise ValueError(
            "Expected a path, an http(s) URL or a built-in image name (a str or "
            f"pathlib.Path). Received: {type(source).__name__} {source!r:.80}"
        )
    if file_hash is not None and not _is_url(name):
        raise ValueError(f"file_hash is only used for URLs. Received: file_hash={file_hash!r} for {name!r}")

    if _is_url(name):
        local_path = _download(name, file_hash=file_hash, cache_dir=cache_dir)
        try:
            image = _open_file(local_path, min_side)
        except ValueError as error:
            raise ValueError(f"The file downloaded from {name!r} is not usable: {error}") from error
    elif isinstance(source, str) and source in BUILTIN_IMAGES and not os.path.exists(source):
        image = _builtin_image(source)
        _check_size(*image.size, min_side, source)
    elif isinstance(source, str) and not os.path.exists(source) and os.sep not in source and "." not in source:
        # Looks like a name, not a path: say which names exist.
        raise ValueError(
            f"Expected a built-in image name (one of: {_builtin_names()}), an existing "
            f"file or an http(s) URL. Received: {source!r}"
        )
    else:
        image = _open_file(name, min_side)

    image = _apply_exif_orientation(image)
    converted = _to_rgb(image)

    if isinstance(converted, Image.Image):  # 8-bit RGB
        if max_side is not None and max(converted.size) != max_side:
            converted = converted.resize(
                _target_size(*converted.size, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0
            )
        result = np.asarray(converted, dtype=np.float32) / 255.0  # (H, W, 3)
    else:  # float (H, W) from a 16-bit or float image
        if max_side is not None and max(converted.shape) != max_side:
            height, width = converted.shape
            resized = Image.fromarray(converted).resize(  # float32 -> mode "F"
                _target_size(width, height, max_side), Image.Resampling.LANCZOS
            )
            converted = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
        result = np.repeat(converted[:, :, None], 3, axis=2)  # (H, W, 3)

    if min(result.shape[:2]) < min_side:
        raise ValueError(
            f"Expected an image at least {min_side} pixels on each side after resizing "
            f"the longest side to {max_side}. Received: {name!r}, which becomes "
            f"{result.shape[1]}x{result.shape[0]} (its aspect ratio is too extreme)"
        )
    return np.ascontiguousarray(result, dtype=np.float32)


def describe_source(source):
    """One line for the user: which image this is and where it comes from.

    Reads at most the file's header (no download, no decoding).

    Args:
        source: what you would pass to `load_image`.

    Returns:
        A str such as "built-in image 'astronaut' (scikit-image, offline): content
        photo: astronaut Eileen Collins, 512x512 colour (NASA)".
    """
    name = str(source)
    if _is_url(name):
        return f"image from URL {name} (downloaded once into Keras' cache, ~/.keras/images)"
    if isinstance(source, str) and source in BUILTIN_IMAGES and not os.path.exists(source):
        return f"built-in image {source!r} (scikit-image, offline): {BUILTIN_IMAGES[source]}"
    path = pathlib.Path(name)
    if not path.is_file():
        return f"{name!r} (no such file, not a built-in name)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                return f"image file {path.resolve()} ({image.format}, {image.size[0]}x{image.size[1]}, mode {image.mode})"
    except Exception:
        return f"file {path.resolve()} (not a readable image)"


def save_image(image, path):
    """Save a float RGB image in [0, 1] as PNG or JPEG (by suffix), atomically.

    The file is written to a temporary name in the same folder and then renamed, so
    an interrupted save never leaves a half-written image behind. Values are rounded
    to 8 bits; JPEG uses quality 95.

    Args:
        image: array-like of shape (height, width, 3), or (height, width) /
            (height, width, 1) for grayscale, with values in [0, 1] (a rounding
            error of 1e-3 is tolerated and clipped).
        path: output path ending in .png, .jpg or .jpeg; missing folders are made.

    Returns:
        The path written, as a pathlib.Path.

    Raises:
        ValueError: for a bad shape, non-finite values, values outside [0, 1], or an
            unsupported suffix.
    """
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix not in _PNG_SUFFIXES + _JPEG_SUFFIXES:
        raise ValueError(f"Expected a path ending in .png, .jpg or .jpeg. Received: path={str(path)!r}")
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)) or min(array.shape[:2]) < 1:
        raise ValueError(
            "Expected an image of shape (height, width, 3), (height, width, 1) or "
            f"(height, width). Received: shape={np.shape(image)}"
        )
    if not np.isfinite(array).all():
        raise ValueError("Expected finite values in [0, 1]. Received: an image containing NaN or inf")
    low, high = float(array.min()), float(array.max())
    if low < -1e-3 or high > 1.0 + 1e-3:
        raise ValueError(f"Expected values in [0, 1]. Received: values in [{low:.4g}, {high:.4g}]")
    pixels = np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
    picture = Image.fromarray(pixels)  # uint8 (H, W) -> "L", (H, W, 3) -> "RGB"

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            if suffix in _JPEG_SUFFIXES:
                picture.save(file, format="JPEG", quality=95)
            else:
                picture.save(file, format="PNG")
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path
