package bench

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the benchmarks under goleak, or, when the test binary was
// started by a WebSocket benchmark as its peer process (see childEnv), runs
// that peer instead of the tests.
func TestMain(m *testing.M) {
	if mode, ok := os.LookupEnv(childEnv); ok {
		os.Exit(runChild(mode))
	}
	raiseFileLimit()
	goleak.VerifyTestMain(m)
}
