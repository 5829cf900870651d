package conformance

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests below check the judge itself: a peer with a known flaw must get the verdict
// the flaw deserves, so that an OK from the suite means something.

// flaws make sloppyPeer misbehave.
type flaws struct {
	lenient   bool   // ignores reserved bits, reserved opcodes and invalid UTF-8
	badMask   bool   // masks as a server, does not mask as a client
	keepTCP   bool   // as a server, leaves TCP open after the closing handshake
	closeCode uint16 // fails connections with this code instead of 1002 or 1007
}

// sloppyPeer is a naive echo endpoint: it checks UTF-8 only once a message is complete
// (never fail-fast) and, with flaws, worse. It returns when the connection ends.
func sloppyPeer(conn net.Conn, br *bufio.Reader, client bool, fl flaws) {
	defer conn.Close()
	mask := client != fl.badMask
	fail := func(code uint16) {
		if fl.closeCode != 0 {
			code = fl.closeCode
		}
		_, _ = conn.Write(appendFrame(nil, true, 0, opClose, binary.BigEndian.AppendUint16(nil, code), mask))
	}
	var msg []byte
	var msgOp byte
	for {
		fr, err := readFrame(br)
		if err != nil {
			return
		}
		if !fl.lenient && (fr.rsv != 0 || fr.op >= 3 && fr.op <= 7 || fr.op >= 0xB) {
			fail(1002)
			return
		}
		switch fr.op {
		case opText, opBinary, opCont:
			if fr.op != opCont {
				msg, msgOp = nil, fr.op
			}
			msg = append(msg, fr.payload...)
			if !fr.fin {
				continue
			}
			if msgOp == opText && !fl.lenient && !utf8.Valid(msg) {
				fail(1007)
				return
			}
			_, _ = conn.Write(appendFrame(nil, true, 0, msgOp, msg, mask))
		case opPing:
			_, _ = conn.Write(appendFrame(nil, true, 0, opPong, fr.payload, mask))
		case opClose:
			_, _ = conn.Write(appendFrame(nil, true, 0, opClose, fr.payload, mask))
			if client || fl.keepTCP {
				_, _ = br.WriteTo(bytes.NewBuffer(nil)) // wait for the other side to close TCP
			}
			return
		}
	}
}

// serveSloppy accepts one connection on ln and serves it with sloppyPeer.
func serveSloppy(ln net.Listener, fl flaws) error {
	conn, err := ln.Accept()
	if err != nil {
		return err
	}
	br := bufio.NewReader(conn)
	req, err := http.ReadRequest(br)
	if err != nil {
		conn.Close()
		return err
	}
	fmt.Fprintf(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		acceptKey(req.Header.Get("Sec-WebSocket-Key")))
	sloppyPeer(conn, br, false, fl)
	return nil
}

// dialSloppy connects a sloppyPeer client to addr.
func dialSloppy(addr string, fl flaws) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", addr, key)
	br := bufio.NewReader(conn)
	if _, err := http.ReadResponse(br, nil); err != nil {
		conn.Close()
		return err
	}
	sloppyPeer(conn, br, true, fl)
	return nil
}

func TestJudgeGivesFlawedPeersTheirVerdict(t *testing.T) {
	cl := loadCases(t)
	byID := map[string]*scenario{}
	for _, sc := range scenarios(t, cl) {
		byID[sc.id] = sc
	}
	const timeout = 500 * time.Millisecond
	tests := []struct {
		name   string
		id     string
		client bool // the flawed peer is the client
		flaws  flaws
		want   verdict
		detail string // a part of the outcome's detail
	}{
		{"a naive echo server passes the basics", "1.1.8", false, flaws{}, OK, ""},
		{"a naive echo server fails invalid UTF-8", "6.3.1", false, flaws{}, OK, ""},
		{"a naive echo server is not fail-fast", "6.4.1", false, flaws{}, NonStrict, "not fail-fast"},
		{"a naive echo client is not fail-fast", "6.4.3", true, flaws{}, NonStrict, "not fail-fast"},
		{"reserved bits must fail the connection", "3.1", false, flaws{lenient: true}, Failed, "did not fail the connection"},
		{"reserved opcodes must fail the connection", "4.2.1", true, flaws{lenient: true}, Failed, "did not fail the connection"},
		{"an echo of invalid UTF-8 is a violation", "6.3.2", false, flaws{lenient: true}, Failed, "not valid UTF-8"},
		{"a server must not mask", "2.2", false, flaws{badMask: true}, Failed, "masked pong frame from the server"},
		{"a client must mask", "1.2.1", true, flaws{badMask: true}, Failed, "unmasked binary frame from the client"},
		{"a server must close TCP", "7.3.3", false, flaws{keepTCP: true}, Failed, "did not close TCP"},
		{"a protocol error needs its code", "3.1", false, flaws{closeCode: 1000}, Failed, "WRONG CODE"},
		{"invalid UTF-8 needs its code", "6.3.1", true, flaws{closeCode: 1011}, Failed, "WRONG CODE"},
		{"an invalid close code must not be echoed", "7.9.1", true, flaws{}, Failed, "close code 0 may not be sent"},
		{"a continuation needs a message", "5.1", false, flaws{lenient: true}, Failed, "continuation frame outside a message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sc := byID[tt.id]
			require.NotNil(t, sc, tt.id)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			peerDone := make(chan error, 1)
			var o outcome
			if tt.client {
				//gotrio:go the sloppy peer is plain net code outside gotrio; joined by <-peerDone
				go func() { peerDone <- dialSloppy(ln.Addr().String(), tt.flaws) }()
				f, _, err := acceptFuzzer(ln, nil, timeout)
				require.NoError(t, err)
				o = play(f, sc)
			} else {
				//gotrio:go the sloppy peer is plain net code outside gotrio; joined by <-peerDone
				go func() { peerDone <- serveSloppy(ln, tt.flaws) }()
				o = runServerCase(sc, ln.Addr().String(), timeout)
			}
			require.NoError(t, <-peerDone)
			assert.Equal(t, tt.want, o.verdict, o.detail)
			assert.True(t, strings.Contains(o.detail, tt.detail), "detail %q lacks %q", o.detail, tt.detail)
		})
	}
}
