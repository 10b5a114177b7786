#!/usr/bin/env bash
# Installs the Debian packages a target needs when a command is missing (the image and cluster
# targets only; nothing else in the Makefile needs them). Usage: ensure-packages.sh CMD=PACKAGE...
set -euo pipefail
missing=()
for pair in "$@"; do
  cmd=${pair%%=*} pkg=${pair#*=}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -e "$cmd" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "ensure-packages: missing ${missing[*]}: install them (Debian/Ubuntu: apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
  || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; } \
  || { echo "ensure-packages: apt-get install ${missing[*]} failed" >&2; exit 1; }
