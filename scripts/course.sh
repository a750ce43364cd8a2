#!/usr/bin/env bash
# Quick start (1): set up a virtual environment once, then run every notebook
# end to end in quick mode and print a summary of the results.
#   bash scripts/course.sh            # quick mode (minutes on a laptop CPU)
#   bash scripts/course.sh --full     # full mode (use a GPU)
# Needs Python 3.11, 3.12 or 3.13 (set PYTHON=python3.12 to choose one).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/run_course.py "$@"
