package passes

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// CtxBackground reports context.Background and context.TODO where a
// context.Context is in scope.
var CtxBackground = &analysis.Analyzer{
	Name: "ctxbackground",
	Doc: `report context.Background() and context.TODO() where a ctx is in scope

A fresh root context cuts the cancellation tree: work started under it is
not cancelled with the scope or nursery that the surrounding ctx belongs
to, and it loses the deadline and the values. The check reports a call of
context.Background or context.TODO at a point where a variable of type
context.Context is in scope: a parameter of the enclosing function or of a
function it is nested in, or a local variable declared earlier.

Use the ctx in scope; to detach work on purpose (a cleanup that must run
after cancellation), say so with context.WithoutCancel(ctx), which keeps
the values, or a shielded cancel scope. A function with no ctx in scope
(main before it makes one, init, package-level variables, a method like
Close that takes none) is not reported, nor is the idiom that gives a nil
ctx a root (if ctx == nil { ctx = context.Background() }).

Test files are not checked unless -ctxbackground.tests is set: a test is
the root of its own tree, and tests of cancellation build independent roots
on purpose. A deliberate root elsewhere is allowed by a comment on its line
or the line above that says why: //gotrio:ctxbackground <reason>.`,
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runCtxBackground,
}

var ctxBackgroundTests bool

func init() {
	CtxBackground.Flags.BoolVar(&ctxBackgroundTests, "tests", false, "check _test.go files too")
}

func runCtxBackground(pass *analysis.Pass) (any, error) {
	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	optOuts := newOptOuts(pass, "ctxbackground", ctxBackgroundTests)
	for c := range insp.Root().Preorder((*ast.CallExpr)(nil)) {
		call := c.Node().(*ast.CallExpr)
		fn := callee(pass.TypesInfo, call)
		if !isFunc(fn, "context", "Background") && !isFunc(fn, "context", "TODO") {
			continue
		}
		if !ctxBackgroundTests && isTestFile(pass, call) {
			continue
		}
		if defaultsNilContext(pass.TypesInfo, c) {
			continue
		}
		if ctx := contextInScope(pass, call); ctx != nil && !optOuts.allowed(call) {
			pass.ReportRangef(call, "context.%s() cuts the cancellation tree while %s is in scope: use %s, or context.WithoutCancel(%s) to detach on purpose", fn.Name(), ctx.Name(), ctx.Name(), ctx.Name())
		}
	}
	optOuts.reportUnused()
	return nil, nil
}

// contextInScope returns a variable of type context.Context that is in scope
// at node, declared inside a function, or nil.
func contextInScope(pass *analysis.Pass, node ast.Node) *types.Var {
	pos := node.Pos()
	pkgScope := pass.Pkg.Scope()
	for s := pkgScope.Innermost(pos); s != nil && s != pkgScope && s.Parent() != pkgScope; s = s.Parent() {
		for _, name := range s.Names() {
			v, ok := s.Lookup(name).(*types.Var)
			if !ok || !isContext(v.Type()) {
				continue
			}
			if _, visible := s.LookupParent(name, pos); visible == types.Object(v) {
				return v
			}
		}
	}
	return nil
}

// defaultsNilContext reports whether the call at c is the idiom that gives a
// nil ctx a root, which cuts nothing:
//
//	if ctx == nil {
//		ctx = context.Background()
//	}
func defaultsNilContext(info *types.Info, c inspector.Cursor) bool {
	assign, ok := c.Parent().Node().(*ast.AssignStmt)
	if !ok || assign.Tok != token.ASSIGN || len(assign.Lhs) != 1 || len(assign.Rhs) != 1 {
		return false
	}
	lhs, ok := assign.Lhs[0].(*ast.Ident)
	if !ok {
		return false
	}
	v := info.ObjectOf(lhs)
	block, ok := c.Parent().Parent().Node().(*ast.BlockStmt)
	if !ok {
		return false
	}
	ifStmt, ok := c.Parent().Parent().Parent().Node().(*ast.IfStmt)
	if !ok || ifStmt.Body != block {
		return false
	}
	cond, ok := ast.Unparen(ifStmt.Cond).(*ast.BinaryExpr)
	if !ok || cond.Op != token.EQL {
		return false
	}
	isV := func(x ast.Expr) bool { id, ok := ast.Unparen(x).(*ast.Ident); return ok && info.ObjectOf(id) == v }
	isNil := func(x ast.Expr) bool { return info.Types[x].IsNil() }
	return isV(cond.X) && isNil(cond.Y) || isNil(cond.X) && isV(cond.Y)
}
