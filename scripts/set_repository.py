"""Writes the course's repository address into every notebook's setup cell and Colab button.

    python scripts/set_repository.py                                   # rewrite from course-repository.txt
    python scripts/set_repository.py https://github.com/you/course     # set a new address (branch main)
    python scripts/set_repository.py https://github.com/you/course --branch teaching-2027

The address lives in one place, `course-repository.txt` ("URL BRANCH"). Each
notebook carries a copy, because a notebook opened in Google Colab (or mailed
on its own) has nothing else to read: its first code cell finds the course's
lib/ folder, or in Colab clones the course from that address and installs its
requirements, or otherwise says in plain words what to do. The cell after the
title holds the "Run in Google Colab" and "View source" buttons of the
TensorFlow docs' notebook template (for a GitHub address). After a fork, run
this once with the fork's address and commit the notebooks.
"""

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
ADDRESS_FILE = ROOT / "course-repository.txt"
NOTEBOOKS = ROOT / "notebooks"
SETUP_MARKER = "# Setup: find the course's lib/ folder"
BUTTONS_MARKER = '<table class="tfo-notebook-buttons"'
PLACEHOLDER = "YOUR-ACCOUNT"
# The lines the setup cell replaces in notebooks written before it.
OLD_SETUP_LINES = ("import os, sys, pathlib", "ROOT = next(", "sys.path.insert(0, str(ROOT))",
                   'os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")')

SETUP_CELL = '''# Setup: find the course's lib/ folder (in a clone of the course it is above this notebook);
# in Google Colab, fetch the course first. `python scripts/set_repository.py URL` sets the address.
import os, pathlib, subprocess, sys

COURSE_REPOSITORY, COURSE_BRANCH = "{url}", "{branch}"


def find_course():
    for folder in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents]:
        if (folder / "lib" / "__init__.py").is_file():
            return folder
    try:
        import google.colab  # noqa: F401  (only Google Colab has it)
    except ImportError:
        raise RuntimeError(
            f"This notebook needs the course's lib/ folder, and {{pathlib.Path.cwd()}} is not inside a copy of "
            "the course. Either clone the course and open the notebook from there:\\n"
            f"    git clone {{COURSE_REPOSITORY}} generative-course && cd generative-course\\n"
            "    bash scripts/setup.sh && .venv/bin/jupyter lab notebooks/\\n"
            "or open this notebook in Google Colab (the button at the top), where this cell fetches the course."
        ) from None
    if "{placeholder}" in COURSE_REPOSITORY:
        raise RuntimeError("This copy of the course has no repository address yet: its maintainer runs "
                           "`python scripts/set_repository.py URL` once, then Colab can fetch it.")
    course = pathlib.Path.cwd() / "generative-course"
    if not (course / "lib" / "__init__.py").is_file():
        print(f"Google Colab: fetching the course from {{COURSE_REPOSITORY}} ({{COURSE_BRANCH}}) and installing "
              "its requirements (a minute or two)")
        subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch", COURSE_BRANCH, COURSE_REPOSITORY,
                        str(course)], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-r", str(course / "requirements.txt")],
                       check=True)
    return course


ROOT = find_course()
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
'''

BUTTONS_CELL = '''<table class="tfo-notebook-buttons" align="left">
  <td><a target="_blank" href="https://colab.research.google.com/github/{path}/blob/{branch}/notebooks/{name}"><img src="https://www.tensorflow.org/images/colab_logo_32px.png" />Run in Google Colab</a></td>
  <td><a target="_blank" href="https://github.com/{path}/blob/{branch}/notebooks/{name}"><img src="https://www.tensorflow.org/images/GitHub-Mark-32px.png" />View source on GitHub</a></td>
</table>
'''


def read_address():
    """(url, branch) from course-repository.txt."""
    url, branch = ADDRESS_FILE.read_text().split()
    return url, branch


def setup_cell(url, branch):
    """The source of every notebook's first code cell."""
    return SETUP_CELL.format(url=url, branch=branch, placeholder=PLACEHOLDER)


def buttons_cell(url, branch, name):
    """The source of the buttons cell after the title, or None for an address outside GitHub."""
    prefix = "https://github.com/"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix):].removesuffix(".git").strip("/")
    return BUTTONS_CELL.format(path=path, branch=branch, name=name)


def _lines(text):
    return text.splitlines(keepends=True)


def update_notebook(path, url, branch):
    """Rewrites one notebook's setup cell and buttons; returns True if the file changed."""
    path = pathlib.Path(path)
    before = path.read_text()
    notebook = json.loads(before)
    cells = notebook["cells"]
    code_index = next(index for index, cell in enumerate(cells) if cell["cell_type"] == "code")
    code = cells[code_index]
    if "".join(code["source"]).startswith(SETUP_MARKER):
        code["source"] = _lines(setup_cell(url, branch))
    else:  # the first time: a cell of its own before the notebook's imports, which lose their old path lines
        code["source"] = _lines("".join(line for line in _lines("".join(code["source"]))
                                        if not line.startswith(OLD_SETUP_LINES)).lstrip("\n"))
        cells.insert(code_index, {"cell_type": "code", "execution_count": None, "id": "course-setup",
                                  "metadata": {}, "outputs": [], "source": _lines(setup_cell(url, branch))})
    buttons = buttons_cell(url, branch, path.name)
    has_buttons = len(cells) > 1 and "".join(cells[1]["source"]).startswith(BUTTONS_MARKER)
    if buttons is None and has_buttons:
        del cells[1]
    elif buttons is not None and has_buttons:
        cells[1]["source"] = _lines(buttons)
    elif buttons is not None:
        cells.insert(1, {"cell_type": "markdown", "id": "course-buttons", "metadata": {}, "source": _lines(buttons)})
    after = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    if after != before:
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(after)
        temporary.replace(path)
    return after != before


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", help="the git address of the course (default: course-repository.txt's)")
    parser.add_argument("--branch", default="main", help="the branch Colab fetches (main)")
    args = parser.parse_args(argv)
    if args.url:
        if any(character.isspace() for character in args.url + args.branch):
            parser.error("expected an address and a branch without spaces")
        ADDRESS_FILE.write_text(f"{args.url} {args.branch}\n")
    url, branch = read_address()
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        changed = update_notebook(path, url, branch)
        print(f"{path.name}: {'updated' if changed else 'unchanged'}")
    if PLACEHOLDER in url:
        print(f"Note: {url} is a placeholder; set the real address with `python scripts/set_repository.py URL`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
