package conformance

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// hasToken reports whether the comma-separated header values hold token, case-insensitively.
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// dialFuzzer opens the fuzzer's client connection to the server under test at addr, with
// the opening handshake Autobahn's client sends (offering permessage-deflate when offers is
// not empty). A handshake the server gets wrong is an error.
func dialFuzzer(addr, path string, offers []pmdOffer, timeout time.Duration) (*fuzzer, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	f, err := clientHandshake(conn, addr, path, offers, timeout)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return f, nil
}

func clientHandshake(conn net.Conn, host, path string, offers []pmdOffer, timeout time.Duration) (*fuzzer, error) {
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	key := base64.StdEncoding.EncodeToString(raw[:])
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path, host)
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", key)
	if len(offers) > 0 {
		fmt.Fprintf(&b, "Sec-WebSocket-Extensions: %s\r\n", offerHeader(offers))
	}
	b.WriteString("\r\n")
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return nil, fmt.Errorf("send handshake: %w", err)
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		return nil, fmt.Errorf("read handshake answer: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	switch {
	case resp.StatusCode != http.StatusSwitchingProtocols:
		return nil, fmt.Errorf("handshake answered %s", resp.Status)
	case !hasToken(resp.Header, "Upgrade", "websocket"):
		return nil, fmt.Errorf("answer lacks Upgrade: websocket: %v", resp.Header)
	case !hasToken(resp.Header, "Connection", "upgrade"):
		return nil, fmt.Errorf("answer lacks Connection: Upgrade: %v", resp.Header)
	case resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key):
		return nil, fmt.Errorf("Sec-WebSocket-Accept %q, want %q", resp.Header.Get("Sec-WebSocket-Accept"), acceptKey(key))
	}
	var pmd *pmdSession
	if ext := strings.Join(resp.Header.Values("Sec-WebSocket-Extensions"), ", "); ext != "" {
		if len(offers) == 0 {
			return nil, fmt.Errorf("server chose extensions %q, none were offered", ext)
		}
		if pmd, err = clientSession(ext, offers); err != nil {
			return nil, err
		}
	}
	return newFuzzer(conn, br, true, pmd, timeout), nil
}

// acceptFuzzer accepts the client under test on ln and answers its opening handshake as
// Autobahn's server does, accepting permessage-deflate with the first of accepts that
// fits an offer (none: the extension is declined). A handshake the client gets wrong is
// an error.
func acceptFuzzer(ln net.Listener, accepts []pmdAccept, timeout time.Duration) (*fuzzer, string, error) {
	if tl, ok := ln.(*net.TCPListener); ok {
		_ = tl.SetDeadline(time.Now().Add(timeout))
	}
	conn, err := ln.Accept()
	if err != nil {
		return nil, "", fmt.Errorf("accept: %w", err)
	}
	f, path, err := serverHandshake(conn, accepts, timeout)
	if err != nil {
		_ = conn.Close()
		return nil, "", err
	}
	return f, path, nil
}

func serverHandshake(conn net.Conn, accepts []pmdAccept, timeout time.Duration) (*fuzzer, string, error) {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	br := bufio.NewReaderSize(conn, 64<<10)
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, "", fmt.Errorf("read handshake: %w", err)
	}
	key := req.Header.Get("Sec-WebSocket-Key")
	raw, _ := base64.StdEncoding.DecodeString(key)
	switch {
	case req.Method != http.MethodGet:
		return nil, "", fmt.Errorf("handshake method %s", req.Method)
	case !hasToken(req.Header, "Upgrade", "websocket"):
		return nil, "", fmt.Errorf("handshake lacks Upgrade: websocket: %v", req.Header)
	case !hasToken(req.Header, "Connection", "upgrade"):
		return nil, "", fmt.Errorf("handshake lacks Connection: Upgrade: %v", req.Header)
	case req.Header.Get("Sec-WebSocket-Version") != "13":
		return nil, "", fmt.Errorf("Sec-WebSocket-Version %q", req.Header.Get("Sec-WebSocket-Version"))
	case len(raw) != 16:
		return nil, "", fmt.Errorf("Sec-WebSocket-Key %q is not 16 bytes in base64", key)
	}
	var pmd *pmdSession
	var extHeader string
	if offer := strings.Join(req.Header.Values("Sec-WebSocket-Extensions"), ", "); offer != "" && len(accepts) > 0 {
		if pmd, extHeader, err = serverSession(offer, accepts); err != nil {
			return nil, "", err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
	fmt.Fprintf(&b, "Sec-WebSocket-Accept: %s\r\n", acceptKey(key))
	if extHeader != "" {
		fmt.Fprintf(&b, "Sec-WebSocket-Extensions: %s\r\n", extHeader)
	}
	b.WriteString("\r\n")
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return nil, "", fmt.Errorf("answer handshake: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	return newFuzzer(conn, br, false, pmd, timeout), req.URL.RequestURI(), nil
}
