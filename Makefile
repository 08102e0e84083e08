# Switchboard: two commands.
#   make run   installs what it needs, builds (release), starts the hub
#   make test  installs what it needs, runs every test (then the container
#              check when docker or buildah is usable, else says it skipped)
#   make container  builds the image, runs it, probes /healthz (scripts/container.sh)
SWIFT ?= swift
CONFIG ?= Config/switchboard.json
ARGS ?=
CURL_DEV := $(if $(filter Linux,$(shell uname -s)),libcurl4-openssl-dev)

.PHONY: run test build deps clean container

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product switchboard

run: build
	@echo "dashboard: http://127.0.0.1:8080/#token=$$(.build/release/switchboard token --role dashboard --sub operator --config $(CONFIG))"
	.build/release/switchboard serve --config $(CONFIG) $(ARGS)

# nginx: ProxyTests run the hub behind Config/nginx.conf.
# libcurl4-openssl-dev: the container's static-stdlib build links Foundation's libcurl.
test:
	@scripts/install-deps.sh nginx $(CURL_DEV)
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	node --test Tests/js/
	@SWIFT=$(SWIFT) scripts/container.sh --if-available

container:
	@scripts/install-deps.sh $(CURL_DEV)
	@SWIFT=$(SWIFT) scripts/container.sh

clean:
	rm -rf .build
