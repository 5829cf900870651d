"""trio-websocket client peer: runs every client case against a gotrio server.

Usage: /usr/bin/python3 trio_client.py --port PORT [--peer NAME] [--server NAME]
(--server names the server, as its rejection body says: "rejected by NAME").
"""

import sys

import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket

import common


async def run_case(report, name, body):
    try:
        with trio.fail_after(common.CASE_TIMEOUT):
            detail = await body()
    except Exception as exc:  # a case failing must not stop the others
        detail = "%s: %r" % (type(exc).__name__, exc)
    if detail:
        report.fail(name, detail)
    else:
        report.ok(name)


def connect(port, path, **kw):
    return open_websocket("127.0.0.1", port, path, use_ssl=False,
                          max_message_size=common.MAX_SIZE, **kw)


async def main(port, peer, server):
    report = common.Report()

    for name, payload in common.echo_cases():
        async def echo(payload=payload):
            async with connect(port, "/echo") as ws:
                await ws.send_message(payload)
                return common.check_echo(payload, await ws.get_message())
        await run_case(report, name, echo)

    async def ping():
        async with connect(port, "/echo") as ws:
            await ws.ping(("ping from " + peer).encode())
    await run_case(report, "ping", ping)

    async def server_ping():
        async with connect(port, "/ping") as ws:
            got = await ws.get_message()
            if got != "pinged":
                return "got %r, want 'pinged'" % (got,)
    await run_case(report, "server-ping", server_ping)

    async def close_from_client():
        async with connect(port, "/echo?case=close-from-client") as ws:
            await ws.send_message("hello")
            if await ws.get_message() != "hello":
                return "echo before close failed"
            await ws.aclose(*common.CLIENT_CLOSE)
            if ws.closed is None or ws.closed.code == 1006:
                return "close handshake did not complete: %r" % (ws.closed,)
    await run_case(report, "close-from-client", close_from_client)

    async def close_from_server():
        async with connect(port, "/close") as ws:
            try:
                got = await ws.get_message()
                return "got message %r, want close" % (got,)
            except ConnectionClosed as exc:
                got = (exc.reason.code, exc.reason.reason)
                if got != common.SERVER_CLOSE:
                    return "closed with %r, want %r" % (got, common.SERVER_CLOSE)
    await run_case(report, "close-from-server", close_from_server)

    async def reject():
        try:
            async with connect(port, "/reject"):
                return "connection accepted, want rejection"
        except ConnectionRejected as exc:
            headers = {k.decode().lower(): v.decode() for k, v in exc.headers}
            if exc.status_code != 403:
                return "status %d, want 403" % exc.status_code
            if headers.get("x-interop-reject") != "yes":
                return "headers %r lack X-Interop-Reject: yes" % (headers,)
            want = ("rejected by " + server).encode()
            if exc.body != want:
                return "body %r, want %r" % (exc.body, want)
    await run_case(report, "reject", reject)

    async def subprotocol():
        async with connect(port, "/subprotocol",
                           subprotocols=common.SUBPROTOCOLS_OFFERED) as ws:
            if ws.subprotocol != "gotrio.v1":
                return "negotiated %r, want 'gotrio.v1'" % (ws.subprotocol,)
            got = await ws.get_message()
            if got != "gotrio.v1":
                return "server says %r, want 'gotrio.v1'" % (got,)
    await run_case(report, "subprotocol", subprotocol)

    report.finish()


if __name__ == "__main__":
    args = common.parse_args(sys.argv[1:])
    trio.run(main, int(args["port"]), args.get("peer", "trio-websocket"),
             args.get("server", "gotrio"))
