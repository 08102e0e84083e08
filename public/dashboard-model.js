/*
 * Pure helpers for the dashboard page: formatting, filtering, summaries,
 * URL handling, chart scales. No DOM. Plain script (window.DashboardModel)
 * or CommonJS (node tests).
 */
(function (root, factory) {
  'use strict';
  var api = factory();
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  else if (root) root.DashboardModel = api;
})(typeof window !== 'undefined' ? window : this, function () {
  'use strict';

  var CALL_STATES = ['idle', 'initiated', 'queued', 'ringing', 'connecting', 'connected', 'on_hold', 'reconnecting',
    'ended', 'declined', 'busy', 'no_answer', 'failed', 'canceled'];
  var TERMINAL = { ended: 1, declined: 1, busy: 1, no_answer: 1, failed: 1, canceled: 1 };
  var GRADES = ['excellent', 'good', 'fair', 'poor', 'bad'];
  var GRADE_COLORS = {
    excellent: '#1a9850', good: '#66a61e', fair: '#d4a017', poor: '#e8590c', bad: '#d7301f'
  };
  var NO_GRADE_COLOR = '#8a94a6';
  var DASH = '\u2014';

  function isTerminal(state) { return !!TERMINAL[state]; }

  /** §4 grade thresholds, for a MOS without a grade. */
  function gradeFromMos(mos) {
    if (typeof mos !== 'number' || !isFinite(mos)) return null;
    if (mos >= 4.3) return 'excellent';
    if (mos >= 4.0) return 'good';
    if (mos >= 3.6) return 'fair';
    if (mos >= 3.1) return 'poor';
    return 'bad';
  }

  function gradeColor(grade) { return GRADE_COLORS[grade] || NO_GRADE_COLOR; }

  /** The grade of a row or document: its own, else derived from its MOS. */
  function gradeOf(row) {
    var q = row && row.quality;
    if (!q) return null;
    return GRADES.indexOf(q.grade) >= 0 ? q.grade : gradeFromMos(q.mos);
  }

  function formatMos(mos) {
    return typeof mos === 'number' && isFinite(mos) ? mos.toFixed(2) : DASH;
  }

  function pad2(n) { return (n < 10 ? '0' : '') + n; }

  /** 5000 → "0:05", 754000 → "12:34", 3723000 → "1:02:03"; null → "—". */
  function formatDuration(ms) {
    if (typeof ms !== 'number' || !isFinite(ms)) return DASH;
    var s = Math.floor(Math.max(0, ms) / 1000);
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var sec = s % 60;
    return h > 0 ? h + ':' + pad2(m) + ':' + pad2(sec) : m + ':' + pad2(sec);
  }

  /**
   * Talk time: final (endedAt − answeredAt) once ended, live (now − answeredAt)
   * while answered, null if never answered.
   */
  function callDurationMs(row, now) {
    if (!row || typeof row.answeredAt !== 'number') return null;
    if (typeof row.endedAt === 'number') return Math.max(0, row.endedAt - row.answeredAt);
    if (isTerminal(row.callState)) return null;
    return Math.max(0, now - row.answeredAt);
  }

  /** Whether a row's duration still changes with time. */
  function isTicking(row) {
    return !!row && typeof row.answeredAt === 'number' && typeof row.endedAt !== 'number' && !isTerminal(row.callState);
  }

  /** "just now", "12s ago", "3m ago", "2h ago", "4d ago"; null → "—". */
  function formatRelative(ts, now) {
    if (typeof ts !== 'number' || !isFinite(ts)) return DASH;
    var d = Math.round((now - ts) / 1000);
    if (d < 2) return 'just now';
    if (d < 60) return d + 's ago';
    if (d < 3600) return Math.floor(d / 60) + 'm ago';
    if (d < 86400) return Math.floor(d / 3600) + 'h ago';
    return Math.floor(d / 86400) + 'd ago';
  }

  /** Local wall time "HH:MM:SS" (with ".mmm" when asked). */
  function formatClock(ts, withMs) {
    if (typeof ts !== 'number' || !isFinite(ts)) return DASH;
    var d = new Date(ts);
    var s = pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
    if (withMs) s += '.' + String(d.getMilliseconds() + 1000).slice(1);
    return s;
  }

  function formatValue(v) {
    if (v === null || v === undefined || v === '') return DASH;
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  /**
   * The outcome an AI call (ElevenLabs post-call webhook) leaves in the
   * document's metadata: `agentId`, `callDurationSecs`, `callSuccessful`
   * (`success` | `failure` | `unknown`), `transcriptSummary`. Null when the
   * call has none of them.
   */
  function aiOutcome(doc) {
    var m = doc && doc.metadata;
    if (!m || typeof m !== 'object') return null;
    var text = function (v) { return typeof v === 'string' && v !== '' ? v : null; };
    var out = {
      agentId: text(m.agentId),
      durationSecs: typeof m.callDurationSecs === 'number' && isFinite(m.callDurationSecs) ? m.callDurationSecs : null,
      verdict: text(m.callSuccessful),
      summary: text(m.transcriptSummary)
    };
    if (out.agentId === null && out.durationSecs === null && out.verdict === null && out.summary === null) return null;
    out.duration = out.durationSecs === null ? null : formatDuration(out.durationSecs * 1000);
    out.verdictClass = out.verdict === 'success' || out.verdict === 'failure' ? out.verdict : 'unknown';
    return out;
  }

  function label(state) { return state ? String(state).replace(/_/g, ' ') : DASH; }

  /**
   * A live call the hub has heard nothing new from for `staleAfterMs` (the
   * summary frame's, from `retention.staleSec`): the same rule as the hub's
   * `stale` flag, evaluated on the page's clock tick so a call goes stale
   * without a frame. 0 / absent turns it off.
   */
  function isStale(row, now, staleAfterMs) {
    if (!staleAfterMs || staleAfterMs <= 0 || isTerminal(row.callState)) return false;
    if (typeof row.lastSync !== 'number') return false;
    return now - row.lastSync >= staleAfterMs;
  }

  /**
   * Filters rows: `state` '' (all) | 'active' (not terminal) | 'ended'
   * (terminal) | 'stale' (live but silent, see isStale with `filter.now`
   * and `filter.staleAfterMs`) | a callState; `grade` '' | a grade |
   * 'none'; `text` matches session id or provider (case-insensitive).
   */
  function filterRows(rows, filter) {
    filter = filter || {};
    var text = (filter.text || '').trim().toLowerCase();
    var groups = { active: 1, ended: 1, stale: 1 };
    return rows.filter(function (r) {
      var st = r.callState;
      if (filter.state === 'active' && isTerminal(st)) return false;
      if (filter.state === 'ended' && !isTerminal(st)) return false;
      if (filter.state === 'stale' && !isStale(r, filter.now || 0, filter.staleAfterMs)) return false;
      if (filter.state && !groups[filter.state] && st !== filter.state) return false;
      if (filter.grade) {
        var g = gradeOf(r);
        if (filter.grade === 'none' ? g !== null : g !== filter.grade) return false;
      }
      if (text) {
        var hay = [r.sessionId, r.provider].join(' ').toLowerCase();
        if (hay.indexOf(text) < 0) return false;
      }
      return true;
    });
  }

  /** Live calls first, then newest start (or last sync), then session id. */
  function sortRows(rows) {
    return rows.slice().sort(function (a, b) {
      var ta = isTerminal(a.callState) ? 1 : 0;
      var tb = isTerminal(b.callState) ? 1 : 0;
      if (ta !== tb) return ta - tb;
      var sa = a.startedAt || a.lastSync || 0;
      var sb = b.startedAt || b.lastSync || 0;
      if (sa !== sb) return sb - sa;
      return a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0;
    });
  }

  /** Counts for the summary bar. */
  function summarize(rows) {
    var s = { total: rows.length, active: 0, ended: 0, ringing: 0, connected: 0, conflict: 0, pending: 0, byGrade: {}, mosAvg: null };
    for (var i = 0; i < GRADES.length; i++) s.byGrade[GRADES[i]] = 0;
    var mosSum = 0;
    var mosN = 0;
    rows.forEach(function (r) {
      var st = r.callState;
      if (isTerminal(st)) s.ended++; else s.active++;
      if (st === 'ringing' || st === 'initiated' || st === 'queued' || st === 'connecting') s.ringing++;
      if (st === 'connected' || st === 'on_hold' || st === 'reconnecting') s.connected++;
      if (r.syncStatus === 'conflict') s.conflict++;
      if (r.syncStatus === 'pending') s.pending++;
      var g = gradeOf(r);
      if (g) s.byGrade[g]++;
      var mos = r.quality && r.quality.mos;
      if (!isTerminal(st) && typeof mos === 'number' && isFinite(mos)) { mosSum += mos; mosN++; }
    });
    if (mosN) s.mosAvg = mosSum / mosN;
    return s;
  }

  /** Drops rows of calls that ended more than `retentionMs` ago (the hub forgets them; it sends no removal). */
  function pruneEnded(rowsMap, now, retentionMs) {
    var removed = [];
    rowsMap.forEach(function (r, id) {
      if (isTerminal(r.callState) && typeof r.endedAt === 'number' && now - r.endedAt > retentionMs) removed.push(id);
    });
    removed.forEach(function (id) { rowsMap.delete(id); });
    return removed;
  }

  // ---------------------------------------------------------------- URLs

  function hashParams(href) {
    var i = href.indexOf('#');
    return new URLSearchParams(i >= 0 ? href.slice(i + 1) : '');
  }

  /** The token in `?token=` or `#token=`, else null. */
  function tokenFromUrl(href) {
    var u = new URL(href);
    return u.searchParams.get('token') || hashParams(href).get('token') || null;
  }

  /** `href` without its token (for history.replaceState: keep tokens out of history and screenshots). */
  function urlWithoutToken(href) {
    var u = new URL(href);
    u.searchParams.delete('token');
    var h = hashParams(href);
    h.delete('token');
    var hash = h.toString();
    u.hash = hash ? '#' + hash : '';
    return u.href;
  }

  /** The selected call in the hash (`#call=ID`), else null. */
  function selectedCall(href) { return hashParams(href).get('call') || null; }

  /** `href` with `#call=ID` (or without it for null), other hash parameters kept. */
  function urlWithCall(href, sessionId) {
    var u = new URL(href);
    var h = hashParams(href);
    if (sessionId) h.set('call', sessionId); else h.delete('call');
    var hash = h.toString();
    u.hash = hash ? '#' + hash : '';
    return u.href;
  }

  /** An API URL under the HTTP base (which ends in `/`). */
  function apiUrl(httpBase, path, params) {
    var u = new URL(path.replace(/^\//, ''), httpBase);
    if (params) {
      Object.keys(params).forEach(function (k) {
        if (params[k] !== undefined && params[k] !== null && params[k] !== '') u.searchParams.set(k, params[k]);
      });
    }
    return u.href;
  }

  // -------------------------------------------------------------- charts

  /** The archived series `seed` under the live points `live`: by time, one point per `t`, numbers only, the last `max`. */
  function mergeSeries(seed, live, max) {
    var byT = new Map();
    seed.concat(live || []).forEach(function (p) {
      if (typeof p.v === 'number' && isFinite(p.v) && typeof p.t === 'number') byT.set(p.t, p);
    });
    var out = Array.from(byT.values()).sort(function (a, b) { return a.t - b.t; });
    return out.length > max ? out.slice(out.length - max) : out;
  }

  /** Appends a point `{t, v}` to a series, skipping duplicates and non-numbers, keeping the last `max`. */
  function pushPoint(series, t, v, max) {
    if (typeof v !== 'number' || !isFinite(v) || typeof t !== 'number') return false;
    var last = series[series.length - 1];
    if (last && last.t === t) { last.v = v; return true; }
    if (last && t < last.t) return false;
    series.push({ t: t, v: v });
    if (series.length > (max || 300)) series.splice(0, series.length - (max || 300));
    return true;
  }

  /** A y range with round tick steps covering the values (and `fixed` bounds if given). */
  function chartScale(values, fixed) {
    fixed = fixed || {};
    var lo = fixed.min !== undefined ? fixed.min : Infinity;
    var hi = fixed.max !== undefined ? fixed.max : -Infinity;
    for (var i = 0; i < values.length; i++) {
      if (fixed.min === undefined && values[i] < lo) lo = values[i];
      if (fixed.max === undefined && values[i] > hi) hi = values[i];
    }
    if (!isFinite(lo)) lo = 0;
    if (!isFinite(hi)) hi = lo + 1;
    if (fixed.min === undefined && lo > 0) lo = 0;
    if (hi <= lo) hi = lo + 1;
    var raw = (hi - lo) / 4;
    var mag = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10));
    var n = raw / mag;
    var step = (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * mag;
    if (fixed.max === undefined) hi = Math.ceil(hi / step - 1e-9) * step;
    if (fixed.min === undefined) lo = Math.floor(lo / step + 1e-9) * step;
    var ticks = [];
    for (var v = lo; v <= hi + step / 1000; v += step) ticks.push(Math.round(v * 1e6) / 1e6);
    return { min: lo, max: hi, step: step, ticks: ticks };
  }

  // ------------------------------------------------------------ timeline

  var FATES = ['applied', 'stale', 'duplicate', 'conflict', 'clamped'];

  function describeUpdate(u) {
    return u.field + ' = ' + formatValue(u.value);
  }

  /** A push attempt of the timeline (PROTOCOL.md §10): `apns → iphone`. */
  function describePush(p) {
    return (p.platform || '?') + ' \u2192 ' + (p.deviceId || '?');
  }

  /** Timeline entries newest first, at most `limit`. */
  function timelineView(entries, limit) {
    var list = Array.isArray(entries) ? entries.slice() : [];
    list.reverse();
    return list.slice(0, limit || 200);
  }

  return {
    CALL_STATES: CALL_STATES,
    GRADES: GRADES,
    GRADE_COLORS: GRADE_COLORS,
    FATES: FATES,
    isTerminal: isTerminal,
    gradeFromMos: gradeFromMos,
    gradeColor: gradeColor,
    gradeOf: gradeOf,
    formatMos: formatMos,
    formatDuration: formatDuration,
    callDurationMs: callDurationMs,
    isTicking: isTicking,
    formatRelative: formatRelative,
    formatClock: formatClock,
    formatValue: formatValue,
    aiOutcome: aiOutcome,
    label: label,
    filterRows: filterRows,
    isStale: isStale,
    sortRows: sortRows,
    summarize: summarize,
    pruneEnded: pruneEnded,
    tokenFromUrl: tokenFromUrl,
    urlWithoutToken: urlWithoutToken,
    selectedCall: selectedCall,
    urlWithCall: urlWithCall,
    apiUrl: apiUrl,
    pushPoint: pushPoint,
    mergeSeries: mergeSeries,
    chartScale: chartScale,
    describeUpdate: describeUpdate,
    describePush: describePush,
    timelineView: timelineView
  };
});
