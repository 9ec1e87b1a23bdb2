#!/usr/bin/env bash
# Builds HistoScreen in release mode and installs it under a prefix:
#   PREFIX/bin/histoscreen
#   PREFIX/share/histoscreen/models/histoscreen-pcam.hsmodel   (found by the tool from any folder)
# Usage: bash Scripts/install.sh [PREFIX]   (default /usr/local; needs write access to it)
set -euo pipefail
prefix="${1:-/usr/local}"
cd "$(dirname "$0")/.."
swift build -c release --product histoscreen
bin="$(swift build -c release --show-bin-path)/histoscreen"
install -D -m 755 "$bin" "$prefix/bin/histoscreen"
model=Samples/models/histoscreen-pcam.hsmodel
dest="$prefix/share/histoscreen/models/histoscreen-pcam.hsmodel"
for f in model.json weights.safetensors; do install -D -m 644 "$model/$f" "$dest/$f"; done
echo "installed $prefix/bin/histoscreen and $dest"
