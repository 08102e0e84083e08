#!/usr/bin/env python3
"""Idle WebSocket connections per GB of hub memory (OPERATIONS.md, sizing).

Starts the real hub (a release build), opens N idle WebSocket subscriptions
with raw sockets, and reads the hub's resident memory from /proc/PID/status
before and after. One fresh hub per measurement.

    swift build -c release --scratch-path .build-ops --product switchboard
    python3 scripts/measure-connections.py --bin .build-ops/release/switchboard --counts 2000,5000

Each connection is a subscription to /ws/calls/{sessionId}. "distinct" gives
every connection its own session (a session costs memory too: the worst case,
one watcher per call); "shared" puts 10 watchers on each session (a call
watched by several devices and dashboards). Linux only (reads /proc).
"""
import argparse
import base64
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time


def rss_kb(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                fields[key] = int(value.split()[0])
    return fields


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sockstat_pages():
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                parts = line.split()
                return int(parts[parts.index("mem") + 1])
    return 0


def start_hub(binary, data_dir):
    config = {
        "server": {"host": "127.0.0.1", "port": 0},
        "auth": {"hs256Secret": "sizing-secret-0123456789abcdef0123456789"},
        "limits": {"maxConnectionsPerIp": 1000000},
        # No pings while we measure: the idle clients below do not answer them.
        "keepalive": {"pingSec": 600, "timeoutSec": 1200},
        "store": {"kind": "sqlite"},
    }
    path = os.path.join(data_dir, "config.json")
    with open(path, "w") as f:
        json.dump(config, f)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    # The log goes to a file: a pipe nobody drains would stall the hub.
    log = open(os.path.join(data_dir, "hub.log"), "w+")
    hub = subprocess.Popen([binary, "serve", "--config", path, "--data-dir", data_dir],
                           stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 15
    while time.time() < deadline:
        log.seek(0)
        for line in log:
            if "listening on http://" in line:
                port = int(line.rsplit(":", 1)[1].split()[0])
                return hub, port, path
        time.sleep(0.05)
    hub.kill()
    sys.exit("hub did not start")


def token(binary, config):
    out = subprocess.run([binary, "token", "--sub", "sizing", "--sid", "*", "--role", "client", "--ttl", "3600",
                          "--config", config], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def read_until(sock, marker, buf=b""):
    while marker not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def open_ws(port, path):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    buf = read_until(s, b"\r\n\r\n")
    head, _, rest = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head.decode(errors="replace"))
    # The snapshot frame: header, then its payload.
    while len(rest) < 2:
        rest += s.recv(65536)
    n = rest[1] & 0x7F
    hdr = 2 + (2 if n == 126 else 8 if n == 127 else 0)
    while len(rest) < hdr:
        rest += s.recv(65536)
    if n == 126:
        n = int.from_bytes(rest[2:4], "big")
    elif n == 127:
        n = int.from_bytes(rest[2:10], "big")
    while len(rest) < hdr + n:
        rest += s.recv(65536)
    return s


def measure(binary, count, mode):
    with tempfile.TemporaryDirectory(prefix="sb-sizing-") as data_dir:
        hub, port, config = start_hub(binary, data_dir)
        try:
            tok = token(binary, config)
            # Warm-up: first-use allocations (lws pools, frame buffers) are not per connection.
            warm = [open_ws(port, f"/ws/calls/warm-{i}?token={tok}") for i in range(20)]
            for s in warm:
                s.close()
            time.sleep(1)
            before, tcp_before = rss_kb(hub.pid), sockstat_pages()
            started, cpu0 = time.time(), cpu_seconds(hub.pid)
            socks = []
            for i in range(count):
                sid = f"size-{i}" if mode == "distinct" else f"size-{i // 10}"
                socks.append(open_ws(port, f"/ws/calls/{sid}?token={tok}"))
            elapsed, hub_cpu = time.time() - started, cpu_seconds(hub.pid) - cpu0
            time.sleep(2)
            after, tcp_after = rss_kb(hub.pid), sockstat_pages()
            delta = after["VmRSS"] - before["VmRSS"]
            per = delta / count
            sessions = count if mode == "distinct" else (count + 9) // 10
            print(f"{count:>6} conns  {sessions:>5} sessions ({mode:8})  RSS {before['VmRSS']/1024:7.1f} -> "
                  f"{after['VmRSS']/1024:7.1f} MiB  = {per:5.1f} KiB/conn  -> {1024*1024/per:>9,.0f} conns/GiB  "
                  f"(kernel TCP mem both ends +{(tcp_after-tcp_before)*4} KiB; opened in {elapsed:.1f}s, hub CPU {hub_cpu:.1f}s)")
            for s in socks:
                s.close()
            return per
        finally:
            hub.terminate()
            try:
                hub.wait(timeout=15)
            except subprocess.TimeoutExpired:
                hub.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=".build/release/switchboard")
    ap.add_argument("--counts", default="2000,5000")
    ap.add_argument("--modes", default="distinct,shared")
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(counts) + 256
    if soft < want:
        # The hub inherits this limit; without CAP_SYS_RESOURCE it cannot exceed the hard one.
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want, hard))
    print(f"# {os.uname().sysname} {os.uname().release}, {os.cpu_count()} cores, "
          f"nofile {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}, binary {args.bin}")
    for mode in args.modes.split(","):
        for count in counts:
            measure(args.bin, count, mode)


if __name__ == "__main__":
    main()
