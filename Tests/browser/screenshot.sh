#!/usr/bin/env bash
# Screenshot the dashboard of a running hub with headless Chromium.
#
#   Tests/browser/screenshot.sh URL [OUT.png] [BUDGET_MS] [WIDTHxHEIGHT]
#
#   URL        the dashboard, token included, e.g.
#              http://127.0.0.1:8080/?token=eyJ…            (the table)
#              http://127.0.0.1:8080/?token=eyJ…#call=sim-1 (a call's detail view)
#   OUT.png    default test-artifacts/dashboard.png
#   BUDGET_MS  virtual time given to the page before the shot, default 8000
#   SIZE       default 1400x900
#
# Console messages (CSP violations, script errors) are written to OUT.log;
# the script exits 1 if any of them is an error. Needs `apt-get install -y chromium`.
set -euo pipefail

url=${1:?usage: screenshot.sh URL [OUT.png] [BUDGET_MS] [WIDTHxHEIGHT]}
out=${2:-test-artifacts/dashboard.png}
budget=${3:-8000}
size=${4:-1400x900}
mkdir -p "$(dirname "$out")"
log="${out%.png}.log"

chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$chrome" ] || { echo "chromium not found: apt-get install -y chromium" >&2; exit 2; }

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$profile" --no-first-run --disable-extensions \
  --enable-logging=stderr --v=0 \
  --window-size="${size/x/,}" --virtual-time-budget="$budget" \
  --screenshot="$out" "$url" 2>"$log.raw" >/dev/null || true

grep -E 'CONSOLE|Content Security Policy|Refused to' "$log.raw" > "$log" || true
rm -f "$log.raw"
[ -s "$out" ] || { echo "no screenshot written" >&2; exit 1; }
echo "wrote $out"
if grep -qiE 'Refused to|Uncaught|CONSOLE\(.*\)\] "?(Error|TypeError|ReferenceError)' "$log"; then
  echo "page errors (see $log):" >&2
  cat "$log" >&2
  exit 1
fi
