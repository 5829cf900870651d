// Package xconnect lets a test run with net/http's HTTP/2 extended CONNECT
// (RFC 8441) switched on. net/http's HTTP/2 server advertises
// SETTINGS_ENABLE_CONNECT_PROTOCOL, and accepts requests carrying :protocol,
// only when GODEBUG holds http2xconnect=1 at start-up: it reads the variable
// once, in an init function, and the setting is not one a //go:debug
// directive can set. A test that needs it therefore runs again in a child
// process of its test binary with the variable set.
package xconnect

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Setting is the GODEBUG setting that enables extended CONNECT.
const Setting = "http2xconnect=1"

// Enabled reports whether this process runs with Setting.
func Enabled() bool { return strings.Contains(os.Getenv("GODEBUG"), Setting) }

// Run reports whether the calling test, a top-level one, should run its body
// here: when this process has Setting, it returns true. Otherwise it runs the
// test in a child process of the test binary with GODEBUG extended by
// Setting, fails t unless the test ran and passed there (skips t if it was
// skipped there), and returns false.
// The child's output is logged.
func Run(t *testing.T) bool {
	t.Helper()
	if Enabled() {
		return true
	}
	godebug := Setting
	if cur := os.Getenv("GODEBUG"); cur != "" {
		godebug = cur + "," + Setting
	}
	args := []string{"-test.run=^" + t.Name() + "$", "-test.count=1", "-test.v"}
	if d, ok := t.Deadline(); ok {
		// The child times out, with its goroutine dump, before the parent.
		args = append(args, "-test.timeout="+(time.Until(d)*9/10).String())
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = append(os.Environ(), "GODEBUG="+godebug)
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		t.Log(line)
	}
	if err != nil {
		t.Fatalf("xconnect: %s with GODEBUG=%s: %v", t.Name(), godebug, err)
	}
	if strings.Contains(string(out), "--- SKIP: "+t.Name()) {
		t.Skipf("xconnect: %s skipped with GODEBUG=%s", t.Name(), godebug)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("xconnect: %s did not run with GODEBUG=%s", t.Name(), godebug)
	}
	return false
}
