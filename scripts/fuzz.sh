#!/bin/sh
# Runs each libFuzzer target for SECONDS (make fuzz / make fuzz-smoke).
# Usage: scripts/fuzz.sh SECONDS TARGET...
# Seeds: Fuzz/Corpus/<target> (read only); new inputs: $FUZZ_SCRATCH/corpus/<target>;
# crashes, leaks, timeouts: $FUZZ_SCRATCH/artifacts/<target>/. Exits non-zero
# when any target finds something.
set -u
seconds=$1
shift
scratch=${FUZZ_SCRATCH:-.build-fuzz}
status=0
for target in "$@"; do
	bin=$scratch/release/$target
	corpus=$scratch/corpus/$target
	artifacts=$scratch/artifacts/$target
	mkdir -p "$corpus" "$artifacts"
	echo "fuzz: $target for ${seconds}s"
	# -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a blow-up.
	if ! SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=1 "$bin" \
		-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-artifact_prefix="$artifacts/" -print_final_stats=1 \
		"$corpus" "Fuzz/Corpus/$target" >"$scratch/$target.log" 2>&1; then
		echo "fuzz: $target FOUND A PROBLEM (log: $scratch/$target.log, input: $artifacts/)"
		grep -E "ERROR|Fatal error|SUMMARY|Test unit written" "$scratch/$target.log" | head -8
		status=1
	else
		grep -E "stat::number_of_executed_units|cov:" "$scratch/$target.log" | tail -1
	fi
done
exit $status
