// Package goleak is a stub of go.uber.org/goleak for the analyzers' test
// packages, which are type-checked in GOPATH mode: their tests end with
// goleak.VerifyTestMain, as every gotrio package's do.
package goleak

// TestingM is the part of *testing.M that VerifyTestMain uses.
type TestingM interface {
	Run() int
}

// Option configures a verification.
type Option interface{}

// VerifyTestMain runs the tests and then checks that no goroutine leaked.
func VerifyTestMain(m TestingM, options ...Option) {}
