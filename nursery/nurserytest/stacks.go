package nurserytest

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/gotrio/gotrio/nursery"
)

// A Frame is one call on a goroutine's stack, as a traceback prints it.
type Frame struct {
	Function string // "example.com/pkg.(*T).method"
	File     string
	Line     int
}

// String returns "function file:line", or "" for the zero Frame.
func (f Frame) String() string {
	if f.Function == "" {
		return ""
	}
	return f.Function + " " + f.File + ":" + strconv.Itoa(f.Line)
}

// A Goroutine is one goroutine of a snapshot, with the task that owns it.
type Goroutine struct {
	ID int
	// Task is the goroutine's task path in the task tree, the
	// nursery.LabelKey label ("server/conn 3/reader"); "" when the goroutine
	// belongs to no task. A goroutine started with a bare go statement
	// inherits the label of the goroutine that started it.
	Task string
	// State is the goroutine's status as a traceback prints it: for a blocked
	// goroutine its wait reason ("chan receive", "select", "IO wait"), and how
	// long it has been waiting once that exceeds a minute.
	State string
	// Frames are the calls on the stack, innermost first.
	Frames []Frame
	// CreatedBy is the go statement that started the goroutine: the function
	// that executed it and where it stands.
	CreatedBy Frame
	// CreatorID is the ID of the goroutine that executed that go statement.
	CreatorID int
	// Stack is the goroutine's whole traceback, header included.
	Stack string
}

// Top returns where the goroutine blocks: its innermost frame outside the
// runtime (the runtime's own parking functions and the internal packages
// that call them), or the innermost frame if every frame is the runtime's.
func (g Goroutine) Top() Frame {
	for _, f := range g.Frames {
		if !runtimeFrame(f.Function) {
			return f
		}
	}
	if len(g.Frames) > 0 {
		return g.Frames[0]
	}
	return Frame{}
}

// Caller returns the innermost frame of code outside the standard library
// and gotrio's library: the user code that made the blocking call. It is the zero Frame when Top is that frame already or
// when there is none.
func (g Goroutine) Caller() Frame {
	top := g.Top()
	for _, f := range g.Frames {
		if !stdFrame(f) && !libraryFrame(f.Function) {
			if f == top {
				return Frame{}
			}
			return f
		}
	}
	return Frame{}
}

// Entry returns the outermost frame outside the runtime and gotrio's
// library: for a task, the task's function; for a goroutine started with a
// go statement, the function it started with.
func (g Goroutine) Entry() Frame {
	for i := len(g.Frames) - 1; i >= 0; i-- {
		if f := g.Frames[i]; !runtimeFrame(f.Function) && !libraryFrame(f.Function) {
			return f
		}
	}
	return Frame{}
}

// runtimeFrame reports whether function belongs to the runtime's parking
// machinery rather than to the code that blocked.
func runtimeFrame(function string) bool {
	return strings.HasPrefix(function, "runtime.") || strings.HasPrefix(function, "internal/") ||
		strings.Contains(function, ".runtime_") // sync.runtime_Semacquire, poll's runtime_pollWait
}

// libraryFrame reports whether function is code of gotrio's library
// (nursery, cancel, wsock and their test helpers) rather than of its user:
// a task's stack holds the nursery's plumbing below the task's function, and
// a connection's goroutines run wsock's code only.
func libraryFrame(function string) bool {
	rest, ok := strings.CutPrefix(function, modulePath)
	if !ok {
		return false
	}
	for _, pkg := range []string{"nursery.", "nursery/nurserytest.", "cancel.", "wsock.", "wsock/internal/", "wsock/wsocktest."} {
		if strings.HasPrefix(rest, pkg) {
			return true
		}
	}
	return false
}

// modulePath prefixes every function of gotrio in a traceback.
const modulePath = "github.com/gotrio/gotrio/"

// stdFrame reports whether f is code of the standard library: its file is
// under GOROOT, or, when file names do not tell (-trimpath), its import path
// has no dot in its first element and is not package main.
func stdFrame(f Frame) bool {
	if goroot != "" {
		return strings.HasPrefix(f.File, goroot)
	}
	pkg := f.Function
	if i := strings.IndexByte(pkg, '/'); i >= 0 {
		pkg = pkg[:i]
	} else if i := strings.IndexByte(pkg, '.'); i >= 0 {
		pkg = pkg[:i]
	}
	return !strings.Contains(pkg, ".") && pkg != "main"
}

// goroot is the directory of the standard library's sources as tracebacks
// name them ("/usr/local/go/src/"), found from a function of the runtime;
// "" when the binary was built with -trimpath.
var goroot = func() string {
	var pc [1]uintptr
	runtime.Callers(0, pc[:]) // runtime.Callers itself
	f, _ := runtime.CallersFrames(pc[:]).Next()
	if dir, ok := strings.CutSuffix(f.File, "runtime/extern.go"); ok && strings.HasPrefix(dir, "/") {
		return dir
	}
	return ""
}()

// Goroutines returns every goroutine of the process but the caller's, each
// with its task, for checks of one's own; a LeakError made of some of them
// reports them as Find does.
func Goroutines() []Goroutine {
	gs := snapshot()
	return gs[min(1, len(gs)):]
}

// snapshot returns every goroutine, the caller's first, each with its task.
func snapshot() []Goroutine {
	return parseStacks(labelledStacks())
}

// tracebackMu serialises the switching of GODEBUG around a traceback.
var tracebackMu sync.Mutex

// labelledStacks returns runtime.Stack of every goroutine with the
// goroutines' pprof labels in their headers.
//
// Since Go 1.26 a traceback (and a debug=2 goroutine profile) prints a
// goroutine's labels in its header when GODEBUG has tracebacklabels=1; the
// runtime reads GODEBUG again whenever os.Setenv changes it. This is the only
// output that ties a label to a goroutine ID: the debug=0 and debug=1
// goroutine profiles carry labels per stack, so goroutines with the same
// stack but different tasks (the readers of two connections) could not be
// told apart. The setting is switched on for the traceback only and the
// previous GODEBUG restored after it; while it is on, other tracebacks of the
// process show labels too, which goleak's parser reads as part of the state.
func labelledStacks() []byte {
	tracebackMu.Lock()
	defer tracebackMu.Unlock()
	old, set := os.LookupEnv("GODEBUG")
	if !labelsOn(old) {
		on := "tracebacklabels=1"
		if old != "" {
			on = old + "," + on
		}
		_ = os.Setenv("GODEBUG", on)
		defer func() {
			if set {
				_ = os.Setenv("GODEBUG", old)
			} else {
				_ = os.Unsetenv("GODEBUG")
			}
		}()
	}
	return allStacks()
}

// labelsOn reports whether the GODEBUG value godebug turns tracebacklabels
// on: its last setting wins.
func labelsOn(godebug string) bool {
	on := false
	for kv := range strings.SplitSeq(godebug, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(kv), "tracebacklabels="); ok {
			on = v == "1"
		}
	}
	return on
}

// allStacks returns runtime.Stack of every goroutine, whole.
func allStacks() []byte {
	for size := 64 << 10; ; size *= 2 {
		buf := make([]byte, size)
		if n := runtime.Stack(buf, true); n < size {
			return buf[:n]
		}
	}
}

// parseStacks parses a traceback of goroutines (runtime.Stack's format,
// labels included). It never fails: lines it does not understand are kept
// in the goroutine's Stack and otherwise ignored.
func parseStacks(trace []byte) []Goroutine {
	var gs []Goroutine
	for block := range strings.SplitSeq(string(trace), "\n\n") {
		if g, ok := parseGoroutine(strings.Trim(block, "\n")); ok {
			gs = append(gs, g)
		}
	}
	return gs
}

// parseGoroutine parses one goroutine's traceback:
//
//	goroutine 41 [chan receive, 2 minutes labels:{"task": "server/conn 3"}]:
//	main.read(...)
//		/src/main.go:12 +0x1d
//	created by main.serve in goroutine 12
//		/src/main.go:30 +0x4a
func parseGoroutine(block string) (Goroutine, bool) {
	header, body, _ := strings.Cut(block, "\n")
	g := Goroutine{Stack: block}
	rest, ok := strings.CutPrefix(header, "goroutine ")
	if !ok {
		return g, false
	}
	id, rest, ok := strings.Cut(rest, " [")
	if !ok {
		return g, false
	}
	var err error
	if g.ID, err = strconv.Atoi(id); err != nil {
		return g, false
	}
	status := strings.TrimSuffix(rest, "]:")
	status, labels, _ := strings.Cut(status, " labels:{")
	g.State = status
	g.Task = parseLabels(labels)[nursery.LabelKey]

	lines := strings.Split(body, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if line == "" || line[0] == '\t' || line[0] == '.' || line[0] == '[' {
			continue // a stray location, "...additional frames elided...", an ancestor's header
		}
		var f Frame
		if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t") {
			f.File, f.Line = parseLocation(lines[i+1])
			i++
		}
		if creator, ok := strings.CutPrefix(line, "created by "); ok {
			creator, in, _ := strings.Cut(creator, " in goroutine ")
			f.Function = creator
			g.CreatedBy = f
			g.CreatorID, _ = strconv.Atoi(in)
			break // what follows belongs to ancestors (GODEBUG=tracebackancestors)
		}
		if j := strings.LastIndexByte(line, '('); j > 0 {
			line = line[:j]
		}
		f.Function = line
		g.Frames = append(g.Frames, f)
	}
	return g, true
}

// parseLocation parses a frame's location line, "\t/src/main.go:12 +0x1d"
// (GOTRACEBACK=system appends " fp=… sp=… pc=…").
func parseLocation(line string) (file string, lineNo int) {
	loc := strings.TrimPrefix(line, "\t")
	if i := strings.LastIndex(loc, " +0x"); i >= 0 {
		loc = loc[:i]
	}
	i := strings.LastIndexByte(loc, ':')
	if i < 0 {
		return loc, 0
	}
	n, err := strconv.Atoi(loc[i+1:])
	if err != nil {
		return loc, 0
	}
	return loc[:i], n
}

// parseLabels parses the inside of a traceback's labels:{…}, a list of
// quoted keys and values, `"k": "v", "k2": "v2"}`. It keeps what it parsed
// before anything malformed.
func parseLabels(s string) map[string]string {
	labels := map[string]string{}
	for {
		s = strings.TrimLeft(s, ", ")
		key, rest, ok := unquotePrefix(s)
		if !ok {
			return labels
		}
		rest, ok = strings.CutPrefix(rest, ": ")
		if !ok {
			return labels
		}
		value, rest, ok := unquotePrefix(rest)
		if !ok {
			return labels
		}
		labels[key] = value
		s = rest
	}
}

// unquotePrefix unquotes the Go string literal at the start of s.
func unquotePrefix(s string) (value, rest string, ok bool) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", s, false
	}
	v, err := strconv.Unquote(q)
	if err != nil {
		return "", s, false
	}
	return v, s[len(q):], true
}
