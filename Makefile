# Switchboard: two commands.
#   make run   installs what it needs, builds (release), starts the hub
#   make test  installs what it needs, runs every test (then the container
#              check when docker or buildah is usable, else says it skipped)
#   make container  builds the image, runs it, probes /healthz (scripts/container.sh)
#   make bench installs nginx + nchan, builds (release), runs every scenario
#              against the hub and its peers (BENCHMARKS.md); BENCH_ARGS=--quick
SWIFT ?= swift
CONFIG ?= Config/switchboard.json
ARGS ?=
BENCH_ARGS ?=
BENCH_SCRATCH ?= .build-bench
CURL_DEV := $(if $(filter Linux,$(shell uname -s)),libcurl4-openssl-dev)
# The container check without a docker engine: buildah, and debootstrap for
# its local Debian base (scripts/container-base.sh). Linux only.
CONTAINER_DEPS := $(if $(filter Linux,$(shell uname -s)),buildah debootstrap)

.PHONY: run test build deps clean container bench bench-build bench-smoke fuzz fuzz-build fuzz-smoke

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product switchboard

# glibc keeps up to 256 freed blocks per size in each thread's cache (the
# default is 7): the hub frees a commit batch's requests together, and the
# overflow otherwise goes through malloc's slower bins (OPERATIONS.md).
HUB_ENV ?= GLIBC_TUNABLES=glibc.malloc.tcache_count=256

run: build
	@echo "dashboard: http://127.0.0.1:8080/#token=$$(.build/release/switchboard token --role dashboard --sub operator --config $(CONFIG))"
	$(HUB_ENV) .build/release/switchboard serve --config $(CONFIG) $(ARGS)

# chromium: the dashboard test drives a real browser.
# nginx: ProxyTests run the hub behind Config/nginx.conf.
# libcurl4-openssl-dev: the container's static-stdlib build links Foundation's libcurl.
# python3-jwt: PyJWT verifies the Twilio access tokens the hub mints (TwilioVoiceTokenTests).
# python3-h2, python3-cryptography: the APNs/FCM/Expo stand-ins of PushTests
# (an HTTP/2 TLS server; ES256/RS256 checks through PyJWT).
# strace: DurabilityTests watch the hub's fsync and send() order.
# redis-server: ClusterTests start a real Redis for the hubs of a cluster.
# buildah, debootstrap: the container check runs where no docker engine does
# (it still reports "skipped" with the reason where buildah cannot run).
# scripts/test-all.sh runs swift test (twice), node --test and the container
# check, and closes with "N passed, N failed, N skipped" over all of them.
test:
	@scripts/install-deps.sh chromium nginx python3-jwt python3-h2 python3-cryptography strace redis-server $(CURL_DEV) $(CONTAINER_DEPS)
	$(SWIFT) build --build-tests
	@SWIFT=$(SWIFT) scripts/test-all.sh

container:
	@scripts/install-deps.sh $(CURL_DEV) $(CONTAINER_DEPS)
	@SWIFT=$(SWIFT) scripts/container.sh

clean:
	rm -rf .build

# Load generator and peers (issue 10). Built in its own scratch path so it
# never fights another build over .build/.
bench-build:
	$(SWIFT) build -c release --scratch-path $(BENCH_SCRATCH) --product switchboard
	$(SWIFT) build -c release --scratch-path $(BENCH_SCRATCH) --product SwitchboardBench
	cc -O2 -Wall -o $(BENCH_SCRATCH)/lws-fanout Benchmarks/peers/lws-fanout.c $$(pkg-config --cflags --libs libwebsockets)

bench:
	@scripts/install-deps.sh nginx libnginx-mod-nchan
	$(MAKE) bench-build
	$(BENCH_SCRATCH)/release/SwitchboardBench --hub-bin $(BENCH_SCRATCH)/release/switchboard \
		--lws-bin $(BENCH_SCRATCH)/lws-fanout $(BENCH_ARGS)

# Seconds, tiny numbers: checks the generator and the routes work, asserts no performance.
bench-smoke: deps
	$(MAKE) bench-build
	$(BENCH_SCRATCH)/release/SwitchboardBench --smoke --hub-bin $(BENCH_SCRATCH)/release/switchboard \
		--lws-bin $(BENCH_SCRATCH)/lws-fanout $(BENCH_ARGS)

# Fuzzing (SECURITY.md "Fuzzing"): every directory under Fuzz/Targets is a
# libFuzzer target, seeded from Fuzz/Corpus/<name>. Built with the fuzzer and
# AddressSanitizer in its own scratch path, so it never fights .build/.
#   make fuzz                 FUZZ_SECONDS per target (default 60)
#   make fuzz FUZZ_TARGETS=FuzzTwilio FUZZ_SECONDS=600
#   make fuzz-smoke           a few seconds each (part of make test)
# New inputs go to $(FUZZ_SCRATCH)/corpus/<name> (the committed seeds stay
# as they are); crashes to $(FUZZ_SCRATCH)/artifacts/<name>/.
FUZZ_SCRATCH ?= .build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_TARGETS ?= $(notdir $(wildcard Fuzz/Targets/*))
# libFuzzer's own main comes with --sanitize=fuzzer (SwiftPM then does not
# rename the entry point); -enable-testing lets a harness sign requests with
# the module's internal helpers (@testable import).
FUZZ_BUILD_FLAGS = -c release --scratch-path $(FUZZ_SCRATCH) --sanitize=fuzzer --sanitize=address \
	-Xswiftc -parse-as-library -Xswiftc -enable-testing

fuzz-build: deps
	@for t in $(FUZZ_TARGETS); do \
		SWITCHBOARD_FUZZ=1 $(SWIFT) build $(FUZZ_BUILD_FLAGS) --product $$t || exit 1; \
	done

# SWIFT_BACKTRACE=enable=no: libFuzzer, not Swift's backtracer, handles a
# trap, so the crashing input is written to the artifacts directory.
fuzz: fuzz-build
	@FUZZ_SCRATCH=$(FUZZ_SCRATCH) scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	@FUZZ_SCRATCH=$(FUZZ_SCRATCH) scripts/fuzz.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)
