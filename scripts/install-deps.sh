#!/usr/bin/env bash
# Installs the system libraries Switchboard builds against, only when missing.
# Debian/Ubuntu: apt-get (through sudo when not root). macOS: Homebrew.
# Extra packages (nginx, chromium, ...) may be passed as arguments.
set -euo pipefail

need_pkgconfig="libwebsockets jansson openssl sqlite3 libcurl hiredis"

missing_libs() {
  command -v pkg-config >/dev/null 2>&1 || { echo "pkg-config"; return; }
  for lib in $need_pkgconfig; do
    pkg-config --exists "$lib" || echo "$lib"
  done
  # libev ships no pkg-config file on Debian: look for its header.
  [ -f /usr/include/ev.h ] || [ -f /usr/local/include/ev.h ] || [ -f /opt/homebrew/include/ev.h ] || echo "libev"
}

if [ "$(uname -s)" = "Darwin" ]; then
  command -v brew >/dev/null 2>&1 || { echo "Homebrew is required: https://brew.sh" >&2; exit 1; }
  formulae=()
  for p in "$@"; do
    case "$p" in
      chromium) [ -d /Applications/Chromium.app ] || brew install --cask chromium ;;
      libnginx-mod-nchan) ;;  # Homebrew's nginx has no nchan module
      python3-jwt) python3 -c 'import jwt' 2>/dev/null || python3 -m pip install --user pyjwt ;;
      *) formulae+=("$p") ;;
    esac
  done
  if [ -n "$(missing_libs)" ] || [ -n "${formulae[*]+x}" ] || ! command -v node >/dev/null 2>&1; then
    brew install pkg-config libwebsockets libev jansson openssl@3 sqlite curl hiredis node ${formulae[@]+"${formulae[@]}"}
  fi
  exit 0
fi

apt_packages="pkg-config libwebsockets-dev libev-dev libjansson-dev libssl-dev libsqlite3-dev libcurl4-openssl-dev libhiredis-dev"
extra=()
command -v node >/dev/null 2>&1 || extra+=("nodejs")
for p in "$@"; do
  dpkg -s "$p" >/dev/null 2>&1 || extra+=("$p")
done
if [ -z "$(missing_libs)" ] && [ "${#extra[@]}" -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing system packages: $apt_packages ${extra[*]:-}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $apt_packages "${extra[@]}" >/dev/null
