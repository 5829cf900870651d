'use strict';
// Shared helpers for the Node (ws) interop peers of gotrio's wsock tests.
// The line protocol with the Go tests is the same as the Python peers'
// (see common.py and ../README.md).

const SIZES = [0, 125, 126, 65535, 65536, 1 << 20];
const UTF8_TEXT = 'héllo wörld ✓ 🚀 ünïcödé';
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const CLIENT_CLOSE = [4001, 'bye from client'];
const SERVER_CLOSE = [4002, 'bye from server'];
const SUBPROTOCOLS_OFFERED = ['unknown.v9', 'gotrio.v1'];
const SUBPROTOCOLS_SUPPORTED = ['gotrio.v1'];
const MAX_SIZE = 4 << 20;
const CASE_TIMEOUT_MS = 20000;

function makeText(n) {
  return ALPHABET.repeat(Math.floor(n / ALPHABET.length) + 1).slice(0, n);
}

function makeBinary(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

// Every echo case as {name, payload}; text payloads are strings, binary ones Buffers.
function echoCases() {
  const cases = SIZES.map((n) => ({ name: `text-${n}`, payload: makeText(n) }));
  cases.push({ name: 'text-utf8', payload: UTF8_TEXT });
  return cases.concat(SIZES.map((n) => ({ name: `binary-${n}`, payload: makeBinary(n) })));
}

// streamMessages are similar, compressible messages for one connection.
function streamMessages() {
  const msgs = [];
  for (let i = 0; i < 20; i++) {
    const text = `{"seq": ${i}, "text": "${'the quick brown fox jumps over the lazy dog '.repeat(i + 1)}"}`;
    msgs.push(i % 4 ? text : Buffer.from(text));
  }
  return msgs;
}

function describe(isBinary, len) {
  return `${isBinary ? 'binary' : 'text'}(${len})`;
}

// checkEcho returns null if msg ({data, isBinary} as ws reports it) echoes payload.
function checkEcho(payload, msg) {
  const sentBinary = Buffer.isBuffer(payload);
  const sent = sentBinary ? payload : Buffer.from(payload, 'utf8');
  if (msg.close) return `got close ${msg.close.code} instead of an echo`;
  if (msg.isBinary !== sentBinary) {
    return `sent ${describe(sentBinary, sent.length)}, got ${describe(msg.isBinary, msg.data.length)}`;
  }
  if (!sent.equals(msg.data)) {
    return `sent ${describe(sentBinary, sent.length)}, got different ${describe(msg.isBinary, msg.data.length)}`;
  }
  return null;
}

// Inbox turns a ws connection's events into an awaitable queue of
// {data, isBinary} messages followed by one {close: {code, reason}}.
class Inbox {
  constructor(ws) {
    this.items = [];
    this.waiters = [];
    ws.on('message', (data, isBinary) => this.push({ data, isBinary }));
    ws.on('close', (code, reason) => this.push({ close: { code, reason: reason.toString('utf8') } }));
    ws.on('error', (err) => this.push({ error: err }));
  }

  push(item) {
    const w = this.waiters.shift();
    if (w) w(item);
    else this.items.push(item);
  }

  next() {
    if (this.items.length) return Promise.resolve(this.items.shift());
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  // nextClose skips messages (and errors) until the close event.
  async nextClose() {
    for (;;) {
      const item = await this.next();
      if (item.close) return item.close;
    }
  }
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

class Report {
  constructor() {
    this.passed = 0;
    this.failed = 0;
  }

  async run(name, body) {
    let detail;
    try {
      detail = await withTimeout(body(), CASE_TIMEOUT_MS, name);
    } catch (err) {
      detail = `${err && err.name}: ${err && err.message}`;
    }
    if (detail) {
      this.failed++;
      console.log(`FAIL ${name}: ${String(detail).replace(/\n/g, ' ')}`);
    } else {
      this.passed++;
      console.log(`PASS ${name}`);
    }
  }

  finish() {
    console.log(`DONE passed=${this.passed} failed=${this.failed}`);
    process.exitCode = this.failed ? 1 : 0;
  }
}

// parseArgs turns --key value pairs into an object.
function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`);
    args[argv[i].slice(2)] = argv[i + 1];
  }
  return args;
}

module.exports = {
  SIZES, UTF8_TEXT, CLIENT_CLOSE, SERVER_CLOSE, SUBPROTOCOLS_OFFERED, SUBPROTOCOLS_SUPPORTED,
  MAX_SIZE, CASE_TIMEOUT_MS, makeText, makeBinary, echoCases, streamMessages, checkEcho, Inbox, Report,
  withTimeout, parseArgs,
};
