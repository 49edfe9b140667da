#!/usr/bin/env bash
# Debian tools some tests use: chromium (tests/test_visualize.py loads the unit page headless and checks
# its audio players) and luajit (tests/test_reference_layout.py syntax-checks make_reference.lua).
# Installs only what is missing; without apt-get it says so and those tests skip with their reason.
set -euo pipefail
# The CPU Torch7 runtime (tests that run Torch7 itself: tests/torch7_runtime.py) needs Debian's luajit,
# OpenBLAS and sox; its setup.sh installs what is missing and checks that Torch7 starts.
runtime="$(dirname "${SOUNDNET_TORCH7_REFS:-$(cd "$(dirname "$0")/.." && pwd)/../shared/torch7}")/torch7-runtime"
if [ -f "$runtime/setup.sh" ]; then
    if [ "$(id -u)" -eq 0 ]; then bash "$runtime/setup.sh"; else sudo bash "$runtime/setup.sh"; fi
fi
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v luajit >/dev/null || missing+=(luajit)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "install_test_tools.sh: no apt-get here; tests needing ${missing[*]} will be skipped" >&2
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
