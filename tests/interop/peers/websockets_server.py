"""Python websockets (asyncio) server peer for gotrio's client interop tests.
It accepts permessage-deflate (websockets' default).

Usage: /usr/bin/python3 websockets_server.py [--peer NAME]
Prints "READY <port>", serves until stdin reaches EOF (or a hard time limit).
Paths: /echo, /ping, /close, /reject, /subprotocol (see ../README.md).
"""

import asyncio
import http
import sys
import threading
import urllib.parse

import websockets
from websockets.exceptions import ConnectionClosed

import common

HARD_LIMIT = 300


class Server:
    def __init__(self, peer):
        self.peer = peer
        self.failures = 0

    def fail(self, what):
        self.failures += 1
        print("FAIL %s" % what, flush=True)

    async def process_request(self, path, headers):
        if urllib.parse.urlsplit(path).path == "/reject":
            return (http.HTTPStatus.FORBIDDEN, [("X-Interop-Reject", "yes")],
                    ("rejected by " + self.peer).encode())
        return None

    async def handler(self, ws):
        url = urllib.parse.urlsplit(ws.path)
        case = urllib.parse.parse_qs(url.query).get("case", [""])[0]
        try:
            await asyncio.wait_for(self.serve(ws, url.path, case), 60)
        except Exception as exc:  # report, but keep serving other clients
            self.fail("%s: %s: %r" % (url.path, type(exc).__name__, exc))

    async def serve(self, ws, path, case):
        if path == "/echo":
            try:
                async for message in ws:
                    await ws.send(message)
            except ConnectionClosed:
                pass
            print("CLOSE %s %s %s" % (case or "-", ws.close_code,
                                      ws.close_reason or ""), flush=True)
        elif path == "/ping":
            pong = await ws.ping(("ping from " + self.peer).encode())
            await asyncio.wait_for(pong, common.CASE_TIMEOUT)
            await ws.send("pinged")
            await ws.wait_closed()
        elif path == "/close":
            await ws.close(*common.SERVER_CLOSE)
        elif path == "/subprotocol":
            await ws.send(ws.subprotocol or "none")
            await ws.wait_closed()
        else:
            await ws.close(4004, "unknown path " + path)


async def wait_stdin_eof():
    # A daemon thread, so that the hard time limit can end the process while
    # the read still blocks.
    loop = asyncio.get_running_loop()
    eof = asyncio.Event()

    def read():
        sys.stdin.read()
        loop.call_soon_threadsafe(eof.set)

    threading.Thread(target=read, daemon=True).start()
    await eof.wait()


async def main(peer):
    server = Server(peer)
    async with websockets.serve(
            server.handler, "127.0.0.1", 0,
            process_request=server.process_request,
            subprotocols=common.SUBPROTOCOLS_SUPPORTED,
            max_size=common.MAX_SIZE, ping_interval=None,
            close_timeout=common.CASE_TIMEOUT) as ws_server:
        port = ws_server.sockets[0].getsockname()[1]
        print("READY %d" % port, flush=True)
        try:
            await asyncio.wait_for(wait_stdin_eof(), HARD_LIMIT)
        except asyncio.TimeoutError:
            server.fail("hard time limit reached")
    sys.exit(1 if server.failures else 0)


if __name__ == "__main__":
    args = common.parse_args(sys.argv[1:])
    asyncio.run(main(args.get("peer", "websockets")))
