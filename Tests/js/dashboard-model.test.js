'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const M = require('../../public/dashboard-model.js');
const Switchboard = require('../../public/switchboard.js');

const row = (id, fields = {}) => ({ type: 'session', sessionId: id, callState: 'connected', syncStatus: 'synchronized',
  provider: 'twilio', direction: 'inbound', startedAt: null, answeredAt: null, endedAt: null,
  quality: { mos: null, grade: null }, lastSync: 1000, version: 1, ...fields });

test('grade colours: one per grade, grey without a grade', () => {
  const colours = M.GRADES.map(M.gradeColor);
  assert.equal(new Set(colours).size, 5);
  for (const c of colours) assert.match(c, /^#[0-9a-f]{6}$/);
  assert.equal(M.gradeColor('excellent'), '#1a9850');
  assert.equal(M.gradeColor('bad'), '#d7301f');
  assert.equal(M.gradeColor(null), M.gradeColor('nonsense'));
  assert.ok(!colours.includes(M.gradeColor(null)));
});

test('grade from MOS follows §4 thresholds', () => {
  assert.equal(M.gradeFromMos(4.3), 'excellent');
  assert.equal(M.gradeFromMos(4.29), 'good');
  assert.equal(M.gradeFromMos(4.0), 'good');
  assert.equal(M.gradeFromMos(3.6), 'fair');
  assert.equal(M.gradeFromMos(3.1), 'poor');
  assert.equal(M.gradeFromMos(3.09), 'bad');
  assert.equal(M.gradeFromMos(null), null);
  assert.equal(M.gradeOf(row('a', { quality: { mos: 4.1, grade: 'good' } })), 'good');
  assert.equal(M.gradeOf(row('a', { quality: { mos: 2.0, grade: null } })), 'bad');
  assert.equal(M.gradeOf(row('a')), null);
  assert.equal(M.formatMos(4.123), '4.12');
  assert.equal(M.formatMos(null), '\u2014');
});

test('duration formatting', () => {
  assert.equal(M.formatDuration(0), '0:00');
  assert.equal(M.formatDuration(5000), '0:05');
  assert.equal(M.formatDuration(59999), '0:59');
  assert.equal(M.formatDuration(754000), '12:34');
  assert.equal(M.formatDuration(3723000), '1:02:03');
  assert.equal(M.formatDuration(-5), '0:00');
  assert.equal(M.formatDuration(null), '\u2014');
});

test('call duration: live from answeredAt, final from endedAt, none if unanswered', () => {
  const now = 100_000;
  assert.equal(M.callDurationMs(row('a', { answeredAt: 40_000 }), now), 60_000);
  assert.equal(M.isTicking(row('a', { answeredAt: 40_000 })), true);
  assert.equal(M.callDurationMs(row('a', { answeredAt: 40_000, endedAt: 50_000, callState: 'ended' }), now), 10_000);
  assert.equal(M.isTicking(row('a', { answeredAt: 40_000, endedAt: 50_000, callState: 'ended' })), false);
  assert.equal(M.callDurationMs(row('a', { callState: 'ringing', startedAt: 1 }), now), null);
  assert.equal(M.callDurationMs(row('a', { answeredAt: 200_000 }), now), 0, 'clock skew never gives negative');
  assert.equal(M.callDurationMs(row('a', { answeredAt: 40_000, callState: 'failed' }), now), null);
});

test('relative time', () => {
  assert.equal(M.formatRelative(10_000, 10_500), 'just now');
  assert.equal(M.formatRelative(10_000, 22_000), '12s ago');
  assert.equal(M.formatRelative(0, 185_000), '3m ago');
  assert.equal(M.formatRelative(0, 7_300_000), '2h ago');
  assert.equal(M.formatRelative(null, 1), '\u2014');
});

test('filters: state (all, active, ended, exact), grade (incl. none), text', () => {
  const rows = [
    row('a', { callState: 'ringing' }),
    row('b', { callState: 'connected', quality: { mos: 4.4, grade: 'excellent' } }),
    row('c', { callState: 'ended', quality: { mos: 2.5, grade: 'bad' }, provider: 'agora' }),
    row('d', { callState: 'no_answer' }),
  ];
  const ids = (f) => M.filterRows(rows, f).map((r) => r.sessionId);
  assert.deepEqual(ids({}), ['a', 'b', 'c', 'd']);
  assert.deepEqual(ids({ state: '' }), ['a', 'b', 'c', 'd']);
  assert.deepEqual(ids({ state: 'active' }), ['a', 'b']);
  assert.deepEqual(ids({ state: 'ended' }), ['c', 'd']);
  assert.deepEqual(ids({ state: 'ringing' }), ['a']);
  assert.deepEqual(ids({ grade: 'bad' }), ['c']);
  assert.deepEqual(ids({ grade: 'none' }), ['a', 'd']);
  assert.deepEqual(ids({ state: 'ended', grade: 'bad' }), ['c']);
  assert.deepEqual(ids({ text: 'AGORA' }), ['c']);
  assert.deepEqual(ids({ text: ' b ' }), ['b']);
});

test('sort: live calls first, then newest', () => {
  const rows = [
    row('old', { startedAt: 1 }),
    row('done', { startedAt: 9, callState: 'ended' }),
    row('new', { startedAt: 5 }),
    row('new2', { startedAt: 5 }),
  ];
  assert.deepEqual(M.sortRows(rows).map((r) => r.sessionId), ['new', 'new2', 'old', 'done']);
});

test('summary counts', () => {
  const s = M.summarize([
    row('a', { callState: 'ringing', syncStatus: 'pending' }),
    row('b', { quality: { mos: 4.4, grade: 'excellent' } }),
    row('c', { quality: { mos: 3.0, grade: 'bad' }, syncStatus: 'conflict' }),
    row('d', { callState: 'ended', quality: { mos: 1.0, grade: 'bad' } }),
  ]);
  assert.equal(s.total, 4);
  assert.equal(s.active, 3);
  assert.equal(s.ended, 1);
  assert.equal(s.ringing, 1);
  assert.equal(s.connected, 2);
  assert.equal(s.conflict, 1);
  assert.equal(s.pending, 1);
  assert.deepEqual(s.byGrade, { excellent: 1, good: 0, fair: 0, poor: 0, bad: 2 });
  assert.equal(s.mosAvg.toFixed(2), '3.70', 'average over live calls only');
});

test('prune: ended rows beyond retention go, live ones stay', () => {
  const m = new Map([
    ['live', row('live')],
    ['recent', row('recent', { callState: 'ended', endedAt: 90_000 })],
    ['old', row('old', { callState: 'ended', endedAt: 10_000 })],
  ]);
  assert.deepEqual(M.pruneEnded(m, 100_000, 60_000), ['old']);
  assert.deepEqual([...m.keys()], ['live', 'recent']);
});

test('token from ?token= or #token=, and removed from the URL', () => {
  assert.equal(M.tokenFromUrl('http://h/?token=abc'), 'abc');
  assert.equal(M.tokenFromUrl('http://h/switchboard/#token=xyz&call=c1'), 'xyz');
  assert.equal(M.tokenFromUrl('http://h/'), null);
  assert.equal(M.urlWithoutToken('http://h/switchboard/?token=abc&x=1#call=c1'), 'http://h/switchboard/?x=1#call=c1');
  assert.equal(M.urlWithoutToken('http://h/switchboard/#token=xyz'), 'http://h/switchboard/');
  assert.equal(M.urlWithoutToken('http://h/index.html?token=a.b.c'), 'http://h/index.html');
});

test('selected call lives in the hash', () => {
  assert.equal(M.selectedCall('http://h/#call=abc%3A1'), 'abc:1');
  assert.equal(M.selectedCall('http://h/'), null);
  assert.equal(M.urlWithCall('http://h/p/?q=1', 'a:b'), 'http://h/p/?q=1#call=a%3Ab');
  assert.equal(M.urlWithCall('http://h/p/#call=a', null), 'http://h/p/');
});

test('API and WebSocket URLs under a path prefix', () => {
  const page = 'https://ops.example.com/switchboard/index.html?token=t#call=c';
  const base = Switchboard.baseUrls(page);
  assert.equal(base.http, 'https://ops.example.com/switchboard/');
  assert.equal(base.ws, 'wss://ops.example.com/switchboard/');
  assert.equal(M.apiUrl(base.http, 'api/calls'), 'https://ops.example.com/switchboard/api/calls');
  assert.equal(M.apiUrl(base.http, '/api/calls', { state: 'ringing', grade: '' }), 'https://ops.example.com/switchboard/api/calls?state=ringing');
  assert.equal(M.apiUrl(base.http, 'api/calls/' + encodeURIComponent('a:b') + '/timeline'),
    'https://ops.example.com/switchboard/api/calls/a%3Ab/timeline');
  const root = Switchboard.baseUrls('http://127.0.0.1:8080/?token=t');
  assert.equal(M.apiUrl(root.http, 'api/calls/x'), 'http://127.0.0.1:8080/api/calls/x');
  assert.equal(root.ws, 'ws://127.0.0.1:8080/');
});

test('chart series: ordered, de-duplicated, bounded', () => {
  const s = [];
  assert.equal(M.pushPoint(s, 1, 4.0), true);
  assert.equal(M.pushPoint(s, 2, null), false);
  assert.equal(M.pushPoint(s, 2, 4.1), true);
  assert.equal(M.pushPoint(s, 2, 4.2), true);   // same t: replaced
  assert.equal(M.pushPoint(s, 1, 3.0), false);  // older: dropped
  assert.deepEqual(s, [{ t: 1, v: 4.0 }, { t: 2, v: 4.2 }]);
  for (let t = 3; t < 20; t++) M.pushPoint(s, t, t, 5);
  assert.equal(s.length, 5);
  assert.equal(s[0].t, 15);
});

test('chart scale: round ticks covering the data', () => {
  const mos = M.chartScale([3.2, 4.4], { min: 1, max: 4.5 });
  assert.equal(mos.min, 1);
  assert.equal(mos.max, 4.5);
  const jitter = M.chartScale([3, 17, 42]);
  assert.equal(jitter.min, 0);
  assert.ok(jitter.max >= 42);
  assert.ok(jitter.ticks.length >= 3 && jitter.ticks.length <= 7);
  assert.deepEqual(M.chartScale([]).ticks.slice(0, 2), [0, 0.25]);
  const loss = M.chartScale([0, 0, 0]);
  assert.ok(loss.max > loss.min);
});

test('timeline view: newest first, bounded', () => {
  const entries = Array.from({ length: 10 }, (_, i) => ({ at: i, kind: 'report', updates: [] }));
  const view = M.timelineView(entries, 3);
  assert.deepEqual(view.map((e) => e.at), [9, 8, 7]);
  assert.equal(M.describeUpdate({ field: 'callState', value: 'connected' }), 'callState = connected');
  assert.equal(M.describeUpdate({ field: 'metadata', value: { agent: 'a' } }), 'metadata = {"agent":"a"}');
});

test('timeline: a push attempt names its service and device', () => {
  assert.equal(M.describePush({ platform: 'apns', deviceId: 'iphone', outcome: 'sent' }), 'apns \u2192 iphone');
  assert.equal(M.describePush({}), '? \u2192 ?');
});

test('aiOutcome: the ElevenLabs outcome keys of metadata, null without any', () => {
  const o = M.aiOutcome({ metadata: { agentId: 'agent_7f3c2a', callDurationSecs: 118, callSuccessful: 'success',
    transcriptSummary: 'Dana finished two goals.', identity: 'user-1' } });
  assert.equal(o.agentId, 'agent_7f3c2a');
  assert.equal(o.durationSecs, 118);
  assert.equal(o.duration, '1:58');
  assert.equal(o.verdict, 'success');
  assert.equal(o.verdictClass, 'success');
  assert.equal(o.summary, 'Dana finished two goals.');
  assert.equal(M.aiOutcome({ metadata: { callSuccessful: 'failure' } }).verdictClass, 'failure');
  const odd = M.aiOutcome({ metadata: { callSuccessful: 'maybe', callDurationSecs: 'long' } });
  assert.equal(odd.verdictClass, 'unknown');
  assert.equal(odd.durationSecs, null);
  assert.equal(odd.duration, null);
  assert.equal(M.aiOutcome({ metadata: { identity: 'user-1', recordingEnabled: false } }), null);
  assert.equal(M.aiOutcome({ metadata: {} }), null);
  assert.equal(M.aiOutcome({}), null);
  assert.equal(M.aiOutcome(null), null);
});

// Issue 27 item 3: a live call silent for retention.staleSec is stale (derived, never a state).
test('isStale: live and silent for staleAfterMs; never an ended call, never when turned off', () => {
  const now = 1_700_000_100_000;
  const row = (callState, lastSync) => ({ sessionId: callState + lastSync, callState, lastSync });
  assert.equal(M.isStale(row('connected', now - 60_000), now, 60_000), true);
  assert.equal(M.isStale(row('connected', now - 59_999), now, 60_000), false);
  assert.equal(M.isStale(row('busy', now - 600_000), now, 60_000), false, 'an ended call is not stale');
  assert.equal(M.isStale(row('connected', now - 600_000), now, 0), false, '0 turns it off');
  assert.equal(M.isStale(row('connected', null), now, 60_000), false);
  const rows = [row('connected', now - 90_000), row('connected', now - 1000), row('ended', now - 90_000)];
  const stale = M.filterRows(rows, { state: 'stale', now, staleAfterMs: 60_000 });
  assert.deepEqual(stale.map((r) => r.sessionId), [rows[0].sessionId]);
  assert.equal(M.filterRows(rows, { state: 'connected', now, staleAfterMs: 60_000 }).length, 2, 'a stale call is still connected');
});

test('mergeSeries puts the archived series under live points, one per time, in order', () => {
  const seed = [{ t: 1, v: 4.1 }, { t: 2, v: null }, { t: 3, v: 4.0 }];
  const live = [{ t: 3, v: 3.9 }, { t: 5, v: 3.8 }];
  assert.deepEqual(M.mergeSeries(seed, live, 10), [{ t: 1, v: 4.1 }, { t: 3, v: 3.9 }, { t: 5, v: 3.8 }]);
  assert.deepEqual(M.mergeSeries(seed, live, 2).map((p) => p.t), [3, 5]);
  assert.deepEqual(M.mergeSeries([], undefined, 5), []);
});
