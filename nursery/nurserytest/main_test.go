package nurserytest_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/nursery/nurserytest"
)

// childEnv, when set, makes the test binary a child run of
// TestVerifyTestMainInAProcessOfItsOwn: its TestMain is the one under test.
const childEnv = "NURSERYTEST_CHILD"

// The package's own leak check is goleak's, a judge independent of the code
// under test; the tests that leak on purpose release their goroutines.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		nurserytest.VerifyTestMain(m)
	}
	goleak.VerifyTestMain(m)
}
