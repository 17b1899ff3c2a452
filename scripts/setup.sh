#!/usr/bin/env bash
# Creates .venv with keras-norms, its experiment suite and test tools, from nothing.
# Debian packages: the offline Fashion-MNIST files and Python's venv module.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}

missing=()
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
"$PYTHON" -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "Installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# constraints.txt pins the versions the suite is tested with.
.venv/bin/pip install -q --disable-pip-version-check -c constraints.txt -e ".[tf,experiments,dev,docs]"
