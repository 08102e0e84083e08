/*
 * Switchboard dashboard: the History view (PROTOCOL.md §12). Lists archived
 * calls from GET /api/history (filters, search, cursor paging), the fleet
 * quality by provider from GET /api/quality/summary, and opens a call in
 * the detail pane of dashboard.js, which charts its whole quality series.
 * Rendered with DOM nodes and textContent only.
 */
(function () {
  'use strict';

  var M = window.DashboardModel;
  var App = window.DashboardApp;
  if (!M || !App) return;
  function $(id) { return document.getElementById(id); }
  var el = App.el, setText = App.setText;

  var state = { params: null, cursor: null, seq: 0, fleetSeq: 0, loaded: false };

  (function initFilters() {
    ['ended', 'declined', 'busy', 'no_answer', 'failed', 'canceled'].forEach(function (s) {
      $('h-state').appendChild(new Option(M.label(s), s));
    });
    M.GRADES.forEach(function (g) { $('h-grade').appendChild(new Option(g.charAt(0).toUpperCase() + g.slice(1), g)); });
  })();

  function show(view) {
    var history = view === 'history';
    $('history').hidden = !history;
    document.querySelector('#layout > .calls:not(#history)').hidden = history;
    $('tab-live').setAttribute('aria-pressed', String(!history));
    $('tab-history').setAttribute('aria-pressed', String(history));
    if (history && !state.loaded) search();
  }
  $('tab-live').addEventListener('click', function () { show('live'); });
  $('tab-history').addEventListener('click', function () { show('history'); });

  function ms(input) {
    var v = $(input).value;
    if (!v) return undefined;
    var t = new Date(v).getTime();
    return isFinite(t) ? t : undefined;
  }

  /** The filters as query parameters (empty ones left out by apiUrl). */
  function params() {
    return {
      from: ms('h-from'), to: ms('h-to'), provider: $('h-provider').value.trim(),
      state: $('h-state').value, grade: $('h-grade').value, q: $('h-q').value.trim(), limit: 50
    };
  }

  function search() {
    state.loaded = true;
    state.params = params();
    state.cursor = null;
    $('history-body').textContent = '';
    var csv = Object.assign({}, state.params, { limit: 10000 });
    $('h-csv').href = M.apiUrl(App.base.http, 'api/history.csv', csv);
    loadPage();
    loadFleet();
  }

  $('history-form').addEventListener('submit', function (ev) { ev.preventDefault(); search(); });
  $('history-more').addEventListener('click', function () { loadPage(); });

  function loadPage() {
    var seq = ++state.seq;
    var p = Object.assign({}, state.params, { cursor: state.cursor });
    setText($('h-note'), 'loading…');
    App.authFetch(M.apiUrl(App.base.http, 'api/history', p)).then(function (json) {
      if (seq !== state.seq) return;
      var calls = (json && Array.isArray(json.calls)) ? json.calls : [];
      var body = $('history-body');
      calls.forEach(function (c) { body.appendChild(row(c)); });
      state.cursor = json && json.nextCursor;
      $('history-more').hidden = !state.cursor;
      $('history-empty').hidden = body.children.length > 0;
      setText($('h-note'), body.children.length + (state.cursor ? '+' : '') + ' calls');
    }, function (err) {
      if (seq !== state.seq) return;
      setText($('h-note'), err.status === 403 ? 'history needs a dashboard token' : 'could not load: ' + err.message);
      if (err.status === 401) App.showLogin('The API rejected the token (' + err.message + '). Paste a new one.', true);
    });
  }

  function row(c) {
    var tr = el('tr');
    tr.setAttribute('data-id', c.sessionId);
    tr.tabIndex = 0;
    tr.appendChild(el('td', null, typeof c.endedAt === 'number' ? new Date(c.endedAt).toLocaleString() : '—'));
    tr.appendChild(el('td', 'sid', c.sessionId));
    var st = el('td');
    st.appendChild(el('span', 'badge state state-' + (c.callState || 'none'), M.label(c.callState)));
    tr.appendChild(st);
    var q = c.quality || {};
    var mos = el('td', 'num', typeof q.mos === 'number' ? q.mos.toFixed(2) : '—');
    if (q.grade) mos.style.color = M.gradeColor(q.grade);
    if (typeof c.mosAvg === 'number') mos.title = 'average ' + c.mosAvg.toFixed(2) + ' over ' + c.samples + ' samples';
    tr.appendChild(mos);
    tr.appendChild(el('td', 'num', typeof c.duration === 'number' ? c.duration + ' s' : '—'));
    tr.appendChild(el('td', 'opt', c.provider || '—'));
    tr.appendChild(el('td', 'opt', c.direction || '—'));
    tr.appendChild(el('td', 'opt', (c.warnings || []).join(', ') || '—'));
    return tr;
  }

  function open(ev) {
    var tr = ev.target.closest('tr[data-id]');
    if (tr) App.openDetail(tr.getAttribute('data-id'));
  }
  $('history-body').addEventListener('click', open);
  $('history-body').addEventListener('keydown', function (ev) { if (ev.key === 'Enter') open(ev); });

  /** Fleet quality over the same time range, one box per provider. */
  function loadFleet() {
    var p = { from: state.params.from, to: state.params.to, by: 'provider' };
    App.authFetch(M.apiUrl(App.base.http, 'api/quality/summary', p)).then(function (json) {
      var box = $('fleet');
      box.textContent = '';
      ((json && json.groups) || []).forEach(function (g) {
        var div = el('div', 'group');
        div.appendChild(el('b', null, g.key));
        var mos = g.mos || {};
        var fmt = function (v) { return typeof v === 'number' ? v.toFixed(2) : '—'; };
        div.appendChild(el('span', null, ' · ' + g.calls + ' calls · MOS p50 ' + fmt(mos.p50) + ' · p10 ' + fmt(mos.p10)));
        var warned = Object.keys(g.warnings || {}).filter(function (w) { return g.warnings[w]; });
        if (warned.length) div.title = warned.map(function (w) { return w + ': ' + g.warnings[w]; }).join('\n');
        box.appendChild(div);
      });
      loadFleetChart(((json && json.groups) || []).map(function (g) { return g.key; }).slice(0, 6));
    }, function () { $('fleet').textContent = ''; });
  }

  var LINE_COLORS = ['#2f6fde', '#d9822b', '#1f9d55', '#9b59b6', '#c0392b', '#16a085'];

  /** MOS over time, one line per provider: its p50 per hour (by=hour&provider=). */
  function loadFleetChart(providers) {
    var seq = ++state.fleetSeq;
    if (!providers.length) { $('fleet-figure').hidden = true; return; }
    Promise.all(providers.map(function (p) {
      var q = { from: state.params.from, to: state.params.to, by: 'hour', provider: p };
      return App.authFetch(M.apiUrl(App.base.http, 'api/quality/summary', q)).then(function (json) {
        var points = ((json && json.groups) || []).map(function (g) {
          return { t: Date.parse(g.key), v: g.mos && g.mos.p50 };
        }).filter(function (pt) { return typeof pt.v === 'number' && isFinite(pt.t); });
        return { provider: p, points: points };
      });
    })).then(function (lines) {
      if (seq !== state.fleetSeq) return;
      lines = lines.filter(function (l) { return l.points.length; });
      $('fleet-figure').hidden = !lines.length;
      var legend = $('fleet-legend');
      legend.textContent = '';
      lines.forEach(function (l, i) {
        var item = el('span', 'fleet-legend-item', l.provider);
        item.style.color = LINE_COLORS[i % LINE_COLORS.length];
        legend.appendChild(item);
      });
      drawFleet($('fleet-chart'), lines);
    }, function () { $('fleet-figure').hidden = true; });
  }

  function drawFleet(canvas, lines) {
    canvas.setAttribute('data-lines', String(lines.length));
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.clientWidth || 600, h = canvas.clientHeight || 110;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    var ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    var padL = 30, padR = 6, padT = 6, padB = 14, pw = w - padL - padR, ph = h - padT - padB;
    var all = [].concat.apply([], lines.map(function (l) { return l.points; }));
    var t0 = Math.min.apply(null, all.map(function (p) { return p.t; }));
    var t1 = Math.max.apply(null, all.map(function (p) { return p.t; }));
    if (t1 - t0 < 3600000) { t0 -= 1800000; t1 += 1800000; }
    var x = function (t) { return padL + (t - t0) / (t1 - t0) * pw; };
    var y = function (v) { return padT + ph - (Math.max(1, Math.min(4.5, v)) - 1) / 3.5 * ph; };
    ctx.font = '10px system-ui, sans-serif';
    ctx.fillStyle = '#6b7585';
    ctx.strokeStyle = '#e2e6ec';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    [1, 2, 3, 4].forEach(function (v) {
      var yy = Math.round(y(v)) + 0.5;
      ctx.beginPath(); ctx.moveTo(padL, yy); ctx.lineTo(padL + pw, yy); ctx.stroke();
      ctx.fillText(String(v), padL - 4, yy);
    });
    ctx.textBaseline = 'alphabetic';
    ctx.textAlign = 'left';
    ctx.fillText(new Date(t0).toLocaleString(), padL, h - 2);
    ctx.textAlign = 'right';
    ctx.fillText(new Date(t1).toLocaleString(), padL + pw, h - 2);
    lines.forEach(function (l, i) {
      ctx.strokeStyle = ctx.fillStyle = LINE_COLORS[i % LINE_COLORS.length];
      ctx.lineWidth = 1.6;
      ctx.beginPath();
      l.points.forEach(function (p, j) { if (j === 0) ctx.moveTo(x(p.t), y(p.v)); else ctx.lineTo(x(p.t), y(p.v)); });
      ctx.stroke();
      l.points.forEach(function (p) { ctx.beginPath(); ctx.arc(x(p.t), y(p.v), 2, 0, Math.PI * 2); ctx.fill(); });
    });
  }
})();
