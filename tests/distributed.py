"""Runs a snippet under two logical CPU devices, in a fresh Python process.

Logical devices must be configured before TensorFlow initialises, which has
long happened in the test process, so the check runs in a subprocess. The
snippet gets `strategy`, a `tf.distribute.MirroredStrategy` over /cpu:0 and
/cpu:1, and prints what the test asserts on.
"""

import os
import pathlib
import subprocess
import sys
import textwrap

PRELUDE = """
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
"""


def run_with_two_cpus(snippet, timeout=240):
    """Runs PRELUDE + snippet with the repository on the path; returns stdout."""
    root = pathlib.Path(__file__).resolve().parent.parent
    code = PRELUDE + textwrap.dedent(snippet)
    environment = dict(os.environ, PYTHONPATH=str(root))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=environment
    )
    if result.returncode != 0:
        raise AssertionError(f"distributed snippet failed:\n{result.stderr[-3000:]}")
    return result.stdout
