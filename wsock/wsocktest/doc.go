// Package wsocktest runs WebSocket servers for tests, in the manner of
// net/http/httptest: NewServer serves a handler on a loopback port (or in
// memory) for the rest of a test, and Pipe connects a client and a server
// *wsock.Conn without a socket, for unit tests of code that talks over one.
//
// Everything a test server runs belongs to a task subtree of its own
// ("wsocktest server 3/…"; see nursery.LabelKey). At the end of the test
// (t.Cleanup) the server drains — handlers are cancelled, connections are
// closed with 1001 GoingAway and their closing handshakes awaited — and then
// nurserytest.VerifyNoneUnder checks that no goroutine of that subtree
// remains: a handler that leaks a goroutine fails the test, with a report
// that names the task. The check looks at the server's subtree only, so it
// holds in parallel tests.
package wsocktest
