package passes

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/token"
	"go/types"
	"strconv"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// IgnoredCtx reports task bodies that block without ever looking at their ctx.
var IgnoredCtx = &analysis.Analyzer{
	Name: "ignoredctx",
	Doc: `report a task body that never uses its ctx while it blocks

Cancellation in Go is cooperative: a task that never looks at its ctx
cannot be cancelled, so the nursery or scope that wants to stop it waits
until it finishes on its own. A task body is a function whose first
parameter is a context.Context, passed to a function of gotrio (nursery.Run,
n.Go, n.GoNamed, nursery.Start, Scope.Run, MoveOnAfter, FailAfter,
wsock.Open, wsock.Serve and other handlers) or converted to one of its
function types (wsock.Handler): a function literal, a local variable set
once to one, or a function or method declared in the package. When the body never refers to its ctx
parameter (or leaves it unnamed), the check reports each place it blocks:
time.Sleep, a channel receive or send outside a select, and a select with
no default case. Nested function literals are not searched for blocking
(a task they start is checked on its own) but a use of ctx in them counts.

Use cancel.Sleep(ctx, d) instead of time.Sleep (a suggested fix does the
rewrite when the body returns an error), and select on the channel together
with <-ctx.Done(). A ranged channel is not reported: closing it is the
usual way such a loop ends.

Test files are not checked unless -ignoredctx.tests is set: tests block
tasks on channels on purpose to pin down an order of events, and the test's
own deadline bounds them. A deliberate blocking call elsewhere is allowed
by a comment on its line or the line above that says why:
//gotrio:ignoredctx <reason>.`,
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runIgnoredCtx,
}

var ignoredCtxTests bool

func init() {
	IgnoredCtx.Flags.BoolVar(&ignoredCtxTests, "tests", false, "check _test.go files too")
}

func runIgnoredCtx(pass *analysis.Pass) (any, error) {
	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	info := pass.TypesInfo
	optOuts := newOptOuts(pass, "ignoredctx", ignoredCtxTests)
	funcs := indexFuncs(pass)
	checked := map[ast.Node]bool{}
	for c := range insp.Root().Preorder((*ast.CallExpr)(nil)) {
		call := c.Node().(*ast.CallExpr)
		if !takesTaskBodies(info, call) {
			continue
		}
		for _, arg := range call.Args {
			body := funcs.value(arg)
			if body == nil || checked[body] || !takesCtxFirst(funcSignature(info, body)) {
				continue
			}
			checked[body] = true
			if !ignoredCtxTests && isTestFile(pass, body) {
				continue
			}
			if ctx := funcParam(info, body, 0); ctx != nil && uses(info, funcBody(body), ctx) {
				continue
			}
			checkBlocking(pass, optOuts, body, funcBody(body))
		}
	}
	optOuts.reportUnused()
	return nil, nil
}

// takesTaskBodies reports whether call calls a function of gotrio or
// converts to one of its function types (wsock.Handler): the calls whose
// function-valued arguments are task bodies.
func takesTaskBodies(info *types.Info, call *ast.CallExpr) bool {
	if tv, ok := info.Types[call.Fun]; ok && tv.IsType() {
		named, ok := types.Unalias(tv.Type).(*types.Named)
		return ok && named.Obj().Pkg() != nil && inGotrioPath(named.Obj().Pkg().Path())
	}
	return inGotrio(callee(info, call))
}

// takesCtxFirst reports whether sig's first parameter is a context.Context.
func takesCtxFirst(sig *types.Signature) bool {
	return sig != nil && sig.Params().Len() > 0 && isContext(sig.Params().At(0).Type())
}

// checkBlocking reports the blocking operations of the task body (a
// *ast.FuncLit or *ast.FuncDecl) that lie in node, outside nested function
// literals.
func checkBlocking(pass *analysis.Pass, optOuts *optOuts, body ast.Node, node ast.Node) {
	const advice = "task body never uses its ctx and blocks %s: cancellation cannot stop it; %s"
	selectOnDone := "select on it together with <-ctx.Done()"
	ast.Inspect(node, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.SelectStmt:
			hasDefault := false
			for _, clause := range n.Body.List {
				if clause.(*ast.CommClause).Comm == nil {
					hasDefault = true
				}
			}
			if !hasDefault && !optOuts.allowed(n) {
				pass.ReportRangef(selectKeyword(n), advice, "in a select", "add a case <-ctx.Done()")
			}
			for _, clause := range n.Body.List {
				for _, stmt := range clause.(*ast.CommClause).Body {
					checkBlocking(pass, optOuts, body, stmt)
				}
			}
			return false
		case *ast.UnaryExpr:
			if n.Op == token.ARROW && !optOuts.allowed(n) {
				pass.ReportRangef(n, advice, "on a channel receive", selectOnDone)
			}
		case *ast.SendStmt:
			if optOuts.allowed(n) {
				return true
			}
			pass.ReportRangef(n, advice, "on a channel send", selectOnDone)
		case *ast.CallExpr:
			if isFunc(callee(pass.TypesInfo, n), "time", "Sleep") && len(n.Args) == 1 && !optOuts.allowed(n) {
				pass.Report(analysis.Diagnostic{
					Pos:            n.Pos(),
					End:            n.End(),
					Message:        fmt.Sprintf(advice, "in time.Sleep", "use cancel.Sleep(ctx, d)"),
					SuggestedFixes: sleepFix(pass, body, n),
				})
			}
		}
		return true
	})
}

// selectKeyword returns the range of the select keyword of s.
func selectKeyword(s *ast.SelectStmt) analysis.Range {
	return rangeOf{s.Select, s.Select + token.Pos(len("select"))}
}

type rangeOf struct{ pos, end token.Pos }

func (r rangeOf) Pos() token.Pos { return r.pos }
func (r rangeOf) End() token.Pos { return r.end }

// sleepFix rewrites the statement time.Sleep(d) in the task body into
//
//	if err := cancel.Sleep(ctx, d); err != nil {
//		return err
//	}
//
// naming the ctx parameter and importing package cancel as needed. It
// offers nothing where that would not compile or would change other code:
// the call is not a statement of the body, which must return just an error, or
// the names ctx, err or cancel mean something else there.
func sleepFix(pass *analysis.Pass, body ast.Node, sleep *ast.CallExpr) []analysis.SuggestedFix {
	info := pass.TypesInfo
	sig := funcSignature(info, body)
	if sig.Results().Len() != 1 || !types.Identical(sig.Results().At(0).Type(), types.Universe.Lookup("error").Type()) {
		return nil
	}
	stmt := statementOf(funcBody(body), sleep)
	if stmt == nil {
		return nil
	}
	file := fileOf(pass, sleep.Pos())
	scope := pass.Pkg.Scope().Innermost(sleep.Pos())
	if file == nil || scope == nil {
		return nil
	}
	var edits []analysis.TextEdit

	ctxName := "ctx"
	if ctx := funcParam(info, body, 0); ctx != nil {
		ctxName = ctx.Name()
	} else {
		// Name the parameter ctx: it must not capture a ctx the body uses.
		if _, obj := scope.LookupParent("ctx", sleep.Pos()); obj != nil && uses(info, funcBody(body), obj) {
			return nil
		}
		params := funcType(body).Params.List
		first := params[0]
		if len(first.Names) == 1 { // func(_ context.Context, ...)
			edits = append(edits, analysis.TextEdit{Pos: first.Names[0].Pos(), End: first.Names[0].End(), NewText: []byte("ctx")})
		} else { // func(context.Context, T): name every parameter
			for i, field := range params {
				name := "_ "
				if i == 0 {
					name = "ctx "
				}
				edits = append(edits, analysis.TextEdit{Pos: field.Type.Pos(), End: field.Type.Pos(), NewText: []byte(name)})
			}
		}
	}

	cancelName, importEdit, ok := cancelImport(pass, file, scope, sleep.Pos())
	if !ok {
		return nil
	}
	if importEdit != nil {
		edits = append(edits, *importEdit)
	}

	var d bytes.Buffer
	if err := format.Node(&d, pass.Fset, sleep.Args[0]); err != nil {
		return nil
	}
	text := fmt.Sprintf("if err := %s.Sleep(%s, %s); err != nil {\n\treturn err\n}", cancelName, ctxName, d.String())
	edits = append(edits, analysis.TextEdit{Pos: stmt.Pos(), End: stmt.End(), NewText: []byte(text)})
	return []analysis.SuggestedFix{{Message: "Use cancel.Sleep(ctx, d)", TextEdits: edits}}
}

// statementOf returns the expression statement of block (or of a block
// nested in it, outside function literals) whose expression is call.
func statementOf(block *ast.BlockStmt, call *ast.CallExpr) *ast.ExprStmt {
	var found *ast.ExprStmt
	ast.Inspect(block, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.ExprStmt:
			if n.X == call {
				found = n
			}
		}
		return found == nil
	})
	return found
}

// cancelImport returns the name under which file refers to package cancel
// at pos, with the edit that imports it when the file does not yet; ok is
// false when the name is taken by something else there.
func cancelImport(pass *analysis.Pass, file *ast.File, scope *types.Scope, pos token.Pos) (name string, edit *analysis.TextEdit, ok bool) {
	for _, spec := range file.Imports {
		if path, _ := strconv.Unquote(spec.Path.Value); path != cancelPath {
			continue
		}
		pkgName := pass.TypesInfo.PkgNameOf(spec)
		if pkgName == nil || pkgName.Name() == "_" || pkgName.Name() == "." {
			return "", nil, false
		}
		_, obj := scope.LookupParent(pkgName.Name(), pos)
		return pkgName.Name(), nil, obj == pkgName
	}
	if _, obj := scope.LookupParent("cancel", pos); obj != nil {
		return "", nil, false
	}
	var decl *ast.GenDecl // the last import declaration
	for _, d := range file.Decls {
		if d, ok := d.(*ast.GenDecl); ok && d.Tok == token.IMPORT {
			decl = d
		}
	}
	if decl == nil {
		return "", nil, false
	}
	if !decl.Lparen.IsValid() { // import "time"
		return "cancel", &analysis.TextEdit{Pos: decl.End(), End: decl.End(), NewText: []byte("\nimport " + strconv.Quote(cancelPath))}, true
	}
	last := decl.Specs[len(decl.Specs)-1]
	return "cancel", &analysis.TextEdit{Pos: last.End(), End: last.End(), NewText: []byte("\n" + strconv.Quote(cancelPath))}, true
}
