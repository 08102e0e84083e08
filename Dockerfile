# Switchboard container: build with the Swift toolchain, run on slim Debian
# with only the runtime libraries, as a non-root user.
#
# Base images are build arguments so a mirror or a local image can stand in
# (scripts/container-base.sh makes both from debootstrap when no registry is
# reachable). BINARY_FROM=prebuilt skips the compile stage and takes
# dist/switchboard from the context instead: a binary built on a Debian 12
# host with `swift build -c release --product switchboard --static-swift-stdlib`
# (what `make container` does; the stage is never built otherwise).
#
#   docker build -t switchboard .
#   buildah bud --isolation chroot --format docker --layers -t switchboard .
#
# Run: configuration is Config/switchboard.json (copied to /etc/switchboard;
# mount your own Config/ over it) then SWITCHBOARD_* variables; the journal
# and generated secrets live in the /var/lib/switchboard volume.
#
#   docker run -p 8080:8080 -v sb-data:/var/lib/switchboard \
#     -v "$PWD/Config:/etc/switchboard:ro" \
#     -e SWITCHBOARD_SERVER_PUBLICURL=https://calls.example.com \
#     -e SWITCHBOARD_SERVER_TRUSTEDPROXIES=10.0.0.5/32 switchboard
ARG BUILD_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim
ARG BINARY_FROM=build

FROM ${BUILD_IMAGE} AS build
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends pkg-config libwebsockets-dev libev-dev libjansson-dev libssl-dev libsqlite3-dev libcurl4-openssl-dev libhiredis-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Every target the manifest names must exist, or SwiftPM refuses to plan.
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
COPY Benchmarks ./Benchmarks
RUN swift build -c release --product switchboard --static-swift-stdlib \
 && install -D .build/release/switchboard /out/switchboard

FROM scratch AS prebuilt
COPY dist/switchboard /out/switchboard

FROM ${BINARY_FROM} AS binary

FROM ${RUNTIME_IMAGE}
# libcurl4: the static Foundation still links libcurl dynamically
# (FoundationNetworking); curl itself serves the HEALTHCHECK.
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libwebsockets17 libwebsockets-evlib-ev libev4 libjansson4 libssl3 libsqlite3-0 libcurl4 libhiredis0.14 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/switchboard --create-home --shell /usr/sbin/nologin switchboard
COPY --from=binary /out/switchboard /usr/local/bin/switchboard
COPY public /usr/share/switchboard/public
COPY Config /etc/switchboard
# GLIBC_TUNABLES: a larger per-thread malloc cache (OPERATIONS.md, "Sizing": memory allocator).
ENV SWITCHBOARD_PUBLICDIR=/usr/share/switchboard/public \
    SWITCHBOARD_DATADIR=/var/lib/switchboard \
    GLIBC_TUNABLES=glibc.malloc.tcache_count=256
USER switchboard
WORKDIR /var/lib/switchboard
VOLUME ["/var/lib/switchboard"]
EXPOSE 8080
# SIGTERM drains: 1001 to every WebSocket, in-flight requests finish, exit 0
# within shutdown.drainSec (give `docker stop -t` more than that).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["switchboard", "serve", "--config", "/etc/switchboard/switchboard.json"]
