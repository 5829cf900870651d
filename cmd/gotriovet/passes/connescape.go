package passes

import (
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// ConnEscape reports a *wsock.Conn that may be used after the callback that
// owns it has returned.
var ConnEscape = &analysis.Analyzer{
	Name: "connescape",
	Doc: `report a *wsock.Conn that escapes the callback that owns it

wsock.Open closes its connection when the body returns, and a server closes
a handler's connection when the handler returns; a *wsock.Conn kept beyond
that is closed under whoever uses it. The check follows the conn c of the body
passed to wsock.Open (a function literal, a local variable set once to one,
or a function or method declared in the package), and a conn a function gets from
(*wsock.Request).Accept, with the same rules as nurseryescape: it reports a
value holding the conn that is stored in a variable declared outside the
callback, a package-level variable, or a field or element of something from
outside; sent on a channel; returned from a function literal; or captured by
a go statement, a time.AfterFunc callback or a task of a nursery that
outlives the callback.

Accepted: passing c to functions called while the callback runs, and tasks
of a nursery opened inside the callback (a reader and a writer sharing c).
A deliberate escape is allowed by a comment on the reported line or the
line above that says why: //gotrio:connescape <reason>.`,
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runConnEscape,
}

func runConnEscape(pass *analysis.Pass) (any, error) {
	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	const what = "*wsock.Conn"
	optOuts := newOptOuts(pass, "connescape", true)
	funcs := indexFuncs(pass)
	checked := map[ast.Node]bool{}
	for c := range insp.Root().Preorder((*ast.CallExpr)(nil)) {
		call := c.Node().(*ast.CallExpr)
		fn := callee(pass.TypesInfo, call)
		switch {
		case isFunc(fn, wsockPath, "Open") && len(call.Args) == 4:
			body := funcs.value(call.Args[3])
			if body == nil || checked[body] {
				continue
			}
			checked[body] = true
			if conn := funcParam(pass.TypesInfo, body, 1); conn != nil {
				checkEscape(pass, optOuts, body, conn, what)
			}
		case isMethod(fn, wsockPath, "Request", "Accept"):
			conn := acceptedConn(pass.TypesInfo, c)
			if conn == nil {
				continue
			}
			for fn := range c.Enclosing((*ast.FuncLit)(nil), (*ast.FuncDecl)(nil)) {
				checkEscape(pass, optOuts, fn.Node(), conn, what)
				break
			}
		}
	}
	optOuts.reportUnused()
	return nil, nil
}

// acceptedConn returns the variable that the Accept call at c assigns its
// conn to (c, err := r.Accept(...)), or nil.
func acceptedConn(info *types.Info, c inspector.Cursor) types.Object {
	var lhs ast.Expr
	switch parent := c.Parent().Node().(type) {
	case *ast.AssignStmt:
		if len(parent.Rhs) == 1 && len(parent.Lhs) == 2 {
			lhs = parent.Lhs[0]
		}
	case *ast.ValueSpec:
		if len(parent.Values) == 1 && len(parent.Names) == 2 {
			lhs = parent.Names[0]
		}
	}
	id, ok := lhs.(*ast.Ident)
	if !ok || id.Name == "_" {
		return nil
	}
	return info.ObjectOf(id)
}
