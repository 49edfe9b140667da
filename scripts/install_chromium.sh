#!/usr/bin/env bash
# Installs Debian's chromium for tests/test_visualize.py, which loads the unit page headless and checks
# its audio players. A no-op when /usr/bin/chromium exists; without apt-get it says so and the test skips.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "install_chromium.sh: no apt-get here; the headless page test will be skipped" >&2
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium
