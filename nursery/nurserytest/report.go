package nurserytest

import (
	"fmt"
	"slices"
	"strings"
)

// noTask heads the goroutines that belong to no task in a report.
const noTask = "(no task)"

// A LeakError lists the goroutines that remained; its message shows them as
// the task tree they belong to.
type LeakError struct {
	// Goroutines are the leaked goroutines in report order: by task path,
	// segment by segment, those of no task last.
	Goroutines []Goroutine
}

// Error returns the report: one line per task-tree node, indented by depth,
// and under each node its goroutines with their state, where they block
// ("blocks in"), the user code that made the blocking call ("called from"),
// the function they run ("runs": a task's function) and the go statement
// that started them ("created by"):
//
//	nurserytest: 2 leaked goroutines, by task:
//	server
//	  conn 3
//	    goroutine 41 [chan receive]
//	        blocks in   main.(*conn).read /src/conn.go:88
//	        runs        main.(*conn).serve /src/conn.go:61
//	        created by  main.(*conn).serve /src/conn.go:64 (goroutine 12)
//	(no task)
//	  goroutine 7 [select]
//	      blocks in   …
func (e *LeakError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "nurserytest: %d leaked goroutine%s, by task:\n", len(e.Goroutines), plural(len(e.Goroutines)))
	var prev []string
	for _, g := range byTask(e.Goroutines) {
		path := segments(g.Task)
		common := 0
		for common < len(prev) && common < len(path) && prev[common] == path[common] {
			common++
		}
		for depth := common; depth < len(path); depth++ {
			fmt.Fprintf(&b, "%s%s\n", indent(depth), path[depth])
		}
		prev = path
		writeGoroutine(&b, indent(len(path)), g)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// writeGoroutine writes g's lines of a report, at indentation in: where it
// blocks, the user code that made the blocking call and the function it runs,
// each when it says something new, and the go statement that started it.
func writeGoroutine(b *strings.Builder, in string, g Goroutine) {
	fmt.Fprintf(b, "%sgoroutine %d [%s]\n", in, g.ID, g.State)
	seen := map[Frame]bool{{}: true}
	line := func(what string, f Frame) {
		if !seen[f] {
			seen[f] = true
			fmt.Fprintf(b, "%s    %-11s %s\n", in, what, f)
		}
	}
	line("blocks in", g.Top())
	line("called from", g.Caller())
	line("runs", g.Entry())
	if g.CreatedBy.Function != "" {
		fmt.Fprintf(b, "%s    %-11s %s (goroutine %d)\n", in, "created by", g.CreatedBy, g.CreatorID)
	}
}

// segments splits a task path into the nodes of the report's tree; a
// goroutine of no task goes under the noTask node.
func segments(task string) []string {
	if task == "" {
		return []string{noTask}
	}
	return strings.Split(task, "/")
}

func indent(depth int) string { return strings.Repeat("  ", depth) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// newLeakError returns the report of gs.
func newLeakError(gs []Goroutine) *LeakError { return &LeakError{Goroutines: byTask(gs)} }

// byTask returns gs sorted by task path, segment by segment (so that a
// task's subtree stays together), those of no task last, and by ID.
func byTask(gs []Goroutine) []Goroutine {
	gs = slices.Clone(gs)
	slices.SortStableFunc(gs, func(a, b Goroutine) int {
		if (a.Task == "") != (b.Task == "") {
			if a.Task == "" {
				return 1
			}
			return -1
		}
		if c := slices.Compare(segments(a.Task), segments(b.Task)); c != 0 {
			return c
		}
		return a.ID - b.ID
	})
	return gs
}
