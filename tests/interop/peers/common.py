"""Shared helpers for the Python interop peers of gotrio's wsock tests.

Every peer speaks the same small protocol with the Go tests (see ../README.md):
clients print one ``PASS name`` or ``FAIL name: detail`` line per case and exit
non-zero if any case failed; servers print ``READY <port>`` once listening,
``CLOSE <case> <code> <reason>`` when a client closes an /echo connection, and
exit when their standard input reaches EOF (non-zero if anything went wrong).
"""

import sys

SIZES = [0, 125, 126, 65535, 65536, 1 << 20]
UTF8_TEXT = "héllo wörld ✓ 🚀 ünïcödé"
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
CLIENT_CLOSE = (4001, "bye from client")
SERVER_CLOSE = (4002, "bye from server")
SUBPROTOCOLS_OFFERED = ["unknown.v9", "gotrio.v1"]
SUBPROTOCOLS_SUPPORTED = ["gotrio.v1"]
# Room for the 1 MiB cases plus framing; the peers' defaults are exactly 1 MiB.
MAX_SIZE = 4 << 20
CASE_TIMEOUT = 20


def make_text(n):
    """An ASCII string of exactly n bytes."""
    reps = n // len(ALPHABET) + 1
    return (ALPHABET * reps)[:n]


def make_binary(n):
    """n bytes covering every byte value."""
    return bytes((i * 31 + 7) & 0xFF for i in range(n))


def echo_cases():
    """(name, payload) for every echo case, text and binary."""
    cases = [("text-%d" % n, make_text(n)) for n in SIZES]
    cases.append(("text-utf8", UTF8_TEXT))
    cases += [("binary-%d" % n, make_binary(n)) for n in SIZES]
    return cases


def stream_messages():
    """Similar, compressible messages for one connection, text and binary."""
    msgs = []
    for i in range(20):
        text = '{"seq": %d, "text": "%s"}' % (i, "the quick brown fox jumps over the lazy dog " * (i + 1))
        msgs.append(text if i % 4 else text.encode())
    return msgs


def describe(payload):
    kind = "text" if isinstance(payload, str) else "binary"
    return "%s(%d)" % (kind, len(payload))


class Report:
    """Collects case outcomes and prints them as they happen."""

    def __init__(self):
        self.failed = 0
        self.passed = 0

    def ok(self, name):
        self.passed += 1
        print("PASS", name, flush=True)

    def fail(self, name, detail):
        self.failed += 1
        detail = str(detail).replace("\n", " ")
        print("FAIL %s: %s" % (name, detail), flush=True)

    def finish(self):
        print("DONE passed=%d failed=%d" % (self.passed, self.failed), flush=True)
        sys.exit(1 if self.failed else 0)


def check_echo(sent, got):
    """None if got is an exact echo of sent (same type), else a description."""
    if type(sent) is not type(got):
        return "sent %s, got %s" % (describe(sent), describe(got))
    if sent != got:
        return "sent %s, got different %s" % (describe(sent), describe(got))
    return None


def parse_args(argv):
    """--port N --mode M style arguments into a dict."""
    args = {}
    it = iter(argv)
    for key in it:
        if not key.startswith("--"):
            raise SystemExit("unexpected argument %r" % key)
        args[key[2:]] = next(it)
    return args
