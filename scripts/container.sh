#!/usr/bin/env bash
# Builds the container image, runs it, probes /healthz and /readyz, stops it
# with SIGTERM and expects exit status 0. `make container`.
#
#   scripts/container.sh                 fail (non-zero) when no usable tool
#   scripts/container.sh --if-available  print "container: skipped (why)" and
#                                        exit 0 when no usable tool (make test)
#
# Tool: docker when its engine answers, else buildah (`bud --isolation chroot`,
# run with `buildah run --isolation chroot`: no OCI runtime or daemon needed).
# BINARY_FROM=prebuilt (default) puts a static host build (dist/switchboard,
# Debian 12) in the image; BINARY_FROM=build compiles inside the image (needs
# BUILD_IMAGE and network access to fetch the Swift packages). Without
# BUILD_IMAGE/RUNTIME_IMAGE, buildah gets local bases from
# scripts/container-base.sh (debootstrap).
set -euo pipefail
cd "$(dirname "$0")/.."

optional=0
[ "${1:-}" = "--if-available" ] && optional=1
SWIFT="${SWIFT:-swift}"
# The static build gets its own scratch path: in .build/ it would replace the
# dynamic .build/release/switchboard that `make run` and the tests use.
SWIFT_FLAGS="${SWIFT_FLAGS:---scratch-path .build-container}"
IMAGE="${IMAGE:-localhost/switchboard:dev}"
BINARY_FROM="${BINARY_FROM:-prebuilt}"
PORT="${PORT:-18080}"

unavailable() {
  if [ "$optional" -eq 1 ]; then echo "container: skipped ($1)"; exit 0; fi
  echo "container: cannot run: $1" >&2
  exit 1
}

tool=""
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  tool=docker
elif command -v buildah >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then unavailable "buildah needs root here (rootless storage is not set up by this script)"; fi
  buildah info >/dev/null 2>&1 || unavailable "buildah is installed but \`buildah info\` fails"
  tool=buildah
elif command -v docker >/dev/null 2>&1; then
  unavailable "docker client present but no engine answers, and buildah is not installed (apt-get install buildah)"
else
  unavailable "neither docker nor buildah is installed (apt-get install buildah)"
fi
echo "container: using $tool, BINARY_FROM=$BINARY_FROM" >&2

if [ "$BINARY_FROM" = "prebuilt" ]; then
  "$SWIFT" build $SWIFT_FLAGS -c release --product switchboard --static-swift-stdlib
  install -D "$("$SWIFT" build $SWIFT_FLAGS -c release --show-bin-path)/switchboard" dist/switchboard
fi

args=(--build-arg "BINARY_FROM=$BINARY_FROM")
if [ "$tool" = buildah ]; then
  RUNTIME_IMAGE="${RUNTIME_IMAGE:-$(scripts/container-base.sh runtime)}"
  if [ "$BINARY_FROM" = build ]; then BUILD_IMAGE="${BUILD_IMAGE:-$(scripts/container-base.sh build)}"; fi
fi
[ -n "${RUNTIME_IMAGE:-}" ] && args+=(--build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE")
[ -n "${BUILD_IMAGE:-}" ] && args+=(--build-arg "BUILD_IMAGE=$BUILD_IMAGE")

probe() {
  local deadline=$((SECONDS + 20))
  until curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null
}

if [ "$tool" = docker ]; then
  docker build "${args[@]}" -t "$IMAGE" .
  cid="$(docker run -d -p "127.0.0.1:$PORT:8080" "$IMAGE")"
  trap 'docker rm -f "$cid" >/dev/null 2>&1 || true' EXIT
  probe || { docker logs "$cid" >&2; echo "container: /healthz did not answer" >&2; exit 1; }
  docker stop -t 20 "$cid" >/dev/null
  status="$(docker inspect -f '{{.State.ExitCode}}' "$cid")"
else
  # --force-rm: a failed step's intermediate container goes too.
  buildah bud --isolation chroot --format docker --layers --force-rm "${args[@]}" -t "$IMAGE" . >&2
  cid="$(buildah from "$IMAGE")"
  trap 'buildah rm "$cid" >/dev/null 2>&1 || true' EXIT
  # `buildah run` has no port mapping: with chroot isolation the hub shares
  # the host's network, so it listens on $PORT directly. Same entrypoint,
  # user, environment and files as the image.
  log="$(mktemp)"
  buildah run --isolation chroot "$cid" -- switchboard serve --config /etc/switchboard/switchboard.json \
    --port "$PORT" >"$log" 2>&1 &
  runner=$!
  if ! probe; then cat "$log" >&2; kill "$runner" 2>/dev/null; echo "container: /healthz did not answer" >&2; exit 1; fi
  # The hub process inside the chroot: the one listening on $PORT.
  hub="$(ss -Hltnp "sport = :$PORT" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)"
  user="$(ps -o user= -p "$hub" | tr -d ' ')"
  echo "container: hub pid $hub runs as $user" >&2
  [ "$user" != root ] || { echo "container: the hub runs as root" >&2; exit 1; }
  kill -TERM "$hub"
  status=0
  wait "$runner" || status=$?
  grep -q "listening on" "$log" || { cat "$log" >&2; exit 1; }
  rm -f "$log"
  # The working container is the script's own: removed here, and checked,
  # so repeated runs do not pile up `buildah containers`.
  buildah rm "$cid" >/dev/null
  trap - EXIT
  if buildah containers --format '{{.ContainerID}} {{.ImageName}}' | grep -F "$IMAGE" >&2; then
    echo "container: working containers of $IMAGE are left (above)" >&2
    exit 1
  fi
fi
[ "$status" = 0 ] || { echo "container: exit status $status after SIGTERM (expected 0)" >&2; exit 1; }
echo "container: ok ($tool: built $IMAGE, /healthz and /readyz answered, SIGTERM exit 0)"
