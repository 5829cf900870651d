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

// funcLitParam returns the object of the i-th parameter of lit, or nil when
// the parameter is unnamed or blank.
func funcLitParam(info *types.Info, lit *ast.FuncLit, i int) *types.Var {
	k := 0
	for _, field := range lit.Type.Params.List {
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
