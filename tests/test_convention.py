"""The library's one convention (docs/library.md), checked for every model module at once.

Each model module opens with a docstring naming its papers and public names,
imports only TensorFlow, Keras, NumPy (and SciPy) besides the standard library,
refuses another Keras backend with a message, keeps its settings in `PRESETS`,
builds its model with `make_<model>(preset, *, seed=0, **settings)`, folds its
random draws from named purposes, and samples with
`generate(n, *, labels=None, seed=0)` -> NumPy float32 in [0, 1].
"""

import ast
import importlib
import inspect
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from lib import diffusion, gan, vae
from tests.source_checks import imported_modules

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODEL_FILES = [ROOT / "lib" / "gan.py", ROOT / "lib" / "vae.py", ROOT / "lib" / "diffusion.py",
               *sorted((ROOT / "lib" / "style_transfer").glob("*.py"))]
ALLOWED_THIRD_PARTY = {"tensorflow", "keras", "numpy", "scipy"}

# A small model of each sampling family, as its factory builds it: (name, unconditional, conditional).
GENERATIVE = {
    "gan": (lambda: gan.make_gan("dcgan", seed=0), lambda: gan.make_gan("cgan", seed=0)),
    "vae": (lambda: vae.make_vae("vae", seed=0), lambda: vae.make_vae("cvae", seed=0)),
    "diffusion": (lambda: diffusion.make_diffusion("tiny", seed=0),
                  lambda: diffusion.make_diffusion("tiny", num_classes=10, seed=0)),
}
SAMPLING_OPTIONS = {"gan": {}, "vae": {}, "diffusion": {"steps": 2}}


def _relative(path):
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", MODEL_FILES, ids=_relative)
def test_a_model_module_imports_only_tensorflow_keras_numpy_scipy_and_the_standard_library(path):
    imported = imported_modules(ast.parse(path.read_text()))
    if path.parent.name == "style_transfer":
        imported.discard("common")  # the package's shared file, imported directly when copied beside it
    outside = {name for name in imported if name not in sys.stdlib_module_names} - ALLOWED_THIRD_PARTY
    assert not outside, f"{_relative(path)} imports {sorted(outside)}; a model module must copy alone"


@pytest.mark.parametrize("path", MODEL_FILES, ids=_relative)
def test_a_model_module_opens_with_a_docstring_naming_papers_and_public_names(path):
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    if path.name == "__init__.py":
        assert docstring, f"{_relative(path)} has no docstring"
        return
    assert len(docstring) > 200, f"{_relative(path)}: the docstring should say what the module is"
    assert "arxiv.org" in docstring or "doi.org" in docstring or path.name in ("common.py", "measures.py"), (
        f"{_relative(path)}: name the papers with links")


@pytest.mark.parametrize("module", ["lib.gan", "lib.vae", "lib.diffusion", "lib.style_transfer.common"])
def test_another_keras_backend_is_refused_with_a_message(module):
    # Keras' other backends need JAX or PyTorch, which the course does not install, so
    # the subprocess makes Keras report another backend before the module is imported.
    program = f"import keras; keras.backend.backend = lambda: 'jax'; import {module}"
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            env=environment, cwd=ROOT, timeout=120)
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "KERAS_BACKEND" in result.stderr, result.stderr[-1500:]


@pytest.mark.parametrize("name", ["lib.gan", "lib.vae", "lib.diffusion", "lib.style_transfer.gatys",
                                  "lib.style_transfer.fast", "lib.style_transfer.adain"])
def test_every_model_module_keeps_its_settings_in_one_presets_table(name):
    module = importlib.import_module(name)  # (the package's name `adain` is also its function)
    assert isinstance(module.PRESETS, dict) and module.PRESETS
    for name, settings in module.PRESETS.items():
        assert isinstance(name, str) and isinstance(settings, dict) and settings, name


@pytest.mark.parametrize("module", [gan, vae, diffusion], ids=lambda module: module.__name__)
def test_random_draws_fold_named_purposes_into_distinct_seeds(module):
    seeds = {tuple(module.stateless_seed(7, purpose, step, repeat).numpy())
             for purpose in module.SEED_PURPOSES for step in range(3) for repeat in range(3)}
    assert len(seeds) == len(module.SEED_PURPOSES) * 9
    with pytest.raises(ValueError):
        module.stateless_seed(7, "no such purpose", 0)


@pytest.mark.parametrize("factory, preset", [(gan.make_gan, "dcgan"), (vae.make_vae, "vae"),
                                             (diffusion.make_diffusion, "tiny")],
                         ids=["make_gan", "make_vae", "make_diffusion"])
def test_every_factory_takes_a_preset_and_keyword_settings_and_refuses_unknown_ones(factory, preset):
    parameters = inspect.signature(factory).parameters
    assert list(parameters)[0] == "preset"
    assert parameters["seed"].kind is inspect.Parameter.KEYWORD_ONLY and parameters["seed"].default == 0
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    with pytest.raises(ValueError, match="Received"):
        factory("no such preset")
    with pytest.raises(ValueError, match="no_such_setting"):
        factory(preset, no_such_setting=1)


@pytest.mark.parametrize("family", sorted(GENERATIVE))
def test_every_generative_model_samples_with_the_same_call(family):
    make_unconditional, make_conditional = GENERATIVE[family]
    options = SAMPLING_OPTIONS[family]
    for model, labels in ((make_unconditional(), None), (make_conditional(), np.array([0, 3, 9]))):
        parameters = inspect.signature(model.generate).parameters
        assert list(parameters)[0] == "n"
        for name, default in (("labels", None), ("seed", 0)):
            assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, (family, name)
            assert parameters[name].default == default, (family, name)
        images = model.generate(3, labels=labels, seed=5, **options)
        assert isinstance(images, np.ndarray) and images.dtype == np.float32
        assert images.shape == (3, 28, 28, 1)
        assert images.min() >= 0.0 and images.max() <= 1.0
        np.testing.assert_array_equal(images, model.generate(3, labels=labels, seed=5, **options))
        assert not np.array_equal(images, model.generate(3, labels=labels, seed=6, **options))
        if labels is None:
            with pytest.raises(ValueError):
                model.generate(3, labels=np.array([0, 1, 2]), **options)
        else:
            with pytest.raises(ValueError):
                model.generate(3, **options)
