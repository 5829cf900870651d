package nursery

import (
	"context"
	"reflect"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
)

// LabelKey is the runtime/pprof label under which every task goroutine
// carries its path in the task tree ("parent/child/grandchild"), so that a
// goroutine profile (pprof.Lookup("goroutine"), /debug/pprof/goroutine?debug=1)
// shows which task each goroutine runs. The label also travels in the
// task's context: a nursery opened inside a task names its tasks under the
// task's path.
const LabelKey = "task"

// A task is the identity shared by the tasks that a nursery started with the
// same function or name: the label context is built once and reused, which
// keeps a loop of Go calls free of per-task label allocations.
type task struct {
	pc   uintptr // code address of the function for Go; 0 for GoNamed
	name string
	path string          // the nursery's path + "/" + name
	ctx  context.Context // the nursery's context carrying the pprof label
}

// taskFor returns the task for fn started with Go, reusing the last one
// when fn's code is the same (every closure of one func literal shares it).
func (n *Nursery) taskFor(pc uintptr) *task {
	if t := n.last.Load(); t != nil && t.pc == pc {
		return t
	}
	t := n.newTask(pc, funcName(pc))
	n.last.Store(t)
	return t
}

// namedTask returns the task for a GoNamed name, reusing the last one.
func (n *Nursery) namedTask(name string) *task {
	if t := n.last.Load(); t != nil && t.pc == 0 && t.name == name {
		return t
	}
	t := n.newTask(0, name)
	n.last.Store(t)
	return t
}

func (n *Nursery) newTask(pc uintptr, name string) *task {
	path := name
	if n.path != "" {
		path = n.path + "/" + name
		// The name is the path's tail: the task keeps one string, not two
		// (a GoNamed name made for one task, such as wsock's per connection,
		// is not kept alive by the task then).
		name = path[len(n.path)+1:]
	}
	return &task{pc: pc, name: name, path: path, ctx: pprof.WithLabels(n.ctx(), pprof.Labels(LabelKey, path))}
}

// taskPath returns the task path carried by ctx, "" outside any task.
func taskPath(ctx context.Context) string {
	p, _ := pprof.Label(ctx, LabelKey)
	return p
}

// funcPC returns the code address of a function value.
func funcPC(fn any) uintptr { return reflect.ValueOf(fn).Pointer() }

// funcName is the default task name: the function's name without its import
// path, e.g. "server.(*Server).serve" or "main.main.func2". Names are cached
// by code address, since looking them up costs as much as starting a
// goroutine.
func funcName(pc uintptr) string {
	slot := &nameCache[(pc>>4)%uintptr(len(nameCache))]
	if e := slot.Load(); e != nil && e.pc == pc {
		return e.name
	}
	name := lookupFuncName(pc)
	slot.Store(&nameEntry{pc: pc, name: name})
	return name
}

// nameCache is a direct-mapped cache of funcName results: bounded, lock-free,
// and free of allocations on a hit.
var nameCache [512]atomic.Pointer[nameEntry]

type nameEntry struct {
	pc   uintptr
	name string
}

func lookupFuncName(pc uintptr) string {
	f := runtime.FuncForPC(pc)
	if f == nil {
		return "task"
	}
	name := f.Name()
	end := strings.IndexByte(name, '[') // generic instantiations may hold paths
	if end < 0 {
		end = len(name)
	}
	if i := strings.LastIndexByte(name[:end], '/'); i >= 0 {
		name = name[i+1:]
	}
	return name
}
