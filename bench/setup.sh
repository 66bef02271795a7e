#!/usr/bin/env bash
# Installs what the benchmarks need beyond the Python environment: the wrk load generator
# (Debian's package). Idempotent; `python -m bench` runs it when wrk is missing.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "bench/setup.sh: wrk is missing and apt-get is not available; install wrk 4.x yourself" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q wrk >/dev/null 2>&1; then
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q wrk >/dev/null
fi
command -v wrk >/dev/null
