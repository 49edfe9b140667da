#!/usr/bin/env bash
# Debian tools some tests use: chromium (tests/test_visualize.py loads the unit page headless and checks
# its audio players) and luajit (tests/test_reference_layout.py syntax-checks make_reference.lua).
# Installs only what is missing; without apt-get it says so and those tests skip with their reason.
# The real Torch7 runtime beside the checkout (../shared/torch7-runtime) gets its Debian libraries too:
# tests/parity/test_released.py runs an exported .t7 in it.
set -euo pipefail
runtime_setup="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/../shared/torch7-runtime/setup.sh"
if [ -f "$runtime_setup" ] && command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
    bash "$runtime_setup" || echo "install_test_tools.sh: the Torch7 runtime did not set up; its tests will skip" >&2
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
