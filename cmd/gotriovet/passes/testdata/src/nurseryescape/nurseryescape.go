package nurseryescape

import (
	"context"
	"time"

	"github.com/gotrio/gotrio/cancel"
	"github.com/gotrio/gotrio/nursery"
)

var (
	global  *nursery.Nursery
	hook    func()
	spawner func(fn func(ctx context.Context) error)
	list    []*nursery.Nursery
	holders []holder
)

type holder struct{ n *nursery.Nursery }

type server struct {
	n     *nursery.Nursery
	hooks []func()
	name  string
}

var names []string

func task(ctx context.Context) error { return nil }

func use(n *nursery.Nursery) { n.Go(task) }

// Flagged: every way the handle outlives the body.

func storedInGlobal(ctx context.Context) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		global = n // want `\*nursery.Nursery escapes its block: stored in package-level variable global`
		return nil
	})
}

func assignedToOuterVariable(ctx context.Context) (*nursery.Nursery, error) {
	var keep *nursery.Nursery
	err := nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		keep = n // want `assigned to keep, declared outside the callback`
		return nil
	})
	return keep, err
}

func storedInField(ctx context.Context, s *server) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		s.n = n // want `stored in a field of a value from outside the callback`
		return nil
	})
}

func storedInElement(ctx context.Context, m map[string]*nursery.Nursery) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		m["x"] = n // want `stored in an element of a value from outside the callback`
		return nil
	})
}

func sentOnChannel(ctx context.Context, ch chan<- *nursery.Nursery) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		ch <- n // want `sent on a channel`
		return nil
	})
}

func returnedFromClosure(ctx context.Context) error {
	var get func() *nursery.Nursery
	err := nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		get = func() *nursery.Nursery { // want `assigned to get, declared outside the callback`
			return n // want `returned from a function literal`
		}
		return nil
	})
	_ = get
	return err
}

func closureStoredInGlobal(ctx context.Context) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		hook = func() { n.Go(task) } // want `stored in package-level variable hook`
		return nil
	})
}

func closureStoredInField(ctx context.Context, s *server) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		s.hooks = append(s.hooks, func() { n.Go(task) }) // want `stored in a field of a value from outside the callback`
		return nil
	})
}

func methodValueStored(ctx context.Context) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		spawner = n.Go // want `stored in package-level variable spawner`
		return nil
	})
}

func aliasEscapes(ctx context.Context) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		m := n
		list = append(list, m) // want `stored in package-level variable list`
		return nil
	})
}

func localStructEscapes(ctx context.Context) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		h := holder{n: n}
		holders = append(holders, h) // want `stored in package-level variable holders`
		return nil
	})
}

func capturedByGoStatement(ctx context.Context) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		go func() { n.Go(task) }() // want `captured by a go statement`
		go use(n)                  // want `captured by a go statement`
		return nil
	})
}

func capturedByAfterFunc(ctx context.Context) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		time.AfterFunc(time.Second, func() { n.Go(task) }) // want `captured by a time.AfterFunc callback`
		return nil
	})
}

func capturedByOuterNurseryTask(ctx context.Context, outer *nursery.Nursery) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		outer.Go(func(ctx context.Context) error { // want `captured by a task of a nursery that outlives the callback`
			n.Go(task)
			return nil
		})
		return nil
	})
}

// Accepted: the handle is used only while the body runs.

func passedToSynchronousCall(ctx context.Context) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		use(n)
		return nil
	})
}

func capturedByItsOwnTasks(ctx context.Context) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error {
			n.Go(task) // a grandchild, still joined by Run
			return nil
		})
		n.GoNamed("named", func(ctx context.Context) error { use(n); return nil })
		_, err := nursery.Start(ctx, n, func(ctx context.Context, ts nursery.TaskStatus[int]) error {
			ts.Started(1)
			n.Go(task)
			return nil
		})
		return err
	})
}

func capturedByTasksOfAnInnerNursery(ctx context.Context) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		return nursery.Run(ctx, func(ctx context.Context, inner *nursery.Nursery) error {
			inner.Go(func(ctx context.Context) error { n.Go(task); return nil })
			return nil
		})
	})
}

func localAliasesAndHolders(ctx context.Context) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		m := n
		m.Go(task)
		s := server{n: n}
		s.n.Go(task)
		all := []*nursery.Nursery{n}
		all[0].Go(task)
		names = append(names, s.name) // a string cannot hold the handle
		start := func() { n.Go(task) }
		start()
		spawn := n.Go
		spawn(task)
		return nil
	})
}

func closuresRunWhileTheBodyRuns(ctx context.Context) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		defer func() { n.Scope().Cancel("done") }()
		func() { n.Go(task) }()
		_, err := cancel.MoveOnAfter(ctx, time.Second, func(ctx context.Context) error {
			n.Go(task)
			return nil
		})
		return err
	})
}

func storingWhatIsNotTheHandle(ctx context.Context, s *cancel.Scope) error {
	var scope *cancel.Scope
	err := nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		scope = n.Scope() // the scope is not the handle; Cancel after Run is documented
		return nil
	})
	_ = scope
	return err
}

func optedOut(ctx context.Context) error {
	return nursery.Run(ctx, func(ctx context.Context, n *nursery.Nursery) error {
		//gotrio:nurseryescape the test calls Go after Run to see it panic
		global = n
		//gotrio:nurseryescape
		list = append(list, n) // want `//gotrio:nurseryescape needs a reason`
		//gotrio:nurseryescape nothing escapes here // want `//gotrio:nurseryescape allows nothing here`
		use(n)
		return nil
	})
}

// A body declared as a method is followed too.

func (s *server) serve(ctx context.Context, n *nursery.Nursery) error {
	s.n = n // want `stored in a field of a value from outside the callback`
	n.Go(task)
	return nil
}

func (s *server) serveWell(ctx context.Context, n *nursery.Nursery) error {
	use(n)
	return nil
}

func namedBodies(ctx context.Context, s *server) error {
	if err := nursery.Run(ctx, s.serve); err != nil {
		return err
	}
	_ = nursery.Run(ctx, s.serve) // checked once
	return nursery.Run(ctx, s.serveWell)
}

// A body held by a variable that is set once is followed too.
func bodyInAVariable(ctx context.Context) error {
	body := func(ctx context.Context, n *nursery.Nursery) error {
		global = n // want `stored in package-level variable global`
		return nil
	}
	return nursery.Run(ctx, body)
}
