// Package passes holds gotriovet's analyzers: each checks one way user code
// can break gotrio's promise that every goroutine has an owner that joins it
// and every task can be cancelled.
package passes

import "golang.org/x/tools/go/analysis"

// All lists every analyzer, in the order gotriovet runs them.
var All = []*analysis.Analyzer{GoStmt, NurseryEscape, ConnEscape, CtxBackground, IgnoredCtx}
