#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the main job need, when they are missing.
# Runs `apt-get update` once, and only if something has to be installed.
set -euo pipefail

packages=(libsrt-openssl-dev srt-tools iproute2 pkg-config ffmpeg "$@")
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
