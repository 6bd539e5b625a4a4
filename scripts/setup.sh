#!/usr/bin/env bash
# Installs what supcon needs on Debian 12 with Node 20: system packages (when run as root and
# something is missing), npm dependencies (which build the native addon), and the TypeScript build.
#   bash scripts/setup.sh          what training needs (`supcon demo`, `train`, `linear`, ...)
#   bash scripts/setup.sh --dev    also what the tests, reference scripts and benchmarks need:
#                                  PyTorch (the reference and the baseline) and Chromium (browser tests)
#   --list                         prints the Debian packages it would check, and does nothing else
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(g++ make python3 libdnnl-dev openmpi-bin libopenmpi-dev dataset-fashion-mnist)
DEV_PACKAGES=(python3-torch python3-torchvision libopenblas0-pthread chromium)
list=0
for arg in "$@"; do
  case "$arg" in
    --dev) APT_PACKAGES+=("${DEV_PACKAGES[@]}") ;;
    --list) list=1 ;;
    *) echo "setup: unknown argument '$arg'; expected --dev and/or --list." >&2; exit 2 ;;
  esac
done
if [ "$list" = 1 ]; then echo "${APT_PACKAGES[*]}"; exit 0; fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "setup: missing Debian packages (${missing[*]}); run as root or: sudo apt-get install ${missing[*]}" >&2
  fi
fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
npm run build
