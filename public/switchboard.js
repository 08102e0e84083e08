/*
 * Switchboard browser client (PROTOCOL.md §3, §5).
 *
 * Plain script: defines window.Switchboard. CommonJS: module.exports.
 * No dependencies, no build step.
 *
 *   const call = Switchboard.connect({ sessionId, token, getToken });
 *   call.on('state', (doc, frame) => render(doc));
 *   await call.report({ callState: 'connected' });
 *
 * See docs/browser-client.md.
 */
(function (root, factory) {
  'use strict';
  var api = factory();
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  if (root && (typeof module === 'undefined' || !module.exports)) root.Switchboard = api;
})(typeof window !== 'undefined' ? window : (typeof self !== 'undefined' ? self : this), function () {
  'use strict';

  var VERSION = '1.0.0';

  /** Close codes after which reconnecting would not help (§3.4). */
  var FATAL_CODES = { 1009: 'message too big', 4003: 'forbidden', 4400: 'protocol abuse' };
  /** Close codes that ask for a new token before reconnecting. */
  var TOKEN_CODES = { 4001: 'invalid token', 4004: 'token expired' };
  var RATE_LIMITED = 4029;
  var DRAINING = 1001;
  /** Local close codes: never sent by the hub, they name why the client gave up on a socket. */
  var SILENT_HUB = 4000;      // no answer to a ping within pongTimeoutMs
  var OPEN_TIMEOUT = 4002;    // no answer to the opening handshake within openTimeoutMs
  /** The subprotocol offered with the token, and the one the hub answers (PROTOCOL.md §3.1). */
  var SUBPROTOCOL = 'switchboard.v1';
  /** RFC 7230 token characters: what a subprotocol may contain (a JWT always does). */
  var TCHARS = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

  /** Client event vocabulary → callState (§1.1, the seed's /sync events). */
  var CLIENT_EVENTS = {
    initiated: 'initiated', connecting: 'connecting', ringing: 'ringing',
    connected: 'connected', accept: 'connected', open: 'connected',
    reconnecting: 'reconnecting', reconnected: 'connected',
    hold: 'on_hold', unhold: 'connected',
    disconnected: 'ended', ended: 'ended', closed: 'ended', disconnect: 'ended',
    declined: 'declined', reject: 'declined',
    cancel: 'canceled', error: 'failed'
  };

  var TERMINAL = { ended: 1, declined: 1, busy: 1, no_answer: 1, failed: 1, canceled: 1 };

  // ---------------------------------------------------------------- helpers

  /**
   * HTTP and WebSocket base URLs for a page at `href`: the directory the page
   * is served from (so the hub works at `/` and behind a prefix such as
   * `/switchboard/`), always ending in `/`.
   */
  function baseUrls(href) {
    var u = new URL('./', href);
    u.search = '';
    u.hash = '';
    var http = u.href;
    var ws = http.replace(/^http(s?):/i, function (_, s) { return 'ws' + s.toLowerCase() + ':'; });
    return { http: http, ws: ws };
  }

  /** Normalizes a user-given base (`ws:`, `wss:`, `http:`, `https:`) to a ws base ending in `/`. */
  function wsBase(url) {
    var s = String(url).replace(/^http(s?):/i, function (_, x) { return 'ws' + x.toLowerCase() + ':'; });
    if (!/^wss?:\/\//i.test(s)) throw new Error('Switchboard: url must be ws://, wss://, http:// or https://');
    var q = s.search(/[?#]/);
    if (q >= 0) s = s.slice(0, q);
    return s.charAt(s.length - 1) === '/' ? s : s + '/';
  }

  function defaultWsBase() {
    if (typeof location !== 'undefined' && location && /^https?:/.test(location.href)) return baseUrls(location.href).ws;
    throw new Error('Switchboard: no url given and no page location to derive it from');
  }

  /** Back-off defaults, and why (docs/browser-client.md, "Reconnecting"). */
  var BACKOFF_DEFAULTS = {
    initialMs: 250,      // the first retry is spread over 250 ms: quick, yet a hub's clients do not arrive at once
    maxMs: 5000,         // a live call: never more than 5 s between tries, even after a long outage
    drainRetryMs: 1000,  // after 1001 (the hub is restarting) the first retry is within 1 s, spread over it
    outageRatio: 0.15    // and no wait longer than 15 % of the time the link has been down
  };

  function backoffOptions(b) {
    b = b || {};
    var o = {};
    for (var k in BACKOFF_DEFAULTS) o[k] = typeof b[k] === 'number' && b[k] >= 0 ? b[k] : BACKOFF_DEFAULTS[k];
    if (o.initialMs < 1) o.initialMs = 1;
    if (o.maxMs < o.initialMs) o.maxMs = o.initialMs;
    return o;
  }

  /**
   * The delay before the next attempt (pure: the policy the unit tests pin down).
   *
   * - `code` 4029 (rate limited): uniform in [maxMs/2, maxMs].
   * - The first retry of an outage: uniform in [0, drainRetryMs] after 1001, else in [0, initialMs].
   * - Later ones: decorrelated jitter, uniform in [initialMs, 3 × the previous delay], capped at
   *   maxMs and at `outageRatio` × the time since the link went down (but not below initialMs).
   *
   * @param {{prevMs: number, downMs: number, code: number|null}} state  prevMs 0 = first retry
   * @param {object} opts  backoff options (backoffOptions)
   * @param {function(): number} random  uniform in [0, 1)
   */
  function backoffDelay(state, opts, random) {
    opts = backoffOptions(opts);
    if (state.code === RATE_LIMITED) return Math.floor(opts.maxMs / 2 + random() * opts.maxMs / 2);
    if (!state.prevMs) {
      return Math.floor(random() * (state.code === DRAINING ? opts.drainRetryMs : opts.initialMs));
    }
    var upper = 3 * Math.max(state.prevMs, opts.initialMs);
    var delay = opts.initialMs + random() * (upper - opts.initialMs);
    var cap = Math.min(opts.maxMs, Math.max(opts.initialMs, opts.outageRatio * (state.downMs || 0)));
    return Math.floor(Math.min(delay, cap));
  }

  /** Why the link is down, for people: what `info.text` says after "because". */
  var CAUSE_TEXT = {
    draining: 'the hub is restarting',
    lost: 'the connection was lost',
    unreachable: 'the hub cannot be reached',
    silent: 'the hub stopped answering',
    'open-timeout': 'the hub did not answer the handshake',
    'rate-limited': 'the hub asked to slow down',
    'slow-consumer': 'this client fell behind',
    token: 'a new token is needed',
    error: 'of an error'
  };

  /** One line for a status bar: `reconnecting in 850 ms because the hub is restarting (1001)`. */
  function describeStatus(status, info) {
    info = info || {};
    var code = info.code ? ' (' + info.code + ')' : '';
    switch (status) {
      case 'connecting': return info.attempt ? 'connecting (attempt ' + (info.attempt + 1) + ')' : 'connecting';
      case 'open': return 'open';
      case 'reconnecting':
        if (info.refreshingToken) return 'reconnecting once a new token arrives' + code;
        return 'reconnecting in ' + (info.delayMs || 0) + ' ms because ' + (CAUSE_TEXT[info.cause] || CAUSE_TEXT.lost) + code;
      case 'offline': return 'offline: no network; retrying in ' + (info.delayMs || 0) + ' ms or when it is back';
      case 'closed': return 'closed' + code;
      case 'failed': return 'stopped' + (info.reason ? ': ' + info.reason : '') + code;
      default: return String(status);
    }
  }

  /** The machine-readable cause of a close (see CAUSE_TEXT). */
  function causeOf(code, wasOpen) {
    switch (code) {
      case DRAINING: return 'draining';
      case SILENT_HUB: return 'silent';
      case OPEN_TIMEOUT: return 'open-timeout';
      case RATE_LIMITED: return 'rate-limited';
      case 4008: return 'slow-consumer';
      case 4001: case 4004: return 'token';
      default: return wasOpen ? 'lost' : 'unreachable';
    }
  }

  function query(params) {
    var parts = [];
    for (var k in params) {
      if (params[k] !== undefined && params[k] !== null && params[k] !== '') {
        parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(String(params[k])));
      }
    }
    return parts.length ? '?' + parts.join('&') : '';
  }

  function SwitchboardError(frame) {
    var err = new Error(frame && frame.message ? frame.message : 'Switchboard error');
    err.name = 'SwitchboardError';
    err.code = frame && frame.code;
    err.id = frame && frame.id;
    err.frame = frame;
    return err;
  }

  function Emitter() { this._handlers = {}; }
  Emitter.prototype.on = function (event, fn) {
    (this._handlers[event] = this._handlers[event] || []).push(fn);
    var self = this;
    return function () { self.off(event, fn); };
  };
  Emitter.prototype.off = function (event, fn) {
    var list = this._handlers[event];
    if (list) this._handlers[event] = list.filter(function (h) { return h !== fn; });
  };
  Emitter.prototype.emit = function (event) {
    var args = Array.prototype.slice.call(arguments, 1);
    var list = (this._handlers[event] || []).slice();
    for (var i = 0; i < list.length; i++) {
      try { list[i].apply(null, args); } catch (e) {
        if (typeof console !== 'undefined') console.error('Switchboard: "' + event + '" handler threw', e);
      }
    }
  };

  var idCounter = 0;
  function makeIdPrefix(random) {
    return Math.floor(random() * 0x100000000).toString(36);
  }

  // ------------------------------------------------------------- connection

  /**
   * One reconnecting WebSocket: status, backoff, tokens, heartbeat. The
   * channel-specific part (`path()`, `params()`, `handle(frame)`, `opened()`)
   * is supplied by `Call` and `Dashboard`.
   */
  function Connection(opts, kind) {
    Emitter.call(this);
    opts = opts || {};
    this.kind = kind;
    this.base = opts.url ? wsBase(opts.url) : defaultWsBase();
    // null: none yet (getToken is asked first); '' : connect without one.
    this.token = opts.token === undefined || opts.token === null ? null : String(opts.token);
    this.getToken = typeof opts.getToken === 'function' ? opts.getToken : null;
    this.WS = opts.WebSocket || (typeof WebSocket !== 'undefined' ? WebSocket : null);
    if (!this.WS) {
      throw new Error('Switchboard: no WebSocket implementation: pass options.WebSocket ' +
        '(Node 20: run with --experimental-websocket, or pass the ws package\'s constructor)');
    }
    // Used once a handshake fails, to learn why (a browser hides the HTTP
    // status of a refused upgrade). In a page: the global fetch; elsewhere
    // only when given, so a script without a page makes no extra requests.
    this._fetch = opts.fetch === false ? null : (typeof opts.fetch === 'function' ? opts.fetch
      : (typeof window !== 'undefined' && typeof fetch === 'function' ? function (u, o) { return fetch(u, o); } : null));
    this.backoff = backoffOptions(opts.backoff);
    this.heartbeatMs = opts.heartbeatMs === undefined ? 5000 : opts.heartbeatMs;
    this.pongTimeoutMs = opts.pongTimeoutMs === undefined ? 5000 : opts.pongTimeoutMs;
    this.openTimeoutMs = opts.openTimeoutMs === undefined ? 5000 : opts.openTimeoutMs;
    this.tokenIn = opts.tokenIn === 'query' ? 'query' : 'protocol';
    this.protocols = opts.protocols === undefined || opts.protocols === null ? []
      : (Array.isArray(opts.protocols) ? opts.protocols.slice() : [opts.protocols]);
    var t = opts.timers || {};
    this._setTimeout = t.setTimeout || function (f, ms) { return setTimeout(f, ms); };
    this._clearTimeout = t.clearTimeout || function (h) { clearTimeout(h); };
    this._random = opts.random || Math.random;
    this._now = opts.now || Date.now;
    this._idPrefix = (opts.idPrefix || makeIdPrefix(this._random)) + '-';
    this.status = 'idle';
    this.statusInfo = {};
    this.attempt = 0;
    this._prevDelayMs = 0;    // 0: the next retry is the first of an outage
    this._downSince = null;   // when the link last went down (the outage's start)
    this.ws = null;
    this._stopped = false;
    this._timers = {};
    this._pings = {};
  }
  Connection.prototype = Object.create(Emitter.prototype);

  Connection.prototype._nextId = function () { return this._idPrefix + (++idCounter); };

  Connection.prototype._setStatus = function (status, info) {
    info = info || {};
    info.text = describeStatus(status, info);
    this.status = status;
    this.statusInfo = info;
    this.emit('status', status, info);
  };

  /** One line describing the link now, for a UI (`statusInfo.text`). */
  Connection.prototype.describeStatus = function () {
    return describeStatus(this.status, this.statusInfo);
  };

  Connection.prototype._timer = function (name, ms, fn) {
    this._cancel(name);
    var self = this;
    this._timers[name] = this._setTimeout(function () { delete self._timers[name]; fn(); }, ms);
  };
  Connection.prototype._cancel = function (name) {
    if (this._timers[name] !== undefined) { this._clearTimeout(this._timers[name]); delete this._timers[name]; }
  };

  /** True when the token travels in `Sec-WebSocket-Protocol` rather than in the URL. */
  Connection.prototype._tokenInProtocol = function () {
    return this.tokenIn === 'protocol' && !!this.token && TCHARS.test(this.token);
  };

  /** The URL of the next attempt: the resume point, and the token only with `tokenIn: 'query'`. */
  Connection.prototype.url = function () {
    var params = this.params();
    if (!this._tokenInProtocol()) params.token = this.token;
    return this.base + this.path() + query(params);
  };

  /**
   * The subprotocols offered: `switchboard.v1` (which the hub answers), then
   * `bearer.<token>` (read by the hub, never echoed), then any the caller added.
   */
  Connection.prototype.offeredProtocols = function () {
    var list = [SUBPROTOCOL];
    if (this._tokenInProtocol()) list.push('bearer.' + this.token);
    for (var i = 0; i < this.protocols.length; i++) {
      if (list.indexOf(this.protocols[i]) < 0) list.push(this.protocols[i]);
    }
    return list;
  };

  Connection.prototype.start = function () {
    var self = this;
    if (this.token === null && this.getToken) {
      this._setStatus('connecting', { attempt: this.attempt });
      this._refreshToken().then(function () { self._open(); }, function (e) { self._retry(null, e); });
    } else {
      this._open();
    }
    return this;
  };

  Connection.prototype._refreshToken = function () {
    var self = this;
    return Promise.resolve().then(function () { return self.getToken(); }).then(function (t) {
      if (!t) throw new Error('getToken returned no token');
      self.token = t;
      return t;
    });
  };

  Connection.prototype._open = function () {
    if (this._stopped) return;
    var self = this;
    this._setStatus('connecting', { attempt: this.attempt });
    var ws;
    try {
      ws = new this.WS(this.url(), this.offeredProtocols());
    } catch (e) {
      this.emit('error', e);
      this._retry(null, e);
      return;
    }
    this.ws = ws;
    this._wasOpen = false;
    this._gotFrame = false;
    if (this.openTimeoutMs) {
      // A hub that accepts the TCP connection but never answers (frozen, or a
      // proxy in front of a dead one) would otherwise leave us "connecting".
      this._timer('open', this.openTimeoutMs, function () {
        if (self.ws === ws) self._drop(OPEN_TIMEOUT, 'no answer to the opening handshake within ' + self.openTimeoutMs + ' ms');
      });
    }
    ws.onopen = function () {
      if (self.ws !== ws) return;
      self._cancel('open');
      self._wasOpen = true;
      self._lastMessageAt = self._now();
      self._setStatus('open', { attempt: self.attempt, protocol: ws.protocol });
      self._startHeartbeat();
      self.opened();
    };
    ws.onmessage = function (ev) {
      if (self.ws !== ws) return;
      self._lastMessageAt = self._now();
      if (!self._gotFrame) {
        // Success: the hub answered with its first frame. The next outage starts afresh.
        self._gotFrame = true;
        self.attempt = 0;
        self._prevDelayMs = 0;
        self._downSince = null;
      }
      var data;
      try { data = JSON.parse(typeof ev.data === 'string' ? ev.data : String(ev.data)); } catch (e) {
        self.emit('error', SwitchboardError({ code: 'invalid_json', message: 'hub sent a frame that is not JSON' }));
        return;
      }
      var frames = Array.isArray(data) ? data : [data];
      for (var i = 0; i < frames.length; i++) {
        var f = frames[i];
        if (!f || typeof f !== 'object') continue;
        self.emit('frame', f);
        self._dispatch(f);
      }
    };
    ws.onerror = function () { /* a close event always follows */ };
    ws.onclose = function (ev) {
      if (self.ws !== ws) return;
      self._closed(ev || {});
    };
  };

  Connection.prototype._dispatch = function (f) {
    switch (f.type) {
      case 'pong': {
        var p = f.id !== undefined ? this._pings[f.id] : null;
        if (p) { delete this._pings[f.id]; p(this._now()); }
        return;
      }
      case 'token_expiring':
        this.emit('token_expiring', f.inMs, f);
        this._onTokenExpiring();
        return;
      default:
        this.handle(f);
    }
  };

  Connection.prototype._onTokenExpiring = function () {
    if (!this.getToken) return;
    var self = this;
    var ws = this.ws;
    this._refreshToken().then(function (t) {
      if (self.ws === ws && self.status === 'open') self._sendRaw({ type: 'auth', token: t });
    }, function (e) {
      self.emit('error', e);
    });
  };

  Connection.prototype._sendRaw = function (obj) {
    if (!this.ws || this.status !== 'open') return false;
    try { this.ws.send(JSON.stringify(obj)); return true; } catch (e) { this.emit('error', e); return false; }
  };

  /**
   * Liveness: a `ping` every heartbeatMs; when nothing at all (pong or any
   * frame) arrives within pongTimeoutMs of one, the hub is frozen or the TCP
   * link half-open, and the socket is dropped with the local code 4000. A hub
   * that stops answering is noticed within heartbeatMs + pongTimeoutMs.
   */
  Connection.prototype._startHeartbeat = function () {
    if (!this.heartbeatMs) return;
    var self = this;
    var ws = this.ws;
    var beat = function () {
      if (self.ws !== ws || self.status !== 'open') return;
      var sentAt = self._now();
      self._sendRaw({ type: 'ping', id: self._nextId() });
      if (self.pongTimeoutMs && self._timers.pong === undefined) {
        self._timer('pong', self.pongTimeoutMs, function () {
          if (self.ws !== ws) return;
          if ((self._lastMessageAt || 0) < sentAt) self._drop(SILENT_HUB, 'no answer to a ping within ' + self.pongTimeoutMs + ' ms');
        });
      }
      self._timer('heartbeat', self.heartbeatMs, beat);
    };
    this._timer('heartbeat', this.heartbeatMs, beat);
  };

  /**
   * Abandons the current socket with a local code (4000, 4002) and reconnects
   * at once: a frozen hub never answers the closing handshake, so its close
   * event is not waited for.
   */
  Connection.prototype._drop = function (code, reason) {
    var ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(code, reason); } catch (e) {
        try { ws.close(); } catch (e2) { /* ignore */ }
      }
    }
    this._closed({ code: code, reason: reason });
  };

  Connection.prototype._closed = function (ev) {
    this.ws = null;
    this._cancel('open');
    this._cancel('heartbeat');
    this._cancel('pong');
    this._pings = {};
    var code = ev.code;
    this.lastClose = { code: code, reason: ev.reason || '' };
    if (this._downSince === null) this._downSince = this._now();
    this.suspended();
    if (this._stopped) { this._setStatus('closed', this.lastClose); return; }
    if (code === 1000) { this._stop('closed', this.lastClose); return; }
    if (FATAL_CODES[code]) { this._stop('failed', this.lastClose); return; }
    var self = this;
    if (TOKEN_CODES[code]) {
      if (!this.getToken) { this._stop('failed', this.lastClose); return; }
      this.token = null;
      this._setStatus('reconnecting', { code: code, reason: ev.reason || '', cause: 'token', attempt: this.attempt,
        delayMs: 0, refreshingToken: true });
      this._refreshToken().then(function () {
        if (self._stopped) return;
        // Back off anyway, so a getToken that keeps returning a bad token cannot spin.
        self._retry(code);
      }, function (e) {
        self.emit('error', e);
        self._stop('failed', self.lastClose);
      });
      return;
    }
    // A handshake refused before any open reaches a browser as 1006 with no
    // status: ask the hub why, and stop if it refuses this page's origin.
    if (!this._wasOpen && code === 1006 && this._fetch) this._probeRefusal();
    this._retry(code);
  };

  /**
   * A plain request (POST, no body) to the WebSocket path: the hub answers 403
   * `origin_not_allowed` (naming the origin) when it would refuse this
   * page's handshakes, and retrying could never help; anything else
   * (426, a network error) leaves the back-off running.
   */
  Connection.prototype._probeRefusal = function () {
    var self = this;
    var url = this.base.replace(/^ws/i, 'http') + this.path();
    var answer;
    try {
      // POST, not GET: browsers send Origin with a GET only across origins,
      // and the page the hub serves itself must learn why it is refused too.
      // No body and no headers keep it a simple request: no preflight.
      answer = this._fetch(url, { method: 'POST', mode: 'cors', credentials: 'omit', cache: 'no-store' });
    } catch (e) { return; }
    Promise.resolve(answer).then(function (r) {
      if (!r || r.status !== 403) return null;
      return r.json().then(function (body) {
        var e = body && body.error;
        if (!e || e.code !== 'origin_not_allowed' || self._stopped) return;
        self._refused({ code: 403, reason: e.message, cause: 'origin' });
      });
    }).catch(function () { /* the hub is unreachable: the back-off goes on */ });
  };

  /** Stops for good because the hub refuses every attempt (the reason names why). */
  Connection.prototype._refused = function (info) {
    var ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(); } catch (e) { /* ignore */ }
    }
    this.lastClose = { code: info.code, reason: info.reason };
    this._stop('failed', info);
  };

  Connection.prototype._retry = function (code, error) {
    if (this._stopped) return;
    var now = this._now();
    if (this._downSince === null) this._downSince = now;
    var delay = backoffDelay({ prevMs: this._prevDelayMs, downMs: now - this._downSince, code: code },
      this.backoff, this._random);
    // 0 would make the next retry look like the first of an outage again.
    this._prevDelayMs = Math.max(delay, 1);
    this.attempt += 1;
    this.nextDelayMs = delay;
    var self = this;
    var offline = typeof navigator !== 'undefined' && navigator && navigator.onLine === false;
    this._watchOnline();
    this._setStatus(offline ? 'offline' : 'reconnecting', {
      code: code, reason: this.lastClose ? this.lastClose.reason : '', cause: error ? 'error' : causeOf(code, this._wasOpen),
      attempt: this.attempt, delayMs: delay, retryAt: now + delay, error: error
    });
    this._timer('reconnect', delay, function () { self._open(); });
  };

  /** In a browser, the `online` event skips the pending back-off. */
  Connection.prototype._watchOnline = function () {
    if (this._onOnline || typeof window === 'undefined' || !window || typeof window.addEventListener !== 'function') return;
    var self = this;
    this._onOnline = function () { self.reconnectNow(); };
    window.addEventListener('online', this._onOnline);
  };

  /** Skips the pending back-off (e.g. on the browser's `online` event). */
  Connection.prototype.reconnectNow = function () {
    if (this._stopped || (this.status !== 'reconnecting' && this.status !== 'offline') ||
        this._timers.reconnect === undefined) return;
    this._cancel('reconnect');
    this._open();
  };

  Connection.prototype._stop = function (status, info) {
    this._stopped = true;
    for (var name in this._timers) this._cancel(name);
    if (this._onOnline) window.removeEventListener('online', this._onOnline);
    this._onOnline = null;
    this.stopped(status, info);
    this._setStatus(status, info);
  };

  /** Closes for good (code 1000); no reconnect. */
  Connection.prototype.close = function () {
    if (this._stopped) return;
    var ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(1000, 'client closed'); } catch (e) { /* ignore */ }
    }
    this.suspended();
    this._stop('closed', { code: 1000, reason: 'client closed' });
  };

  /** Round trip to the hub: resolves with the time in ms. */
  Connection.prototype.ping = function () {
    var self = this;
    var id = this._nextId();
    var started = this._now();
    return new Promise(function (resolve, reject) {
      if (!self._sendRaw({ type: 'ping', id: id })) { reject(new Error('not connected')); return; }
      self._pings[id] = function (at) { resolve(at - started); };
    });
  };

  // hooks
  Connection.prototype.params = function () { return {}; };
  Connection.prototype.opened = function () {};
  Connection.prototype.suspended = function () {};
  Connection.prototype.stopped = function () {};
  Connection.prototype.handle = function () {};

  // ------------------------------------------------------------------ calls

  /**
   * A subscription to `/ws/calls/{sessionId}`: holds the merged document,
   * resumes after reconnects, sends reports and quality samples.
   */
  function Call(opts) {
    if (!opts || !opts.sessionId) throw new Error('Switchboard.connect: sessionId is required');
    Connection.call(this, opts, 'call');
    this.sessionId = String(opts.sessionId);
    this.state = null;     // the merged document (§1)
    this.epoch = null;
    this.version = null;
    this.lastQuality = null; // latest quality sample (quality frames)
    this.aggregate = null;
    this.warnings = [];
    this.presence = [];
    this.maxOutbox = opts.maxOutbox || 500;
    this._outbox = [];     // reports not yet acknowledged: [{id, message, resolve, reject}]
  }
  Call.prototype = Object.create(Connection.prototype);

  Call.prototype.path = function () { return 'ws/calls/' + encodeURIComponent(this.sessionId); };

  Call.prototype.params = function () {
    return this.epoch !== null && this.version !== null ? { epoch: this.epoch, since: this.version } : {};
  };

  Call.prototype.opened = function () {
    // Reports not yet acknowledged are sent again with the same id: the hub
    // treats a (source, id) it has already applied as a duplicate (§2.3).
    for (var i = 0; i < this._outbox.length; i++) this._sendRaw(this._outbox[i].message);
  };

  Call.prototype.stopped = function (status, info) {
    var pending = this._outbox;
    this._outbox = [];
    for (var i = 0; i < pending.length; i++) {
      pending[i].reject(SwitchboardError({ code: 'closed', id: pending[i].id,
        message: 'connection ' + status + (info && info.code ? ' (' + info.code + ')' : '') }));
    }
  };

  Call.prototype.handle = function (f) {
    switch (f.type) {
      case 'snapshot': return this._snapshot(f);
      case 'state_change': return this._stateChange(f);
      case 'quality': return this._quality(f);
      case 'presence': return this._presence(f);
      case 'ack': return this._settle(f, true);
      case 'error': return this._settle(f, false);
      default: this.emit('message', f);
    }
  };

  Call.prototype._snapshot = function (f) {
    if (f.recovered && this.state && f.epoch === this.epoch) {
      // The missed frames follow in order; the held document stays.
      if (typeof f.version === 'number' && (this.version === null || f.version > this.version) && f.call) {
        this.state = f.call;
        this.version = f.version;
      }
      if (Array.isArray(f.presence) && f.presence.length) this.presence = f.presence;
      this.emit('snapshot', this.state, f);
      return;
    }
    // Fresh start (first connect, or the hub could not resume).
    this.state = f.call || null;
    this.epoch = f.epoch !== undefined ? f.epoch : null;
    this.version = typeof f.version === 'number' ? f.version : null;
    this.presence = Array.isArray(f.presence) ? f.presence : [];
    if (this.state && this.state.quality) this.lastQuality = this.state.quality;
    this.emit('snapshot', this.state, f);
    this.emit('state', this.state, f);
  };

  /** True when a versioned frame is new (and records its version). */
  Call.prototype._fresh = function (f) {
    if (typeof f.version !== 'number') return true;
    var newEpoch = f.epoch !== undefined && f.epoch !== null && this.epoch !== null && f.epoch !== this.epoch;
    if (!newEpoch && this.version !== null && f.version <= this.version) return false;
    if (f.epoch !== undefined && f.epoch !== null) this.epoch = f.epoch;
    this.version = f.version;
    return true;
  };

  Call.prototype._stateChange = function (f) {
    if (!this._fresh(f)) return;
    if (f.call) this.state = f.call;
    else if (this.state) { this.state.callState = f.state; this.state.version = f.version; }
    var conflicts = Array.isArray(f.conflicts) ? f.conflicts : [];
    this.emit('state', this.state, f);
    for (var i = 0; i < conflicts.length; i++) this.emit('conflict', conflicts[i], f);
  };

  Call.prototype._quality = function (f) {
    if (!this._fresh(f)) return;
    this.lastQuality = f.quality || null;
    this.aggregate = f.aggregate || null;
    this.warnings = Array.isArray(f.warnings) ? f.warnings : [];
    if (this.state) {
      var q = {};
      var k;
      var old = this.state.quality || {};
      for (k in old) q[k] = old[k];
      var fresh = f.quality || {};
      for (k in fresh) if (k !== 'ts') q[k] = fresh[k];
      this.state.quality = q;
      this.state.version = f.version;
    }
    this.emit('quality', this.lastQuality, f);
  };

  Call.prototype._presence = function (f) {
    var list = this.presence.slice();
    var left = Array.isArray(f.left) ? f.left : [];
    var joined = Array.isArray(f.joined) ? f.joined : [];
    list = list.filter(function (p) { return !left.some(function (l) { return l && p && l.sub === p.sub; }); });
    for (var i = 0; i < joined.length; i++) list.push(joined[i]);
    this.presence = list;
    this.emit('presence', f, list);
  };

  Call.prototype._settle = function (f, ok) {
    if (f.id !== undefined) {
      for (var i = 0; i < this._outbox.length; i++) {
        var entry = this._outbox[i];
        if (entry.id === f.id) {
          this._outbox.splice(i, 1);
          if (ok) entry.resolve(f); else entry.reject(SwitchboardError(f));
          return;
        }
      }
      var q = this._sentQuality && this._sentQuality[f.id];
      if (q) {
        delete this._sentQuality[f.id];
        if (!ok) this.emit('error', SwitchboardError(f));
        return;
      }
    }
    if (!ok) this.emit('error', SwitchboardError(f));
  };

  /**
   * Reports state fields (§3.3 `report`). Resolves with the `ack`, rejects
   * with a SwitchboardError (`code`, `message`, `frame`) on an `error` frame.
   * While disconnected the report waits and is sent on reconnect.
   */
  Call.prototype.report = function (stateFields, options) {
    options = options || {};
    var self = this;
    var id = options.id || this._nextId();
    var message = { type: 'report', id: id, ts: options.ts !== undefined ? options.ts : this._now(), state: stateFields || {} };
    if (options.seq !== undefined) message.seq = options.seq;
    if (options.metadata) message.metadata = options.metadata;
    return new Promise(function (resolve, reject) {
      if (self._stopped) { reject(SwitchboardError({ code: 'closed', id: id, message: 'connection ' + self.status })); return; }
      if (self._outbox.length >= self.maxOutbox) {
        reject(SwitchboardError({ code: 'outbox_full', id: id, message: 'too many unacknowledged reports' }));
        return;
      }
      self._outbox.push({ id: id, message: message, resolve: resolve, reject: reject });
      self._sendRaw(message);
    });
  };

  /** Reports a client event name (`accept`, `hold`, `disconnected`, …) as its callState (§1.1). */
  Call.prototype.reportEvent = function (eventName, options) {
    var state = CLIENT_EVENTS[eventName];
    if (!state) return Promise.reject(SwitchboardError({ code: 'invalid_message', message: 'unknown client event "' + eventName + '"' }));
    return this.report({ callState: state }, options);
  };

  /**
   * Sends a quality sample (§4): `{latency|rtt, jitter, packetLoss, mos, rttSec, jitterSec}`.
   * Not queued: a stale sample is worthless. Returns whether it was sent.
   */
  Call.prototype.quality = function (metrics, options) {
    options = options || {};
    var clean = {};
    for (var k in metrics || {}) {
      var v = metrics[k];
      if (typeof v === 'number' && isFinite(v)) clean[k] = v;
    }
    var id = this._nextId();
    var sent = this._sendRaw({ type: 'quality', id: id, ts: options.ts !== undefined ? options.ts : this._now(), metrics: clean });
    if (sent) {
      this._sentQuality = this._sentQuality || {};
      this._sentQuality[id] = true;
    }
    return sent;
  };

  Call.prototype.isTerminal = function () {
    return !!(this.state && TERMINAL[this.state.callState]);
  };

  // -------------------------------------------------------------- dashboard

  /** A subscription to `/ws/dashboard`: summary, rows, conflicts, warnings. */
  function Dashboard(opts) {
    Connection.call(this, opts, 'dashboard');
    this.rows = new Map();
    this.summaryAt = null;
  }
  Dashboard.prototype = Object.create(Connection.prototype);

  Dashboard.prototype.path = function () { return 'ws/dashboard'; };

  Dashboard.prototype.handle = function (f) {
    switch (f.type) {
      case 'summary': {
        var rows = Array.isArray(f.sessions) ? f.sessions : [];
        this.rows = new Map();
        for (var i = 0; i < rows.length; i++) if (rows[i] && rows[i].sessionId) this.rows.set(rows[i].sessionId, rows[i]);
        this.summaryAt = typeof f.at === 'number' ? f.at : null;
        this.emit('summary', rows, f);
        return;
      }
      case 'session':
        if (!f.sessionId) return;
        this.rows.set(f.sessionId, f);
        this.emit('row', f);
        return;
      case 'conflict': this.emit('conflict', f); return;
      case 'quality': this.emit('quality', f); return;
      case 'error': this.emit('error', SwitchboardError(f)); return;
      default: this.emit('message', f);
    }
  };

  // -------------------------------------------------------------------- api

  return {
    version: VERSION,
    /** Subscribes to one call: `connect({url, sessionId, token, getToken, WebSocket, backoff})`. */
    connect: function (opts) { return new Call(opts).start(); },
    /** Subscribes to the dashboard stream: `dashboard({url, token, getToken, WebSocket, backoff})`. */
    dashboard: function (opts) { return new Dashboard(opts).start(); },
    baseUrls: baseUrls,
    backoffDelay: backoffDelay,
    backoffDefaults: BACKOFF_DEFAULTS,
    describeStatus: describeStatus,
    clientEvents: CLIENT_EVENTS,
    isTerminal: function (state) { return !!TERMINAL[state]; },
    Call: Call,
    Dashboard: Dashboard
  };
});
