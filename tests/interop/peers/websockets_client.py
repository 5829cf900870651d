"""Python websockets (asyncio) client peer: runs every client case against a
gotrio server. websockets offers permessage-deflate by default, so the echo
cases run compressed when the server accepts it.

Usage: /usr/bin/python3 websockets_client.py --port PORT [--peer NAME]
"""

import asyncio
import sys

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode

import common


async def run_case(report, name, body):
    try:
        detail = await asyncio.wait_for(body(), common.CASE_TIMEOUT)
    except Exception as exc:  # a case failing must not stop the others
        detail = "%s: %r" % (type(exc).__name__, exc)
    if detail:
        report.fail(name, detail)
    else:
        report.ok(name)


def connect(port, path, **kw):
    return websockets.connect("ws://127.0.0.1:%d%s" % (port, path),
                              max_size=common.MAX_SIZE, ping_interval=None,
                              open_timeout=common.CASE_TIMEOUT,
                              close_timeout=common.CASE_TIMEOUT, **kw)


async def main(port, peer):
    report = common.Report()

    for name, payload in common.echo_cases():
        async def echo(payload=payload):
            async with connect(port, "/echo") as ws:
                await ws.send(payload)
                return common.check_echo(payload, await ws.recv())
        await run_case(report, name, echo)

    async def ping():
        async with connect(port, "/echo") as ws:
            pong = await ws.ping(("ping from " + peer).encode())
            await pong
    await run_case(report, "ping", ping)

    async def server_ping():
        async with connect(port, "/ping") as ws:
            got = await ws.recv()
            if got != "pinged":
                return "got %r, want 'pinged'" % (got,)
    await run_case(report, "server-ping", server_ping)

    async def close_from_client():
        async with connect(port, "/echo?case=close-from-client") as ws:
            await ws.send("hello")
            if await ws.recv() != "hello":
                return "echo before close failed"
            await ws.close(*common.CLIENT_CLOSE)
            if ws.close_code in (None, 1006):
                return "close handshake did not complete: code %r" % ws.close_code
    await run_case(report, "close-from-client", close_from_client)

    async def close_from_server():
        async with connect(port, "/close") as ws:
            try:
                got = await ws.recv()
                return "got message %r, want close" % (got,)
            except ConnectionClosed as exc:
                if exc.rcvd is None:
                    return "no close frame received: %s" % exc
                got = (exc.rcvd.code, exc.rcvd.reason)
                if got != common.SERVER_CLOSE:
                    return "closed with %r, want %r" % (got, common.SERVER_CLOSE)
    await run_case(report, "close-from-server", close_from_server)

    async def reject():
        # websockets exposes the status and headers of a rejection, not the body.
        try:
            async with connect(port, "/reject"):
                return "connection accepted, want rejection"
        except InvalidStatusCode as exc:
            if exc.status_code != 403:
                return "status %d, want 403" % exc.status_code
            if exc.headers.get("X-Interop-Reject") != "yes":
                return "headers %r lack X-Interop-Reject: yes" % (exc.headers,)
    await run_case(report, "reject", reject)

    async def subprotocol():
        async with connect(port, "/subprotocol",
                           subprotocols=common.SUBPROTOCOLS_OFFERED) as ws:
            if ws.subprotocol != "gotrio.v1":
                return "negotiated %r, want 'gotrio.v1'" % (ws.subprotocol,)
            got = await ws.recv()
            if got != "gotrio.v1":
                return "server says %r, want 'gotrio.v1'" % (got,)
    await run_case(report, "subprotocol", subprotocol)

    async def deflate():
        async with connect(port, "/echo", compression="deflate") as ws:
            names = [ext.name for ext in ws.extensions]
            if "permessage-deflate" not in names:
                return "permessage-deflate not negotiated (extensions %r)" % names
            payload = common.make_text(256 << 10)
            await ws.send(payload)
            return common.check_echo(payload, await ws.recv())
    await run_case(report, "deflate", deflate)

    async def deflate_stream():
        # Many similar messages on one connection: exercises context takeover
        # when the server allows it.
        async with connect(port, "/echo", compression="deflate") as ws:
            for payload in common.stream_messages():
                await ws.send(payload)
                detail = common.check_echo(payload, await ws.recv())
                if detail:
                    return detail
    await run_case(report, "deflate-stream", deflate_stream)

    report.finish()


if __name__ == "__main__":
    args = common.parse_args(sys.argv[1:])
    asyncio.run(main(int(args["port"]), args.get("peer", "websockets")))
