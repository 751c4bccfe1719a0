#!/usr/bin/env bash
# Installs what bench/run.sh needs, and only what is missing (idempotent):
# Debian packages with apt-get, and pyroute2 from PyPI into bench/.venv.
# Mininet is installed without its recommended Open vSwitch: the benchmark
# uses Linux bridges only.
set -eu
cd "$(dirname "$0")"
pkgs="iproute2 iputils-ping lua5.4 time util-linux procps python3 python3-venv mininet bridge-utils"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "bench: installing$missing" >&2
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends $missing >/dev/null
fi
# Mininet is a Debian package for Debian's python3, so the venv uses it too.
if ! .venv/bin/python -c 'import pyroute2' 2>/dev/null; then
  echo "bench: installing pyroute2 into bench/.venv" >&2
  rm -rf .venv
  /usr/bin/python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check 'pyroute2>=0.9.1,<0.10'
fi
