package nurserytest

import "io"

// SetStderr makes VerifyTestMain report to w until restore is called.
func SetStderr(w io.Writer) (restore func()) {
	old := stderr
	stderr = w
	return func() { stderr = old }
}

var (
	ParseStacks = parseStacks
	LabelsOn    = labelsOn
	Snapshot    = snapshot
)
