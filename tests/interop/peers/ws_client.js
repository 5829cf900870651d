'use strict';
// Node ws client peer: runs every client case against a gotrio server.
// Usage: node ws_client.js --port PORT --mode plain|deflate|deflate-options [--server NAME]
//   plain            permessage-deflate off
//   deflate          permessage-deflate offered with ws' defaults
//   deflate-options  offered with no_context_takeover both ways and client_max_window_bits=10

const path = require('path');
const WebSocket = require(require.resolve('ws', { paths: [path.join(__dirname, '..', 'node')] }));
const c = require('./common');

const DEFLATE = {
  plain: false,
  deflate: true,
  'deflate-options': {
    clientNoContextTakeover: true,
    serverNoContextTakeover: true,
    clientMaxWindowBits: 10,
  },
};

function open(port, resource, protocols, mode) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${resource}`, protocols, {
    perMessageDeflate: DEFLATE[mode],
    maxPayload: c.MAX_SIZE,
    handshakeTimeout: c.CASE_TIMEOUT_MS,
  });
  const inbox = new c.Inbox(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, inbox }));
    ws.once('error', reject);
  });
}

// closeQuietly completes the close handshake if the case left the connection open.
async function closeQuietly(conn) {
  if (conn.ws.readyState === WebSocket.OPEN) conn.ws.close(1000);
  await conn.inbox.nextClose();
}

async function main() {
  const args = c.parseArgs(process.argv.slice(2));
  const port = Number(args.port);
  const mode = args.mode || 'plain';
  const peer = args.peer || `ws-${mode}`;
  const server = args.server || 'gotrio'; // as its rejection body names it
  if (!(mode in DEFLATE)) throw new Error(`unknown mode ${mode}`);
  const report = new c.Report();

  for (const { name, payload } of c.echoCases()) {
    await report.run(name, async () => {
      const conn = await open(port, '/echo', [], mode);
      conn.ws.send(payload, { binary: Buffer.isBuffer(payload) });
      const detail = c.checkEcho(payload, await conn.inbox.next());
      await closeQuietly(conn);
      return detail;
    });
  }

  await report.run('ping', async () => {
    const conn = await open(port, '/echo', [], mode);
    const payload = Buffer.from(`ping from ${peer}`);
    const pong = new Promise((resolve) => conn.ws.once('pong', resolve));
    conn.ws.ping(payload);
    const got = await pong;
    await closeQuietly(conn);
    return got.equals(payload) ? null : `pong payload ${got}, want ${payload}`;
  });

  await report.run('server-ping', async () => {
    const conn = await open(port, '/ping', [], mode);
    const msg = await conn.inbox.next();
    await closeQuietly(conn);
    return msg.data && msg.data.toString() === 'pinged' ? null : `got ${JSON.stringify(msg)}, want 'pinged'`;
  });

  await report.run('close-from-client', async () => {
    const conn = await open(port, '/echo?case=close-from-client', [], mode);
    conn.ws.send('hello');
    const echo = await conn.inbox.next();
    if (!echo.data || echo.data.toString() !== 'hello') return 'echo before close failed';
    conn.ws.close(...c.CLIENT_CLOSE);
    const closed = await conn.inbox.nextClose();
    return closed.code === 1006 ? 'close handshake did not complete' : null;
  });

  await report.run('close-from-server', async () => {
    const conn = await open(port, '/close', [], mode);
    const msg = await conn.inbox.next();
    if (!msg.close) return `got ${JSON.stringify(msg)}, want close`;
    const got = [msg.close.code, msg.close.reason];
    return got[0] === c.SERVER_CLOSE[0] && got[1] === c.SERVER_CLOSE[1]
      ? null : `closed with ${JSON.stringify(got)}, want ${JSON.stringify(c.SERVER_CLOSE)}`;
  });

  await report.run('reject', () => new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/reject`, { perMessageDeflate: DEFLATE[mode] });
    ws.on('open', () => { ws.terminate(); resolve('connection accepted, want rejection'); });
    ws.on('error', (err) => resolve(`error instead of a rejection: ${err.message}`));
    ws.on('unexpected-response', (req, res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        req.destroy();
        if (res.statusCode !== 403) resolve(`status ${res.statusCode}, want 403`);
        else if (res.headers['x-interop-reject'] !== 'yes') resolve(`headers ${JSON.stringify(res.headers)} lack X-Interop-Reject: yes`);
        else if (body !== `rejected by ${server}`) resolve(`body ${JSON.stringify(body)}, want "rejected by ${server}"`);
        else resolve(null);
      });
    });
  }));

  await report.run('subprotocol', async () => {
    const conn = await open(port, '/subprotocol', c.SUBPROTOCOLS_OFFERED, mode);
    const proto = conn.ws.protocol;
    const msg = await conn.inbox.next();
    await closeQuietly(conn);
    if (proto !== 'gotrio.v1') return `negotiated ${JSON.stringify(proto)}, want "gotrio.v1"`;
    return msg.data && msg.data.toString() === 'gotrio.v1' ? null : `server says ${JSON.stringify(msg)}`;
  });

  if (mode !== 'plain') {
    await report.run('deflate', async () => {
      const conn = await open(port, '/echo', [], mode);
      const negotiated = conn.ws.extensions;
      const payload = c.makeText(256 << 10);
      conn.ws.send(payload);
      const detail = c.checkEcho(payload, await conn.inbox.next());
      await closeQuietly(conn);
      console.log(`NOTE ${mode} negotiated extensions: ${JSON.stringify(negotiated)}`);
      if (mode === 'deflate' && !negotiated.includes('permessage-deflate')) {
        return `permessage-deflate not negotiated (extensions ${JSON.stringify(negotiated)})`;
      }
      return detail;
    });

    await report.run('deflate-stream', async () => {
      const conn = await open(port, '/echo', [], mode);
      for (const payload of c.streamMessages()) {
        conn.ws.send(payload, { binary: Buffer.isBuffer(payload) });
        const detail = c.checkEcho(payload, await conn.inbox.next());
        if (detail) return detail;
      }
      await closeQuietly(conn);
      return null;
    });
  }

  report.finish();
}

main().catch((err) => {
  console.log(`FAIL setup: ${err.stack}`);
  process.exitCode = 1;
});
