#!/usr/bin/env bash
# Install the Debian packages of a local Slurm cluster (slurm-wlm, munge) when missing.
# Idempotent: does nothing when both are installed. Needs root, or sudo.
set -euo pipefail

packages=(slurm-wlm munge)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" = 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "error: installing ${missing[*]} needs root or passwordless sudo; run: sudo $0" >&2
  exit 2
fi

echo "installing Debian packages: ${missing[*]}"
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
