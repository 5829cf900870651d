package passes_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/gotrio/gotrio/cmd/gotriovet/passes"
)

// Each analyzer's testdata (testdata/src/NAME) is its specification: a
// "// want" comment marks each line it must report, and every other line
// must stay silent, the tricky accepted cases included. The tests that change
// an analyzer's flags run first and alone; the others run in parallel.

func TestGoStmt(t *testing.T) {
	t.Parallel()
	analysistest.Run(t, analysistest.TestData(), passes.GoStmt, "gostmt", "github.com/gotrio/gotrio/nursery")
}

func TestNurseryEscape(t *testing.T) {
	t.Parallel()
	analysistest.Run(t, analysistest.TestData(), passes.NurseryEscape, "nurseryescape")
}

func TestConnEscape(t *testing.T) {
	t.Parallel()
	analysistest.Run(t, analysistest.TestData(), passes.ConnEscape, "connescape")
}

func TestCtxBackground(t *testing.T) {
	t.Parallel()
	analysistest.Run(t, analysistest.TestData(), passes.CtxBackground, "ctxbackground")
}

func TestIgnoredCtx(t *testing.T) {
	t.Parallel()
	analysistest.RunWithSuggestedFixes(t, analysistest.TestData(), passes.IgnoredCtx, "ignoredctx")
}

func TestIgnoredCtxChecksTestFilesWhenAsked(t *testing.T) {
	setFlag(t, passes.IgnoredCtx, "tests", "true")
	analysistest.Run(t, analysistest.TestData(), passes.IgnoredCtx, "ignoredctxtests")
}

func TestCtxBackgroundChecksTestFilesWhenAsked(t *testing.T) {
	setFlag(t, passes.CtxBackground, "tests", "true")
	analysistest.Run(t, analysistest.TestData(), passes.CtxBackground, "ctxbackgroundtests")
}

// setFlag sets a flag of a for the duration of the test.
func setFlag(t *testing.T, a *analysis.Analyzer, name, value string) {
	t.Helper()
	old := a.Flags.Lookup(name).Value.String()
	require.NoError(t, a.Flags.Set(name, value))
	t.Cleanup(func() { require.NoError(t, a.Flags.Set(name, old)) })
}
