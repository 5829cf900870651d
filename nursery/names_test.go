package nursery_test

import (
	"bytes"
	"context"
	"runtime/pprof"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
)

func failWithBoom(ctx context.Context) error { return errBoom }

type worker struct{}

func (worker) run(ctx context.Context) error { return errBoom }

// taskName runs fn with Go in a nursery of its own and returns the task name
// of its failure.
func taskName(t *testing.T, fn func(ctx context.Context) error) string {
	t.Helper()
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(fn)
		return nil
	})
	var te *nursery.TaskError
	require.ErrorAs(t, err, &te)
	return te.Task
}

func TestDefaultTaskNameIsTheFunctionsName(t *testing.T) {
	assert.Equal(t, "nursery_test.failWithBoom", taskName(t, failWithBoom))
	assert.Equal(t, "nursery_test.worker.run-fm", taskName(t, worker{}.run))
	assert.Equal(t, "nursery_test.TestDefaultTaskNameIsTheFunctionsName.func1",
		taskName(t, func(ctx context.Context) error { return errBoom }))
}

func TestTasksOfDifferentFunctionsKeepTheirNames(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		for range 2 {
			n.Go(failWithBoom)
			n.GoNamed("named", failWithBoom)
			n.Go(worker{}.run)
		}
		return nil
	})
	names := map[string]int{}
	for _, e := range group(t, err).Errs {
		names[e.(*nursery.TaskError).Task]++
	}
	assert.Equal(t, map[string]int{
		"nursery_test.failWithBoom":  2,
		"named":                      2,
		"nursery_test.worker.run-fm": 2,
	}, names)
}

func TestTaskContextCarriesItsPathInTheTaskTree(t *testing.T) {
	var paths []string
	record := func(ctx context.Context) {
		p, _ := pprof.Label(ctx, nursery.LabelKey)
		paths = append(paths, p)
	}
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("server", func(ctx context.Context) error {
			record(ctx)
			return nursery.Run(ctx, func(ctx context.Context, m *nursery.Nursery) error {
				_, err := nursery.Start(ctx, m, func(ctx context.Context, ts nursery.TaskStatus[int]) error {
					record(ctx)
					ts.Started(0)
					return nil
				})
				return err
			})
		})
		return nil
	})
	require.NoError(t, err)
	require.Len(t, paths, 2)
	assert.Equal(t, "server", paths[0])
	assert.True(t, strings.HasPrefix(paths[1], "server/nursery_test.TestTaskContextCarriesItsPathInTheTaskTree.func"), paths[1])
}

// A goroutine dump shows the task tree: every task goroutine carries its path
// as a pprof label.
func TestGoroutineProfileShowsTheTaskTree(t *testing.T) {
	var profile bytes.Buffer
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		ready := make(chan struct{})
		n.GoNamed("server", func(ctx context.Context) error {
			return nursery.Run(ctx, func(ctx context.Context, m *nursery.Nursery) error {
				m.GoNamed("conn", func(ctx context.Context) error {
					close(ready)
					<-ctx.Done()
					return nil
				})
				return nil
			})
		})
		<-ready
		require.NoError(t, pprof.Lookup("goroutine").WriteTo(&profile, 1))
		n.Scope().Cancel("done")
		return nil
	})
	require.NoError(t, err)
	assert.Contains(t, profile.String(), `# labels: {"task":"server"}`)
	assert.Contains(t, profile.String(), `# labels: {"task":"server/conn"}`)
}

func TestGoNamedNameAppearsInErrorsAndPanics(t *testing.T) {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("fetch example.com", failWithBoom)
		return nil
	})
	assert.EqualError(t, err, "task fetch example.com: boom")

	pe := panicError(t, recovered(func() {
		_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
			n.GoNamed("fetch example.com", panicsWithKaboom)
			return nil
		})
	}))
	assert.Equal(t, "fetch example.com", pe.Task)
}
