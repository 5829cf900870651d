package passes_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go/types"
	"golang.org/x/tools/go/analysis/analysistest"
	"golang.org/x/tools/go/packages"
)

// The analyzers' tests type-check against stubs of gotrio's packages
// (testdata/src/github.com/gotrio/gotrio/...), so that they run in GOPATH
// mode without the library's module. Every name a stub declares must exist in
// the real package with the same signature, or the tests would prove nothing
// about the real API.
func TestStubsMatchTheRealPackages(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	require.NoError(t, err)
	if mod, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil || !strings.HasPrefix(string(mod), "module github.com/gotrio/gotrio\n") {
		t.Skip("not inside the gotrio repository: no real packages to compare the stubs with")
	}
	paths := []string{"github.com/gotrio/gotrio/cancel", "github.com/gotrio/gotrio/nursery", "github.com/gotrio/gotrio/wsock"}
	mode := packages.NeedName | packages.NeedTypes
	real := load(t, &packages.Config{Mode: mode, Dir: root}, paths)
	testdata := analysistest.TestData()
	stubs := load(t, &packages.Config{Mode: mode, Dir: testdata,
		Env: append(os.Environ(), "GOPATH="+testdata, "GO111MODULE=off", "GOWORK=off", "GOFLAGS=")}, paths)

	for _, path := range paths {
		stub, realPkg := stubs[path].Scope(), real[path].Scope()
		for _, name := range stub.Names() {
			obj := stub.Lookup(name)
			if !obj.Exported() {
				continue
			}
			want := realPkg.Lookup(name)
			if !assert.NotNil(t, want, "%s.%s is in the stub but not in the package", path, name) {
				continue
			}
			switch obj := obj.(type) {
			case *types.Func:
				assert.Equal(t, signature(want.Type()), signature(obj.Type()), "%s.%s", path, name)
			case *types.Const:
				assert.Equal(t, types.TypeString(want.Type(), nil), types.TypeString(obj.Type(), nil), "%s.%s", path, name)
			case *types.TypeName:
				compareType(t, path+"."+name, obj.Type(), want.Type())
			}
		}
	}
}

// compareType checks that the methods of stub exist in want with the same
// signatures, and that a stub type that is not a struct has want's
// underlying type.
func compareType(t *testing.T, name string, stub, want types.Type) {
	t.Helper()
	if _, isStruct := stub.Underlying().(*types.Struct); !isStruct {
		assert.Equal(t, types.TypeString(want.Underlying(), nil), types.TypeString(stub.Underlying(), nil), "%s", name)
	}
	stubMethods := types.NewMethodSet(types.NewPointer(stub))
	for i := range stubMethods.Len() {
		m := stubMethods.At(i).Obj()
		got, _, _ := types.LookupFieldOrMethod(want, true, m.Pkg(), m.Name())
		if assert.NotNil(t, got, "%s.%s is in the stub but not in the package", name, m.Name()) {
			assert.Equal(t, signature(got.Type()), signature(m.Type()), "%s.%s", name, m.Name())
		}
	}
}

// load type-checks paths with cfg and returns the packages by path.
func load(t *testing.T, cfg *packages.Config, paths []string) map[string]*types.Package {
	t.Helper()
	pkgs, err := packages.Load(cfg, paths...)
	require.NoError(t, err)
	byPath := map[string]*types.Package{}
	for _, p := range pkgs {
		require.Empty(t, p.Errors, "%s", p.PkgPath)
		byPath[p.PkgPath] = p.Types
	}
	require.Len(t, byPath, len(paths))
	return byPath
}

// signature formats a function type with its type and value parameters but
// without result names, which callers cannot see.
func signature(t types.Type) string {
	sig := t.(*types.Signature)
	var b strings.Builder
	b.WriteString("func")
	if tps := sig.TypeParams(); tps.Len() > 0 {
		b.WriteString("[")
		for i := range tps.Len() {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(tps.At(i).Obj().Name() + " " + types.TypeString(tps.At(i).Constraint(), nil))
		}
		b.WriteString("]")
	}
	b.WriteString(types.TypeString(sig.Params(), nil))
	for i := range sig.Results().Len() {
		b.WriteString(" " + types.TypeString(sig.Results().At(i).Type(), nil))
	}
	return b.String()
}
