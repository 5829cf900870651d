"""trio-websocket server peer for gotrio's client interop tests.

Usage: /usr/bin/python3 trio_server.py [--peer NAME]
Prints "READY <port>", serves until stdin reaches EOF (or a hard time limit).
Paths: /echo, /ping, /close, /reject, /subprotocol (see ../README.md).
"""

import functools
import sys
import urllib.parse

import trio
from trio_websocket import ConnectionClosed, serve_websocket

import common

HARD_LIMIT = 300


class Server:
    def __init__(self, peer):
        self.peer = peer
        self.failures = 0

    def fail(self, what):
        self.failures += 1
        print("FAIL %s" % what, flush=True)

    async def handler(self, request):
        url = urllib.parse.urlsplit(request.path)
        case = urllib.parse.parse_qs(url.query).get("case", [""])[0]
        if url.path == "/reject":
            await request.reject(
                403, extra_headers=[(b"X-Interop-Reject", b"yes")],
                body=("rejected by " + self.peer).encode())
            return
        if url.path == "/subprotocol":
            chosen = next((p for p in request.proposed_subprotocols
                           if p in common.SUBPROTOCOLS_SUPPORTED), None)
            ws = await request.accept(subprotocol=chosen)
        else:
            ws = await request.accept()
        try:
            with trio.fail_after(60):
                await self.serve(ws, url.path, case)
        except Exception as exc:  # report, but keep serving other clients
            self.fail("%s: %s: %r" % (url.path, type(exc).__name__, exc))

    async def serve(self, ws, path, case):
        if path == "/echo":
            await self.echo(ws, case)
        elif path == "/ping":
            with trio.fail_after(common.CASE_TIMEOUT):
                await ws.ping(("ping from " + self.peer).encode())
            await ws.send_message("pinged")
            await self.drain(ws)
        elif path == "/close":
            await ws.aclose(*common.SERVER_CLOSE)
        elif path == "/subprotocol":
            await ws.send_message(ws.subprotocol or "none")
            await self.drain(ws)
        else:
            await ws.aclose(4004, "unknown path " + path)

    async def echo(self, ws, case):
        try:
            while True:
                await ws.send_message(await ws.get_message())
        except ConnectionClosed as exc:
            print("CLOSE %s %d %s" % (case or "-", exc.reason.code,
                                      exc.reason.reason or ""), flush=True)

    async def drain(self, ws):
        try:
            while True:
                await ws.get_message()
        except ConnectionClosed:
            pass


async def wait_stdin_eof():
    await trio.to_thread.run_sync(sys.stdin.read, cancellable=True)


async def main(peer):
    server = Server(peer)
    with trio.move_on_after(HARD_LIMIT):
        async with trio.open_nursery() as nursery:
            ws_server = await nursery.start(functools.partial(
                serve_websocket, server.handler, "127.0.0.1", 0, None,
                max_message_size=common.MAX_SIZE))
            print("READY %d" % ws_server.port, flush=True)
            await wait_stdin_eof()
            nursery.cancel_scope.cancel()
    sys.exit(1 if server.failures else 0)


if __name__ == "__main__":
    args = common.parse_args(sys.argv[1:])
    trio.run(main, args.get("peer", "trio-websocket"))
