// Package passes holds gotriovet's analyzers. Each checks one way code that
// uses gotrio can break its promise that every goroutine has an owner that
// joins it and every task can be cancelled:
//
//   - GoStmt: a go statement outside package nursery;
//   - NurseryEscape: a *nursery.Nursery that outlives the body of nursery.Run;
//   - ConnEscape: a *wsock.Conn that outlives the callback that owns it;
//   - CtxBackground: context.Background or context.TODO where a ctx is in scope;
//   - IgnoredCtx: a task body that blocks without ever using its ctx.
//
// The analyzers know gotrio's API by the identity of its objects (package
// path and name, through go/types), never by spelling. A deliberate
// exception is allowed by an opt-out comment that gives a reason, on the
// reported line or the line above: //gotrio:go for GoStmt, //gotrio:NAME for
// the others. An opt-out without a reason, or one that allows nothing, is
// reported.
//
// Use All in a multichecker (cmd/gotriovet does), or pick analyzers for
// another driver.
package passes

import "golang.org/x/tools/go/analysis"

// All lists every analyzer, in the order gotriovet runs them.
var All = []*analysis.Analyzer{GoStmt, NurseryEscape, ConnEscape, CtxBackground, IgnoredCtx}
