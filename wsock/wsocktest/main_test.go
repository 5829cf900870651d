package wsocktest_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeT is the testing.TB of a test server under test: it records failures
// and cleanups instead of acting on them, so that a test can provoke a
// failure, check it and clean up. Everything else goes to the real test.
type fakeT struct {
	testing.TB
	ctx  context.Context
	stop context.CancelFunc

	mu       sync.Mutex
	errors   []string
	logs     []string
	cleanups []func()
}

func newFakeT(t *testing.T) *fakeT {
	ctx, stop := context.WithCancel(context.Background())
	return &fakeT{TB: t, ctx: ctx, stop: stop}
}

func (f *fakeT) Helper()                  {}
func (f *fakeT) Context() context.Context { return f.ctx }

func (f *fakeT) Error(args ...any) { f.record(fmt.Sprint(args...)) }

func (f *fakeT) Errorf(format string, args ...any) { f.record(fmt.Sprintf(format, args...)) }

func (f *fakeT) Fatalf(format string, args ...any) {
	f.record(fmt.Sprintf(format, args...))
	runtime.Goexit()
}

func (f *fakeT) Log(args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, fmt.Sprint(args...))
}

func (f *fakeT) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, s)
}

func (f *fakeT) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// finish ends the fake test as package testing would: it cancels its
// context and runs its cleanups, last first. It returns the failures.
func (f *fakeT) finish() []string {
	f.stop()
	f.mu.Lock()
	cleanups := f.cleanups
	f.cleanups = nil
	f.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.errors
}
