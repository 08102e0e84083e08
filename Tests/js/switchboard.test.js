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
    backoff: { initialMs: 100, maxMs: 1000, stableMs: 5000 }, ...extra,
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

test('connects to the session URL with the token', () => {
  const { WS, call } = setup();
  assert.equal(WS.sockets.length, 1);
  assert.equal(WS.last().url, 'ws://hub.test/switchboard/ws/calls/call-1?token=tok-1');
  assert.equal(call.status, 'connecting');
});

test('session ids are URL-encoded and http bases become ws bases', () => {
  const WS = makeFakeWebSocket();
  Switchboard.connect({ url: 'https://x.test/p', sessionId: 'a:b.c', WebSocket: WS, heartbeatMs: 0 });
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

test('backoff: full jitter, bounded by maxMs, cap grows exponentially', () => {
  const opts = { initialMs: 100, maxMs: 1000 };
  const high = () => 0.999999;
  const caps = [0, 1, 2, 3, 4, 5, 6].map((a) => Switchboard.backoffDelay(a, opts, high));
  assert.deepEqual(caps, [99, 199, 399, 799, 999, 999, 999]);
  assert.equal(Switchboard.backoffDelay(3, opts, () => 0), 0);
  const rnd = sequence(0.1, 0.7, 0.3);
  const values = [rnd(), rnd(), rnd()].map((r) => Switchboard.backoffDelay(3, opts, () => r));
  assert.deepEqual(values, [80, 560, 240]); // jittered within [0, 800)
  for (let i = 0; i < 200; i++) {
    const d = Switchboard.backoffDelay(i % 12, opts, Math.random);
    assert.ok(d >= 0 && d <= 1000, `delay ${d} out of bounds`);
  }
});

test('reconnects with growing jittered delays, and resets after a stable connection', () => {
  const { WS, clock, call, statuses } = setup({ random: () => 0.5 });
  WS.last().serverClose(1006);
  const delays = [];
  for (let i = 0; i < 6; i++) {
    delays.push(call.nextDelayMs);
    assert.equal(call.status, 'reconnecting');
    const before = WS.sockets.length;
    clock.advance(call.nextDelayMs);
    assert.equal(WS.sockets.length, before + 1, 'a new socket after the delay');
    WS.last().serverClose(1006);
  }
  assert.deepEqual(delays, [50, 100, 200, 400, 500, 500]);
  assert.ok(statuses.some((x) => x.s === 'reconnecting' && x.info.delayMs === 400));
  // A connection that stays up for stableMs resets the backoff.
  clock.advance(call.nextDelayMs);
  WS.last().serverOpen();
  clock.advance(5000);
  WS.last().serverClose(1001);
  assert.equal(call.nextDelayMs, 50);
});

test('a connection that drops before it is stable keeps backing off', () => {
  const { WS, clock, call } = setup();
  WS.last().serverOpen();
  WS.last().serverClose(1006);
  assert.equal(call.nextDelayMs, 50);
  clock.advance(50);
  WS.last().serverOpen();
  clock.advance(1000); // < stableMs
  WS.last().serverClose(1006);
  assert.equal(call.nextDelayMs, 100);
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
  assert.equal(q.get('token'), 'tok-1');
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
  const q = WS.last().query;
  assert.equal(q.get('token'), 'fresh');
  assert.equal(q.get('since'), '7');
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
  Switchboard.connect({ url: URL_BASE, sessionId: 's', WebSocket: WS, getToken: () => 'minted', heartbeatMs: 0 });
  assert.equal(WS.sockets.length, 0);
  await flush();
  assert.equal(WS.last().query.get('token'), 'minted');
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

test('heartbeat: a silent connection is dropped and re-opened', () => {
  const { WS, clock, call } = setup({ heartbeatMs: 1000 });
  const ws = WS.last();
  ws.serverOpen();
  clock.advance(1000);
  assert.equal(ws.sent.at(-1).type, 'ping');
  clock.advance(1000); // no pong, no frame
  assert.ok(ws.closedByClient);
  assert.equal(call.status, 'reconnecting');
  clock.advance(call.nextDelayMs);
  assert.equal(WS.sockets.length, 2);
});

test('heartbeat: pongs keep the connection', () => {
  const { WS, clock, call } = setup({ heartbeatMs: 1000 });
  const ws = WS.last();
  ws.serverOpen();
  for (let i = 0; i < 5; i++) {
    clock.advance(1000);
    ws.serverSend({ type: 'pong', id: ws.sent.at(-1).id });
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

test('status events: connecting, open, reconnecting', () => {
  const { WS, statuses } = setup();
  WS.last().serverOpen();
  WS.last().serverClose(1006);
  assert.deepEqual(statuses.map((x) => x.s), ['open', 'reconnecting']);
});

test('dashboard: summary, then batches (arrays) and single objects', () => {
  const WS = makeFakeWebSocket();
  const clock = new FakeClock();
  const dash = Switchboard.dashboard({ url: URL_BASE, token: 't', WebSocket: WS, heartbeatMs: 0, timers: clock.timers });
  assert.equal(WS.last().url, 'ws://hub.test/switchboard/ws/dashboard?token=t');
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
    Switchboard.connect({ sessionId: 's1', WebSocket: WS, heartbeatMs: 0 });
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
  WS.last().serverClose(4001, 'missing token');
  await flush();
  clock.advance(call.nextDelayMs);
  assert.equal(WS.last().query.get('token'), 'pasted');
});
