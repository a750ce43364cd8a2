"""Quick or full mode (lib/mode.py)."""

import pytest
import tensorflow as tf

from lib import mode


@pytest.mark.parametrize("setting, quick", [("1", True), ("0", False)])
def test_course_quick_overrides_and_the_line_says_why(monkeypatch, capsys, setting, quick):
    monkeypatch.setenv("COURSE_QUICK", setting)
    assert mode.quick_mode() is quick
    line = capsys.readouterr().out
    assert f"COURSE_QUICK={setting} is set" in line and line.startswith("Quick" if quick else "Full")


def test_without_a_setting_quick_mode_follows_the_gpu(monkeypatch, capsys):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind: [])
    assert mode.quick_mode() is True
    assert "no GPU was found" in capsys.readouterr().out

    class FakeGPU:
        name = "/physical_device:GPU:0"

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind: [FakeGPU()] if kind == "GPU" else [])
    assert mode.quick_mode() is False
    assert "a GPU was found (/physical_device:GPU:0)" in capsys.readouterr().out


def test_a_bad_setting_is_refused(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "yes")
    with pytest.raises(ValueError, match="Expected COURSE_QUICK=0 .* Received: COURSE_QUICK='yes'"):
        mode.quick_mode()
