package nurserytest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
)

// TestChildLeaksATask passes while leaving a goroutine of task
// "server/conn 3" behind, in a child run only.
func TestChildLeaksATask(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("the child run of TestVerifyTestMainInAProcessOfItsOwn")
	}
	never := make(chan struct{})
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("server", func(ctx context.Context) error {
			return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
				n.GoNamed("conn 3", func(context.Context) error {
					go block(never) //gotrio:go the leak the child process reports; the process exits
					return nil
				})
				return nil
			})
		})
		return nil
	})
	require.NoError(t, err)
}

func TestVerifyTestMainInAProcessOfItsOwn(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("in the child run")
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestChildLeaksATask$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "the child fails: %v\n%s", err, out)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Regexp(t, `nurserytest: errors on a successful test run: nurserytest: 1 leaked goroutine, by task:\n`+
		`server\n  conn 3\n    goroutine \d+ \[chan receive\]\n        blocks in   \S+nurserytest_test.block `, string(out))
}
