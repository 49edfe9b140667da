#!/usr/bin/env bash
# Real recordings to try `soundnet visualize units` on, from packages whose licences allow it:
#   Debian sound-theme-freedesktop (CC-BY-3.0, CC-BY-SA-3.0, GPL-2+ per file), oxygen-sounds (LGPL-3+),
#   yaru-theme-sound (CC-BY-SA-4.0), and the example sounds in pygame's wheel (LGPL-2.1).
# Writes DIR/<package>/... and DIR/clips.txt (`path label`, the label being the package), plus each package's
# copyright file under DIR/licences/. Needs apt-get (Debian/Ubuntu) and pip; installs nothing.
# Usage: scripts/get_example_recordings.sh [DIR]   (default: recordings)
set -euo pipefail
out=$(realpath -m "${1:-recordings}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out/licences"
cd "$work"
apt-get download sound-theme-freedesktop oxygen-sounds yaru-theme-sound >/dev/null
python3 -m pip download --quiet --no-deps --only-binary :all: --dest "$work" "pygame==2.6.1"
for deb in *.deb; do
    package=${deb%%_*}
    dpkg-deb -x "$deb" "$work/$package"
    mkdir -p "$out/$package"
    find "$work/$package/usr/share/sounds" -type f \( -name '*.oga' -o -name '*.ogg' \) \
        -exec cp {} "$out/$package/" \;
    cp "$work/$package/usr/share/doc/$package/copyright" "$out/licences/$package.copyright"
done
mkdir -p "$out/pygame"
python3 - "$work" "$out/pygame" <<'PY'
import sys, zipfile, pathlib
wheel = next(pathlib.Path(sys.argv[1]).glob("pygame-*.whl"))
with zipfile.ZipFile(wheel) as archive:
    for name in archive.namelist():
        if name.startswith("pygame/examples/data/") and name.endswith((".wav", ".ogg")) and "house_lo" not in name:
            pathlib.Path(sys.argv[2], pathlib.PurePath(name).name).write_bytes(archive.read(name))
PY
cd "$out"
find . -mindepth 2 -type f \( -name '*.oga' -o -name '*.ogg' -o -name '*.wav' \) -not -path './licences/*' \
    | sed 's|^\./||' | sort | awk -F/ '{print $0, $1}' > clips.txt
echo "wrote $(wc -l < clips.txt) recordings and $out/clips.txt"
