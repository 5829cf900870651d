'use strict';
// Node ws server peer for gotrio's client interop tests.
// Usage: node ws_server.js --mode plain|deflate
// Prints "READY <port>", serves until stdin reaches EOF (or a hard time limit).
// Paths: /echo, /ping, /close, /reject, /subprotocol (see ../README.md).

const http = require('http');
const path = require('path');
const { URL } = require('url');
const WebSocket = require(require.resolve('ws', { paths: [path.join(__dirname, '..', 'node')] }));
const c = require('./common');

const HARD_LIMIT_MS = 300000;
const args = c.parseArgs(process.argv.slice(2));
const mode = args.mode || 'plain';
const peer = args.peer || `ws-${mode}`;
let failures = 0;

function fail(what) {
  failures++;
  console.log(`FAIL ${what}`);
}

const wss = new WebSocket.Server({
  noServer: true,
  perMessageDeflate: mode === 'deflate',
  maxPayload: c.MAX_SIZE,
  handleProtocols: (protocols) => {
    for (const p of protocols) if (c.SUBPROTOCOLS_SUPPORTED.includes(p)) return p;
    return false;
  },
});

const server = http.createServer((req, res) => {
  res.writeHead(426, { 'Content-Type': 'text/plain' });
  res.end('WebSocket only');
});

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'ws://localhost');
  if (url.pathname === '/reject') {
    const body = Buffer.from(`rejected by ${peer}`);
    socket.end(
      'HTTP/1.1 403 Forbidden\r\n' +
      'X-Interop-Reject: yes\r\n' +
      'Content-Type: text/plain\r\n' +
      `Content-Length: ${body.length}\r\n` +
      'Connection: close\r\n\r\n' + body.toString(),
    );
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    serve(ws, url.pathname, url.searchParams.get('case') || '-')
      .catch((err) => fail(`${url.pathname}: ${err.message}`))
      .finally(() => ws.terminate());
  });
});

async function serve(ws, pathname, caseName) {
  const inbox = new c.Inbox(ws);
  const deadline = (p, what) => c.withTimeout(p, 60000, what);
  switch (pathname) {
    case '/echo':
      for (;;) {
        const msg = await deadline(inbox.next(), 'echo');
        if (msg.close) {
          console.log(`CLOSE ${caseName} ${msg.close.code} ${msg.close.reason}`);
          return;
        }
        if (msg.error) throw msg.error;
        ws.send(msg.data, { binary: msg.isBinary });
      }
    case '/ping': {
      const payload = Buffer.from(`ping from ${peer}`);
      const pong = new Promise((resolve) => ws.once('pong', resolve));
      ws.ping(payload);
      const got = await c.withTimeout(pong, c.CASE_TIMEOUT_MS, 'pong');
      if (!got.equals(payload)) throw new Error(`pong payload ${got}, want ${payload}`);
      ws.send('pinged');
      await deadline(inbox.nextClose(), 'close after ping');
      return;
    }
    case '/close':
      ws.close(...c.SERVER_CLOSE);
      await deadline(inbox.nextClose(), 'close handshake');
      return;
    case '/subprotocol':
      ws.send(ws.protocol || 'none');
      await deadline(inbox.nextClose(), 'close after subprotocol');
      return;
    default:
      ws.close(4004, `unknown path ${pathname}`);
      await deadline(inbox.nextClose(), 'close handshake');
  }
}

server.listen(0, '127.0.0.1', () => {
  console.log(`READY ${server.address().port}`);
});

function shutdown() {
  for (const ws of wss.clients) ws.terminate();
  server.close();
  process.exitCode = failures ? 1 : 0;
  // Sockets that are still half-open must not keep the process alive.
  setTimeout(() => process.exit(process.exitCode), 2000).unref();
}

process.stdin.on('data', () => {});
process.stdin.on('end', shutdown);
setTimeout(() => {
  fail('hard time limit reached');
  shutdown();
}, HARD_LIMIT_MS).unref();
