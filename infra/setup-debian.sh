#!/usr/bin/env bash
# One-time setup on Debian/Ubuntu with Node 20: the system packages vid2live needs (ffmpeg; heif-enc for HEIC
# stills; with --with-redis, what the tests need besides: a Redis and Debian's Chromium for the studio's browser
# tests), then the npm dependencies (which also build the CLI).
# Uses sudo only when not root and only for packages that are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || packages+=(ffmpeg)
command -v heif-enc >/dev/null 2>&1 || packages+=(libheif-examples)
if [ "${1:-}" = "--with-redis" ]; then
  command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
  [ -x /usr/bin/chromium ] || packages+=(chromium)
fi

if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then as_root=(); else as_root=(sudo); fi
  echo "setup: installing ${packages[*]}"
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

npm install --no-audit --no-fund
