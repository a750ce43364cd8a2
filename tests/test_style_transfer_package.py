"""The style-transfer package as a reader copies it: common.py plus one method file, alone.

Each test copies `common.py` and one method file into an empty folder and runs
one step there in a fresh Python that cannot see this repository; Adam, the
fast network and AdaIN run with SciPy blocked (they need only TensorFlow,
Keras and NumPy), L-BFGS with SciPy.
"""

import ast
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest

from tests.source_checks import imported_modules

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "lib" / "style_transfer"

BLOCK_SCIPY = """
import sys
class _NoSciPy:
    def find_spec(self, name, path=None, target=None):
        if name == "scipy" or name.startswith("scipy."):
            raise ImportError("SciPy is not installed here (blocked by the test)")
sys.meta_path.insert(0, _NoSciPy())
"""

IMAGES = """
import numpy as np
rng = np.random.default_rng(0)
content = np.kron(rng.uniform(0, 1, (8, 8, 3)), np.ones((4, 4, 1))).astype("float32")
style = np.kron(rng.uniform(0, 1, (8, 8, 3)), np.ones((4, 4, 1))).astype("float32")
"""

SNIPPETS = {
    "gatys-adam": ("gatys.py", True, """
        import common, gatys
        extractor = common.build_vgg_feature_extractor(common.CONTENT_LAYERS + common.STYLE_LAYERS, weights="random")
        image, history = gatys.stylize_gatys(content, style, extractor=extractor, steps=2, optimizer="adam",
                                             **common.loss_weights("gatys", "random"))
        assert history[-1]["loss"] < history[0]["loss"]
        assert "scipy" not in sys.modules
        print("ok", image.shape)
    """),
    "gatys-lbfgs": ("gatys.py", False, """
        import common, gatys
        extractor = common.build_vgg_feature_extractor(common.CONTENT_LAYERS + common.STYLE_LAYERS, weights="random")
        image, history = gatys.stylize_gatys(content, style, extractor=extractor, steps=2,
                                             **common.loss_weights("gatys", "random"))
        assert history[-1]["loss"] < history[0]["loss"]
        print("ok", image.shape)
    """),
    "fast": ("fast.py", True, """
        import common, fast
        import keras, tensorflow as tf
        extractor = common.build_vgg_feature_extractor(common.FAST_CONTENT_LAYERS + common.STYLE_LAYERS,
                                                       weights="random")
        model = fast.FastStyleTransfer(fast.build_transform_network((4, 4, 4), 1), extractor, style)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        logs = model.train_step(tf.constant(content[None]))
        assert set(logs) == set(common.LOSS_NAMES) and "scipy" not in sys.modules
        print("ok", fast.stylize_fast(model.transform_network, content).shape)
    """),
    "adain": ("adain.py", True, """
        import common, adain
        import keras, tensorflow as tf
        encoder = common.build_vgg_feature_extractor(common.ADAIN_LAYERS, weights="random")
        model = adain.AdaINStyleTransfer(encoder, adain.build_adain_decoder(0.125, 80.0))
        model.compile(optimizer=keras.optimizers.Adam(1e-4))
        logs = model.train_step((tf.constant(content[None]), tf.constant(style[None])))
        assert set(logs) == {"loss", "content_loss", "style_loss"} and "scipy" not in sys.modules
        print("ok", adain.stylize_adain(encoder, model.decoder, content, style).shape)
    """),
}


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_common_and_one_method_file_work_alone_in_an_empty_folder(name, tmp_path):
    method_file, block_scipy, snippet = SNIPPETS[name]
    for file_name in ("common.py", method_file):
        shutil.copy(PACKAGE / file_name, tmp_path / file_name)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(["common.py", method_file])
    code = (BLOCK_SCIPY if block_scipy else "import sys\n") + IMAGES + textwrap.dedent(snippet)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["TF_CPP_MIN_LOG_LEVEL"] = "3"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            env=environment, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "ok (32, 32, 3)"


def test_each_method_file_imports_only_common_and_the_allowed_libraries():
    allowed = {"common", "keras", "numpy", "tensorflow", "time", "copy"}
    for file_name in ("gatys.py", "fast.py", "adain.py"):
        tree = ast.parse((PACKAGE / file_name).read_text())
        imported = imported_modules(tree)
        at_module_level = imported_modules(ast.Module(
            body=[node for node in tree.body if not isinstance(node, ast.FunctionDef)], type_ignores=[]))
        if file_name == "gatys.py":
            assert "scipy" in imported and "scipy" not in at_module_level  # imported inside L-BFGS only
            imported.discard("scipy")
        assert imported <= allowed, (file_name, imported - allowed)
    assert "lbfgs_minimize" not in (PACKAGE / "gatys.py").read_text()  # the hand-written L-BFGS is gone


def test_the_package_re_exports_the_public_names():
    from lib import style_transfer as st

    for name in ("build_vgg_feature_extractor", "gram_matrix", "LOSS_WEIGHTS", "stylize_gatys", "FastStyleTransfer",
                 "AdaINStylizer", "keep_content_colors", "measures"):
        assert hasattr(st, name), name
