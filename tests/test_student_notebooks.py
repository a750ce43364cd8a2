"""Student copies and grading (lib/exercises/notebooks.py, scripts/make_student_notebooks.py, scripts/grade.py).

Every check passing on its solution and failing on its stub is proved where the
notebooks run (tests/test_notebooks.py, --check-exercises). Here: the copies
are made the same way every time, keep everything but the solutions, never
use an exercise's answer outside its cell (so a student copy runs through, failing
only in its exercises), and the grading command reports solved, blank, wrong,
broken and endless notebooks as such.
"""

import ast
import csv
import importlib.util
import json
import pathlib
import subprocess
import sys

import pytest

from lib.exercises import notebooks as exercise_notebooks

ROOT = pathlib.Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("make_student_notebooks", ROOT / "scripts" / "make_student_notebooks.py")
students = importlib.util.module_from_spec(spec)
spec.loader.exec_module(students)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_strip_solutions_keeps_indentation_and_the_rest():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n\ncheck(f)\n"
    stripped = exercise_notebooks.strip_solutions(source)
    assert "return 2 * x" not in stripped and "check(f)" in stripped
    assert '    raise NotImplementedError("Exercise: write this part.")' in stripped
    ast.parse(stripped)  # still valid Python


@pytest.mark.parametrize("source", ["### BEGIN SOLUTION\nx = 1\n", "x = 1\n### END SOLUTION\n",
                                    "### BEGIN SOLUTION\n### BEGIN SOLUTION\n"])
def test_unbalanced_markers_are_errors(source):
    with pytest.raises(ValueError, match="Expected"):
        exercise_notebooks.strip_solutions(source)


def _defined_names(source):
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name)}
    return names


def _used_names(source):
    return {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}


def _python(cell):
    return "\n".join(line for line in "".join(cell["source"]).splitlines() if not line.lstrip().startswith(("%", "!")))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_each_chapter_notebook_has_three_exercises_and_its_student_copy_keeps_all_but_the_solutions(notebook, tmp_path):
    target, count = students.make_student_notebook(notebook, tmp_path)
    assert count >= 3, f"{notebook.name} has {count} exercises; each chapter notebook needs at least three"
    original, student = json.loads(notebook.read_text())["cells"], json.loads(target.read_text())["cells"]
    assert len(original) == len(student)
    text = "".join("".join(cell["source"]) for cell in student)
    assert exercise_notebooks.BEGIN not in text and text.count("raise NotImplementedError") >= count
    for before, after in zip(original, student):
        if not exercise_notebooks.is_exercise(before):
            assert before["source"] == after["source"] or "".join(before["source"]) == "".join(after["source"])
        if after["cell_type"] == "code":
            ast.parse(_python(after))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_no_cell_outside_an_exercise_uses_an_exercise_answer(notebook):
    """A student copy must run through and fail only in its exercises: no later cell may need an answer."""
    cells = json.loads(notebook.read_text())["cells"]
    answers, defined_elsewhere = set(), set()
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = _python(cell)
        if exercise_notebooks.is_exercise(cell):
            answers |= _defined_names(source) - defined_elsewhere
        else:
            used = _used_names(source) & answers
            assert not used, f"{notebook.name}: a cell outside the exercises uses {sorted(used)}"
            defined_elsewhere |= _defined_names(source)


def test_making_the_student_copies_twice_changes_nothing(tmp_path):
    first = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_student_notebooks.py"), "--out",
                            str(tmp_path / "a")], capture_output=True, text=True, check=True)
    assert "exercises in all" in first.stdout
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_student_notebooks.py"), "--out", str(tmp_path / "a")],
                   capture_output=True, check=True)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_student_notebooks.py"), "--out", str(tmp_path / "b")],
                   capture_output=True, check=True)
    names = sorted(path.name for path in (tmp_path / "a").glob("*.ipynb"))
    assert names == [path.name for path in NOTEBOOKS]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


# -- grading ------------------------------------------------------------------------------

SETUP = ("import sys, pathlib\n"
         "ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / 'lib').is_dir())\n"
         "sys.path.insert(0, str(ROOT))\n"
         "from lib import exercises\n")
EXERCISE_1 = ("def my_double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n\n\n"
              "exercises.expect_close('my_double(3)', my_double(3), 6)\nexercises.passed('my_double doubles.')\n")
EXERCISE_2 = ("### BEGIN SOLUTION\nmy_prediction = 0.5\n### END SOLUTION\n"
              "exercises.expect_close('my_prediction', my_prediction, 0.5)\nexercises.passed('one half.')\n")


def _notebook(cells):
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3", "language": "python",
                                                                              "display_name": "Python 3"}},
            "cells": [{"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None,
                       "id": f"c{index}"} for index, source in enumerate(cells)]}


def test_grading_reports_solved_blank_wrong_broken_and_endless_notebooks(tmp_path):
    instructor = _notebook([SETUP, EXERCISE_1, EXERCISE_2])
    submissions = tmp_path / "submissions"
    for student, notebook in [
        ("solved", instructor),
        ("blank", exercise_notebooks.student_notebook(instructor)),
        ("wrong", _notebook([SETUP, EXERCISE_1.replace("return 2 * x", "return 3 * x"), EXERCISE_2])),
        ("broken", _notebook([SETUP, "1 / 0\n", EXERCISE_1, EXERCISE_2])),
        ("endless", _notebook([SETUP, "import time\ntime.sleep(600)\n", EXERCISE_1, EXERCISE_2])),
    ]:
        (submissions / student).mkdir(parents=True)
        (submissions / student / "lab.ipynb").write_text(json.dumps(notebook))
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "grade.py"), str(submissions), "--csv",
                             str(tmp_path / "grades.csv"), "--time-limit", "20"],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    with (tmp_path / "grades.csv").open() as handle:
        rows = {(row["student"], row["exercise"]): (row["status"], row["message"]) for row in csv.DictReader(handle)}
    assert rows[("solved", "exercise 1")] == ("passed", "Correct: my_double doubles.")
    assert rows[("solved", "exercise 2")] == ("passed", "Correct: one half.")
    assert rows[("blank", "exercise 1")][0] == rows[("blank", "exercise 2")][0] == "not answered"
    assert rows[("wrong", "exercise 1")] == ("failed", "my_double(3): expected 6.0, got 9.0.")
    assert rows[("wrong", "exercise 2")][0] == "passed"
    assert rows[("broken", "(cell 1)")] == ("error", "raised outside an exercise: ZeroDivisionError: division by zero")
    assert rows[("broken", "exercise 1")][0] == "passed"  # the next cells still ran
    assert rows[("endless", "(notebook)")] == ("error", "ran past the time limit of 20 s")
    assert {student for student, _ in rows} == {"solved", "blank", "wrong", "broken", "endless"}
    assert "solved / lab.ipynb" in result.stdout
