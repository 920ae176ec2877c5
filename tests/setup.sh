#!/usr/bin/env bash
# Everything the test suite needs on a fresh Debian/Ubuntu machine, then nothing else:
#   - Debian packages: chromium (the browser tests drive /usr/bin/chromium), chromium-driver,
#     dataset-fashion-mnist (the full Fashion-MNIST at /usr/share/datasets/fashion-mnist);
#   - the virtual environment .venv with requirements-dev.txt.
# Packages are installed with apt-get when this runs as root or sudo works without a password;
# otherwise it says what to run and stops (exit 1). Running it again is quick: what is there is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(chromium chromium-driver dataset-fashion-mnist)
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = "0" ]; then
        SUDO=()
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        echo "tests/setup.sh: missing Debian packages: ${missing[*]}" >&2
        echo "  install them as root:  sudo apt-get install -y ${missing[*]}" >&2
        echo "  then run the README's test command again." >&2
        exit 1
    fi
    if ! command -v apt-get >/dev/null; then
        echo "tests/setup.sh: no apt-get here; install ${missing[*]} (Chromium at /usr/bin/chromium)" \
             "with this system's package manager, then run the test command again." >&2
        exit 1
    fi
    echo "tests/setup.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -q
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install -q -r requirements-dev.txt
echo "tests/setup.sh: ready (Chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), .venv)"
