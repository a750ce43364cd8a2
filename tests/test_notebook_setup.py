"""Every notebook's setup cell (scripts/set_repository.py): in a clone, outside one, in Colab."""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("set_repository", ROOT / "scripts" / "set_repository.py")
set_repository = importlib.util.module_from_spec(spec)
spec.loader.exec_module(set_repository)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _run_cell(source, cwd, extra_path=None):
    """Runs a setup cell as a notebook would (a fresh interpreter in `cwd`); then prints ROOT."""
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    environment.pop("PYTHONPATH", None)
    if extra_path:
        environment["PYTHONPATH"] = str(extra_path)
    code = source + "\nimport lib.mode\nprint('ROOT', ROOT)\n"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env=environment)


def test_in_a_clone_the_cell_finds_the_course_above_the_notebook():
    url, branch = set_repository.read_address()
    result = _run_cell(set_repository.setup_cell(url, branch), ROOT / "notebooks")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"ROOT {ROOT}" in result.stdout


def test_outside_the_course_the_cell_says_what_to_do_instead_of_stopiteration(tmp_path):
    result = _run_cell(set_repository.setup_cell("https://github.com/someone/course", "main"), tmp_path)
    assert result.returncode != 0
    assert "StopIteration" not in result.stderr
    assert "needs the course's lib/ folder" in result.stderr
    assert "git clone https://github.com/someone/course generative-course" in result.stderr
    assert "Google Colab" in result.stderr


def test_in_colab_the_cell_fetches_the_course_and_installs_its_requirements(tmp_path):
    stand_in = tmp_path / "stand_in"
    (stand_in / "google" / "colab").mkdir(parents=True)
    (stand_in / "google" / "__init__.py").write_text("")
    (stand_in / "google" / "colab" / "__init__.py").write_text('"""A stand-in for Colab\'s module."""\n')
    content = tmp_path / "content"  # Colab's working folder
    content.mkdir()
    origin = tmp_path / "origin"  # a local repository address: this checkout's commit as branch "main"
    subprocess.run(["git", "init", "--quiet", str(origin)], check=True)
    subprocess.run(["git", "-C", str(origin), "fetch", "--quiet", str(ROOT), "HEAD:refs/heads/main"], check=True)
    source = set_repository.setup_cell(f"file://{origin}", "main")
    result = _run_cell(source, content, extra_path=stand_in)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Google Colab: fetching the course" in result.stdout
    assert f"ROOT {content / 'generative-course'}" in result.stdout
    assert (content / "generative-course" / "lib" / "mode.py").is_file()
    again = _run_cell(source, content, extra_path=stand_in)  # a second run reuses the copy
    assert again.returncode == 0 and "fetching" not in again.stdout


def test_colab_with_the_placeholder_address_says_the_address_is_not_set(tmp_path):
    stand_in = tmp_path / "stand_in"
    (stand_in / "google" / "colab").mkdir(parents=True)
    (stand_in / "google" / "__init__.py").write_text("")
    (stand_in / "google" / "colab" / "__init__.py").write_text("")
    source = set_repository.setup_cell(f"https://github.com/{set_repository.PLACEHOLDER}/course", "main")
    result = _run_cell(source, tmp_path, extra_path=stand_in)
    assert result.returncode != 0 and "set_repository.py URL" in result.stderr


def test_buttons_point_to_the_notebook_on_github_and_only_there():
    cell = set_repository.buttons_cell("https://github.com/ana/course.git", "main", "01_dcgan.ipynb")
    assert "https://colab.research.google.com/github/ana/course/blob/main/notebooks/01_dcgan.ipynb" in cell
    assert "https://github.com/ana/course/blob/main/notebooks/01_dcgan.ipynb" in cell
    assert set_repository.buttons_cell("https://gitlab.com/ana/course", "main", "01_dcgan.ipynb") is None


def test_update_notebook_is_idempotent_and_moves_an_old_setup_into_its_own_cell(tmp_path):
    old = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "id": "t", "metadata": {}, "source": ["# 99 · A title\n"]},
        {"cell_type": "code", "id": "s", "metadata": {}, "outputs": [], "execution_count": None, "source": [
            "import os, sys, pathlib\n",
            "ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / 'lib').exists())\n",
            "sys.path.insert(0, str(ROOT))\n", "\n", "import numpy as np\n"]}]}
    path = tmp_path / "99_x.ipynb"
    path.write_text(json.dumps(old))
    assert set_repository.update_notebook(path, "https://github.com/ana/course", "main")
    cells = json.loads(path.read_text())["cells"]
    assert [cell["cell_type"] for cell in cells] == ["markdown", "markdown", "code", "code"]
    assert "".join(cells[2]["source"]) == set_repository.setup_cell("https://github.com/ana/course", "main")
    assert "".join(cells[3]["source"]) == "import numpy as np\n"
    assert not set_repository.update_notebook(path, "https://github.com/ana/course", "main")


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda path: path.stem)
def test_every_notebook_carries_the_current_setup_cell_buttons_and_quick_mode(notebook):
    url, branch = set_repository.read_address()
    cells = json.loads(notebook.read_text())["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert "".join(code[0]["source"]).strip() == set_repository.setup_cell(url, branch).strip(), (
        f"{notebook.name}: its setup cell is not the current one; run python scripts/set_repository.py")
    assert "".join(cells[1]["source"]).strip() == set_repository.buttons_cell(url, branch, notebook.name).strip()
    parameters = next(cell for cell in code if "parameters" in cell.get("metadata", {}).get("tags", []))
    assert "".join(parameters["source"]).startswith("QUICK = mode.quick_mode()"), (
        f"{notebook.name}: quick or full mode comes from lib.mode.quick_mode()")
