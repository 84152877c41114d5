#!/usr/bin/env bash
# Installs the system packages the portal needs, and only those that are missing:
#   ffmpeg    probing footage, proxies, tool inputs/outputs (studio_tools.media)
#   chromium  the headless browser test (Debian's package gives /usr/bin/chromium)
#   gettext   compilemessages for the French translation
#   make      the Makefile itself
#   fonts-dejavu-core  the font burned into proxies of unapproved generated media
#   espeak-ng          the recap tool's scratch voice-over (labelled temp VO; optional for the code)
# Safe to run again and again: when everything is present it returns at once without touching apt.
# Set SKIP_SYSTEM_DEPS=1 to skip the check entirely (e.g. on a machine you manage yourself).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${SKIP_SYSTEM_DEPS:-}" == "1" ]]; then
    echo "==> system packages: skipped (SKIP_SYSTEM_DEPS=1)"
    exit 0
fi

PACKAGES=(ffmpeg chromium gettext make fonts-dejavu-core espeak-ng)

# The command that proves a package is installed (plain `case`, so macOS's bash 3.2 can run this too).
command_of() {
    case "$1" in
        gettext) echo msgfmt ;;
        *) echo "$1" ;;
    esac
}

is_present() {
    local package="$1"
    command -v "$(command_of "$package")" >/dev/null 2>&1 && return 0
    command -v dpkg-query >/dev/null 2>&1 || return 1
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for package in "${PACKAGES[@]}"; do
    is_present "$package" || missing+=("$package")
done

# On Debian/Ubuntu, `python3 -m venv` needs the python3-venv package (ensurepip is split out).
if command -v apt-get >/dev/null 2>&1; then
    if ! command -v python3 >/dev/null 2>&1; then
        missing+=(python3 python3-venv)
    elif ! python3 -c "import ensurepip, venv" >/dev/null 2>&1 && [[ ! -x .venv/bin/python ]]; then
        missing+=(python3-venv)
    fi
fi

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "==> system packages: ok (${PACKAGES[*]})"
    exit 0
fi

echo "==> system packages missing: ${missing[*]}"

if ! command -v apt-get >/dev/null 2>&1; then
    cat >&2 <<EOF
This machine has no apt-get, so they cannot be installed automatically.
Install them with your package manager, then run this again, e.g.
  macOS:  brew install ffmpeg gettext make && brew install --cask chromium
  Fedora: sudo dnf install ffmpeg chromium gettext make
(or set SKIP_SYSTEM_DEPS=1 if you provide them some other way).
EOF
    exit 1
fi

if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        cat >&2 <<EOF
Not running as root, so they cannot be installed from here. Please run:
  sudo apt-get update && sudo apt-get install -y ${missing[*]}
then run this again (or set SKIP_SYSTEM_DEPS=1 if you provide them some other way).
EOF
        exit 1
    fi
else
    SUDO=""
fi

export DEBIAN_FRONTEND=noninteractive
# Wait (up to 10 minutes) for another apt/dpkg process to release its lock instead of failing.
apt() { $SUDO apt-get -y -q -o DPkg::Lock::Timeout=600 "$@"; }

echo "==> apt-get update"
apt update >/dev/null
echo "==> apt-get install ${missing[*]} (this can take a few minutes)"
apt install "${missing[@]}" >/dev/null

still_missing=()
for package in "${PACKAGES[@]}"; do
    is_present "$package" || still_missing+=("$package")
done
if [[ ${#still_missing[@]} -gt 0 ]]; then
    echo "error: still missing after apt-get install: ${still_missing[*]}" >&2
    exit 1
fi
echo "==> system packages: installed ${missing[*]}"
