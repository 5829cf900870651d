package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/tools/go/analysis"

	"github.com/gotrio/gotrio/cmd/gotriovet/passes"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEveryCheckIsAValidAnalyzerWithItsOwnName(t *testing.T) {
	require.NoError(t, analysis.Validate(passes.All))
	names := map[string]bool{}
	for _, a := range passes.All {
		assert.False(t, names[a.Name], "two analyzers named %s", a.Name)
		names[a.Name] = true
	}
	assert.Equal(t, map[string]bool{"gostmt": true, "nurseryescape": true, "connescape": true, "ctxbackground": true, "ignoredctx": true}, names)
}

// buildAndModule builds gotriovet and writes a module whose main starts a
// bare goroutine, returning the binary and the module's directory.
func buildAndModule(t *testing.T) (bin, dir string) {
	t.Helper()
	bin = filepath.Join(t.TempDir(), "gotriovet")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	dir = t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/m\n\ngo 1.26.0\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {\n\tgo func() {}()\n}\n"), 0o644))
	return bin, dir
}

// run runs name with args in dir and returns its combined output and exit code.
func run(t *testing.T, dir, name string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); ok {
		return string(out), exit.ExitCode()
	}
	require.NoError(t, err, "%s", out)
	return string(out), 0
}

func TestRunsStandaloneAndAsAVetTool(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the tool and runs go vet")
	}
	bin, dir := buildAndModule(t)

	out, code := run(t, dir, bin, "./...")
	assert.NotZero(t, code)
	assert.Contains(t, out, "main.go:4:2: go statement outside a nursery")

	out, code = run(t, dir, "go", "vet", "-vettool="+bin, "./...")
	assert.NotZero(t, code)
	assert.Contains(t, out, "main.go:4:2: go statement outside a nursery")

	out, code = run(t, dir, "go", "vet", "-vettool="+bin, "-gostmt=false", "./...")
	assert.Zero(t, code, "%s", out)
}

func TestFixRewritesSleepAgainstTheRealPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the tool and loads the library")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Skip("not inside the gotrio repository: no library to check against")
	}
	bin, dir := buildAndModule(t)
	mod := "module example.com/m\n\ngo 1.26.0\n\nrequire github.com/gotrio/gotrio v0.0.0\n\nreplace github.com/gotrio/gotrio => " + root + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))
	src := `package main

import (
	"context"
	"time"

	"github.com/gotrio/gotrio/nursery"
)

func main() {
	_ = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		n.Go(func(ctx context.Context) error {
			time.Sleep(time.Millisecond)
			return nil
		})
		return nil
	})
}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644))

	out, code := run(t, dir, bin, "./...")
	assert.NotZero(t, code)
	assert.Contains(t, out, "main.go:13:4: task body never uses its ctx and blocks in time.Sleep")

	out, _ = run(t, dir, bin, "-fix", "./...")
	fixed, err := os.ReadFile(filepath.Join(dir, "main.go"))
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(fixed), "\t\t\tif err := cancel.Sleep(ctx, time.Millisecond); err != nil {\n\t\t\t\treturn err\n\t\t\t}\n")
	assert.Contains(t, string(fixed), "\t\"github.com/gotrio/gotrio/cancel\"\n")
	out, code = run(t, dir, bin, "./...")
	assert.Zero(t, code, "the fixed program is clean: %s", out)
}
