// Package leak holds gotrio's cross-package lifecycle tests. They check the
// product's central promise: once Open, Serve (or a mounted HTTPHandler's
// ServeHTTP) and Close have returned, no goroutine of ours remains, and none
// of them hangs on the way there.
//
// Every scenario is checked twice: goleak.VerifyNone at the end of each test
// (and goleak.VerifyTestMain for the package), and a stricter scan of
// runtime.Stack for any goroutine still running code of the module
// github.com/gotrio/gotrio right after the scenario returned.
//
// Scenarios that depend on time run inside testing/synctest bubbles over
// net.Pipe connections (a server mounted with wsock.NewHTTPHandler on a
// pipe "listener", or a scripted raw peer); those that need Serve run over
// loopback TCP. None waits with time.Sleep.
package leak
