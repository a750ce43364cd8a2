"""Grades a folder of completed student notebooks: every exercise, passed or failed, and why.

    python scripts/grade.py submissions/                   # a table on the screen
    python scripts/grade.py submissions/ --csv grades.csv  # and the same rows as CSV
    python scripts/grade.py submissions/ --time-limit 600  # seconds per notebook (default 300)

FOLDER holds the students' notebooks, as `FOLDER/<student>/<notebook>.ipynb`
(any depth below the student's folder) or `FOLDER/<student>_<anything>.ipynb`.
Each notebook is executed from scratch in quick mode (COURSE_QUICK=1), in its
own process, from the course's notebooks/ folder so that it finds lib/, with
errors allowed so that one broken cell does not hide the later exercises.
For each exercise cell (see lib/exercises/notebooks.py) the table says
"passed", "failed" (with the check's message: what is wrong), "not answered"
or "error". A notebook that raises outside an exercise, or runs past the time
limit, is reported as such, and the next one is graded. The executed copies
are kept in FOLDER/graded/ for a closer look.
"""

import argparse
import csv
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def execute(path, executed_path, *, cell_timeout):
    """Executes one notebook in quick mode with errors allowed; writes the executed copy."""
    import nbclient
    import nbformat

    os.environ["COURSE_QUICK"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=cell_timeout, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": str(ROOT / "notebooks")}})
    try:
        client.execute()
    finally:
        executed_path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, executed_path)


def student_of(path, folder):
    """`FOLDER/ana/01_dcgan.ipynb` -> "ana"; `FOLDER/ana_01_dcgan.ipynb` -> "ana"."""
    relative = path.relative_to(folder)
    return relative.parts[0] if len(relative.parts) > 1 else path.stem.split("_")[0]


def grade_one(path, folder, *, time_limit):
    """Rows (student, notebook, exercise, status, message) for one notebook."""
    from lib.exercises import notebooks as exercise_notebooks

    student, name = student_of(path, folder), path.name
    executed_path = folder / "graded" / path.relative_to(folder)
    command = [sys.executable, __file__, "--execute-one", str(path), str(executed_path),
               "--cell-timeout", str(time_limit)]
    started = time.perf_counter()
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=time_limit)
    except subprocess.TimeoutExpired:
        return [(student, name, "(notebook)", "error", f"ran past the time limit of {time_limit} s")]
    seconds = time.perf_counter() - started
    if not executed_path.is_file():
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return [(student, name, "(notebook)", "error", f"could not be executed: {reason}")]
    notebook = json.loads(executed_path.read_text())
    rows = [(student, name, exercise, status, message)
            for exercise, status, message in exercise_notebooks.exercise_outcomes(notebook)]
    if not rows:
        rows.append((student, name, "(notebook)", "error", "no exercise cells found (### BEGIN SOLUTION stubs)"))
    for index, error in exercise_notebooks.notebook_errors(notebook):
        rows.append((student, name, f"(cell {index})", "error", f"raised outside an exercise: {error}"))
    print(f"  graded {student} / {name} in {seconds:.0f} s", file=sys.stderr)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=pathlib.Path, nargs="?", help="the folder of completed notebooks")
    parser.add_argument("--csv", type=pathlib.Path, help="also write the rows to this CSV file")
    parser.add_argument("--time-limit", type=int, default=300, help="seconds per notebook (300)")
    parser.add_argument("--execute-one", nargs=2, type=pathlib.Path, help=argparse.SUPPRESS)
    parser.add_argument("--cell-timeout", type=int, default=300, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.execute_one:  # the child process of grade_one
        execute(*args.execute_one, cell_timeout=args.cell_timeout)
        return 0
    if args.folder is None or not args.folder.is_dir():
        parser.error(f"expected a folder of notebooks, received {args.folder}")
    if args.time_limit <= 0:
        parser.error(f"--time-limit: expected a positive number of seconds, received {args.time_limit}")
    folder = args.folder.resolve()
    paths = sorted(path for path in folder.rglob("*.ipynb")
                   if "graded" not in path.relative_to(folder).parts and ".ipynb_checkpoints" not in path.parts)
    if not paths:
        parser.error(f"expected .ipynb files in {folder}, found none")
    rows = []
    for path in paths:
        rows.extend(grade_one(path, folder, time_limit=args.time_limit))

    width = max(len(row[2]) for row in rows)
    current = None
    for student, name, exercise, status, message in rows:
        if (student, name) != current:
            current = (student, name)
            print(f"\n{student} / {name}")
        print(f"  {exercise:<{width}}  {status:<12}  {message}")
    passed = sum(row[3] == "passed" for row in rows)
    print(f"\n{passed} of {len(rows)} rows passed, {len(paths)} notebooks graded.")
    if args.csv:
        with args.csv.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["student", "notebook", "exercise", "status", "message"])
            writer.writerows(rows)
        print(f"Wrote {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
