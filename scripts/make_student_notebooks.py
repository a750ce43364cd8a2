"""Writes the student copies of the notebooks, without the exercise solutions.

    python scripts/make_student_notebooks.py            # -> runs/student/*.ipynb

The notebooks in notebooks/ are the instructor's version: each exercise's
solution sits between the lines `### BEGIN SOLUTION` and `### END SOLUTION`
(nbgrader's markers). Here each such block becomes
`raise NotImplementedError("Exercise: ...")` at the same indentation, so the
student's cell fails until it is filled in, and the check cell after it says
what is wrong. Nothing else changes; the student copies are never edited by hand.
"""

import argparse
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def strip_solutions(source):
    """Returns `source` (a cell's text) with every solution block replaced.

    Raises:
        ValueError: for a BEGIN without its END, or the reverse.
    """
    lines, output, inside = source.splitlines(keepends=True), [], False
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"Expected {END!r} before a second {BEGIN!r} (line {number}).")
            inside = True
            indent = re.match(r"\s*", line).group(0)
            output.append(f'{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError("Exercise: write this part.")\n')
        elif stripped == END:
            if not inside:
                raise ValueError(f"Expected {BEGIN!r} before {END!r} (line {number}).")
            inside = False
        elif not inside:
            output.append(line)
    if inside:
        raise ValueError(f"Expected {END!r} after {BEGIN!r}; the cell ended first.")
    return "".join(output)


def make_student_notebook(path, output_dir):
    """Writes the student copy of one notebook; returns (path, number of exercises)."""
    notebook = json.loads(pathlib.Path(path).read_text())
    count = 0
    for cell in notebook["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code" and BEGIN in source:
            count += source.count(BEGIN)
            cell["source"] = strip_solutions(source)
            cell["outputs"], cell["execution_count"] = [], None
    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / pathlib.Path(path).name
    target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    return target, count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=pathlib.Path)
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "runs" / "student")
    args = parser.parse_args(argv)
    for path in args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        target, count = make_student_notebook(path, args.out)
        print(f"{target}  ({count} exercise{'s' if count != 1 else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
