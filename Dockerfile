# Switchboard container: build with the Swift toolchain, run on slim Debian
# with only the runtime libraries. Base images are build arguments so a
# mirror or a local image can stand in.
ARG BUILD_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends pkg-config libwebsockets-dev libjansson-dev libssl-dev libsqlite3-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product switchboard --static-swift-stdlib \
 && install -D .build/release/switchboard /out/switchboard

FROM ${RUNTIME_IMAGE}
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libwebsockets17 libjansson4 libssl3 libsqlite3-0 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /var/lib/switchboard --create-home switchboard
COPY --from=build /out/switchboard /usr/local/bin/switchboard
COPY public /usr/share/switchboard/public
COPY Config /etc/switchboard
ENV SWITCHBOARD_PUBLICDIR=/usr/share/switchboard/public \
    SWITCHBOARD_DATADIR=/var/lib/switchboard
USER switchboard
WORKDIR /var/lib/switchboard
VOLUME ["/var/lib/switchboard"]
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["switchboard", "serve", "--config", "/etc/switchboard/switchboard.json"]
