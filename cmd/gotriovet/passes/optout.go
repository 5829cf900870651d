package passes

import (
	"go/ast"
	"go/token"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// An optOut is one opt-out comment: //gotrio:NAME reason.
type optOut struct {
	comment *ast.Comment
	reason  string
	used    bool
}

// optOuts holds the opt-out comments of one check in a package. A comment
// allows what the check reports on the comment's line or the line below; it
// must give a reason, and one that allows nothing is reported, so stale
// opt-outs do not pile up.
type optOuts struct {
	pass      *analysis.Pass
	directive string // "//gotrio:go"
	byLine    map[*token.File]map[int]*optOut
	all       []*optOut
}

// newOptOuts collects the //gotrio:name comments of pass's files, of its
// _test.go files only if tests is set (a check that skips test files leaves
// their opt-outs alone).
func newOptOuts(pass *analysis.Pass, name string, tests bool) *optOuts {
	o := &optOuts{pass: pass, directive: "//gotrio:" + name, byLine: map[*token.File]map[int]*optOut{}}
	for _, file := range pass.Files {
		if !tests && isTestFile(pass, file) {
			continue
		}
		tf := pass.Fset.File(file.Pos())
		lines := map[int]*optOut{}
		for _, group := range file.Comments {
			for _, c := range group.List {
				rest, ok := strings.CutPrefix(c.Text, o.directive)
				if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
					continue
				}
				d := &optOut{comment: c, reason: strings.TrimSpace(rest)}
				lines[tf.Line(c.Pos())] = d
				o.all = append(o.all, d)
			}
		}
		o.byLine[tf] = lines
	}
	return o
}

// allowed reports whether an opt-out on node's line or the line above allows
// what the check would report at node. An opt-out without a reason allows it
// but is reported at node.
func (o *optOuts) allowed(node ast.Node) bool {
	tf := o.pass.Fset.File(node.Pos())
	if tf == nil {
		return false
	}
	line := tf.Line(node.Pos())
	d := o.byLine[tf][line]
	if d == nil {
		d = o.byLine[tf][line-1]
	}
	if d == nil {
		return false
	}
	d.used = true
	if d.reason == "" {
		o.pass.ReportRangef(node, "%s needs a reason: say why this is deliberate", o.directive)
	}
	return true
}

// reportUnused reports the opt-outs that allowed nothing.
func (o *optOuts) reportUnused() {
	for _, d := range o.all {
		if !d.used {
			o.pass.ReportRangef(d.comment, "%s allows nothing here (it must be on the reported line or the line above)", o.directive)
		}
	}
}
