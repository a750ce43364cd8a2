"""Runs the notebook series end to end and prints a short summary of results.

    python scripts/run_course.py                 # every notebook, quick mode
    python scripts/run_course.py --full          # full mode (hours on a CPU; use a GPU)
    python scripts/run_course.py notebooks/04_vae_from_scratch.ipynb

Quick mode sets COURSE_QUICK=1, which each notebook's `parameters` cell reads.
Executed copies (with their pictures) go to runs/notebooks/; the numbers each
notebook records with `lib.results.record` go to runs/results/ and are printed
as one table at the end. The exit status is non-zero if any notebook failed.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def execute_notebook(path, output_dir, *, quick=True, cell_timeout=1800, results_dir=None, check_exercises=False):
    """Executes one notebook with nbclient and writes the executed copy.

    Args:
        path: the notebook (.ipynb), executed with its own folder as the
            working directory, as Jupyter would.
        output_dir: where the executed copy goes (same file name).
        quick: set COURSE_QUICK=1 for the kernel.
        cell_timeout: seconds one cell may take.
        results_dir: COURSE_RESULTS_DIR for the kernel (lib.results.record).
        check_exercises: before each exercise cell, run the student copy of
            that cell (its solution replaced by the stub) and require that its
            check fails with a message ("failed" or "not answered"); after the
            solution, require "passed". Used by the tests: every check passes
            on the solution and fails on the stub, in the notebook's own state.

    Returns:
        The path of the executed copy.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell failed (the executed
            copy up to that cell is still written, to show the error).
        RuntimeError: with check_exercises, an exercise whose stub or solution
            did not give the expected verdict.
    """
    import nbclient
    import nbformat

    sys.path.insert(0, str(ROOT))
    from lib.exercises import notebooks as exercise_notebooks

    path = pathlib.Path(path)
    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    os.environ["COURSE_QUICK"] = "1" if quick else "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    if results_dir is not None:
        os.environ["COURSE_RESULTS_DIR"] = str(results_dir)
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=cell_timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    problems = []
    try:
        with client.setup_kernel():
            for index, cell in enumerate(notebook.cells):
                exercise = check_exercises and exercise_notebooks.is_exercise(cell)
                if exercise:
                    stub = nbformat.v4.new_code_cell(exercise_notebooks.strip_solutions(cell.source),
                                                     metadata={"tags": ["raises-exception"]})
                    client.execute_cell(stub, index, store_history=False)
                    status, message = exercise_notebooks.cell_outcome(stub)
                    if status not in ("failed", "not answered"):
                        problems.append(f"cell {index}: the student stub gave {status!r}, not a failed check: {message}")
                client.execute_cell(cell, index)
                if exercise:
                    status, message = exercise_notebooks.cell_outcome(cell)
                    if status != "passed":
                        problems.append(f"cell {index}: the solution gave {status!r}: {message}")
    finally:
        nbformat.write(notebook, output_dir / path.name)
    if problems:
        raise RuntimeError(f"{path.name}: " + "; ".join(problems))
    return output_dir / path.name


def _read_results(folder):
    return {path.stem: json.loads(path.read_text()) for path in sorted(pathlib.Path(folder).glob("*.json"))}


def _summary_line(numbers):
    shown = []
    for name, value in numbers.items():
        if name in ("quick",) or isinstance(value, str) and len(value) > 40:
            continue
        shown.append(f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}")
    return ", ".join(shown)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=pathlib.Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--full", action="store_true", help="full mode instead of quick mode")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "runs" / "notebooks")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # used by the tests
    parser.add_argument("--check-exercises", action="store_true", help=argparse.SUPPRESS)  # used by the tests
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    results_dir = ROOT / "runs" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    if not args.one:
        for stale in results_dir.glob("*.json"):  # the summary shows this run's numbers only
            stale.unlink()
    if args.one:  # execute exactly one notebook in this process (tests/test_notebooks.py)
        execute_notebook(notebooks[0], args.out, quick=not args.full,
                         results_dir=os.environ.get("COURSE_RESULTS_DIR", results_dir),
                         check_exercises=args.check_exercises)
        return 0

    mode = "full" if args.full else "quick"
    print(f"Running {len(notebooks)} notebooks in {mode} mode; executed copies go to {args.out}")
    rows = []
    for notebook in notebooks:
        started = time.perf_counter()
        # One process per notebook: a crash or a hung kernel stops only that one.
        result = subprocess.run([sys.executable, __file__, "--one", str(notebook), "--out", str(args.out)]
                                + (["--full"] if args.full else []), capture_output=True, text=True)
        seconds = time.perf_counter() - started
        status = "ok" if result.returncode == 0 else "FAILED"
        rows.append((notebook.stem, status, seconds))
        print(f"  {notebook.stem:<42} {status:<6} {seconds:6.1f} s", flush=True)
        if result.returncode != 0:
            print("    " + "\n    ".join(result.stderr.strip().splitlines()[-15:]))

    print("\nSummary of results (runs/results/*.json):")
    for name, numbers in _read_results(results_dir).items():
        print(f"  {name:<32} {_summary_line(numbers)}")
    failed = [name for name, status, _ in rows if status != "ok"]
    total = sum(seconds for _, _, seconds in rows)
    print(f"\n{len(rows) - len(failed)} of {len(rows)} notebooks ran in {total:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else "."))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
