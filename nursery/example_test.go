package nursery_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"sync"
	"time"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
)

func ExampleRun() {
	words := []string{"nursery", "cancel", "scope"}
	var mu sync.Mutex
	lengths := map[string]int{}
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		for _, w := range words {
			n.Go(func(ctx context.Context) error {
				mu.Lock()
				defer mu.Unlock()
				lengths[w] = len(w)
				return nil
			})
		}
		return nil // Run still waits for the tasks
	})
	fmt.Println(err, lengths)
	// Output: <nil> map[cancel:6 nursery:7 scope:5]
}

// The first failure cancels the other tasks; the error names the task.
func ExampleNursery_Go() {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("ticker", func(ctx context.Context) error {
			<-ctx.Done()
			fmt.Println("ticker stopped:", context.Cause(ctx))
			return ctx.Err() // stripped: the nursery caused it
		})
		n.GoNamed("worker", func(ctx context.Context) error {
			return errors.New("disk full")
		})
		return nil
	})
	fmt.Println("Run:", err)
	// Output:
	// ticker stopped: cancel: scope cancelled (nursery): task worker failed: disk full
	// Run: task worker: disk full
}

// Start returns once a server listens, with its address; the server runs on
// in the nursery.
func ExampleStart() {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		addr, err := nursery.Start(ctx, n, func(ctx context.Context, ts nursery.TaskStatus[string]) error {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err // Start returns it
			}
			stop := context.AfterFunc(ctx, func() { ln.Close() })
			defer stop()
			ts.Started(ln.Addr().String())
			for {
				c, err := ln.Accept()
				if err != nil {
					return ctx.Err()
				}
				n.GoNamed("echo", func(ctx context.Context) error {
					defer c.Close()
					_, err := io.Copy(c, c)
					return err
				})
			}
		})
		if err != nil {
			return err
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		fmt.Fprintln(c, "hello")
		line, err := bufio.NewReader(c).ReadString('\n')
		fmt.Print("echoed: ", line)
		n.Scope().Cancel("done") // stop the server
		return err
	})
	fmt.Println("Run:", err)
	// Output:
	// echoed: hello
	// Run: <nil>
}

// An *ErrorGroup lists every failure; errors.Is and errors.As look inside.
func ExampleErrorGroup() {
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("load config", func(ctx context.Context) error {
			return fmt.Errorf("open config: %w", fs.ErrNotExist)
		})
		<-ctx.Done()
		return errors.New("body: nothing to do without a config")
	})
	var g *nursery.ErrorGroup
	if errors.As(err, &g) {
		for _, e := range g.Errs {
			fmt.Println(e)
		}
	}
	fmt.Println(errors.Is(err, fs.ErrNotExist))
	// Output:
	// task load config: open config: file does not exist
	// body: nothing to do without a config
	// true
}

// Cancelling the nursery's scope stops every task; Run returns nil because
// the cancellation was the nursery's own.
func ExampleNursery_Scope() {
	var mu sync.Mutex
	var first string
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		for mirror, latency := range map[string]time.Duration{"slow": time.Hour, "fast": 0} {
			n.Go(func(ctx context.Context) error {
				if err := cancel.Sleep(ctx, latency); err != nil {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				if first == "" {
					first = mirror
					n.Scope().Cancel("got an answer")
				}
				return nil
			})
		}
		return nil
	})
	fmt.Println(first, err)
	// Output: fast <nil>
}

// A panic in a task reaches the caller of Run, after the other tasks have
// been cancelled and joined.
func ExamplePanicError() {
	defer func() {
		pe := recover().(*nursery.PanicError)
		fmt.Printf("task %q panicked: %v\n", pe.Task, pe.Value)
	}()
	_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.GoNamed("parser", func(ctx context.Context) error {
			panic("unexpected token")
		})
		return nil
	})
	// Output: task "parser" panicked: unexpected token
}

// An overall deadline over tasks that end quietly when cancelled: the
// tasks return nil, yet FailAfter reports cancel.ErrTooSlow, because the
// end of a nursery is a checkpoint (as in Trio): it reports the enclosing
// scope's cancellation, which FailAfter's scope catches. MoveOnAfter would
// return nil instead, with CancelledCaught true.
func ExampleRun_overallDeadline() {
	poll := func(ctx context.Context) error {
		for {
			select {
			case <-ctx.Done():
				return nil // stopping is not a failure for this task
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	err := cancel.FailAfter(context.Background(), 50*time.Millisecond, func(ctx context.Context) error {
		return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
			n.Go(poll)
			n.Go(poll)
			return nil
		})
	})
	fmt.Println(errors.Is(err, cancel.ErrTooSlow), err)
	// Output: true cancel: too slow: deadline exceeded
}

// SetLimit bounds how many tasks run at once; Go waits for a free place.
func ExampleNursery_SetLimit() {
	var w work
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.SetLimit(2)
		for range 10 {
			n.Go(w.do)
		}
		return nil
	})
	fmt.Println(err, "at most", w.most, "at once")
	// Output: <nil> at most 2 at once
}

// A Limiter shared by several nurseries bounds their tasks together, here
// the fetches of every page of a crawl.
func ExampleLimiter() {
	fetches := nursery.NewLimiter(3)
	var w work
	err := nursery.Run(context.Background(), func(ctx context.Context, crawl *nursery.Nursery) error {
		for range 4 {
			crawl.Go(func(ctx context.Context) error {
				return nursery.Run(ctx, func(ctx context.Context, page *nursery.Nursery) error {
					page.SetLimiter(fetches)
					for range 5 {
						page.Go(w.do)
					}
					return nil
				})
			})
		}
		return nil
	})
	fmt.Println(err, "at most", w.most, "fetches at once")
	// Output: <nil> at most 3 fetches at once
}

// work is a millisecond of work that counts how many run at once.
type work struct {
	mu            sync.Mutex
	running, most int
}

func (w *work) do(ctx context.Context) error {
	w.mu.Lock()
	w.running++
	w.most = max(w.most, w.running)
	w.mu.Unlock()
	time.Sleep(time.Millisecond)
	w.mu.Lock()
	w.running--
	w.mu.Unlock()
	return nil
}
