"""The student copies: solutions removed, everything else kept."""

import ast
import importlib.util
import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("make_student_notebooks", ROOT / "scripts" / "make_student_notebooks.py")
students = importlib.util.module_from_spec(spec)
spec.loader.exec_module(students)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_strip_solutions_keeps_indentation_and_the_rest():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n\ncheck(f)\n"
    stripped = students.strip_solutions(source)
    assert "return 2 * x" not in stripped and "check(f)" in stripped
    assert '    raise NotImplementedError("Exercise: write this part.")' in stripped
    ast.parse(stripped)  # still valid Python


@pytest.mark.parametrize("source", ["### BEGIN SOLUTION\nx = 1\n", "x = 1\n### END SOLUTION\n",
                                    "### BEGIN SOLUTION\n### BEGIN SOLUTION\n"])
def test_unbalanced_markers_are_errors(source):
    with pytest.raises(ValueError, match="Expected"):
        students.strip_solutions(source)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_each_notebook_has_exercises_and_its_student_copy_has_no_solutions(notebook, tmp_path):
    target, count = students.make_student_notebook(notebook, tmp_path)
    assert count >= 1, f"{notebook.name} has no exercise with solution markers"
    cells = json.loads(target.read_text())["cells"]
    text = "".join("".join(cell["source"]) for cell in cells)
    assert "### BEGIN SOLUTION" not in text and text.count("raise NotImplementedError") >= count
    for cell in cells:
        if cell["cell_type"] == "code":
            ast.parse("\n".join(line for line in "".join(cell["source"]).splitlines()
                                if not line.lstrip().startswith(("%", "!"))))
