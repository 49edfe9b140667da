#!/usr/bin/env bash
# `make test-tools`: the Debian packages some tests use. chromium (tests/evaluation/test_visualize.py loads
# the unit page headless and checks its audio players), luajit (tests/parity/test_reference_layout.py
# syntax-checks make_reference.lua), and the libraries of the Torch7 runtime in ../shared, through its own
# setup.sh when it is there. Installs only what is missing; without apt-get it says so, and `make test`
# then fails on the tests that need the missing tools (plain `pytest` skips them).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${SOUNDNET_TORCH7_REFS:+$(dirname "$SOUNDNET_TORCH7_REFS")}
shared=${shared:-$repo/../shared}
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v luajit >/dev/null || missing+=(luajit)
if [ ${#missing[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null; then
        $sudo apt-get update -q
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
    else
        echo "install_test_tools.sh: no apt-get here; tests needing ${missing[*]} cannot run" >&2
    fi
fi
if [ -f "$shared/torch7-runtime/setup.sh" ]; then
    $sudo bash "$shared/torch7-runtime/setup.sh"
else
    echo "install_test_tools.sh: no Torch7 runtime at $shared/torch7-runtime; tests needing it cannot run" >&2
fi
