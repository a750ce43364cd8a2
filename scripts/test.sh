#!/usr/bin/env bash
# Quick start (2): set up the virtual environment once, then run the whole test
# suite (lib tests and every notebook in quick mode). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
