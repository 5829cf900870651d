package nurserytest_test

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/nursery/nurserytest"
)

// fakeT records what a Verify function reports, so that a test can leak on
// purpose, check the report and clean up.
type fakeT struct {
	mu     sync.Mutex
	errors []string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Error(args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprint(args...))
}

// report returns the one failure reported, failing t if there is not
// exactly one.
func (f *fakeT) report(t *testing.T) string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Len(t, f.errors, 1, "one failure reported")
	return f.errors[0]
}

// here returns the file:line of its caller, plus offset lines.
func here(offset int) string {
	_, file, line, _ := runtime.Caller(1)
	return fmt.Sprintf("%s:%d", file, line+offset)
}

// block waits for release: the place where the tests' leaked goroutines
// block.
func block(release <-chan struct{}) { <-release }

// blockLine is where block waits: on the line that declares it.
var blockLine = func() string {
	pc := reflect.ValueOf(block).Pointer()
	file, line := runtime.FuncForPC(pc).FileLine(pc)
	return fmt.Sprintf("%s:%d", file, line)
}()

// readerLine is where the reader of leakTree calls block.
var readerLine string

// leakTree runs body in a task tree server → conn 3 → reader whose reader
// blocks until body returns, so that body sees the tree as leaked.
func leakTree(t *testing.T, body func()) {
	t.Helper()
	release := make(chan struct{})
	ready := make(chan struct{})
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("server", func(ctx context.Context) error {
			return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
				n.GoNamed("conn 3", func(ctx context.Context) error {
					return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
						n.GoNamed("reader", func(context.Context) error {
							readerLine = here(2)
							close(ready)
							block(release)
							return nil
						})
						return nil
					})
				})
				return nil
			})
		})
		<-ready
		defer close(release)
		body()
		return nil
	})
	require.NoError(t, err)
}

func TestVerifyNoneReportsLeakedTasksByTaskPath(t *testing.T) {
	ft := &fakeT{}
	leakTree(t, func() { nurserytest.VerifyNone(ft) })
	report := ft.report(t)
	assert.Contains(t, report, "nurserytest: 3 leaked goroutines, by task:\n")
	assert.Regexp(t, `\nserver\n  goroutine \d+ \[`, report, "the server task, joining its nursery")
	assert.Regexp(t, `\n  conn 3\n    goroutine \d+ \[`, report, "conn 3 under server")
	assert.Regexp(t, `\n    reader\n      goroutine \d+ \[chan receive\]\n`, report, "reader under conn 3, blocked")
}

func TestVerifyNoneReportsWhereALeakedTaskBlocks(t *testing.T) {
	ft := &fakeT{}
	leakTree(t, func() { nurserytest.VerifyNone(ft) })
	_, reader, _ := strings.Cut(ft.report(t), "    reader\n")
	assert.Contains(t, reader, "blocks in   github.com/gotrio/gotrio/nursery/nurserytest_test.block "+blockLine+"\n")
	assert.Regexp(t, `runs        github.com/gotrio/gotrio/nursery/nurserytest_test.leakTree.func[.\d]+ `+readerLine+"\n",
		reader, "the task's function")
	assert.Contains(t, reader, "created by  github.com/gotrio/gotrio/nursery.(*Nursery).GoNamed ")
}

func TestVerifyNoneReportsABareGoroutineUnderTheTaskThatStartedIt(t *testing.T) {
	ft := &fakeT{}
	release := make(chan struct{})
	var goStmt string
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		defer close(release)
		started := make(chan struct{})
		n.GoNamed("server", func(context.Context) error {
			goStmt = here(1)
			go block(release) //gotrio:go the leak under test; close(release) ends it
			close(started)
			return nil
		})
		<-started
		nurserytest.VerifyNone(ft)
		return nil
	})
	require.NoError(t, err)
	report := ft.report(t)
	assert.Regexp(t, `\nserver\n  goroutine \d+ \[chan receive\]\n`, report)
	assert.Regexp(t, `created by  github.com/gotrio/gotrio/nursery/nurserytest_test.`+
		`TestVerifyNoneReportsABareGoroutineUnderTheTaskThatStartedIt.func1.1 `+goStmt+` \(goroutine \d+\)`, report)
	assert.Contains(t, report, "blocks in   github.com/gotrio/gotrio/nursery/nurserytest_test.block "+blockLine)
}

func TestVerifyNoneReportsGoroutinesOfNoTask(t *testing.T) {
	ft := &fakeT{}
	release := make(chan struct{})
	goStmt := here(1)
	go block(release) //gotrio:go the leak under test; close(release) ends it
	nurserytest.VerifyNone(ft)
	close(release)
	report := ft.report(t)
	assert.Regexp(t, `by task:\n\(no task\)\n  goroutine \d+ \[chan receive\]\n`, report)
	assert.Contains(t, report, goStmt)
}

func TestVerifyNoneNamesTheBlockingCallAndItsCaller(t *testing.T) {
	ft := &fakeT{}
	var mu sync.Mutex
	mu.Lock()
	locker := here(3)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("locker", func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			return nil
		})
		nurserytest.VerifyNone(ft)
		mu.Unlock()
		return nil
	})
	require.NoError(t, err)
	report := ft.report(t)
	assert.Contains(t, report, "blocks in   sync.(*Mutex).Lock ", "the innermost frame outside the runtime")
	assert.Contains(t, report, "called from github.com/gotrio/gotrio/nursery/nurserytest_test."+
		"TestVerifyNoneNamesTheBlockingCallAndItsCaller.func1.1 "+locker+"\n")
}

func TestVerifyNoneAcceptsAGoroutineThatEndsWithinTheRetries(t *testing.T) {
	ft := &fakeT{}
	release := make(chan struct{})
	timer := time.AfterFunc(20*time.Millisecond, func() { close(release) })
	defer timer.Stop()
	go block(release) //gotrio:go it ends within the retries, by the timer
	nurserytest.VerifyNone(ft)
	assert.Empty(t, ft.errors)
}

func TestVerifyNonePassesGoleakOptionsThrough(t *testing.T) {
	ft := &fakeT{}
	release := make(chan struct{})
	defer close(release)
	go block(release) //gotrio:go the leak that the option ignores; close(release) ends it
	nurserytest.VerifyNone(ft, goleak.IgnoreTopFunction("github.com/gotrio/gotrio/nursery/nurserytest_test.block"))
	assert.Empty(t, ft.errors)

	cleaned := -1
	nurserytest.VerifyNone(ft, goleak.Cleanup(func(code int) { cleaned = code }))
	assert.Equal(t, 0, cleaned, "goleak.Cleanup runs after the check")
	assert.Len(t, ft.errors, 1)
}

func TestFindReturnsTheLeakedGoroutines(t *testing.T) {
	leakTree(t, func() {
		err := nurserytest.Find()
		var le *nurserytest.LeakError
		require.ErrorAs(t, err, &le)
		var tasks []string
		for _, g := range le.Goroutines {
			tasks = append(tasks, g.Task)
		}
		assert.Equal(t, []string{"server", "server/conn 3", "server/conn 3/reader"}, tasks)
		reader := le.Goroutines[2]
		assert.Equal(t, "chan receive", reader.State)
		assert.Equal(t, "github.com/gotrio/gotrio/nursery/nurserytest_test.block", reader.Top().Function)
		assert.Equal(t, blockLine, fmt.Sprintf("%s:%d", reader.Top().File, reader.Top().Line))
	})
	assert.NoError(t, nurserytest.Find(), "nothing remains once the tree has been joined")
}

// fakeM is a test run that leaks until released.
type fakeM struct {
	code    int
	release chan struct{}
}

func (m fakeM) Run() int {
	if m.release != nil {
		go block(m.release) //gotrio:go the run leaks it on purpose; the test closes release
	}
	return m.code
}

func TestVerifyTestMainFailsASuccessfulRunThatLeaks(t *testing.T) {
	var out bytes.Buffer
	defer nurserytest.SetStderr(&out)()
	release := make(chan struct{})
	defer close(release)
	exit := -1
	nurserytest.VerifyTestMain(fakeM{code: 0, release: release}, goleak.Cleanup(func(code int) { exit = code }))
	assert.Equal(t, 1, exit)
	assert.Regexp(t, `^nurserytest: errors on a successful test run: nurserytest: 1 leaked goroutine, by task:\n`+
		`\(no task\)\n  goroutine \d+ \[chan receive\]\n`, out.String())
}

func TestVerifyTestMainKeepsTheCodeOfAFailedRun(t *testing.T) {
	var out bytes.Buffer
	defer nurserytest.SetStderr(&out)()
	exit := -1
	nurserytest.VerifyTestMain(fakeM{code: 2}, goleak.Cleanup(func(code int) { exit = code }))
	assert.Equal(t, 2, exit)
	assert.Empty(t, out.String())
}

func TestVerifyTestMainPassesARunThatLeavesNothing(t *testing.T) {
	exit := -1
	nurserytest.VerifyTestMain(fakeM{code: 0}, goleak.Cleanup(func(code int) { exit = code }))
	assert.Equal(t, 0, exit)
}

func TestVerifyNoneUnderChecksOnlyItsSubtree(t *testing.T) {
	release := make(chan struct{})
	ready := make(chan struct{}, 3)
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		defer close(release)
		for _, name := range []string{"mine", "mine 2", "theirs"} {
			n.GoNamed(name, func(ctx context.Context) error {
				return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
					n.GoNamed("worker", func(context.Context) error {
						ready <- struct{}{}
						block(release)
						return nil
					})
					return nil
				})
			})
		}
		for range 3 {
			<-ready
		}
		ft := &fakeT{}
		nurserytest.VerifyNoneUnder(ft, "mine")
		report := ft.report(t)
		assert.Regexp(t, `^nurserytest: 2 leaked goroutines, by task:\nmine\n  goroutine \d+ .*\n(.*\n)*  worker\n    goroutine \d+ \[chan receive\]\n`, report)
		assert.NotContains(t, report, "mine 2", "a task whose name begins the same is not below it")
		assert.NotContains(t, report, "theirs")

		ft = &fakeT{}
		nurserytest.VerifyNoneUnder(ft, "nobody")
		assert.Empty(t, ft.errors)
		return nil
	})
	require.NoError(t, err)
}

func TestVerifyNoneUnderAcceptsAGoroutineThatEndsWithinTheRetries(t *testing.T) {
	release := make(chan struct{})
	timer := time.AfterFunc(20*time.Millisecond, func() { close(release) })
	defer timer.Stop()
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("brief", func(context.Context) error {
			block(release)
			return nil
		})
		ft := &fakeT{}
		nurserytest.VerifyNoneUnder(ft, "brief")
		assert.Empty(t, ft.errors)
		return nil
	})
	require.NoError(t, err)
}
