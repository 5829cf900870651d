// Package interop holds gotrio's WebSocket interoperability tests: wsock's
// server against real third-party clients (Python trio-websocket and
// websockets, Node ws with and without permessage-deflate, headless Chromium)
// and wsock's client against real third-party servers (trio-websocket,
// websockets, ws). The peers run as subprocesses on loopback; their scripts
// live in peers/ and README.md describes the line protocol they speak with the
// tests. A missing peer skips its test with a hint to run `make peers`, except
// under CI=true, where it fails.
package interop
