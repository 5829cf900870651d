package nurserytest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The package's own leak check is goleak's, a judge independent of the code
// under test; the tests that leak on purpose release their goroutines.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
