// Package leak holds gotrio's cross-package lifecycle tests. They check the
// product's central promise: once Open, Serve (or a mounted HTTPHandler's
// ServeHTTP) and Close have returned, no goroutine of ours remains, and none
// of them hangs on the way there.
//
// Every scenario is checked twice: goleak.VerifyNone at the end of each test
// (and nurserytest.VerifyTestMain for the package), and a stricter scan of
// the goroutines (nurserytest.Goroutines) for any one still running code of
// the module github.com/gotrio/gotrio right after the scenario returned,
// reported as the task tree it belongs to.
//
// Scenarios that depend on time run inside testing/synctest bubbles over
// net.Pipe connections (a wsocktest server with Options.Pipe, or a scripted
// raw peer); the others run over loopback TCP. None waits with time.Sleep.
package leak
