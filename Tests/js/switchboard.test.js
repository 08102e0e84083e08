'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const Switchboard = require('../../public/switchboard.js');
const { makeFakeWebSocket, FakeClock, flush, sequence } = require('./fakes.js');

const URL_BASE = 'ws://hub.test/switchboard/';

function setup(extra = {}) {
  const WS = makeFakeWebSocket();
  const clock = new FakeClock();
  const statuses = [];
  const call = Switchboard.connect({
    url: URL_BASE, sessionId: 'call-1', token: 'tok-1', WebSocket: WS,
    timers: clock.timers, now: clock.now, random: () => 0.5, heartbeatMs: 0,
    backoff: { initialMs: 100, maxMs: 1000, drainRetryMs: 400 }, openTimeoutMs: 0, ...extra,
  });
  call.on('status', (s, info) => statuses.push({ s, info }));
  return { WS, clock, call, statuses };
}

function doc(version, fields = {}) {
  return { sessionId: 'call-1', callState: 'ringing', syncStatus: 'synchronized', version, ...fields };
}
function snapshot(version, extra = {}) {
  return { type: 'snapshot', sessionId: 'call-1', epoch: 'e1', version, recovered: false, call: doc(version), presence: [], ...extra };
}
function stateChange(version, state, extra = {}) {
  return { type: 'state_change', sessionId: 'call-1', callId: null, state, version, epoch: 'e1',
    changed: ['callState'], call: doc(version, { callState: state }), quality: {}, conflicts: [], ...extra };
}
function qualityFrame(version, q) {
  return { type: 'quality', sessionId: 'call-1', version, quality: q, aggregate: { min: 3, avg: 4, max: 4.4, samples: 3 }, warnings: [] };
}

/** The token a socket offered in Sec-WebSocket-Protocol, if any. */
const offeredToken = (ws) => (ws.protocols.find((p) => p.startsWith('bearer.')) || '').slice(7) || null;

test('connects to the session URL, the token offered as a subprotocol, never in the URL', () => {
  const { WS, call } = setup();
  assert.equal(WS.sockets.length, 1);
  assert.equal(WS.last().url, 'ws://hub.test/switchboard/ws/calls/call-1');
  assert.deepEqual(WS.last().protocols, ['switchboard.v1', 'bearer.tok-1']);
  assert.equal(call.status, 'connecting');
});

test("tokenIn: 'query' puts the token in the URL (tools that cannot offer subprotocols)", () => {
  const { WS } = setup({ tokenIn: 'query', protocols: 'switchboard.v1' });
  assert.equal(WS.last().url, 'ws://hub.test/switchboard/ws/calls/call-1?token=tok-1');
  assert.deepEqual(WS.last().protocols, ['switchboard.v1']);
});

test('a token that cannot be a subprotocol falls back to the query', () => {
  const { WS } = setup({ token: 'a/b=', protocols: ['x.v2'] });
  assert.equal(WS.last().query.get('token'), 'a/b=');
  assert.deepEqual(WS.last().protocols, ['switchboard.v1', 'x.v2']);
});

test('session ids are URL-encoded and http bases become ws bases', () => {
  const WS = makeFakeWebSocket();
  Switchboard.connect({ url: 'https://x.test/p', sessionId: 'a:b.c', WebSocket: WS, heartbeatMs: 0, openTimeoutMs: 0 });
  assert.equal(WS.last().url, 'wss://x.test/p/ws/calls/a%3Ab.c');
});

test('snapshot then state frames update the document', () => {
  const { WS, call } = setup();
  const seen = [];
  call.on('state', (d, f) => seen.push([d.callState, f.type]));
  const ws = WS.last();
  ws.serverOpen();
  ws.serverSend(snapshot(2));
  assert.equal(call.state.callState, 'ringing');
  assert.equal(call.version, 2);
  assert.equal(call.epoch, 'e1');
  ws.serverSend(stateChange(3, 'connected'));
  assert.equal(call.state.callState, 'connected');
  assert.equal(call.version, 3);
  assert.deepEqual(seen, [['ringing', 'snapshot'], ['connected', 'state_change']]);
});

test('versions never go back; jumps (conflation) are accepted', () => {
  const { WS, call } = setup();
  const states = [];
  const qualities = [];
  call.on('state', (d) => states.push(d.version));
  call.on('quality', (q) => qualities.push(q.mos));
  const ws = WS.last();
  ws.serverOpen();
  ws.serverSend(snapshot(5));
  ws.serverSend(stateChange(4, 'ended'));      // older: ignored
  ws.serverSend(stateChange(5, 'ended'));      // same: ignored
  ws.serverSend(qualityFrame(5, { mos: 1 }));  // same: ignored
  assert.equal(call.state.callState, 'ringing');
  ws.serverSend(stateChange(9, 'connected'));  // jump: applied
  ws.serverSend(qualityFrame(10, { mos: 4.2, jitter: 3, grade: 'good' }));
  ws.serverSend(qualityFrame(8, { mos: 1 }));  // older: ignored
  assert.equal(call.version, 10);
  assert.equal(call.state.callState, 'connected');
  assert.equal(call.state.quality.mos, 4.2);
  assert.equal(call.state.version, 10);
  assert.deepEqual(states, [5, 9]);
  assert.deepEqual(qualities, [4.2]);
});

test('conflicts in state_change frames are emitted one by one', () => {
  const { WS, call } = setup();
  const conflicts = [];
  call.on('conflict', (c) => conflicts.push(c.rule));
  const ws = WS.last();
  ws.serverOpen();
  ws.serverSend(snapshot(1));
  ws.serverSend(stateChange(2, 'ended', { conflicts: [
    { field: 'callState', kept: { value: 'ended', source: 'twilio', ts: 1 }, discarded: { value: 'connected', source: 'client:a', ts: 2 }, rule: 'terminal' },
    { field: 'callState', kept: {}, discarded: {}, rule: 'tie' },
  ] }));
  assert.deepEqual(conflicts, ['terminal', 'tie']);
});

test('backoff defaults: 250 ms first spread, 5 s cap, 1 s after a drain, 15 % of the outage', () => {
  assert.deepEqual(Switchboard.backoffDefaults, { initialMs: 250, maxMs: 5000, drainRetryMs: 1000, outageRatio: 0.15 });
  const high = () => 0.999999;
  // The first retry of an outage is spread over initialMs, or drainRetryMs after a 1001.
  assert.equal(Switchboard.backoffDelay({ prevMs: 0, downMs: 0, code: 1006 }, {}, high), 249);
  assert.equal(Switchboard.backoffDelay({ prevMs: 0, downMs: 0, code: 1006 }, {}, () => 0), 0);
  assert.equal(Switchboard.backoffDelay({ prevMs: 0, downMs: 0, code: 1001 }, {}, high), 999);
  // Later: decorrelated, in [initialMs, 3 × previous], capped by maxMs and by outageRatio × downtime.
  assert.equal(Switchboard.backoffDelay({ prevMs: 400, downMs: 60000, code: null }, {}, high), 1199);
  assert.equal(Switchboard.backoffDelay({ prevMs: 400, downMs: 60000, code: null }, {}, () => 0), 250);
  assert.equal(Switchboard.backoffDelay({ prevMs: 4000, downMs: 60000, code: null }, {}, high), 5000);
  assert.equal(Switchboard.backoffDelay({ prevMs: 4000, downMs: 10000, code: null }, {}, high), 1500);
  assert.equal(Switchboard.backoffDelay({ prevMs: 4000, downMs: 300, code: null }, {}, high), 250);
  // 4029: uniform in [maxMs/2, maxMs].
  assert.equal(Switchboard.backoffDelay({ prevMs: 0, downMs: 0, code: 4029 }, {}, () => 0), 2500);
  // Never above maxMs nor the outage share, never below 0; retry delays in an outage are never 0 twice.
  for (let i = 0; i < 500; i++) {
    const state = { prevMs: Math.random() * 8000, downMs: Math.random() * 60000, code: null };
    const d = Switchboard.backoffDelay(state, {}, Math.random);
    assert.ok(d >= 250 && d <= Math.min(5000, Math.max(250, state.downMs * 0.15)), `delay ${d} for ${JSON.stringify(state)}`);
  }
});

test('a 10 s outage: retries about 1.5 s apart at its end, and about 15 of them', () => {
  for (let run = 0; run < 50; run++) {
    let t = 0;
    let prev = 0;
    let tries = 0;
    let gapAtTen = 0;
    while (t < 10000) {
      const d = Switchboard.backoffDelay({ prevMs: prev, downMs: t, code: 1006 }, {}, Math.random);
      prev = Math.max(d, 1);
      t += d;
      tries += 1;
      if (t >= 10000) gapAtTen = d;
    }
    assert.ok(gapAtTen <= 1600, `the retry after the 10 s mark came ${gapAtTen} ms after the one before`);
    assert.ok(tries <= 41, `${tries} tries in 10 s`); // every retry but the first waits initialMs or more
  }
});

test('reconnects with growing jittered delays, and resets once the hub answers', () => {
  const { WS, clock, call, statuses } = setup({ random: () => 0.5 });
  WS.last().serverOpen();
  WS.last().serverSend(snapshot(1));
  const started = clock.now();
  WS.last().serverClose(1006);
  const delays = [];
  for (let i = 0; i < 8; i++) {
    delays.push(call.nextDelayMs);
    assert.equal(call.status, 'reconnecting');
    const before = WS.sockets.length;
    clock.advance(call.nextDelayMs);
    assert.equal(WS.sockets.length, before + 1, 'a new socket after the delay');
    WS.last().serverClose(1006);
  }
  // 50 = 0.5 × initialMs, then decorrelated (200 here) but capped by 15 % of the downtime
  // (never below initialMs), later by maxMs.
  assert.deepEqual(delays, [50, 100, 100, 100, 100, 100, 100, 100]);
  assert.ok(statuses.some((x) => x.s === 'reconnecting' && x.info.cause === 'unreachable'));
  while (clock.now() - started < 60000) {
    clock.advance(call.nextDelayMs);
    WS.last().serverClose(1006);
  }
  assert.equal(call.nextDelayMs, 1000, 'maxMs caps it');
  // The first frame on an open connection resets the back-off: the next outage starts afresh.
  clock.advance(call.nextDelayMs);
  WS.last().serverOpen();
  WS.last().serverSend(snapshot(1, { recovered: true }));
  WS.last().serverClose(1006);
  assert.equal(call.nextDelayMs, 50);
});

test('a connection that opens but drops before the hub says anything keeps backing off', () => {
  const { WS, clock, call } = setup();
  WS.last().serverOpen();
  WS.last().serverClose(1006);
  assert.equal(call.nextDelayMs, 50);
  clock.advance(5000);
  WS.last().serverOpen();
  WS.last().serverClose(1006);
  assert.equal(call.nextDelayMs, 200, 'decorrelated from the previous delay, not the first of an outage');
});

test('after 1001 (the hub is restarting) the first retry comes within drainRetryMs', () => {
  const { WS, clock, call, statuses } = setup({ random: () => 0.99 });
  WS.last().serverOpen();
  WS.last().serverSend(snapshot(1));
  WS.last().serverClose(1001, 'draining');
  assert.equal(call.nextDelayMs, 396);
  const info = statuses.at(-1).info;
  assert.equal(info.cause, 'draining');
  assert.equal(info.text, 'reconnecting in 396 ms because the hub is restarting (1001)');
  assert.equal(call.describeStatus(), info.text);
  clock.advance(396);
  assert.equal(WS.sockets.length, 2);
});

test('open timeout: a hub that never answers the handshake is given up on and retried', () => {
  const { WS, clock, call, statuses } = setup({ openTimeoutMs: 5000 });
  clock.advance(4999);
  assert.equal(call.status, 'connecting');
  clock.advance(1);
  assert.equal(WS.sockets[0].closedByClient.code, 4002, 'the stuck socket is closed');
  assert.equal(call.status, 'reconnecting');
  assert.equal(statuses.at(-1).info.code, 4002);
  assert.equal(statuses.at(-1).info.cause, 'open-timeout');
  clock.advance(call.nextDelayMs);
  assert.equal(WS.sockets.length, 2);
  WS.last().serverOpen();
  clock.advance(60000);
  assert.equal(call.status, 'open', 'no timeout once open');
});

test('resume URL carries epoch and since from the last applied frame', () => {
  const { WS, clock, call } = setup();
  const ws = WS.last();
  ws.serverOpen();
  ws.serverSend(snapshot(3));
  ws.serverSend(stateChange(4, 'connected'));
  ws.serverSend(qualityFrame(6, { mos: 4 }));
  ws.serverClose(1001, 'draining');
  clock.advance(call.nextDelayMs);
  const q = WS.last().query;
  assert.equal(WS.sockets.length, 2);
  assert.equal(q.get('epoch'), 'e1');
  assert.equal(q.get('since'), '6');
  assert.equal(q.get('token'), null);
  assert.equal(offeredToken(WS.last()), 'tok-1');
});

test('recovered:true keeps the document and applies the replayed frames in order', () => {
  const { WS, clock, call } = setup();
  WS.last().serverOpen();
  WS.last().serverSend(snapshot(3));
  WS.last().serverClose(4008, 'slow consumer');
  clock.advance(call.nextDelayMs);
  const ws = WS.last();
  ws.serverOpen();
  const states = [];
  call.on('state', (d) => states.push(d.callState));
  ws.serverSend({ type: 'snapshot', sessionId: 'call-1', epoch: 'e1', version: 3, recovered: true, presence: [] });
  assert.equal(call.state.callState, 'ringing');
  ws.serverSend(stateChange(4, 'connecting'));
  ws.serverSend(stateChange(5, 'connected'));
  assert.deepEqual(states, ['connecting', 'connected']);
  assert.equal(call.version, 5);
});

test('recovered:false replaces the state, even with a lower version (new epoch)', () => {
  const { WS, clock, call } = setup();
  WS.last().serverOpen();
  WS.last().serverSend(snapshot(30));
  WS.last().serverSend(stateChange(31, 'connected'));
  WS.last().serverClose(1001);
  clock.advance(call.nextDelayMs);
  const ws = WS.last();
  ws.serverOpen();
  const seen = [];
  call.on('state', (d, f) => seen.push(f.type));
  ws.serverSend({ type: 'snapshot', sessionId: 'call-1', epoch: 'e2', version: 2, recovered: false,
    call: doc(2, { callState: 'on_hold' }), presence: [] });
  assert.equal(call.epoch, 'e2');
  assert.equal(call.version, 2);
  assert.equal(call.state.callState, 'on_hold');
  assert.deepEqual(seen, ['snapshot']);
  ws.serverSend(stateChange(3, 'connected', { epoch: 'e2' }));
  assert.equal(call.state.callState, 'connected');
});

test('token_expiring: getToken() is called and an auth message sent', async () => {
  let calls = 0;
  const { WS, call } = setup({ getToken: async () => `tok-${++calls + 1}` });
  const expiring = [];
  call.on('token_expiring', (ms) => expiring.push(ms));
  const ws = WS.last();
  ws.serverOpen();
  ws.serverSend(snapshot(1));
  ws.serverSend({ type: 'token_expiring', inMs: 60000 });
  await flush();
  assert.equal(calls, 1);
  assert.deepEqual(expiring, [60000]);
  assert.deepEqual(ws.sent.filter((m) => m.type === 'auth'), [{ type: 'auth', token: 'tok-2' }]);
  assert.equal(call.token, 'tok-2');
  assert.equal(WS.sockets.length, 1, 'no reconnect needed');
});

test('close 4004: refresh the token, then reconnect with it and resume', async () => {
  const { WS, clock, call } = setup({ getToken: async () => 'fresh' });
  WS.last().serverOpen();
  WS.last().serverSend(snapshot(7));
  WS.last().serverClose(4004, 'token expired');
  assert.equal(call.status, 'reconnecting');
  await flush();
  clock.advance(call.nextDelayMs);
  assert.equal(WS.sockets.length, 2);
  assert.equal(offeredToken(WS.last()), 'fresh');
  assert.equal(WS.last().query.get('since'), '7');
});

test('close 4004 without getToken fails', () => {
  const { WS, clock, call } = setup();
  WS.last().serverClose(4004);
  clock.advance(60000);
  assert.equal(call.status, 'failed');
  assert.equal(WS.sockets.length, 1);
});

test('getToken is used for the first connection when no token is given', async () => {
  const WS = makeFakeWebSocket();
  Switchboard.connect({ url: URL_BASE, sessionId: 's', WebSocket: WS, getToken: () => 'minted', heartbeatMs: 0, openTimeoutMs: 0 });
  assert.equal(WS.sockets.length, 0);
  await flush();
  assert.equal(offeredToken(WS.last()), 'minted');
});

for (const code of [4003, 4400, 1009]) {
  test(`close ${code}: no reconnect, status failed`, async () => {
    const { WS, clock, call, statuses } = setup({ getToken: async () => 'x' });
    WS.last().serverOpen();
    const pending = assert.rejects(call.report({ callState: 'connected' }), (e) => e.code === 'closed');
    WS.last().serverClose(code);
    await flush();
    clock.advance(120000);
    assert.equal(WS.sockets.length, 1);
    assert.equal(call.status, 'failed');
    assert.equal(statuses.at(-1).info.code, code);
    await pending;
  });
}

test('close 1000 from the hub: closed, no reconnect', () => {
  const { WS, clock, call } = setup();
  WS.last().serverOpen();
  WS.last().serverClose(1000);
  clock.advance(60000);
  assert.equal(call.status, 'closed');
  assert.equal(WS.sockets.length, 1);
});

test('close 4029: backs off longer (between maxMs/2 and maxMs)', () => {
  const { WS, call } = setup({ random: () => 0 });
  WS.last().serverClose(4029);
  assert.equal(call.nextDelayMs, 500);
  assert.equal(call.status, 'reconnecting');
});

test('report() resolves with the ack matched by id', async () => {
  const { WS, clock, call } = setup();
  const ws = WS.last();
  ws.serverOpen();
  const p = call.report({ callState: 'connected', callUUID: 'u-1' }, { metadata: { agent: 'ada' }, seq: 4 });
  const sent = ws.sent[0];
  assert.equal(sent.type, 'report');
  assert.equal(typeof sent.id, 'string');
  assert.equal(sent.ts, clock.now());
  assert.equal(sent.seq, 4);
  assert.deepEqual(sent.state, { callState: 'connected', callUUID: 'u-1' });
  assert.deepEqual(sent.metadata, { agent: 'ada' });
  ws.serverSend({ type: 'ack', id: 'someone-else', version: 1, applied: [], ignored: [], duplicate: false });
  ws.serverSend({ type: 'ack', id: sent.id, version: 8, applied: ['callState', 'callUUID'], ignored: [], duplicate: false });
  const ack = await p;
  assert.equal(ack.version, 8);
  assert.deepEqual(ack.applied, ['callState', 'callUUID']);
});

test('report() rejects with the error frame', async () => {
  const { WS, call } = setup();
  const errors = [];
  call.on('error', (e) => errors.push(e));
  const ws = WS.last();
  ws.serverOpen();
  const p = call.report({ callState: 'bogus' }, { ts: 1234 });
  assert.equal(ws.sent[0].ts, 1234);
  ws.serverSend({ type: 'error', id: ws.sent[0].id, code: 'invalid_message', message: 'bad callState' });
  await assert.rejects(p, (e) => e.code === 'invalid_message' && e.message === 'bad callState' && e.frame.type === 'error');
  assert.equal(errors.length, 0, 'a matched error is not also emitted');
  ws.serverSend({ type: 'error', code: 'invalid_json', message: 'x' });
  assert.equal(errors.length, 1);
});

test('reports made while disconnected are sent on reconnect, unacked ones re-sent with the same id', async () => {
  const { WS, clock, call } = setup();
  WS.last().serverOpen();
  const p1 = call.report({ callState: 'ringing' });
  const id1 = WS.last().sent[0].id;
  WS.last().serverClose(1006);
  const p2 = call.report({ callState: 'connected' });
  clock.advance(call.nextDelayMs);
  const ws = WS.last();
  ws.serverOpen();
  assert.deepEqual(ws.sent.map((m) => m.state.callState), ['ringing', 'connected']);
  assert.equal(ws.sent[0].id, id1);
  ws.serverSend({ type: 'ack', id: id1, version: 2, applied: [], ignored: [], duplicate: true });
  ws.serverSend({ type: 'ack', id: ws.sent[1].id, version: 3, applied: ['callState'], ignored: [], duplicate: false });
  assert.equal((await p1).duplicate, true);
  assert.equal((await p2).version, 3);
});

test('reportEvent maps client vocabulary to callState', async () => {
  const { WS, call } = setup();
  WS.last().serverOpen();
  call.reportEvent('hold');
  call.reportEvent('reject');
  assert.deepEqual(WS.last().sent.map((m) => m.state.callState), ['on_hold', 'declined']);
  await assert.rejects(call.reportEvent('nonsense'), (e) => e.code === 'invalid_message');
});

test('quality() sends numeric metrics only, and not while disconnected', () => {
  const { WS, call } = setup();
  assert.equal(call.quality({ rtt: 100 }), false);
  WS.last().serverOpen();
  assert.equal(call.quality({ rtt: 120, jitter: 4, packetLoss: 0.5, mos: undefined, bogus: 'x' }), true);
  const m = WS.last().sent[0];
  assert.equal(m.type, 'quality');
  assert.deepEqual(m.metrics, { rtt: 120, jitter: 4, packetLoss: 0.5 });
});

test('close() stops for good and rejects pending reports', async () => {
  const { WS, clock, call } = setup();
  const ws = WS.last();
  ws.serverOpen();
  const p = call.report({ callState: 'ended' });
  call.close();
  assert.deepEqual(ws.closedByClient, { code: 1000, reason: 'client closed' });
  assert.equal(call.status, 'closed');
  await assert.rejects(p, (e) => e.code === 'closed');
  clock.advance(100000);
  assert.equal(WS.sockets.length, 1);
});

test('liveness defaults: a ping every 5 s, answered within 5 s', () => {
  const WS = makeFakeWebSocket();
  const call = Switchboard.connect({ url: URL_BASE, sessionId: 's', WebSocket: WS, timers: new FakeClock().timers });
  assert.equal(call.heartbeatMs, 5000);
  assert.equal(call.pongTimeoutMs, 5000);
  assert.equal(call.openTimeoutMs, 5000);
  call.close();
});

test('liveness: a hub that stops answering is dropped (4000) within heartbeatMs + pongTimeoutMs', () => {
  const { WS, clock, call, statuses } = setup({ heartbeatMs: 5000, pongTimeoutMs: 5000 });
  const ws = WS.last();
  ws.serverOpen();
  ws.serverSend(snapshot(1));
  clock.advance(5000);
  assert.equal(ws.sent.at(-1).type, 'ping');
  ws.serverSend({ type: 'pong', id: ws.sent.at(-1).id });
  clock.advance(100); // the hub freezes now
  clock.advance(9899);
  assert.equal(call.status, 'open');
  clock.advance(1);
  assert.deepEqual(ws.closedByClient, { code: 4000, reason: 'no answer to a ping within 5000 ms' }, 'the silent socket is closed');
  assert.equal(call.status, 'reconnecting');
  assert.equal(statuses.at(-1).info.code, 4000);
  assert.equal(statuses.at(-1).info.cause, 'silent');
  assert.match(statuses.at(-1).info.text, /^reconnecting in \d+ ms because the hub stopped answering \(4000\)$/);
  clock.advance(call.nextDelayMs);
  assert.equal(WS.sockets.length, 2);
});

test('liveness: pongs, or any frame, keep the connection', () => {
  const { WS, clock, call } = setup({ heartbeatMs: 1000, pongTimeoutMs: 500 });
  const ws = WS.last();
  ws.serverOpen();
  for (let i = 0; i < 5; i++) {
    clock.advance(1000);
    ws.serverSend({ type: 'pong', id: ws.sent.at(-1).id });
  }
  for (let i = 0; i < 5; i++) {
    clock.advance(1000);
    ws.serverSend(qualityFrame(10 + i, { mos: 4 }));
  }
  assert.equal(call.status, 'open');
  assert.equal(WS.sockets.length, 1);
});

test('ping() resolves with the round trip time', async () => {
  const { WS, clock, call } = setup();
  const ws = WS.last();
  ws.serverOpen();
  const p = call.ping();
  clock.advance(42);
  ws.serverSend({ type: 'pong', id: ws.sent[0].id });
  assert.equal(await p, 42);
});

test('status events: connecting, open, reconnecting, each with a line a UI can show', () => {
  const { WS, statuses } = setup();
  WS.last().serverOpen();
  WS.last().serverSend(snapshot(1));
  WS.last().serverClose(1006);
  assert.deepEqual(statuses.map((x) => x.s), ['open', 'reconnecting']);
  assert.deepEqual(statuses.map((x) => x.info.text), ['open', 'reconnecting in 50 ms because the connection was lost (1006)']);
  assert.equal(Switchboard.describeStatus('connecting', {}), 'connecting');
  assert.equal(Switchboard.describeStatus('failed', { code: 4003, reason: 'forbidden' }), 'stopped: forbidden (4003)');
});

test('offline: with no network the status says so, and the online event retries at once', () => {
  const listeners = {};
  global.navigator = { onLine: false };
  global.window = { addEventListener: (n, f) => { listeners[n] = f; }, removeEventListener: (n) => { delete listeners[n]; } };
  try {
    const { WS, call, statuses } = setup();
    WS.last().serverClose(1006);
    assert.equal(call.status, 'offline');
    assert.match(statuses.at(-1).info.text, /^offline: no network; retrying in \d+ ms or when it is back$/);
    global.navigator.onLine = true;
    listeners.online();
    assert.equal(WS.sockets.length, 2, 'reconnected on the online event');
    call.close();
    assert.equal(listeners.online, undefined, 'the listener goes with the call');
  } finally {
    delete global.navigator;
    delete global.window;
  }
});

test('dashboard: summary, then batches (arrays) and single objects', () => {
  const WS = makeFakeWebSocket();
  const clock = new FakeClock();
  const dash = Switchboard.dashboard({ url: URL_BASE, token: 't', WebSocket: WS, heartbeatMs: 0, timers: clock.timers });
  assert.equal(WS.last().url, 'ws://hub.test/switchboard/ws/dashboard');
  assert.equal(offeredToken(WS.last()), 't');
  const ws = WS.last();
  ws.serverOpen();
  const seen = [];
  dash.on('summary', (rows) => seen.push(['summary', rows.length]));
  dash.on('row', (r) => seen.push(['row', r.sessionId, r.callState]));
  dash.on('conflict', (c) => seen.push(['conflict', c.sessionId, c.rule]));
  dash.on('quality', (q) => seen.push(['quality', q.sessionId, q.warnings.join()]));
  const row = (id, state) => ({ type: 'session', sessionId: id, callState: state, syncStatus: 'synchronized',
    quality: { mos: null, grade: null }, version: 1 });
  ws.serverSend({ type: 'summary', at: 5, sessions: [row('a', 'ringing'), row('b', 'connected')] });
  ws.serverSend([row('a', 'connected'), row('c', 'initiated'),
    { type: 'conflict', sessionId: 'a', field: 'callState', kept: {}, discarded: {}, rule: 'tie' },
    { type: 'quality', sessionId: 'b', warnings: ['high-jitter'] }]);
  ws.serverSend(row('b', 'ended'));
  assert.deepEqual(seen, [
    ['summary', 2],
    ['row', 'a', 'connected'], ['row', 'c', 'initiated'], ['conflict', 'a', 'tie'], ['quality', 'b', 'high-jitter'],
    ['row', 'b', 'ended'],
  ]);
  assert.deepEqual([...dash.rows.keys()].sort(), ['a', 'b', 'c']);
  assert.equal(dash.rows.get('b').callState, 'ended');
  assert.equal(dash.summaryAt, 5);
});

test('dashboard: a new summary after reconnect replaces the rows', () => {
  const WS = makeFakeWebSocket();
  const clock = new FakeClock();
  const dash = Switchboard.dashboard({ url: URL_BASE, WebSocket: WS, timers: clock.timers, heartbeatMs: 0 });
  WS.last().serverOpen();
  WS.last().serverSend({ type: 'summary', at: 1, sessions: [{ type: 'session', sessionId: 'old' }] });
  WS.last().serverClose(1001);
  clock.advance(dash.nextDelayMs);
  assert.equal(WS.last().url, 'ws://hub.test/switchboard/ws/dashboard', 'no resume parameters on the dashboard');
  WS.last().serverOpen();
  WS.last().serverSend({ type: 'summary', at: 2, sessions: [{ type: 'session', sessionId: 'new' }] });
  assert.deepEqual([...dash.rows.keys()], ['new']);
});

test('a frame that is not JSON is reported, not thrown', () => {
  const { WS, call } = setup();
  const errors = [];
  call.on('error', (e) => errors.push(e.code));
  WS.last().serverOpen();
  WS.last().serverSend('not json');
  assert.deepEqual(errors, ['invalid_json']);
});

test('baseUrls: root and path prefix', () => {
  assert.deepEqual(Switchboard.baseUrls('http://h:8080/'), { http: 'http://h:8080/', ws: 'ws://h:8080/' });
  assert.deepEqual(Switchboard.baseUrls('http://h:8080/index.html?token=x#call=y'), { http: 'http://h:8080/', ws: 'ws://h:8080/' });
  assert.deepEqual(Switchboard.baseUrls('https://ex.com/switchboard/'), { http: 'https://ex.com/switchboard/', ws: 'wss://ex.com/switchboard/' });
  assert.deepEqual(Switchboard.baseUrls('https://ex.com/switchboard/index.html#token=a'),
    { http: 'https://ex.com/switchboard/', ws: 'wss://ex.com/switchboard/' });
  assert.deepEqual(Switchboard.baseUrls('https://ex.com/a/b/'), { http: 'https://ex.com/a/b/', ws: 'wss://ex.com/a/b/' });
});

test('url defaults to the page location', () => {
  const WS = makeFakeWebSocket();
  global.location = { href: 'https://ex.com/switchboard/index.html?token=abc' };
  try {
    Switchboard.connect({ sessionId: 's1', WebSocket: WS, heartbeatMs: 0, openTimeoutMs: 0 });
    assert.equal(WS.last().url, 'wss://ex.com/switchboard/ws/calls/s1');
  } finally {
    delete global.location;
  }
});

test("token '' connects without a token, and getToken is still used after 4001", async () => {
  const WS = makeFakeWebSocket();
  const clock = new FakeClock();
  const call = Switchboard.connect({ url: URL_BASE, sessionId: 's', token: '', WebSocket: WS, heartbeatMs: 0,
    timers: clock.timers, getToken: async () => 'pasted' });
  assert.equal(WS.last().url, 'ws://hub.test/switchboard/ws/calls/s');
  assert.deepEqual(WS.last().protocols, ['switchboard.v1']);
  WS.last().serverClose(4001, 'missing token');
  await flush();
  clock.advance(call.nextDelayMs);
  assert.equal(offeredToken(WS.last()), 'pasted');
});

// Issue 27 item 2: a browser sees a refused handshake as 1006 with no status.
test('a handshake refused for its origin stops the retries and names the origin', async () => {
  const asked = [];
  const refusal = { error: { code: 'origin_not_allowed', message: 'origin https://app.test is not allowed: add it to security.allowedOrigins' } };
  const fetch = (url, init) => { asked.push({ url, init }); return Promise.resolve({ status: 403, json: () => Promise.resolve(refusal) }); };
  const { WS, clock, call, statuses } = setup({ fetch });
  WS.last().serverClose(1006);
  assert.equal(call.status, 'reconnecting', 'the back-off starts while the hub is asked');
  await flush();
  await flush();
  assert.deepEqual(asked.map((a) => a.url), ['http://hub.test/switchboard/ws/calls/call-1']);
  assert.equal(asked[0].init.credentials, 'omit');
  assert.equal(asked[0].init.method, 'POST', 'browsers send Origin with a same-origin POST, not with a GET');
  assert.equal(call.status, 'failed');
  const last = statuses[statuses.length - 1].info;
  assert.equal(last.cause, 'origin');
  assert.equal(last.text, 'stopped: ' + refusal.error.message + ' (403)');
  const sockets = WS.sockets.length;
  clock.advance(60000);
  assert.equal(WS.sockets.length, sockets, 'no attempt after the refusal');
  assert.deepEqual(clock.pending(), []);
});

test('a failed handshake the hub does not refuse for its origin keeps backing off', async () => {
  for (const answer of [() => Promise.resolve({ status: 426, json: () => Promise.resolve({}) }),
                        () => Promise.reject(new TypeError('Failed to fetch')),
                        () => Promise.resolve({ status: 403, json: () => Promise.resolve({ error: { code: 'forbidden' } }) })]) {
    const { WS, clock, call } = setup({ fetch: answer });
    WS.last().serverClose(1006);
    await flush();
    await flush();
    assert.equal(call.status, 'reconnecting');
    const sockets = WS.sockets.length;
    clock.advance(call.nextDelayMs);
    assert.equal(WS.sockets.length, sockets + 1, 'the next attempt came');
  }
});

test('a socket that was open and dropped is not probed; no fetch outside a page unless given', async () => {
  let asked = 0;
  const { WS } = setup({ fetch: () => { asked += 1; return Promise.resolve({ status: 426 }); } });
  WS.last().serverOpen();
  WS.last().serverClose(1006);
  await flush();
  assert.equal(asked, 0);
  const plain = setup();
  assert.equal(plain.call._fetch, null, 'node without a page: no probe unless options.fetch');
});

test('without a WebSocket implementation the error says how to get one on Node 20', () => {
  const saved = globalThis.WebSocket;
  try {
    delete globalThis.WebSocket;
    assert.throws(() => Switchboard.connect({ url: URL_BASE, sessionId: 's' }), /--experimental-websocket/);
  } finally {
    if (saved) globalThis.WebSocket = saved;
  }
});
