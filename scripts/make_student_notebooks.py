"""Writes the student copies of the notebooks, without the exercise solutions.

    python scripts/make_student_notebooks.py                 # every notebook -> runs/student/
    python scripts/make_student_notebooks.py notebooks/01_dcgan.ipynb --out handout/

The notebooks in notebooks/ are the instructor's version: each exercise's
solution sits between the lines `### BEGIN SOLUTION` and `### END SOLUTION`
(nbgrader's markers). Each such block becomes
`raise NotImplementedError("Exercise: write this part.")` at the same
indentation, so the student's cell fails until it is filled in, and the check
in the same cell then says what is wrong or that it is right. Nothing else
changes, outputs are cleared, and running the script twice writes the same
bytes: the student copies are made, never edited by hand. Hand them out, then
grade the completed copies with `python scripts/grade.py FOLDER`.
"""

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lib.exercises import notebooks as exercise_notebooks  # noqa: E402


def make_student_notebook(path, output_dir):
    """Writes the student copy of one notebook; returns (path, number of exercises)."""
    notebook = json.loads(pathlib.Path(path).read_text())
    student = exercise_notebooks.student_notebook(notebook)
    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / pathlib.Path(path).name
    text = json.dumps(student, indent=1, ensure_ascii=False) + "\n"
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(text)
    temporary.replace(target)
    return target, len(exercise_notebooks.exercise_cells(student))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=pathlib.Path, help="default: every notebook in notebooks/")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "runs" / "student")
    args = parser.parse_args(argv)
    total = 0
    for path in args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        target, count = make_student_notebook(path, args.out)
        total += count
        print(f"{target}  ({count} exercise{'s' if count != 1 else ''})")
    print(f"{total} exercises in all. Grade completed copies with: python scripts/grade.py FOLDER")
    return 0


if __name__ == "__main__":
    sys.exit(main())
