package passes

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"
)

// An escape follows a handle whose lifetime is a callback (the *Nursery of a
// nursery.Run body, the *Conn of a wsock.Open body) through the callback's
// code and reports each place it may outlive the callback.
//
// Local variables of the callback that come to hold the handle (an alias, a
// struct or slice built around it, a closure that captures it, a method value
// bound to it) are followed too. The handle may be passed to functions called
// while the callback runs, and captured by tasks of a nursery opened inside
// the callback (they are joined before it returns). It escapes when a value
// holding it is
//   - assigned to a variable declared outside the callback, a package-level
//     variable, or a field, element or pointee of something not local to it;
//   - sent on a channel;
//   - returned from a function literal inside the callback;
//   - captured by a go statement, by time.AfterFunc, or by a task of a
//     nursery that is not opened inside the callback.
type escape struct {
	pass    *analysis.Pass
	region  ast.Node              // the callback: *ast.FuncLit or *ast.FuncDecl
	body    *ast.BlockStmt        // its body
	what    string                // "*nursery.Nursery", for messages
	handle  types.Object          // the callback's parameter or variable that is the handle
	held    map[types.Object]bool // local variables that hold the handle
	optOuts *optOuts
	report  bool // false while growing held, true on the final walk
	seen    map[token.Pos]bool
}

// checkEscape reports each escape of handle from region.
func checkEscape(pass *analysis.Pass, optOuts *optOuts, region ast.Node, handle types.Object, what string) {
	e := &escape{pass: pass, optOuts: optOuts, region: region, body: funcBody(region), what: what, handle: handle, held: map[types.Object]bool{handle: true}, seen: map[token.Pos]bool{}}
	for {
		n := len(e.held)
		e.walk()
		if len(e.held) == n {
			break
		}
	}
	e.report = true
	e.walk()
}

// local reports whether obj is the handle or declared in the callback's body
// (the callback's other parameters and receiver come from its caller).
func (e *escape) local(obj types.Object) bool {
	return obj != nil && (obj == e.handle || obj.Pkg() == e.pass.Pkg && within(obj.Pos(), e.body))
}

func (e *escape) reportf(node ast.Node, format string, args ...any) {
	if !e.report || e.seen[node.Pos()] {
		return
	}
	e.seen[node.Pos()] = true
	if e.optOuts.allowed(node) {
		return
	}
	e.pass.ReportRangef(node, "%s escapes its block: "+format, append([]any{e.what}, args...)...)
}

// holds reports whether the value of x may hold the handle.
func (e *escape) holds(x ast.Expr) bool {
	info := e.pass.TypesInfo
	if _, basic := types.Unalias(info.TypeOf(x)).(*types.Basic); basic {
		return false // a number, string or bool cannot hold a pointer
	}
	switch x := ast.Unparen(x).(type) {
	case *ast.Ident:
		return e.held[info.Uses[x]]
	case *ast.UnaryExpr:
		return x.Op == token.AND && e.holds(x.X)
	case *ast.StarExpr:
		return e.holds(x.X)
	case *ast.SelectorExpr:
		if sel := info.Selections[x]; sel != nil {
			return e.holds(x.X) // a field of a holder, or a method value bound to one
		}
		return false
	case *ast.IndexExpr:
		return e.holds(x.X)
	case *ast.SliceExpr:
		return e.holds(x.X)
	case *ast.TypeAssertExpr:
		return e.holds(x.X)
	case *ast.CompositeLit:
		for _, elt := range x.Elts {
			if kv, ok := elt.(*ast.KeyValueExpr); ok {
				if e.holds(kv.Key) || e.holds(kv.Value) {
					return true
				}
			} else if e.holds(elt) {
				return true
			}
		}
		return false
	case *ast.FuncLit:
		return e.captures(x)
	case *ast.CallExpr:
		if tv, ok := info.Types[x.Fun]; ok && tv.IsType() && len(x.Args) == 1 {
			return e.holds(x.Args[0]) // a conversion
		}
		if id, ok := ast.Unparen(x.Fun).(*ast.Ident); ok {
			if b, ok := info.Uses[id].(*types.Builtin); ok && b.Name() == "append" {
				for _, arg := range x.Args {
					if e.holds(arg) {
						return true
					}
				}
			}
		}
		return false
	}
	return false
}

// captures reports whether lit refers to a holder declared outside it.
func (e *escape) captures(lit *ast.FuncLit) bool {
	found := false
	ast.Inspect(lit.Body, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			if obj := e.pass.TypesInfo.Uses[id]; e.held[obj] && !within(obj.Pos(), lit) {
				found = true
			}
		}
		return !found
	})
	return found
}

// store handles the assignment of a holder to dst.
func (e *escape) store(dst ast.Expr, at ast.Node) {
	info := e.pass.TypesInfo
	switch d := ast.Unparen(dst).(type) {
	case *ast.Ident:
		obj := info.ObjectOf(d)
		if obj == nil || d.Name == "_" {
			return
		}
		if e.local(obj) {
			e.held[obj] = true
			return
		}
		if obj.Parent() == obj.Pkg().Scope() {
			e.reportf(at, "stored in package-level variable %s", d.Name)
		} else {
			e.reportf(at, "assigned to %s, declared outside the callback", d.Name)
		}
	case *ast.SelectorExpr, *ast.IndexExpr, *ast.StarExpr:
		root := rootIdent(d)
		if root != nil && e.local(info.ObjectOf(root)) {
			e.held[info.ObjectOf(root)] = true
			return
		}
		switch d.(type) {
		case *ast.SelectorExpr:
			e.reportf(at, "stored in a field of a value from outside the callback")
		case *ast.IndexExpr:
			e.reportf(at, "stored in an element of a value from outside the callback")
		default:
			e.reportf(at, "stored through a pointer from outside the callback")
		}
	}
}

// rootIdent returns the variable at the root of x.f[i].g..., or nil.
func rootIdent(x ast.Expr) *ast.Ident {
	for {
		switch y := ast.Unparen(x).(type) {
		case *ast.Ident:
			return y
		case *ast.SelectorExpr:
			x = y.X
		case *ast.IndexExpr:
			x = y.X
		case *ast.StarExpr:
			x = y.X
		default:
			return nil
		}
	}
}

// walk visits the callback once, growing held and, on the final walk,
// reporting escapes.
func (e *escape) walk() {
	var funcs []*ast.FuncLit // function literals enclosing the node, innermost last
	var visit func(n ast.Node) bool
	visit = func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			if ast.Node(n) != e.region {
				funcs = append(funcs, n)
				ast.Inspect(n.Body, visit)
				funcs = funcs[:len(funcs)-1]
				return false
			}
		case *ast.AssignStmt:
			if len(n.Lhs) == len(n.Rhs) {
				for i, rhs := range n.Rhs {
					if e.holds(rhs) {
						e.store(n.Lhs[i], n)
					}
				}
			}
		case *ast.ValueSpec:
			if len(n.Names) == len(n.Values) {
				for i, v := range n.Values {
					if e.holds(v) {
						e.store(n.Names[i], n)
					}
				}
			}
		case *ast.RangeStmt:
			if e.holds(n.X) && n.Value != nil {
				e.store(n.Value, n)
			}
		case *ast.SendStmt:
			if e.holds(n.Value) {
				e.reportf(n, "sent on a channel")
			}
		case *ast.ReturnStmt:
			if len(funcs) > 0 {
				for _, r := range n.Results {
					if e.holds(r) {
						e.reportf(r, "returned from a function literal")
					}
				}
			}
		case *ast.GoStmt:
			if e.holds(n.Call.Fun) || e.anyHolds(n.Call.Args) {
				e.reportf(n, "captured by a go statement")
			}
		case *ast.CallExpr:
			e.call(n)
		}
		return true
	}
	ast.Inspect(e.body, visit)
}

func (e *escape) anyHolds(xs []ast.Expr) bool {
	for _, x := range xs {
		if e.holds(x) {
			return true
		}
	}
	return false
}

// call checks the calls that keep a function value beyond the call: the
// task-starting calls of package nursery (fine when the nursery is opened
// inside the callback) and time.AfterFunc.
func (e *escape) call(call *ast.CallExpr) {
	fn := callee(e.pass.TypesInfo, call)
	var nurseryArg ast.Expr // the nursery the call starts a task in
	var task ast.Expr
	switch {
	case fn == nil:
		return
	case isMethod(fn, nurseryPath, "Nursery", "Go") && len(call.Args) == 1:
		nurseryArg, task = methodRecv(call), call.Args[0]
	case isMethod(fn, nurseryPath, "Nursery", "GoNamed") && len(call.Args) == 2:
		nurseryArg, task = methodRecv(call), call.Args[1]
	case isFunc(fn, nurseryPath, "Start") && len(call.Args) == 3:
		nurseryArg, task = call.Args[1], call.Args[2]
	case isFunc(fn, "time", "AfterFunc") && len(call.Args) == 2:
		if e.holds(call.Args[1]) {
			e.reportf(call, "captured by a time.AfterFunc callback")
		}
		return
	default:
		return
	}
	if !e.holds(task) {
		return
	}
	if nurseryArg != nil {
		if id := rootIdent(nurseryArg); id != nil && e.local(e.pass.TypesInfo.ObjectOf(id)) {
			return // the task is joined before the callback returns
		}
	}
	e.reportf(call, "captured by a task of a nursery that outlives the callback")
}

// methodRecv returns the receiver expression of a method call x.m(...), or nil.
func methodRecv(call *ast.CallExpr) ast.Expr {
	if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok {
		return sel.X
	}
	return nil
}
