package passes

import (
	"go/ast"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// GoStmt reports go statements outside package nursery.
var GoStmt = &analysis.Analyzer{
	Name: "gostmt",
	Doc: `report go statements outside package nursery

A goroutine started with a go statement has no owner: nothing joins it, its
panic crashes the program, and its failure cancels nothing. Start it in a
nursery instead (n.Go, n.GoNamed, nursery.Start), so the block that starts
it waits for it.

Test files are checked too. A go statement inside the function passed to
synctest.Test (or synctest.Run) is accepted: the bubble joins every
goroutine started in it before Test returns.

A deliberate go statement is allowed by a comment on its line or the line
above that says why:

	//gotrio:go the peer must write while the test reads; joined by <-done
	go peer.write(done)

An opt-out without a reason, or one that annotates no go statement, is
itself reported.`,
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runGoStmt,
}

func runGoStmt(pass *analysis.Pass) (any, error) {
	if pass.Pkg.Path() == nurseryPath {
		return nil, nil // the one place goroutines are started
	}
	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	optOuts := newOptOuts(pass, "go", true)
	for c := range insp.Root().Preorder((*ast.GoStmt)(nil)) {
		stmt := c.Node().(*ast.GoStmt)
		if optOuts.allowed(stmt) || inBubble(pass, c) {
			continue
		}
		pass.ReportRangef(stmt, "go statement outside a nursery: start the goroutine with n.Go (package nursery) so its block joins it, or say why with //gotrio:go <reason>")
	}
	optOuts.reportUnused()
	return nil, nil
}

// inBubble reports whether the node at c lies in a function literal passed
// to synctest.Test or synctest.Run, whose bubble joins every goroutine
// started in it.
func inBubble(pass *analysis.Pass, c inspector.Cursor) bool {
	for lit := range c.Enclosing((*ast.FuncLit)(nil)) {
		call, ok := lit.Parent().Node().(*ast.CallExpr)
		if !ok {
			continue
		}
		fn := callee(pass.TypesInfo, call)
		if (isFunc(fn, synctestPath, "Test") || isFunc(fn, synctestPath, "Run")) && len(call.Args) > 0 && unparen(call.Args[len(call.Args)-1]) == lit.Node() {
			return true
		}
	}
	return false
}
