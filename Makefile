# Switchboard: two commands.
#   make run   installs what it needs, builds (release), starts the hub
#   make test  installs what it needs, runs every test
SWIFT ?= swift
CONFIG ?= Config/switchboard.json
ARGS ?=

.PHONY: run test build deps clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product switchboard

run: build
	@echo "dashboard: http://127.0.0.1:8080/#token=$$(.build/release/switchboard token --role dashboard --sub operator --config $(CONFIG))"
	.build/release/switchboard serve --config $(CONFIG) $(ARGS)

test: deps
	$(SWIFT) build --build-tests
	# The synchronous hub tests block threads of the (2-thread) cooperative
	# pool while they wait on sockets; the async client tests get their own run.
	$(SWIFT) test --skip-build --skip SwitchboardClientTests
	$(SWIFT) test --skip-build --filter SwitchboardClientTests
	node --test Tests/js/

clean:
	rm -rf .build
