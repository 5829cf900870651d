package wsocktest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsocktest"
)

// exampleT stands for a test's *testing.T in the examples, which have
// none: end runs the cleanups, as the end of a test does, and returns the
// failures.
type exampleT struct {
	testing.TB
	ctx      context.Context
	stop     context.CancelFunc
	mu       sync.Mutex
	cleanups []func()
	failures []string
}

func newExampleT() *exampleT {
	ctx, stop := context.WithCancel(context.Background())
	return &exampleT{ctx: ctx, stop: stop}
}

func (t *exampleT) Helper()                           {}
func (t *exampleT) Context() context.Context          { return t.ctx }
func (t *exampleT) Log(args ...any)                   {}
func (t *exampleT) Error(args ...any)                 { t.fail(fmt.Sprint(args...)) }
func (t *exampleT) Errorf(format string, args ...any) { t.fail(fmt.Sprintf(format, args...)) }
func (t *exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (t *exampleT) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *exampleT) fail(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failures = append(t.failures, s)
}

func (t *exampleT) end() (failures []string) {
	t.stop()
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
	return t.failures
}

// A test starts a server for its handler and talks to it; the server is
// drained and checked for leaked goroutines when the test ends.
func ExampleNewServer() {
	t := newExampleT() // in a test: the *testing.T
	defer func() { fmt.Println(t.end()) }()

	srv := wsocktest.NewServer(t, wsocktest.Echo, nil)
	err := srv.Open(t.Context(), func(ctx context.Context, c *wsock.Conn) error {
		if err := c.SendText(ctx, "hello"); err != nil {
			return err
		}
		m, err := c.Receive(ctx)
		fmt.Println(string(m.Data))
		return err
	})
	fmt.Println(err)
	// Output:
	// hello
	// <nil>
	// []
}

// A handler that leaves a goroutine behind fails the test; the report names
// the task the goroutine belongs to: the server, its connection.
func ExampleServer_Close() {
	t := newExampleT()
	release := make(chan struct{})
	defer close(release)

	leaky := func(ctx context.Context, r *wsock.Request) error {
		if _, err := r.Accept(ctx, nil); err != nil {
			return err
		}
		go func() { <-release }() //gotrio:go the example leaks it to show the report; close(release) ends it
		return nil
	}
	srv := wsocktest.NewServer(t, leaky, &wsocktest.Options{Pipe: true})
	_ = srv.Open(t.Context(), func(context.Context, *wsock.Conn) error { return nil })
	for _, failure := range t.end() {
		// The report's head; the goroutine's lines follow.
		head := strings.Split(failure, "\n")[:4]
		fmt.Println(strings.ReplaceAll(strings.Join(head, "\n"), srv.Task(), "wsocktest server N"))
	}
	// Output:
	// nurserytest: 1 leaked goroutine, by task:
	// wsocktest server N
	//   serve
	//     wsock conn pipe
}

// Pipe gives both ends of a connection, for a unit test of code that talks
// over one.
func ExamplePipe() {
	t := newExampleT()
	defer t.end()

	client, server := wsocktest.Pipe(t, nil)
	ctx := t.Context()
	_ = client.SendText(ctx, "ping")
	m, _ := server.Receive(ctx)
	fmt.Println(string(m.Data))
	// Output:
	// ping
}
