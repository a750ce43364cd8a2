"""Exercises inside notebooks: student copies, and reading the outcome of each exercise.

The notebooks in notebooks/ are the instructor's version: each exercise is one
code cell whose solution sits between `### BEGIN SOLUTION` and
`### END SOLUTION` (nbgrader's markers), followed in the same cell by a check
from `lib/exercises/<chapter>.py`. A student copy replaces every solution block
with `raise NotImplementedError(...)` at the same indentation; nothing else
changes, so the copies are made, never edited, and making them twice gives the
same files.

After a notebook has run, `exercise_outcomes` reads each exercise cell's output:

- "passed": the check printed its "Correct: ..." line;
- "not answered": the cell still raises NotImplementedError;
- "failed": the check raised `ExerciseCheckFailed`; its message says what is wrong;
- "error": anything else went wrong in the cell (the message names it).

`scripts/make_student_notebooks.py` and `scripts/grade.py` are the command-line
faces of this module; tests/test_notebooks.py uses it to prove that every
check passes on the solution and fails, with its message, on the stub.

Public names: `BEGIN`, `END`, `strip_solutions`, `is_exercise`, `exercise_name`,
`student_notebook`, `exercise_cells`, `cell_outcome`, `exercise_outcomes`,
`notebook_errors`.
"""

import copy
import re

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = 'raise NotImplementedError("Exercise: write this part.")'
_CHECK_CALL = re.compile(r"\bcheck_(\w+)\s*\(")


def _source(cell):
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def strip_solutions(source):
    """Returns `source` (a cell's text) with every solution block replaced by a stub.

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
            output.append(f"{indent}# YOUR CODE HERE\n{indent}{STUB}\n")
        elif stripped == END:
            if not inside:
                raise ValueError(f"Expected {BEGIN!r} before {END!r} (line {number}).")
            inside = False
        elif not inside:
            output.append(line)
    if inside:
        raise ValueError(f"Expected {END!r} after {BEGIN!r}; the cell ended first.")
    return "".join(output)


def is_exercise(cell):
    """True for a code cell holding a solution block (instructor copy) or its stub (student copy)."""
    source = _source(cell)
    return cell["cell_type"] == "code" and (BEGIN in source or STUB in source)


def exercise_name(cell, number):
    """A short stable name: what the cell's check checks ("discriminator_loss"), else "exercise N"."""
    match = _CHECK_CALL.search(_source(cell))
    return match.group(1) if match else f"exercise {number}"


def exercise_cells(notebook):
    """[(cell index, name)] of a notebook's exercise cells, in order."""
    found = []
    for index, cell in enumerate(notebook["cells"]):
        if is_exercise(cell):
            found.append((index, exercise_name(cell, len(found) + 1)))
    return found


def student_notebook(notebook):
    """The student copy of a notebook (a dict as read from .ipynb JSON): solutions stubbed, outputs cleared."""
    student = copy.deepcopy(notebook)
    for cell in student["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = _source(cell)
        if BEGIN in source:
            cell["source"] = strip_solutions(source)
        cell["outputs"], cell["execution_count"] = [], None
    return student


def _text(outputs, name):
    return "".join("".join(output.get("text", "")) for output in outputs
                   if output.get("output_type") == "stream" and output.get("name") == name)


def cell_outcome(cell):
    """(status, message) of an executed exercise cell; see the module docstring."""
    outputs = cell.get("outputs", [])
    for output in outputs:
        if output.get("output_type") == "error":
            name, value = output.get("ename", ""), output.get("evalue", "")
            if name == "NotImplementedError":
                return "not answered", "the cell still raises NotImplementedError: write your answer there"
            if name == "ExerciseCheckFailed":
                return "failed", value
            return "error", f"{name}: {value}"
    printed = _text(outputs, "stdout")
    for line in printed.splitlines():
        if line.startswith("Correct:"):
            return "passed", line
    return "error", "the check printed no verdict (was the check call removed or the cell not run?)"


def exercise_outcomes(notebook):
    """[(name, status, message)] for every exercise cell of an executed notebook."""
    return [(name, *cell_outcome(notebook["cells"][index])) for index, name in exercise_cells(notebook)]


def notebook_errors(notebook):
    """[(cell index, "Name: message")] of errors raised outside the exercise cells."""
    exercises = {index for index, _ in exercise_cells(notebook)}
    errors = []
    for index, cell in enumerate(notebook["cells"]):
        if index in exercises or cell["cell_type"] != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors.append((index, f"{output.get('ename')}: {output.get('evalue')}"))
    return errors
