#!/usr/bin/env bash
# Create the virtualenv holding the published C++ z5py 3.0.2 wheel, the reference that
# tests/test_interop_reference.py runs as a subprocess (via $Z5PY_REF_PYTHON, default
# /work/ref-venv/bin/python).
#
#   usage: .ci/ref-venv.sh [DIR]        (DIR defaults to /work/ref-venv)
#
# Idempotent: an existing venv that already imports z5py 3.0.2 is left alone.
set -euo pipefail

dest="${1:-/work/ref-venv}"

if [ -x "$dest/bin/python" ] &&
    "$dest/bin/python" -c 'import z5py, sys; sys.exit(z5py.__version__ != "3.0.2")' 2>/dev/null; then
    echo "ref-venv: $dest already has z5py 3.0.2"
    exit 0
fi

python3 -m venv "$dest"
"$dest/bin/pip" install --quiet --disable-pip-version-check z5py==3.0.2 numpy
"$dest/bin/python" -c 'import z5py; print("ref-venv:", z5py.__version__, "at", z5py.__file__)'
