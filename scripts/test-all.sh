#!/usr/bin/env bash
# Runs every part of `make test` and closes with one line over all of them:
#   N passed, N failed, N skipped
# Parts: the hub and library tests (swift test), the async client tests
# (their own swift test run), the JavaScript tests (node --test) and the
# fuzz smoke run and the container check. A part that cannot run here (the container check without
# docker or buildah) counts as skipped and is named, never as passed. The
# exit status is non-zero when any test or part failed.
set -uo pipefail
cd "$(dirname "$0")/.."
SWIFT="${SWIFT:-swift}"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
passed=0 failed=0 skipped=0
notes=()

# swift-testing prints one closing line per test: "✔ Test name() passed after",
# "✘ Test name() failed after", "➜ Test name() skipped" (its own closing
# "Test run with N tests" line is not one). Parameterised tests count once,
# as swift-testing counts them.
count_swift() {
  local log="$1" status="$2" part="$3" p f s
  p=$(grep -E '^[^ ]+ Test .* passed after' "$log" | grep -vc '^[^ ]* Test run with')
  f=$(grep -E '^[^ ]+ Test .* failed after' "$log" | grep -vc '^[^ ]* Test run with')
  s=$(grep -E '^[^ ]+ Test .* skipped' "$log" | grep -vc '^[^ ]* Test run with')
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; notes+=("$part exited $status (build or crash)"); fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  echo "== $part: $p passed, $f failed, $s skipped"
}

# node --test closes with "# pass N", "# fail N", "# skipped N", "# todo N".
count_node() {
  local log="$1" status="$2" p f s t
  p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -1)
  s=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$log" | tail -1)
  t=$(sed -n 's/^# todo \([0-9]*\)$/\1/p' "$log" | tail -1)
  p=${p:-0}; f=${f:-0}; s=$(( ${s:-0} + ${t:-0} ))
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; notes+=("node --test exited $status"); fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  echo "== node --test: $p passed, $f failed, $s skipped"
}

run() {  # run LOG COMMAND...: shows the output and keeps it for counting
  local log="$1"; shift
  "$@" 2>&1 | tee "$log"
  return "${PIPESTATUS[0]}"
}

# The synchronous hub tests block threads of the (2-thread) cooperative pool
# while they wait on sockets; the async client tests get their own run.
run "$logs/hub" "$SWIFT" test --skip-build --skip SwitchboardClientTests; count_swift "$logs/hub" $? "swift test (hub)"
run "$logs/client" "$SWIFT" test --skip-build --filter SwitchboardClientTests; count_swift "$logs/client" $? "swift test (clients)"
run "$logs/node" node --test Tests/js/; count_node "$logs/node" $?

# libFuzzer targets, a few seconds each (Fuzz/, SECURITY.md): one part.
run "$logs/fuzz" make --no-print-directory fuzz-smoke SWIFT="$SWIFT"
if [ $? -eq 0 ]; then passed=$((passed + 1)); echo "== fuzz smoke: passed"; else failed=$((failed + 1)); notes+=("fuzz smoke failed"); fi

SWIFT="$SWIFT" run "$logs/container" scripts/container.sh --if-available
status=$?
if [ "$status" -ne 0 ]; then
  failed=$((failed + 1)); notes+=("container check failed (exit $status)")
elif grep -q '^container: skipped' "$logs/container"; then
  skipped=$((skipped + 1)); notes+=("skipped: $(grep '^container: skipped' "$logs/container" | head -1 | sed 's/^container: skipped/container check/')")
else
  passed=$((passed + 1))
fi

echo
for n in ${notes[@]+"${notes[@]}"}; do echo "note: $n"; done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
