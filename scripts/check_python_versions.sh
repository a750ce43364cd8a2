#!/usr/bin/env bash
# Checks, without installing anything, which Python versions can install the
# course's requirements from wheels (pip's resolver, for another interpreter
# version). Run by hand before changing the versions the README claims:
#   bash scripts/check_python_versions.sh            # 3.10 3.11 3.12 3.13
#   bash scripts/check_python_versions.sh 3.12
# Prints one line per version: "installs" or "fails" with pip's last message.
# It asks the package index itself (PyPI, or PIP_INDEX_URL): local mirrors and
# wheel folders named in pip's configuration often lack the "Requires-Python"
# data pip needs to answer for another version, so they are left out here.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.10 3.11 3.12 3.13)
target=$(mktemp -d)
trap 'rm -rf "$target"' EXIT
for version in "${versions[@]}"; do
  log="$target/pip-$version.log"
  if env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null \
       "$PYTHON" -m pip install --quiet --disable-pip-version-check --dry-run --ignore-installed \
       --python-version "$version" --only-binary=:all: --target "$target/site" \
       -r requirements.txt >"$log" 2>&1; then
    echo "Python $version: installs"
  else
    echo "Python $version: fails: $(grep -E '^ERROR' "$log" | head -1 | cut -c1-200)"
  fi
done
