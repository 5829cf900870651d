package interop

import (
	"testing"

	"github.com/gotrio/gotrio/nursery/nurserytest"
)

func TestMain(m *testing.M) { nurserytest.VerifyTestMain(m) }
