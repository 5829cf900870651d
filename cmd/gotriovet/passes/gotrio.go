package passes

import (
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/types/typeutil"
)

// The packages whose API the checks know, by import path: the checks compare
// types.Object identity (package path and name), never spelling, so a renamed
// import or a dot-import is seen through and a same-named foreign package is not.
const (
	modulePath   = "github.com/gotrio/gotrio"
	cancelPath   = modulePath + "/cancel"
	nurseryPath  = modulePath + "/nursery"
	wsockPath    = modulePath + "/wsock"
	synctestPath = "testing/synctest"
)

// callee returns the function or method a call statically calls (the generic
// origin for an instantiation), or nil for calls of function values, builtins
// and conversions.
func callee(info *types.Info, call *ast.CallExpr) *types.Func {
	fn, _ := typeutil.Callee(info, call).(*types.Func)
	if fn == nil {
		return nil
	}
	return fn.Origin()
}

// isFunc reports whether fn is the package-level function pkg.name.
func isFunc(fn *types.Func, pkg, name string) bool {
	if fn == nil || fn.Pkg() == nil || fn.Pkg().Path() != pkg || fn.Name() != name {
		return false
	}
	return fn.Type().(*types.Signature).Recv() == nil
}

// isMethod reports whether fn is the method (*pkg.typ).name or (pkg.typ).name.
func isMethod(fn *types.Func, pkg, typ, name string) bool {
	if fn == nil || fn.Name() != name {
		return false
	}
	recv := fn.Type().(*types.Signature).Recv()
	return recv != nil && isNamed(recv.Type(), pkg, typ)
}

// isNamed reports whether t, or what t points to, is the named type pkg.name.
func isNamed(t types.Type, pkg, name string) bool {
	if p, ok := types.Unalias(t).(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := types.Unalias(t).(*types.Named)
	if !ok {
		return false
	}
	obj := n.Origin().Obj()
	return obj.Pkg() != nil && obj.Pkg().Path() == pkg && obj.Name() == name
}

// isContext reports whether t is context.Context.
func isContext(t types.Type) bool { return isNamed(t, "context", "Context") }

// inGotrio reports whether fn belongs to one of gotrio's public packages (not
// internal ones): the functions that take task bodies.
func inGotrio(fn *types.Func) bool {
	if fn == nil || fn.Pkg() == nil {
		return false
	}
	return inGotrioPath(fn.Pkg().Path())
}

// inGotrioPath reports whether path is one of gotrio's public packages.
func inGotrioPath(path string) bool {
	return (path == modulePath || strings.HasPrefix(path, modulePath+"/")) && !strings.Contains(path, "/internal")
}

// uses reports whether any identifier under root refers to obj.
func uses(info *types.Info, root ast.Node, obj types.Object) bool {
	found := false
	ast.Inspect(root, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && info.Uses[id] == obj {
			found = true
		}
		return !found
	})
	return found
}

// within reports whether pos lies inside node.
func within(pos token.Pos, node ast.Node) bool { return node.Pos() <= pos && pos < node.End() }

// unparen strips parentheses.
func unparen(e ast.Expr) ast.Expr { return ast.Unparen(e) }

// fileOf returns the file of pass that holds pos.
func fileOf(pass *analysis.Pass, pos token.Pos) *ast.File {
	for _, f := range pass.Files {
		if within(pos, f) {
			return f
		}
	}
	return nil
}

// isTestFile reports whether node lies in a _test.go file.
func isTestFile(pass *analysis.Pass, node ast.Node) bool {
	return strings.HasSuffix(pass.Fset.File(node.Pos()).Name(), "_test.go")
}

// A funcIndex finds the code of the function values a package passes
// around: the functions and methods it declares, and the local variables
// that are set once, to a function literal (task := func(ctx ...) {...}).
type funcIndex struct {
	pass  *analysis.Pass
	decls map[*types.Func]*ast.FuncDecl
	lits  map[*types.Var]*ast.FuncLit
}

// indexFuncs builds the funcIndex of pass.
func indexFuncs(pass *analysis.Pass) *funcIndex {
	ix := &funcIndex{pass: pass, decls: map[*types.Func]*ast.FuncDecl{}, lits: map[*types.Var]*ast.FuncLit{}}
	info := pass.TypesInfo
	assigned := map[*types.Var]int{}
	for _, file := range pass.Files {
		for _, d := range file.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				if fn, ok := info.Defs[fd.Name].(*types.Func); ok {
					ix.decls[fn] = fd
				}
			}
		}
		ast.Inspect(file, func(n ast.Node) bool {
			var lhs []*ast.Ident
			var rhs []ast.Expr
			switch n := n.(type) {
			case *ast.AssignStmt:
				for _, l := range n.Lhs {
					id, _ := ast.Unparen(l).(*ast.Ident)
					lhs = append(lhs, id)
				}
				rhs = n.Rhs
			case *ast.ValueSpec:
				lhs, rhs = n.Names, n.Values
			case *ast.UnaryExpr: // &task lets anything set it
				if id, ok := ast.Unparen(n.X).(*ast.Ident); ok && n.Op == token.AND {
					if v, ok := info.ObjectOf(id).(*types.Var); ok {
						assigned[v] += 2
					}
				}
			}
			for i, id := range lhs {
				v, ok := info.ObjectOf(id).(*types.Var)
				if id == nil || !ok {
					continue
				}
				assigned[v]++
				if len(lhs) == len(rhs) {
					if lit, ok := ast.Unparen(rhs[i]).(*ast.FuncLit); ok {
						ix.lits[v] = lit
					}
				}
			}
			return true
		})
	}
	for v := range ix.lits {
		if assigned[v] != 1 || v.Parent() == pass.Pkg.Scope() {
			delete(ix.lits, v) // set again, or a package-level variable anyone may set
		}
	}
	return ix
}

// value returns the code that x, a function-valued argument, denotes: a
// *ast.FuncLit (written there or held by a variable set once), or the
// *ast.FuncDecl of a function or method value declared in the package (f,
// s.method). It returns nil for anything else.
func (ix *funcIndex) value(x ast.Expr) ast.Node {
	info := ix.pass.TypesInfo
	switch x := ast.Unparen(x).(type) {
	case *ast.FuncLit:
		return x
	case *ast.Ident:
		switch obj := info.Uses[x].(type) {
		case *types.Func:
			if d := ix.decls[obj]; d != nil {
				return d
			}
		case *types.Var:
			if lit := ix.lits[obj]; lit != nil {
				return lit
			}
		}
	case *ast.SelectorExpr:
		if fn, ok := info.Uses[x.Sel].(*types.Func); ok && ix.decls[fn] != nil {
			return ix.decls[fn]
		}
	}
	return nil
}

// funcParam returns the object of the i-th parameter of a *ast.FuncLit or
// *ast.FuncDecl, or nil when it is unnamed or blank.
func funcParam(info *types.Info, fn ast.Node, i int) *types.Var {
	ft := funcType(fn)
	if ft == nil {
		return nil
	}
	k := 0
	for _, field := range ft.Params.List {
		if len(field.Names) == 0 {
			if k == i {
				return nil
			}
			k++
			continue
		}
		for _, name := range field.Names {
			if k == i {
				if name.Name == "_" {
					return nil
				}
				v, _ := info.Defs[name].(*types.Var)
				return v
			}
			k++
		}
	}
	return nil
}

// funcBody returns the body of a *ast.FuncLit or *ast.FuncDecl.
func funcBody(fn ast.Node) *ast.BlockStmt {
	switch fn := fn.(type) {
	case *ast.FuncLit:
		return fn.Body
	case *ast.FuncDecl:
		return fn.Body
	}
	return nil
}

// funcType returns the type of a *ast.FuncLit or *ast.FuncDecl.
func funcType(fn ast.Node) *ast.FuncType {
	switch fn := fn.(type) {
	case *ast.FuncLit:
		return fn.Type
	case *ast.FuncDecl:
		return fn.Type
	}
	return nil
}

// funcSignature returns the signature of a *ast.FuncLit or *ast.FuncDecl.
func funcSignature(info *types.Info, fn ast.Node) *types.Signature {
	switch fn := fn.(type) {
	case *ast.FuncLit:
		sig, _ := info.TypeOf(fn).(*types.Signature)
		return sig
	case *ast.FuncDecl:
		if obj := info.Defs[fn.Name]; obj != nil {
			return obj.Type().(*types.Signature)
		}
	}
	return nil
}
