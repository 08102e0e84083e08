'use strict';
// Test doubles for the browser client: a WebSocket the test drives by hand and
// a manual clock. Not a test file itself (node --test only runs *.test.js).

/** A fresh FakeWebSocket class with its own registry of instances. */
function makeFakeWebSocket() {
  const sockets = [];
  class FakeWebSocket {
    constructor(url, protocols) {
      this.url = url;
      this.protocols = protocols;
      this.readyState = 0;
      this.sent = [];
      this.closedByClient = null;
      sockets.push(this);
    }
    send(data) {
      if (this.readyState !== 1) throw new Error('InvalidStateError: not open');
      this.sent.push(JSON.parse(data));
    }
    close(code, reason) {
      this.closedByClient = { code, reason };
      this.readyState = 3;
    }
    // --- the hub's side
    get query() { return new URL(this.url).searchParams; }
    serverOpen() {
      this.readyState = 1;
      if (this.onopen) this.onopen({});
    }
    serverSend(frame) {
      const data = typeof frame === 'string' ? frame : JSON.stringify(frame);
      if (this.onmessage) this.onmessage({ data });
    }
    serverClose(code, reason = '') {
      this.readyState = 3;
      if (this.onclose) this.onclose({ code, reason, wasClean: code !== 1006 });
    }
  }
  FakeWebSocket.sockets = sockets;
  FakeWebSocket.last = () => sockets[sockets.length - 1];
  return FakeWebSocket;
}

/** setTimeout/clearTimeout on a clock that only moves when told. */
class FakeClock {
  constructor(start = 1_700_000_000_000) {
    this.time = start;
    this.queue = [];
    this.seq = 0;
    this.setTimeout = (fn, ms) => {
      const id = ++this.seq;
      this.queue.push({ id, at: this.time + Math.max(0, ms || 0), fn, ms });
      return id;
    };
    this.clearTimeout = (id) => { this.queue = this.queue.filter((t) => t.id !== id); };
    this.now = () => this.time;
  }
  get timers() { return { setTimeout: this.setTimeout, clearTimeout: this.clearTimeout }; }
  advance(ms) {
    const end = this.time + ms;
    for (;;) {
      this.queue.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.queue[0];
      if (!next || next.at > end) break;
      this.queue.shift();
      this.time = next.at;
      next.fn();
    }
    this.time = end;
  }
  pending() { return this.queue.map((t) => t.at - this.time); }
}

/** Lets promise callbacks (getToken, …) run. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

/** A deterministic random() returning the given values in turn (then the last one). */
function sequence(...values) {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)];
}

module.exports = { makeFakeWebSocket, FakeClock, flush, sequence };
