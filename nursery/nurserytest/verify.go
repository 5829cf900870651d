package nurserytest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/goleak"
)

// TestingT is the part of *testing.T (and testing.TB) that the Verify
// functions use, as in goleak. When t also has a Helper method, it is
// called.
type TestingT interface {
	Error(args ...any)
}

// TestingM is the part of *testing.M that VerifyTestMain uses.
type TestingM interface {
	Run() int
}

type helper interface{ Helper() }

// VerifyNone fails t if goroutines other than the caller's remain: it is
// goleak.VerifyNone, opts included (goleak.IgnoreCurrent, IgnoreTopFunction,
// Cleanup…), with goleak's retries, so a goroutine that ends within them is
// not a leak. The failure reports the leaked goroutines as a *LeakError does:
// grouped by task path, each with its state, where it blocks and where it
// was started. Use it at the end of a test:
//
//	defer nurserytest.VerifyNone(t)
func VerifyNone(t TestingT, opts ...goleak.Option) {
	if h, ok := t.(helper); ok {
		h.Helper()
	}
	rec := &recorder{}
	goleak.VerifyNone(rec, opts...)
	if rec.err != nil {
		t.Error(report(rec.err, opts))
	}
}

// VerifyTestMain runs the tests of m and, if they passed, fails the run
// when goroutines remain, printing the report of VerifyNone on standard
// error; it then exits with the run's code. It is goleak.VerifyTestMain with
// that report, and takes goleak's options (goleak.Cleanup replaces the
// exit):
//
//	func TestMain(m *testing.M) { nurserytest.VerifyTestMain(m) }
func VerifyTestMain(m TestingM, opts ...goleak.Option) {
	goleak.VerifyTestMain(checkedRun{m, opts}, opts...)
}

// checkedRun is the TestingM VerifyTestMain hands to goleak: it makes the
// leak check itself, with the task report, and turns a leak into a failed
// run, so that goleak only exits (or calls the user's Cleanup).
type checkedRun struct {
	m    TestingM
	opts []goleak.Option
}

// stderr is where VerifyTestMain reports; tests replace it.
var stderr io.Writer = os.Stderr

func (r checkedRun) Run() int {
	code := r.m.Run()
	if code != 0 {
		return code
	}
	if err := Find(r.opts...); err != nil {
		fmt.Fprintf(stderr, "nurserytest: errors on a successful test run: %v\n", err)
		return 1
	}
	return 0
}

// Find returns nil if no goroutine other than the caller's remains after
// goleak's retries, and otherwise the *LeakError that lists them. opts are
// goleak's; a goleak.Cleanup among them is not called. When the leaked
// goroutines cannot be matched with their tasks (a future goleak wording),
// Find returns goleak's own error.
func Find(opts ...goleak.Option) error {
	rec := &recorder{}
	// A later Cleanup replaces an earlier one: the user's is not run here.
	goleak.VerifyNone(rec, append(slices.Clip(opts), goleak.Cleanup(func(int) {}))...)
	if rec.err == nil {
		return nil
	}
	return report(rec.err, opts)
}

// report turns goleak's failure into a *LeakError: it takes the IDs of the
// leaked goroutines from goleak's message and looks them up in a labelled
// snapshot. A goroutine may end between goleak's last look and the
// snapshot; when all of them did, goleak looks again, a few times.
func report(leak error, opts []goleak.Option) error {
	for range 3 {
		ids := leakedIDs(leak)
		if len(ids) == 0 {
			return leak
		}
		var leaked []Goroutine
		for _, g := range snapshot() {
			if slices.Contains(ids, g.ID) {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) > 0 {
			return newLeakError(leaked)
		}
		rec := &recorder{}
		goleak.VerifyNone(rec, append(slices.Clip(opts), goleak.Cleanup(func(int) {}))...)
		if rec.err == nil {
			return nil
		}
		leak = rec.err
	}
	return leak
}

// goleakID matches goleak's description of a leaked goroutine ("Goroutine 7
// in state chan receive, with … on top of the stack:").
var goleakID = regexp.MustCompile(`Goroutine (\d+) in state `)

func leakedIDs(err error) []int {
	var ids []int
	for _, m := range goleakID.FindAllStringSubmatch(err.Error(), -1) {
		if id, err := strconv.Atoi(m[1]); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// recorder is the goleak.TestingT through which the Verify functions get
// goleak's verdict.
type recorder struct{ err error }

func (r *recorder) Error(args ...any) {
	for _, a := range args {
		if err, ok := a.(error); ok {
			r.err = err
			return
		}
	}
	r.err = errors.New(fmt.Sprint(args...))
}

// VerifyNoneUnder fails t if goroutines of task path, or of tasks below it
// (path + "/…"), remain, other than the caller's. Goroutines of other tasks
// and of no task are not looked at, which makes it the check to use where
// other tests run in parallel: give the code under test a task path of its
// own (nursery.GoNamed, or a pprof label nursery.LabelKey on the context
// given to nursery.Run) and verify that nothing of it remains. Like goleak,
// it looks again for a while (about half a second) before it reports, so a
// goroutine that is about to return is not a leak.
func VerifyNoneUnder(t TestingT, path string) {
	if h, ok := t.(helper); ok {
		h.Helper()
	}
	if err := FindUnder(path); err != nil {
		t.Error(err)
	}
}

// FindUnder returns nil if no goroutine of task path or of a task below it
// remains after the retries of VerifyNoneUnder, and otherwise the
// *LeakError that lists them.
func FindUnder(path string) error {
	if path == "" {
		panic("nurserytest: FindUnder with an empty task path")
	}
	var leaked []Goroutine
	for attempt := 0; ; attempt++ {
		leaked = leaked[:0]
		for _, g := range Goroutines() {
			if g.Task == path || strings.HasPrefix(g.Task, path+"/") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return nil
		}
		if attempt == maxRetries {
			return newLeakError(leaked)
		}
		time.Sleep(min(time.Microsecond<<attempt, maxSleep))
	}
}

// Retries of FindUnder, goleak's defaults: sleeps double from 1µs up to
// maxSleep, for maxRetries rounds.
const (
	maxRetries = 20
	maxSleep   = 100 * time.Millisecond
)
