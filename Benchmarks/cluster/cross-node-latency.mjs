// Cross-node latency of a Switchboard cluster (issue 22): inputs are posted
// to node B at a fixed rate; a subscriber on node A records when each
// version's state_change arrives. Reports, per input, the time from B's 2xx
// to A's frame (negative when A's frame came first), as percentiles.
//
//   node --experimental-websocket Benchmarks/cluster/cross-node-latency.mjs \
//     --a 127.0.0.1:8081 --b 127.0.0.1:8082 --token JWT --rate 2000 --seconds 10
//
// The token needs role admin (it posts /sync and subscribes). Inputs go to
// `--sessions` sessions in turn, one subscriber per session on A.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const args = Object.fromEntries(process.argv.slice(2).reduce((out, v, i, all) =>
  (v.startsWith('--') ? [...out, [v.slice(2), all[i + 1]]] : out), []));
const [aHost, aPort] = (args.a ?? '127.0.0.1:8081').split(':');
const [bHost, bPort] = (args.b ?? '127.0.0.1:8082').split(':');
const token = args.token;
const rate = Number(args.rate ?? 2000);
const seconds = Number(args.seconds ?? 10);
const sessionCount = Number(args.sessions ?? 20);
const run = `bench-${Date.now().toString(36)}`;
const sessions = Array.from({ length: sessionCount }, (_, i) => `${run}-${i}`);

const frameAt = new Map();   // `${session}/${version}` -> ms on A
const okAt = new Map();      // same key -> ms of B's 2xx
let failures = 0;
let acks = 0;

await Promise.all(sessions.map((s) => new Promise((resolve, reject) => {
  const ws = new WebSocket(`ws://${aHost}:${aPort}/ws/calls/${s}?token=${token}`);
  ws.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === 'snapshot') resolve();
    if (frame.type === 'state_change') frameAt.set(`${s}/${frame.version}`, performance.now());
  };
  ws.onerror = reject;
})));

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function post(session, n) {
  const body = JSON.stringify({ id: `e${n}`, timestamp: 1_000_000 + n, data: { metadata: { k: n } } });
  const req = http.request({ host: bHost, port: bPort, method: 'POST', path: `/api/calls/${session}/sync`, agent,
    headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Authorization: `Bearer ${token}` } },
  (res) => {
    let data = '';
    res.on('data', (c) => { data += c; });
    res.on('end', () => {
      if (res.statusCode !== 200) { failures += 1; return; }
      acks += 1;
      // An input that changed nothing (older than what its session holds) makes no frame.
      const reply = JSON.parse(data);
      if (reply.applied.length > 0) okAt.set(`${session}/${reply.version}`, performance.now());
    });
  });
  req.on('error', () => { failures += 1; });
  req.end(body);
}

const total = rate * seconds;
const start = performance.now();
let sent = 0;
await new Promise((resolve) => {
  const timer = setInterval(() => {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
    while (sent < due) { post(sessions[sent % sessionCount], sent); sent += 1; }
    if (sent >= total) { clearInterval(timer); resolve(); }
  }, 1);
});
const elapsed = (performance.now() - start) / 1000;
await new Promise((r) => setTimeout(r, 3000));

const deltas = [];
let missing = 0;
for (const [key, ok] of okAt) {
  const at = frameAt.get(key);
  if (at === undefined) { missing += 1; continue; }
  deltas.push(at - ok);
}
deltas.sort((x, y) => x - y);
const pct = (p) => deltas.length ? deltas[Math.min(deltas.length - 1, Math.floor((p / 100) * deltas.length))].toFixed(2) : 'n/a';
console.log(JSON.stringify({
  offered: rate, sent, seconds: Number(elapsed.toFixed(2)), acked: acks, changed: okAt.size, failures, framesMissing: missing,
  bOkToAFrameMs: { p50: pct(50), p90: pct(90), p99: pct(99), max: pct(100) },
}));
process.exit(0);
