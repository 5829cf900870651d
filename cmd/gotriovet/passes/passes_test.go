package passes_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/gotrio/gotrio/cmd/gotriovet/passes"
)

func TestGoStmt(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), passes.GoStmt, "gostmt", "github.com/gotrio/gotrio/nursery")
}

func TestNurseryEscape(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), passes.NurseryEscape, "nurseryescape")
}

func TestConnEscape(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), passes.ConnEscape, "connescape")
}

func TestCtxBackground(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), passes.CtxBackground, "ctxbackground")
}

func TestIgnoredCtx(t *testing.T) {
	analysistest.RunWithSuggestedFixes(t, analysistest.TestData(), passes.IgnoredCtx, "ignoredctx")
}
