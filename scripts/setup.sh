#!/usr/bin/env bash
# Creates .venv with the pinned requirements, once; re-running only checks them.
#   bash scripts/setup.sh             # the environment the course and the tests use
#   bash scripts/setup.sh --kernel    # also register it as the Jupyter kernel
#                                     # "generative-course" (JupyterHub, VS Code, ...)
# PYTHON chooses the interpreter (default python3); it must be Python 3.11-3.13:
# Keras 3.15 needs 3.11 or newer (scripts/check_python_versions.sh checks a version).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
register_kernel=0
for argument in "$@"; do
  case "$argument" in
    --kernel) register_kernel=1 ;;
    *) echo "setup.sh: unknown argument $argument (expected --kernel)" >&2; exit 2 ;;
  esac
done

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "setup.sh: $PYTHON not found. Install Python 3.11-3.13, or set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
if ! version=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")' 2>/dev/null); then
  echo "setup.sh: $PYTHON does not run. Install Python 3.11-3.13, or set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
case "$version" in
  3.11|3.12|3.13) ;;
  *) echo "setup.sh: $PYTHON is Python $version; the course needs Python 3.11-3.13 (Keras 3.15 needs 3.11 or" \
          "newer; TensorFlow 2.21 has no wheel for newer ones). Set PYTHON=python3.11 (or 3.12, 3.13)." >&2
     exit 1 ;;
esac
if [ -x .venv/bin/python ]; then
  venv_version=$(.venv/bin/python -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  case "$venv_version" in
    3.11|3.12|3.13) ;;
    *) echo "setup.sh: .venv holds Python $venv_version; remove it (rm -r .venv) and run again." >&2; exit 1 ;;
  esac
else
  echo "Creating .venv with Python $version ($PYTHON)"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
if ! versions=$(.venv/bin/python -c 'import tensorflow as tf, keras; print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}")' 2>/tmp/course-setup-import.log); then
  echo "setup.sh: the packages installed, but TensorFlow does not import in .venv:" >&2
  tail -5 /tmp/course-setup-import.log >&2
  echo "(TensorFlow 2.21 has wheels for Linux x86_64/aarch64, macOS on Apple silicon and Windows (CPU).)" >&2
  exit 1
fi
echo "Environment ready: $versions"
if [ "$register_kernel" = 1 ]; then
  .venv/bin/python -m ipykernel install --user --name generative-course \
    --display-name "Generative models course (.venv)"
  echo "Registered the Jupyter kernel 'generative-course': choose it in JupyterLab, JupyterHub or VS Code."
fi
