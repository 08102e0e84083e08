#!/usr/bin/env node
'use strict';
/*
 * A stand-in hub for developing and screenshotting the dashboard without the
 * Swift server: serves public/ with the hub's CSP, optionally under a path
 * prefix (as nginx would), and speaks the frames of PROTOCOL.md §3 for a few
 * simulated calls. Dependency-free (hand-rolled RFC 6455 server side).
 *
 *   node Tests/browser/mock-hub.js [--port 18090] [--prefix /switchboard/] [--token T] [--calls 14]
 *
 * Not a conformance reference: the Swift hub is. Resume is not implemented
 * here (every snapshot is recovered:false).
 */
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const args = process.argv.slice(2);
function arg(name, def) {
  const i = args.indexOf('--' + name);
  return i >= 0 ? args[i + 1] : def;
}
const PORT = Number(arg('port', 18090));
let PREFIX = arg('prefix', '/');
if (!PREFIX.startsWith('/')) PREFIX = '/' + PREFIX;
if (!PREFIX.endsWith('/')) PREFIX += '/';
const TOKEN = arg('token', null);
const CALLS = Number(arg('calls', 14));
const PUBLIC = path.resolve(__dirname, '../../public');
const CSP = "default-src 'none'; img-src 'self' data:; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:";
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

// ------------------------------------------------------------------ model

const TERMINAL = new Set(['ended', 'declined', 'busy', 'no_answer', 'failed', 'canceled']);
const PROVIDERS = ['twilio', 'twilio', 'agora', 'elevenlabs', 'telnyx', 'asterisk'];
const sessions = new Map();
let seq = 0;
const rnd = (() => { let s = 42; return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648); })();

function emodel(latency, jitter, loss) {
  const eff = latency + 2 * jitter + 10;
  let r = eff < 160 ? 93.2 - eff / 40 : 93.2 - (eff - 120) / 10;
  r -= 2.5 * loss;
  r = Math.max(0, Math.min(100, r));
  const mos = 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r);
  return { r, mos: Math.round(mos * 100) / 100 };
}
function grade(mos) {
  if (mos == null) return null;
  return mos >= 4.3 ? 'excellent' : mos >= 4.0 ? 'good' : mos >= 3.6 ? 'fair' : mos >= 3.1 ? 'poor' : 'bad';
}

function newSession(now, wantedId) {
  const n = ++seq;
  const id = wantedId || `sim-${String(n).padStart(3, '0')}`;
  const provider = PROVIDERS[n % PROVIDERS.length];
  const s = {
    epoch: crypto.randomBytes(4).toString('hex'), version: 1, subscribers: new Set(), timeline: [], samples: [], warnings: [],
    degrade: rnd() < 0.3, talkMs: 20000 + rnd() * 90000,
    doc: {
      sessionId: id, callId: `c_${1000 + n}`, callUUID: crypto.randomUUID(), direction: n % 3 ? 'outbound' : 'inbound',
      from: '+1555010' + String(n % 100).padStart(2, '0'), to: '+15550199', phoneNumber: '+15550199', provider,
      providerCallId: provider === 'twilio' ? 'CA' + crypto.randomBytes(16).toString('hex') : `${provider}-${n}`,
      twilioCallSid: null, sipCallId: null, deviceStatus: 'ready', callState: 'initiated', logStatus: 'initiated',
      recording: { active: false, recordingId: null, format: null, duration: null },
      quality: { mos: null, latency: null, jitter: null, packetLoss: null, rFactor: null, grade: null, mosSource: null },
      metadata: { agent: ['ada', 'grace', 'linus'][n % 3] }, startedAt: now, answeredAt: null, endedAt: null, duration: null,
      lastSync: now, syncStatus: 'synchronized', version: 1,
    },
  };
  if (provider === 'twilio') s.doc.twilioCallSid = s.doc.providerCallId;
  sessions.set(id, s);
  addTimeline(s, now, 'webhook', provider, 'provider', [['callState', 'initiated', 'applied']]);
  return s;
}

function addTimeline(s, at, kind, source, sourceKind, updates) {
  s.timeline.push({ at, kind, source, sourceKind, eventId: crypto.randomBytes(6).toString('hex'),
    updates: updates.map(([field, value, fate]) => ({ field, value, ts: at - Math.floor(rnd() * 400), fate })) });
  if (s.timeline.length > 500) s.timeline.shift();
}

function row(s) {
  const d = s.doc;
  return { type: 'session', sessionId: d.sessionId, callState: d.callState, syncStatus: d.syncStatus, provider: d.provider,
    direction: d.direction, startedAt: d.startedAt, answeredAt: d.answeredAt, endedAt: d.endedAt,
    quality: { mos: d.quality.mos, grade: d.quality.grade }, lastSync: d.lastSync, version: s.version };
}

const dirty = new Set();
const dashEvents = [];

function setState(s, state, now, source = s.doc.provider, kind = 'provider') {
  const d = s.doc;
  const changed = ['callState', 'logStatus', 'lastSync'];
  d.callState = state;
  d.logStatus = TERMINAL.has(state) ? (state === 'ended' ? 'ended' : 'failed') : state === 'connected' ? 'connected' : 'initiated';
  if (state === 'connected' && !d.answeredAt) { d.answeredAt = now; changed.push('answeredAt'); }
  if (TERMINAL.has(state)) { d.endedAt = now; changed.push('endedAt'); if (d.answeredAt) { d.duration = Math.round((now - d.answeredAt) / 1000); changed.push('duration'); } }
  d.lastSync = now;
  s.version += 1;
  d.version = s.version;
  const conflicts = [];
  if (state === 'ended' && rnd() < 0.5) {
    const c = { field: 'callState', kept: { value: 'ended', source, ts: now }, discarded: { value: 'connected', source: 'client:agent-' + d.metadata.agent, ts: now + 200 }, rule: 'terminal' };
    conflicts.push(c);
    dashEvents.push({ type: 'conflict', sessionId: d.sessionId, ...c });
    addTimeline(s, now + 250, 'report', 'client:agent-' + d.metadata.agent, 'client', [['callState', 'connected', 'conflict']]);
  }
  addTimeline(s, now, kind === 'provider' ? 'webhook' : 'report', source, kind, [['callState', state, 'applied']]);
  broadcast(s, { type: 'state_change', sessionId: d.sessionId, callId: d.callId, state, version: s.version, epoch: s.epoch,
    changed, call: d, quality: d.quality, conflicts });
  dirty.add(d.sessionId);
}

function sample(s, now) {
  const d = s.doc;
  const t = (now - d.answeredAt) / 1000;
  const bad = s.degrade && t > 15 ? Math.min(1, (t - 15) / 30) : 0;
  const latency = Math.round(60 + rnd() * 40 + bad * 220);
  const jitter = Math.round((4 + rnd() * 8 + bad * 45) * 10) / 10;
  const packetLoss = Math.round((rnd() * 0.4 + bad * 4) * 100) / 100;
  const { r, mos } = emodel(latency, jitter, packetLoss);
  s.samples.push(mos);
  const warnings = [];
  if (jitter > 30) warnings.push('high-jitter');
  if (packetLoss > 1) warnings.push('high-packet-loss');
  if (mos < 3.5) warnings.push('low-mos');
  const changedWarnings = warnings.join() !== s.warnings.join();
  s.warnings = warnings;
  d.quality = { mos, latency, jitter, packetLoss, rFactor: Math.round(r * 10) / 10, grade: grade(mos), mosSource: 'e-model' };
  s.version += 1;
  d.version = s.version;
  d.lastSync = now;
  const agg = { min: Math.min(...s.samples), avg: Math.round(s.samples.reduce((a, b) => a + b, 0) / s.samples.length * 100) / 100,
    max: Math.max(...s.samples), samples: s.samples.length };
  broadcast(s, { type: 'quality', sessionId: d.sessionId, version: s.version, quality: { ...d.quality, ts: now }, aggregate: agg, warnings });
  if (changedWarnings) dashEvents.push({ type: 'quality', sessionId: d.sessionId, warnings });
  dirty.add(d.sessionId);
}

function step(now = Date.now()) {
  const live = [...sessions.values()].filter((s) => !TERMINAL.has(s.doc.callState));
  if (sessions.size < CALLS || (live.length < CALLS * 0.6 && rnd() < 0.2)) newSession(now);
  for (const s of sessions.values()) {
    const d = s.doc;
    const age = now - d.startedAt;
    if (d.callState === 'initiated' && age > 1500) setState(s, 'ringing', now);
    else if (d.callState === 'ringing' && age > 4000 + rnd() * 8000) {
      const r = rnd();
      setState(s, r < 0.8 ? 'connected' : r < 0.9 ? 'busy' : 'no_answer', now);
    } else if (d.callState === 'connected') {
      sample(s, now);
      if (now - d.answeredAt > s.talkMs) setState(s, 'ended', now);
      else if (rnd() < 0.01) setState(s, 'on_hold', now, 'client:agent-' + d.metadata.agent, 'client');
    } else if (d.callState === 'on_hold' && rnd() < 0.2) setState(s, 'connected', now, 'client:agent-' + d.metadata.agent, 'client');
  }
  for (const [id, s] of sessions) if (s.doc.endedAt && now - s.doc.endedAt > 120000) sessions.delete(id);
}

// ------------------------------------------------------------------ websocket

const dashboards = new Set();

function wsFrame(opcode, payload) {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len])
    : len < 65536 ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 255])
      : Buffer.concat([Buffer.from([0x80 | opcode, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b; })()]);
  return Buffer.concat([head, payload]);
}
function wsSend(sock, obj) { if (!sock.destroyed) sock.write(wsFrame(1, Buffer.from(JSON.stringify(obj)))); }
function wsClose(sock, code, reason = '') {
  const b = Buffer.alloc(2); b.writeUInt16BE(code);
  if (!sock.destroyed) { sock.write(wsFrame(8, Buffer.concat([b, Buffer.from(reason)]))); sock.end(); }
}
function broadcast(s, frame) { for (const sock of s.subscribers) wsSend(sock, frame); }

function onMessages(sock, handler) {
  let buf = Buffer.alloc(0);
  sock.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const opcode = buf[0] & 15;
      let len = buf[1] & 127;
      let off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      const masked = buf[1] & 128;
      const mask = masked ? buf.subarray(off, off + 4) : null;
      if (masked) off += 4;
      if (buf.length < off + len) return;
      const data = Buffer.from(buf.subarray(off, off + len));
      if (mask) for (let i = 0; i < data.length; i++) data[i] ^= mask[i & 3];
      buf = buf.subarray(off + len);
      if (opcode === 8) { wsClose(sock, 1000); return; }
      if (opcode === 9) { sock.write(wsFrame(10, data)); continue; }
      if (opcode === 1) handler(data.toString('utf8'));
    }
  });
}

function reply(sock, text) {
  let m;
  try { m = JSON.parse(text); } catch { wsSend(sock, { type: 'error', code: 'invalid_json', message: 'message is not valid JSON' }); return; }
  if (m.type === 'ping') wsSend(sock, m.id !== undefined ? { type: 'pong', id: m.id } : { type: 'pong' });
  else if (m.type === 'auth') { /* accepted */ }
  else if (m.id !== undefined) wsSend(sock, { type: 'error', id: m.id, code: 'forbidden', message: `${m.type} needs role client` });
}

function upgrade(req, sock) {
  const u = new URL(req.url, 'http://x');
  const key = req.headers['sec-websocket-key'];
  if (!u.pathname.startsWith(PREFIX) || !key) { sock.end('HTTP/1.1 404 Not Found\r\n\r\n'); return; }
  const rest = u.pathname.slice(PREFIX.length);
  const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + accept + '\r\n\r\n');
  sock.setNoDelay(true);
  sock.on('error', () => {});
  if (TOKEN && u.searchParams.get('token') !== TOKEN) { wsClose(sock, 4001, 'missing or invalid token'); return; }
  onMessages(sock, (text) => reply(sock, text));
  if (rest === 'ws/dashboard') {
    dashboards.add(sock);
    sock.on('close', () => dashboards.delete(sock));
    wsSend(sock, { type: 'summary', at: Date.now(), sessions: [...sessions.values()].map(row) });
    return;
  }
  const match = /^ws\/calls\/([A-Za-z0-9._:-]{1,128})$/.exec(decodeURIComponent(rest));
  if (!match) { wsClose(sock, 4400, 'bad path'); return; }
  const s = sessions.get(match[1]) || newSession(Date.now(), match[1]);
  s.subscribers.add(sock);
  sock.on('close', () => s.subscribers.delete(sock));
  wsSend(sock, { type: 'snapshot', sessionId: s.doc.sessionId, epoch: s.epoch, version: s.version, recovered: false, call: s.doc, presence: [] });
}

// ------------------------------------------------------------------ http

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'content-security-policy': CSP });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  if (u.pathname === PREFIX.slice(0, -1) && PREFIX !== '/') { res.writeHead(301, { location: PREFIX }); res.end(); return; }
  if (!u.pathname.startsWith(PREFIX)) { json(res, 404, { error: { code: 'not_found', message: 'outside the prefix' } }); return; }
  const rest = u.pathname.slice(PREFIX.length);
  if (rest.startsWith('api/')) {
    if (TOKEN && req.headers.authorization !== 'Bearer ' + TOKEN) { json(res, 401, { error: { code: 'unauthorized', message: 'missing or invalid token' } }); return; }
    let m;
    if (rest === 'api/calls') {
      const st = u.searchParams.get('state');
      const gr = u.searchParams.get('grade');
      json(res, 200, { sessions: [...sessions.values()].map(row).filter((r) => (!st || r.callState === st) && (!gr || r.quality.grade === gr)) });
    } else if ((m = /^api\/calls\/([^/]+)\/timeline$/.exec(rest))) {
      const s = sessions.get(decodeURIComponent(m[1]));
      if (!s) json(res, 404, { error: { code: 'not_found', message: 'unknown session' } });
      else json(res, 200, { sessionId: s.doc.sessionId, entries: s.timeline });
    } else if ((m = /^api\/calls\/([^/]+)$/.exec(rest))) {
      const s = sessions.get(decodeURIComponent(m[1]));
      if (!s) json(res, 404, { error: { code: 'not_found', message: 'unknown session' } });
      else json(res, 200, s.doc);
    } else json(res, 404, { error: { code: 'not_found', message: 'no route' } });
    return;
  }
  const file = path.join(PUBLIC, rest === '' ? 'index.html' : rest);
  if (!file.startsWith(PUBLIC + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    json(res, 404, { error: { code: 'not_found', message: 'no such file' } });
    return;
  }
  res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'content-security-policy': CSP,
    'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' });
  fs.createReadStream(file).pipe(res);
});
server.on('upgrade', upgrade);

// Warm up so a screenshot shows calls in every state.
{
  const t0 = Date.now();
  for (let i = 0; i < CALLS; i++) newSession(t0 - 60000 - (CALLS - i) * 6000);
  for (let i = 60; i > 0; i--) step(t0 - i * 1000);
}
setInterval(() => step(), 1000);
setInterval(() => {
  if (!dirty.size && !dashEvents.length) return;
  const batch = [...dirty].filter((id) => sessions.has(id)).map((id) => row(sessions.get(id))).concat(dashEvents.splice(0));
  dirty.clear();
  for (const sock of dashboards) wsSend(sock, batch);
}, 250);

server.listen(PORT, '127.0.0.1', () => {
  console.log(`mock hub listening on http://127.0.0.1:${PORT}${PREFIX}${TOKEN ? '?token=' + TOKEN : ''}`);
});
