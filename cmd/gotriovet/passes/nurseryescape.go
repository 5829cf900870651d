package passes

import (
	"go/ast"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// NurseryEscape reports a *nursery.Nursery that may outlive the body of the
// nursery.Run that opened it.
var NurseryEscape = &analysis.Analyzer{
	Name: "nurseryescape",
	Doc: `report a *nursery.Nursery that escapes the body of nursery.Run

A nursery's handle must not outlive its block (Trio's rule): once Run has
returned, Go panics with ErrClosed, and a handle kept for later hides who
owns the goroutines it would start. The check follows the handle n of the
body passed to nursery.Run, and local variables that come to
hold it (aliases, structs and slices built around it, closures that capture
it, method values such as n.Go), and reports each value holding it that is
stored in a variable declared outside the body, a package-level variable,
or a field or element of something from outside; sent on a channel;
returned from a function literal; or captured by a go statement, a
time.AfterFunc callback or a task of another nursery that outlives the body.

Accepted: passing n to a function called while the body runs, deferring a
call that uses it, and closures passed to n.Go, n.GoNamed or nursery.Start
of n or of a nursery opened inside the body (they are joined before Run
returns). A body held by a local variable set once, or given as a function
or method declared in the package (nursery.Run(ctx, s.serve)), is followed
the same way; its receiver and other
parameters count as coming from outside.

A deliberate escape (a test that Go panics after Run) is allowed by a
comment on the reported line or the line above that says why:

	//gotrio:nurseryescape the test calls Go after Run to see it panic
	kept = n`,
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runNurseryEscape,
}

func runNurseryEscape(pass *analysis.Pass) (any, error) {
	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	optOuts := newOptOuts(pass, "nurseryescape", true)
	funcs := indexFuncs(pass)
	checked := map[ast.Node]bool{}
	for c := range insp.Root().Preorder((*ast.CallExpr)(nil)) {
		call := c.Node().(*ast.CallExpr)
		if !isFunc(callee(pass.TypesInfo, call), nurseryPath, "Run") || len(call.Args) != 2 {
			continue
		}
		body := funcs.value(call.Args[1])
		if body == nil || checked[body] {
			continue
		}
		checked[body] = true
		if n := funcParam(pass.TypesInfo, body, 1); n != nil {
			checkEscape(pass, optOuts, body, n, "*nursery.Nursery")
		}
	}
	optOuts.reportUnused()
	return nil, nil
}
