/*
 * Switchboard live dashboard: the calls table over /ws/dashboard, and a
 * detail view of one call over /ws/calls/{id} (via switchboard.js).
 * Pure logic lives in dashboard-model.js. Everything is rendered with
 * textContent / DOM nodes: no innerHTML with hub data.
 */
(function () {
  'use strict';

  var M = window.DashboardModel;
  var SB = window.Switchboard;
  var TOKEN_KEY = 'switchboard.token';
  var RETENTION_MS = 10 * 60 * 1000;   // the hub's retention.endedSec default; it sends no removal
  var CHART_POINTS = 600;
  var base = SB.baseUrls(location.href);

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = text;
    return n;
  }
  function setText(node, text) { if (node.textContent !== text) node.textContent = text; }

  // ------------------------------------------------------------ token

  var token = null;
  var tokenWaiters = [];

  (function initToken() {
    var fromUrl = null;
    try { fromUrl = M.tokenFromUrl(location.href); } catch (e) { /* ignore */ }
    if (fromUrl) {
      storeToken(fromUrl);
      // Keep the token out of history, bookmarks and screenshots.
      try { history.replaceState(null, '', M.urlWithoutToken(location.href)); } catch (e) { /* ignore */ }
    } else {
      try { token = sessionStorage.getItem(TOKEN_KEY); } catch (e) { token = null; }
    }
  })();

  function storeToken(t) {
    token = t;
    try { sessionStorage.setItem(TOKEN_KEY, t); } catch (e) { /* private mode */ }
  }

  function showLogin(message, isError) {
    setText($('login-message'), message);
    $('login').classList.toggle('error', !!isError);
    $('login').hidden = false;
  }

  /** getToken for the client library: asks the user, resolves on submit. */
  function askToken() {
    showLogin(dash && dash.status === 'open'
      ? 'The access token is about to expire. Paste a new one to stay connected.'
      : 'The hub rejected the access token, or it expired. Paste a new one to continue.', true);
    return new Promise(function (resolve) { tokenWaiters.push(resolve); });
  }

  $('login-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var t = $('token-input').value.trim();
    if (!t) return;
    $('token-input').value = '';
    storeToken(t);
    $('login').hidden = true;
    var waiters = tokenWaiters;
    tokenWaiters = [];
    if (waiters.length) {
      waiters.forEach(function (w) { w(t); });
    } else {
      restartDashboard();
      if (detail) openDetail(detail.id);
    }
  });

  function authFetch(url) {
    var headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    return fetch(url, { headers: headers, cache: 'no-store', credentials: 'same-origin' }).then(function (res) {
      return res.text().then(function (body) {
        var json = null;
        try { json = body ? JSON.parse(body) : null; } catch (e) { /* not JSON */ }
        if (!res.ok) {
          var err = new Error((json && json.error && json.error.message) || ('HTTP ' + res.status));
          err.status = res.status;
          err.code = json && json.error && json.error.code;
          throw err;
        }
        return json;
      });
    });
  }

  // ------------------------------------------------------------ status

  var STATUS_TEXT = { idle: 'Idle', connecting: 'Connecting…', open: 'Live', closed: 'Closed', failed: 'Disconnected' };
  var CLOSE_TEXT = { 1009: 'message too big', 4003: 'forbidden', 4400: 'protocol error', 4001: 'bad token', 4004: 'token expired' };

  /** The client's own line for the link (`info.text`, switchboard.js describeStatus), capitalised. */
  function statusText(status, info) {
    info = info || {};
    if (status === 'reconnecting' && info.refreshingToken) return 'Waiting for a token';
    if ((status === 'reconnecting' || status === 'offline') && info.text) {
      return info.text.charAt(0).toUpperCase() + info.text.slice(1);
    }
    // The hub refuses this page's origin (switchboard.js asked it why): say
    // so, with the origin to add; retrying would only fail the same way.
    if (status === 'failed' && info.cause === 'origin') return 'Refused: ' + info.reason;
    if (status === 'failed') {
      return 'Disconnected' + (info.code ? ' (' + (CLOSE_TEXT[info.code] || info.code) + ')' : '') + ' · retry';
    }
    return STATUS_TEXT[status] || status;
  }

  // ------------------------------------------------------------ calls table

  var dash = null;
  var clockOffset = 0;                 // hub clock − browser clock (from summary.at)
  var staleAfterMs = 0;                // retention.staleSec in ms (from summary.staleAfterMs)
  var warningsBySession = new Map();
  var trs = new Map();
  var filter = { state: '', grade: '', text: '' };
  var renderQueued = false;

  function hubNow() { return Date.now() + clockOffset; }

  function restartDashboard() {
    if (dash) dash.close();
    // token '' = try without one (a hub may not require it); askToken runs on 4001/4004.
    dash = SB.dashboard({ url: base.ws, token: token || '', getToken: askToken });
    dash.on('status', function (status, info) {
      var conn = $('conn');
      conn.setAttribute('data-status', status);
      setText($('conn-text'), statusText(status, info));
      conn.title = status === 'failed' ? 'Click to reconnect'
        : status === 'reconnecting' || status === 'offline' ? 'Click to retry now' : 'Connection to the hub';
    });
    dash.on('summary', function (rows, frame) {
      if (typeof frame.at === 'number') clockOffset = frame.at - Date.now();
      if (typeof frame.staleAfterMs === 'number') staleAfterMs = frame.staleAfterMs;
      if (!token) $('login').hidden = true;  // this hub does not need one
      setText($('empty'), 'No calls right now.');
      scheduleRender();
    });
    dash.on('row', function (row) {
      scheduleRender();
      if (detail && detail.id === row.sessionId && !detail.doc) renderDetailHead(row);
    });
    dash.on('conflict', function (ev) {
      var tr = trs.get(ev.sessionId);
      if (tr) { tr.classList.remove('flash'); void tr.offsetWidth; tr.classList.add('flash'); }
    });
    dash.on('quality', function (ev) {
      if (!ev.sessionId) return;
      if (Array.isArray(ev.warnings) && ev.warnings.length) warningsBySession.set(ev.sessionId, ev.warnings);
      else warningsBySession.delete(ev.sessionId);
      var tr = trs.get(ev.sessionId);
      if (tr) tr._row = null;   // refill: the warning flag changed
      scheduleRender();
    });
    dash.on('error', function (e) { if (window.console) console.warn('dashboard:', e.message || e); });
  }

  $('conn').addEventListener('click', function () {
    if (dash && (dash.status === 'failed' || dash.status === 'closed')) restartDashboard();
    else if (dash) dash.reconnectNow();
  });

  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(function () { renderQueued = false; renderTable(); });
  }

  function makeRow(id) {
    var tr = el('tr');
    tr.tabIndex = 0;
    tr.setAttribute('data-id', id);
    var cells = {
      sid: el('td', 'sid'), state: el('td'), sync: el('td'), mos: el('td', 'num'), duration: el('td', 'num'),
      provider: el('td', 'opt'), direction: el('td', 'opt'), lastSync: el('td', 'muted')
    };
    cells.sidText = el('span');
    cells.warn = el('span', 'warnflag', '⚠');
    cells.warn.hidden = true;
    cells.sid.appendChild(cells.sidText);
    cells.sid.appendChild(cells.warn);
    cells.stateBadge = el('span', 'badge');
    cells.state.appendChild(cells.stateBadge);
    cells.staleFlag = el('span', 'staleflag', 'stale');
    cells.staleFlag.hidden = true;
    cells.staleFlag.title = 'nothing new heard from this call for retention.staleSec';
    cells.state.appendChild(cells.staleFlag);
    cells.syncText = el('span', 'sync');
    cells.sync.appendChild(cells.syncText);
    cells.mosText = el('span', 'mos');
    cells.mos.appendChild(cells.mosText);
    ['sid', 'state', 'sync', 'mos', 'duration', 'provider', 'direction', 'lastSync'].forEach(function (k) { tr.appendChild(cells[k]); });
    tr._cells = cells;
    return tr;
  }

  function fillRow(tr, r, now) {
    var c = tr._cells;
    tr._row = r;
    setText(c.sidText, r.sessionId);
    c.sid.title = r.sessionId;
    var warnings = warningsBySession.get(r.sessionId);
    c.warn.hidden = !warnings;
    c.warn.title = warnings ? warnings.join(', ') : '';
    setText(c.stateBadge, M.label(r.callState));
    c.stateBadge.className = 'badge state-' + (r.callState || 'none');
    setText(c.syncText, r.syncStatus || '—');
    c.syncText.className = 'sync sync-' + (r.syncStatus || 'none');
    var grade = M.gradeOf(r);
    setText(c.mosText, M.formatMos(r.quality && r.quality.mos));
    c.mosText.className = 'mos grade-' + (grade || 'none');
    c.mosText.title = grade || 'no quality samples';
    setText(c.provider, r.provider || '—');
    setText(c.direction, r.direction || '—');
    tr.classList.toggle('terminal', M.isTerminal(r.callState));
    tick(tr, now);
  }

  function tick(tr, now) {
    var r = tr._row;
    // Stale is derived from lastSync on the clock, like "12s ago": a call
    // goes quiet without any frame saying so.
    var stale = M.isStale(r, now, staleAfterMs);
    if (tr.classList.contains('stale') !== stale) {
      tr.classList.toggle('stale', stale);
      tr._cells.staleFlag.hidden = !stale;
      if (filter.state === 'stale') scheduleRender();
    }
    setText(tr._cells.duration, M.formatDuration(M.callDurationMs(r, now)));
    setText(tr._cells.lastSync, M.formatRelative(r.lastSync, now));
    tr._cells.lastSync.title = r.lastSync ? new Date(r.lastSync).toLocaleString() : '';
  }

  function renderTable() {
    if (!dash) return;
    var now = hubNow();
    var all = Array.from(dash.rows.values());
    filter.now = now;
    filter.staleAfterMs = staleAfterMs;
    var rows = M.sortRows(M.filterRows(all, filter));
    var body = $('calls-body');
    var keep = new Set();
    var selected = detail ? detail.id : null;
    rows.forEach(function (r, i) {
      keep.add(r.sessionId);
      var tr = trs.get(r.sessionId);
      if (!tr) { tr = makeRow(r.sessionId); trs.set(r.sessionId, tr); }
      if (tr._row !== r) fillRow(tr, r, now);
      tr.classList.toggle('selected', r.sessionId === selected);
      if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
    });
    trs.forEach(function (tr, id) {
      if (!keep.has(id)) { if (tr.parentNode) tr.parentNode.removeChild(tr); trs.delete(id); }
    });
    $('empty').hidden = rows.length > 0;
    setText($('shown'), rows.length === all.length ? all.length + ' calls' : rows.length + ' of ' + all.length + ' calls');
    renderCounts(all);
  }

  function renderCounts(all) {
    var s = M.summarize(all);
    setText($('c-active'), String(s.active));
    setText($('c-ringing'), String(s.ringing));
    setText($('c-connected'), String(s.connected));
    setText($('c-ended'), String(s.ended));
    setText($('c-conflict'), String(s.conflict));
    $('c-conflict-wrap').hidden = s.conflict === 0;
    setText($('c-mos'), s.mosAvg === null ? '—' : s.mosAvg.toFixed(2));
    var bar = $('gradebar');
    while (bar.firstChild) bar.removeChild(bar.firstChild);
    M.GRADES.forEach(function (g) {
      if (!s.byGrade[g]) return;
      var seg = el('span', 'grade-' + g);
      seg.style.flexGrow = String(s.byGrade[g]);   // CSSOM, allowed by the CSP
      seg.title = s.byGrade[g] + ' ' + g;
      bar.appendChild(seg);
    });
  }

  $('calls-body').addEventListener('click', function (ev) {
    var tr = ev.target.closest('tr[data-id]');
    if (tr) openDetail(tr.getAttribute('data-id'));
  });
  $('calls-body').addEventListener('keydown', function (ev) {
    if (ev.key !== 'Enter' && ev.key !== ' ') return;
    var tr = ev.target.closest('tr[data-id]');
    if (tr) { ev.preventDefault(); openDetail(tr.getAttribute('data-id')); }
  });

  (function initFilters() {
    var st = $('filter-state');
    M.CALL_STATES.forEach(function (s) { st.appendChild(new Option(M.label(s), s)); });
    var gr = $('filter-grade');
    M.GRADES.forEach(function (g) { gr.insertBefore(new Option(g.charAt(0).toUpperCase() + g.slice(1), g), gr.lastElementChild); });
    st.addEventListener('change', function () { filter.state = st.value; scheduleRender(); });
    gr.addEventListener('change', function () { filter.grade = gr.value; scheduleRender(); });
    $('filter-text').addEventListener('input', function () { filter.text = $('filter-text').value; scheduleRender(); });
  })();

  // ------------------------------------------------------------ detail

  var detail = null;
  var SERIES = [
    { key: 'mos', unit: '', digits: 2, fixed: { min: 1, max: 4.5 }, bands: [4.3, 4.0, 3.6, 3.1] },
    { key: 'jitter', unit: ' ms', digits: 1, threshold: 30 },
    { key: 'latency', unit: ' ms', digits: 0, threshold: 200 },
    { key: 'packetLoss', unit: ' %', digits: 2, threshold: 1 }
  ];
  var FIELD_ORDER = ['sessionId', 'callId', 'callUUID', 'direction', 'from', 'to', 'phoneNumber', 'provider',
    'providerCallId', 'twilioCallSid', 'sipCallId', 'calleeSub', 'deviceStatus', 'callState', 'logStatus', 'syncStatus',
    'startedAt', 'answeredAt', 'endedAt', 'duration', 'lastSync', 'recording', 'quality', 'metadata', 'version'];
  var TIME_FIELDS = { startedAt: 1, answeredAt: 1, endedAt: 1, lastSync: 1 };

  function openDetail(id) {
    if (detail) closeDetail(true);
    detail = {
      id: id, doc: null, conflicts: [], timelineTimer: null, timelineSeq: 0,
      series: { mos: [], jitter: [], latency: [], packetLoss: [] }
    };
    try { history.replaceState(null, '', M.urlWithCall(location.href, id)); } catch (e) { /* ignore */ }
    $('detail').hidden = false;
    $('layout').classList.add('with-detail');
    setText($('d-title'), id);
    $('d-fields').textContent = '';
    $('d-outcome').hidden = true;
    $('d-warnings').textContent = '';
    setText($('d-aggregate'), '');
    setText($('d-version'), '');
    renderConflicts();
    $('d-timeline').textContent = '';
    setText($('d-timeline-note'), 'loading…');
    var row = dash && dash.rows.get(id);
    renderDetailHead(row || { sessionId: id });
    SERIES.forEach(function (s) { setText($('v-' + s.key), '—'); });
    drawAllCharts();
    scheduleRender();

    var d = detail;
    d.marks = [];
    // The whole series first (GET /quality, PROTOCOL.md §12), then live
    // samples on top. A call that has left memory is archived: no socket
    // (subscribing would start an empty session of the same id).
    authFetch(M.apiUrl(base.http, 'api/calls/' + encodeURIComponent(id))).then(function (doc) {
      if (detail !== d) return;
      if (doc && doc.archived) {
        showArchived(d, doc);
      } else {
        connectDetail(d);
      }
      loadQuality(d);
    }, function () { if (detail === d) { connectDetail(d); loadQuality(d); } });
  }

  function showArchived(d, doc) {
    d.doc = doc;
    d.archived = true;
    var pill = $('d-conn');
    pill.setAttribute('data-status', 'closed');
    setText(pill, 'archived');
    renderDocument(doc);
    renderDetailHead(doc);
    loadTimeline(d);
  }

  /** Fetches the session's whole quality series and merges it under the live samples. */
  function loadQuality(d) {
    authFetch(M.apiUrl(base.http, 'api/calls/' + encodeURIComponent(d.id) + '/quality')).then(function (json) {
      if (detail !== d || !json || !Array.isArray(json.points)) return;
      d.maxPoints = Math.max(CHART_POINTS, json.points.length + CHART_POINTS);
      SERIES.forEach(function (s) {
        var seed = json.points.map(function (p) { return { t: p.ts, v: p[s.key] }; });
        d.series[s.key] = M.mergeSeries(seed, d.series[s.key], d.maxPoints);
      });
      (Array.isArray(json.warnings) ? json.warnings : []).forEach(function (m) {
        if (m.event === 'raised') d.marks.push({ t: m.ts, w: m.warning });
      });
      d.qualityLoaded = true;
      drawAllCharts();
    }, function (err) {
      if (err.status === 401) showLogin('The API rejected the token (' + err.message + '). Paste a new one.', true);
    });
  }

  function connectDetail(d) {
    var id = d.id;
    var call = SB.connect({ url: base.ws, sessionId: id, token: token || '', getToken: askToken });
    d.call = call;
    call.on('status', function (status, info) {
      if (detail !== d) return;
      var pill = $('d-conn');
      pill.setAttribute('data-status', status);
      setText(pill, status === 'open' ? 'live' : statusText(status, info).replace(' · retry', '').toLowerCase());
    });
    call.on('state', function (doc) {
      if (detail !== d) return;
      var wasEmpty = !d.doc;
      d.doc = doc;
      renderDocument(doc);
      if (wasEmpty) drawAllCharts();
      scheduleTimeline(d, 300);
    });
    call.on('quality', function (q, frame) {
      if (detail !== d) return;
      var t = (q && typeof q.ts === 'number') ? q.ts : hubNow();
      SERIES.forEach(function (s) { M.pushPoint(d.series[s.key], t, q ? q[s.key] : null, d.maxPoints || CHART_POINTS); });
      (frame && Array.isArray(frame.warnings) ? frame.warnings : []).forEach(function (w) {
        if ((d.shownWarnings || []).indexOf(w) < 0) d.marks.push({ t: t, w: w });
      });
      d.shownWarnings = frame && Array.isArray(frame.warnings) ? frame.warnings.slice() : [];
      renderQuality(frame);
      if (d.doc) renderDetailHead(d.doc);
    });
    call.on('conflict', function (c) {
      if (detail !== d) return;
      d.conflicts.unshift({ seenAt: hubNow(), c: c });
      if (d.conflicts.length > 100) d.conflicts.length = 100;
      renderConflicts();
    });
    call.on('error', function (e) { if (window.console) console.warn('call ' + id + ':', e.message || e); });
    loadTimeline(d);
  }
  window.DashboardApp = { authFetch: authFetch, openDetail: openDetail, base: base, el: el, setText: setText, showLogin: showLogin };

  function closeDetail(keepHash) {
    if (!detail) return;
    if (detail.call) detail.call.close();
    if (detail.timelineTimer) clearTimeout(detail.timelineTimer);
    detail = null;
    $('detail').hidden = true;
    $('layout').classList.remove('with-detail');
    if (!keepHash) { try { history.replaceState(null, '', M.urlWithCall(location.href, null)); } catch (e) { /* ignore */ } }
    scheduleRender();
  }

  $('d-close').addEventListener('click', function () { closeDetail(false); });
  document.addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape' && detail && !$('detail').hidden) closeDetail(false);
  });

  function renderDetailHead(doc) {
    var st = $('d-state');
    setText(st, M.label(doc.callState));
    st.className = 'badge state-' + (doc.callState || 'none');
    var sync = $('d-sync');
    setText(sync, doc.syncStatus || '');
    sync.className = 'sync sync-' + (doc.syncStatus || 'none');
    var mos = $('d-mos');
    var grade = M.gradeOf(doc);
    setText(mos, doc.quality && typeof doc.quality.mos === 'number' ? 'MOS ' + M.formatMos(doc.quality.mos) + ' · ' + grade : 'no quality yet');
    mos.className = 'mos grade-' + (grade || 'none');
    var dur = M.callDurationMs(doc, hubNow());
    setText($('d-duration'), dur === null ? '' : M.formatDuration(dur) + (M.isTicking(doc) ? ' talking' : ' talk time'));
  }

  function fieldText(key, v) {
    if (v === null || v === undefined) return null;
    if (TIME_FIELDS[key] && typeof v === 'number') return M.formatClock(v, true) + '  (' + M.formatRelative(v, hubNow()) + ')';
    if (key === 'duration' && typeof v === 'number') return M.formatDuration(v * 1000) + '  (' + v + ' s)';
    if (key === 'recording' && typeof v === 'object') {
      var parts = [v.active ? 'recording' : 'not recording'];
      if (v.format) parts.push(v.format);
      if (typeof v.duration === 'number') parts.push(v.duration + ' s');
      if (v.recordingId) parts.push(v.recordingId);
      return parts.join(' · ');
    }
    if (key === 'quality' && typeof v === 'object') {
      var q = [];
      if (typeof v.mos === 'number') q.push('MOS ' + v.mos.toFixed(2) + (v.grade ? ' ' + v.grade : '') + (v.mosSource ? ' (' + v.mosSource + ')' : ''));
      if (typeof v.latency === 'number') q.push(v.latency + ' ms latency');
      if (typeof v.jitter === 'number') q.push(v.jitter + ' ms jitter');
      if (typeof v.packetLoss === 'number') q.push(v.packetLoss + ' % loss');
      if (typeof v.rFactor === 'number') q.push('R ' + v.rFactor.toFixed(1));
      return q.length ? q.join(' · ') : null;
    }
    if (key === 'metadata' && typeof v === 'object') {
      var keys = Object.keys(v);
      return keys.length ? keys.map(function (k) { return k + ': ' + M.formatValue(v[k]); }).join('\n') : null;
    }
    return M.formatValue(v);
  }

  /** The AI call's outcome (ElevenLabs analysis), shown only when there is one. */
  function renderOutcome(doc) {
    var o = M.aiOutcome(doc);
    var panel = $('d-outcome');
    panel.hidden = !o;
    if (!o) return;
    var verdict = $('d-verdict');
    setText(verdict, o.verdict || '—');
    verdict.className = 'badge verdict verdict-' + o.verdictClass;
    setText($('d-agent'), o.agentId || '—');
    setText($('d-call-duration'), o.duration === null ? '—' : o.duration + '  (' + o.durationSecs + ' s)');
    setText($('d-summary'), o.summary || '');
    $('d-summary').hidden = !o.summary;
  }

  function renderDocument(doc) {
    if (!doc) return;
    renderDetailHead(doc);
    renderOutcome(doc);
    setText($('d-version'), 'version ' + (doc.version !== undefined ? doc.version : '—') + (detail && detail.call && detail.call.epoch ? ' · epoch ' + detail.call.epoch : ''));
    var dl = $('d-fields');
    var frag = document.createDocumentFragment();
    var keys = FIELD_ORDER.concat(Object.keys(doc).filter(function (k) { return FIELD_ORDER.indexOf(k) < 0; }));
    var timeCells = [];
    keys.forEach(function (k) {
      if (!(k in doc)) return;
      var text = fieldText(k, doc[k]);
      frag.appendChild(el('dt', null, k));
      var dd = el('dd', text === null ? 'null' : null, text === null ? '—' : text);
      if (text !== null && TIME_FIELDS[k]) { dd.setAttribute('data-time-field', k); timeCells.push({ dd: dd, key: k, v: doc[k] }); }
      frag.appendChild(dd);
    });
    // "(2s ago)" is relative to now: the clock below re-renders these cells.
    if (detail) detail.timeCells = timeCells;
    dl.textContent = '';
    dl.appendChild(frag);
  }

  function renderQuality(frame) {
    var ul = $('d-warnings');
    ul.textContent = '';
    (frame && Array.isArray(frame.warnings) ? frame.warnings : []).forEach(function (w) { ul.appendChild(el('li', null, w)); });
    var a = frame && frame.aggregate;
    setText($('d-aggregate'), a && typeof a.avg === 'number'
      ? 'MOS min ' + M.formatMos(a.min) + ' · avg ' + M.formatMos(a.avg) + ' · max ' + M.formatMos(a.max) + ' · ' + a.samples + ' samples'
      : '');
    drawAllCharts();
  }

  function renderConflicts() {
    var ul = $('d-conflicts');
    ul.textContent = '';
    var list = detail ? detail.conflicts : [];
    setText($('d-conflict-count'), list.length ? String(list.length) : '');
    if (!list.length) { ul.appendChild(el('li', 'muted', 'None seen since opening.')); return; }
    list.forEach(function (item) {
      var c = item.c;
      var li = el('li');
      li.appendChild(el('span', 'rule', c.rule || 'conflict'));
      li.appendChild(el('code', null, c.field || '?'));
      li.appendChild(document.createTextNode(' kept '));
      li.appendChild(el('span', 'kept', side(c.kept)));
      li.appendChild(document.createTextNode(' over '));
      li.appendChild(el('span', 'discarded', side(c.discarded)));
      li.appendChild(el('span', 'muted small', '  ' + M.formatClock(item.seenAt)));
      ul.appendChild(li);
    });
  }

  function side(s) {
    if (!s) return '?';
    return M.formatValue(s.value) + ' (' + (s.source || '?') + (typeof s.ts === 'number' ? ' @ ' + M.formatClock(s.ts, true) : '') + ')';
  }

  // ------------------------------------------------------------ timeline

  function scheduleTimeline(d, ms) {
    if (d.timelineTimer) return;
    d.timelineTimer = setTimeout(function () { d.timelineTimer = null; loadTimeline(d); }, ms);
  }

  function loadTimeline(d) {
    var seq = ++d.timelineSeq;
    var url = M.apiUrl(base.http, 'api/calls/' + encodeURIComponent(d.id) + '/timeline');
    authFetch(url).then(function (json) {
      if (detail !== d || seq !== d.timelineSeq) return;
      renderTimeline(json && json.entries);
    }, function (err) {
      if (detail !== d || seq !== d.timelineSeq) return;
      setText($('d-timeline-note'), err.status === 404 ? 'no timeline for this session' : 'could not load: ' + err.message);
      if (err.status === 401) showLogin('The API rejected the token (' + err.message + '). Paste a new one.', true);
    });
  }

  function renderTimeline(entries) {
    var view = M.timelineView(entries, 200);
    var total = Array.isArray(entries) ? entries.length : 0;
    setText($('d-timeline-note'), total ? (view.length < total ? 'latest ' + view.length + ' of ' + total : total + ' inputs') + ' · ' + M.formatClock(Date.now()) : 'empty');
    var body = $('d-timeline');
    var frag = document.createDocumentFragment();
    view.forEach(function (e) {
      var tr = el('tr');
      tr.appendChild(el('td', null, M.formatClock(e.at, true)));
      tr.appendChild(el('td', null, e.kind || '—'));
      var src = el('td', null, (e.source || '—') + (e.sourceKind ? ' · ' + e.sourceKind : ''));
      if (e.eventId) src.title = 'event ' + e.eventId;
      tr.appendChild(src);
      var upd = el('td');
      (Array.isArray(e.updates) ? e.updates : []).forEach(function (u) {
        var line = el('span', 'upd', M.describeUpdate(u));
        line.appendChild(el('span', 'fate fate-' + (u.fate || 'none'), u.fate || '?'));
        if (typeof u.ts === 'number') line.title = 'observed ' + new Date(u.ts).toISOString();
        upd.appendChild(line);
      });
      if (e.push) {
        // A push attempt (§10): the service, the device and what came back.
        var push = el('span', 'upd', M.describePush(e.push));
        push.appendChild(el('span', 'fate fate-' + (e.push.outcome === 'sent' ? 'applied' : 'conflict'), e.push.outcome || '?'));
        if (e.push.error) push.title = e.push.error;
        upd.appendChild(push);
      }
      tr.appendChild(upd);
      frag.appendChild(tr);
    });
    body.textContent = '';
    body.appendChild(frag);
  }

  $('d-refresh').addEventListener('click', function () { if (detail) loadTimeline(detail); });

  // ------------------------------------------------------------ charts

  function cssVar(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name);
    return v ? v.trim() : fallback;
  }

  function drawAllCharts() {
    if (!detail) return;
    SERIES.forEach(function (s) {
      var points = detail.series[s.key];
      var last = points[points.length - 1];
      setText($('v-' + s.key), last ? last.v.toFixed(s.digits) + s.unit : '—');
      drawChart($('ch-' + s.key), points, s, detail.marks);
    });
  }

  /** A small line chart: y grid with round ticks, optional threshold line / MOS grade bands. */
  function drawChart(canvas, points, spec, marks) {
    // What is drawn, for the browser tests (and a tooltip on hover).
    canvas.setAttribute('data-points', String(points.length));
    canvas.title = points.length ? points.length + ' samples' : '';
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.clientWidth || 300;
    var h = canvas.clientHeight || 120;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    var ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    var fg = cssVar('--fg', '#1c2430');
    var muted = cssVar('--muted', '#6b7585');
    var line = cssVar('--line', '#e2e6ec');
    var accent = cssVar('--accent', '#2f6fde');
    ctx.font = '10px system-ui, sans-serif';
    var padL = 34, padR = 6, padT = 6, padB = 16;
    var pw = w - padL - padR, ph = h - padT - padB;
    var values = points.map(function (p) { return p.v; });
    if (spec.threshold !== undefined) values = values.concat([spec.threshold]);
    var scale = M.chartScale(values, spec.fixed);
    var y = function (v) { return padT + ph - (v - scale.min) / (scale.max - scale.min) * ph; };

    // grade bands (MOS)
    if (spec.bands) {
      var edges = [scale.max].concat(spec.bands).concat([scale.min]);
      for (var b = 0; b < edges.length - 1; b++) {
        ctx.fillStyle = M.gradeColor(M.GRADES[b]);
        ctx.globalAlpha = 0.06;
        ctx.fillRect(padL, y(edges[b]), pw, y(edges[b + 1]) - y(edges[b]));
      }
      ctx.globalAlpha = 1;
    }
    // grid + y labels
    ctx.strokeStyle = line;
    ctx.fillStyle = muted;
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    scale.ticks.forEach(function (t) {
      var yy = Math.round(y(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(padL, yy); ctx.lineTo(padL + pw, yy); ctx.stroke();
      ctx.fillText(String(Math.round(t * 100) / 100), padL - 4, yy);
    });
    // threshold
    if (spec.threshold !== undefined) {
      ctx.strokeStyle = M.gradeColor('bad');
      ctx.setLineDash([4, 3]);
      var ty = Math.round(y(spec.threshold)) + 0.5;
      ctx.beginPath(); ctx.moveTo(padL, ty); ctx.lineTo(padL + pw, ty); ctx.stroke();
      ctx.setLineDash([]);
    }
    if (!points.length) {
      ctx.fillStyle = muted;
      ctx.textAlign = 'center';
      var ended = detail && detail.doc && M.isTerminal(detail.doc.callState);
      var loaded = detail && detail.qualityLoaded;
      ctx.fillText(ended && loaded ? 'no quality samples (call ended)' : 'waiting for quality samples', padL + pw / 2, padT + ph / 2);
      return;
    }
    var t0 = points[0].t, t1 = points[points.length - 1].t;
    if (t1 - t0 < 10000) t0 = t1 - 10000;
    var x = function (t) { return padL + (t - t0) / (t1 - t0) * pw; };
    // x labels: first and last time
    ctx.fillStyle = muted;
    ctx.textBaseline = 'alphabetic';
    ctx.textAlign = 'left';
    ctx.fillText(M.formatClock(t0), padL, h - 3);
    ctx.textAlign = 'right';
    ctx.fillText(M.formatClock(t1), padL + pw, h - 3);
    // warnings raised, marked on the time axis
    var drawnMarks = 0;
    (marks || []).forEach(function (m) {
      if (m.t < t0 || m.t > t1) return;
      var mx = Math.round(x(m.t)) + 0.5;
      ctx.strokeStyle = M.gradeColor('poor');
      ctx.setLineDash([2, 2]);
      ctx.beginPath(); ctx.moveTo(mx, padT); ctx.lineTo(mx, padT + ph); ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = M.gradeColor('poor');
      ctx.beginPath(); ctx.moveTo(mx - 3, padT); ctx.lineTo(mx + 3, padT); ctx.lineTo(mx, padT + 5); ctx.fill();
      drawnMarks++;
    });
    canvas.setAttribute('data-marks', String(drawnMarks));
    // the line
    ctx.strokeStyle = spec.key === 'mos' ? fg : accent;
    ctx.lineWidth = 1.6;
    ctx.lineJoin = 'round';
    ctx.beginPath();
    points.forEach(function (p, i) {
      var px = x(p.t), py = y(Math.max(scale.min, Math.min(scale.max, p.v)));
      if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
    });
    ctx.stroke();
    // last point
    var lp = points[points.length - 1];
    ctx.fillStyle = spec.key === 'mos' ? M.gradeColor(M.gradeFromMos(lp.v)) : accent;
    ctx.beginPath();
    ctx.arc(x(lp.t), y(Math.max(scale.min, Math.min(scale.max, lp.v))), 3, 0, Math.PI * 2);
    ctx.fill();
  }

  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(drawAllCharts, 100);
  });

  // ------------------------------------------------------------ clocks

  setInterval(function () {
    var now = hubNow();
    trs.forEach(function (tr) { if (tr._row) tick(tr, now); });
    if (detail && detail.doc) renderDetailHead(detail.doc);
    if (detail && detail.timeCells) {
      detail.timeCells.forEach(function (c) { setText(c.dd, fieldText(c.key, c.v)); });
    }
  }, 1000);

  setInterval(function () {
    if (dash && M.pruneEnded(dash.rows, hubNow(), RETENTION_MS).length) scheduleRender();
  }, 30000);

  window.addEventListener('online', function () {
    if (dash) dash.reconnectNow();
    if (detail && detail.call) detail.call.reconnectNow();
  });
  window.addEventListener('hashchange', function () {
    var id = M.selectedCall(location.href);
    if (id && (!detail || detail.id !== id)) openDetail(id);
    else if (!id && detail) closeDetail(true);
  });

  // ------------------------------------------------------------ start

  if (!token) showLogin('No token in the URL. Connecting without one; paste a token if the hub requires it.', false);
  restartDashboard();
  var initial = M.selectedCall(location.href);
  if (initial) openDetail(initial);
})();
