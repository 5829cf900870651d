package conformance

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// abCase is a case of testdata/autobahn-cases.json, Autobahn's own description of it.
type abCase struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	Expectation string `json:"expectation"`
}

type caseList struct {
	Categories    map[string]string `json:"categories"`
	Subcategories map[string]string `json:"subcategories"`
	Cases         []abCase          `json:"cases"`
}

func loadCases(t testing.TB) *caseList {
	t.Helper()
	b, err := os.ReadFile("testdata/autobahn-cases.json")
	require.NoError(t, err)
	var cl caseList
	require.NoError(t, json.Unmarshal(b, &cl))
	require.NotEmpty(t, cl.Cases)
	return &cl
}

// section returns the section of a case id: "6" for "6.4.1".
func section(id string) string {
	s, _, _ := strings.Cut(id, ".")
	return s
}

// subcategory returns the subcategory of a case id: "6.4" for "6.4.1".
func subcategory(id string) string {
	i := strings.LastIndexByte(id, '.')
	return id[:i]
}

// covered reports whether a case belongs to the sections this package must cover.
func covered(id string) bool {
	switch section(id) {
	case "1", "2", "3", "4", "5", "6", "7", "9", "10", "12", "13":
		return true
	}
	return false
}

func TestEveryCaseHasAScenario(t *testing.T) {
	cl := loadCases(t)
	scs := scenarios(t, cl)
	var want, have []string
	for _, c := range cl.Cases {
		if covered(c.ID) {
			want = append(want, c.ID)
		}
	}
	for _, sc := range scs {
		have = append(have, sc.id)
	}
	assert.Equal(t, want, have, "one scenario per case of sections 1–7, 9, 10, 12 and 13, in the list's order")
}

// scenarios builds the scenario of every covered case, in the order of the case list.
func scenarios(t testing.TB, cl *caseList) []*scenario {
	t.Helper()
	byID := map[string]*scenario{}
	add := func(sc *scenario) {
		require.NotContains(t, byID, sc.id, "two scenarios for one case")
		byID[sc.id] = sc
	}
	for _, sc := range framingScenarios() {
		add(sc)
	}
	for _, sc := range closeScenarios() {
		add(sc)
	}
	for _, sc := range limitScenarios() {
		add(sc)
	}
	for _, c := range cl.Cases {
		switch {
		case strings.HasPrefix(c.ID, "6."):
			add(utf8Scenario(t, c, cl))
		case section(c.ID) == "12" || section(c.ID) == "13":
			cc, err := compressionCaseOf(c, cl.Subcategories[subcategory(c.ID)])
			require.NoError(t, err)
			add(&scenario{id: c.ID, script: cc.script, close: normalClose, suppressClose: true, compression: cc})
		}
	}
	var out []*scenario
	for _, c := range cl.Cases {
		if sc, ok := byID[c.ID]; ok {
			out = append(out, sc)
			delete(byID, c.ID)
		}
	}
	require.Empty(t, byID, "scenarios for cases missing from the case list")
	return out
}

// --- expectations ----------------------------------------------------------------------

func ok(events ...event) []alternative { return []alternative{{verdict: OK, events: events}} }

// okOrNonStrict: the implementation may fail the connection before answering (Autobahn
// accepts it as NON-STRICT).
func okOrNonStrict(events ...event) []alternative {
	return []alternative{{verdict: OK, events: events},
		{verdict: NonStrict, events: nil, note: "the connection was failed before the echo went out"}}
}

func message(op byte, data []byte) event { return event{kind: "message", op: op, data: data} }
func text(s string) event                { return message(opText, []byte(s)) }
func pong(s string) event                { return event{kind: "pong", data: []byte(s)} }
func timeout(label string) event         { return event{kind: "timeout", data: []byte(label)} }

// send is a script that sends frames built by build in one write.
func send(build func(f *fuzzer) [][]byte) func(f *fuzzer) *outcome {
	return func(f *fuzzer) *outcome {
		f.sendFrames(build(f)...)
		return nil
	}
}

// chopped is a script that sends the frames built by build in the given chops: 0 all at
// once, -1 frame by frame, n > 0 in n-byte writes.
func chopped(chop int, build func(f *fuzzer) [][]byte) func(f *fuzzer) *outcome {
	return func(f *fuzzer) *outcome {
		frames := build(f)
		if chop < 0 {
			f.writeEach(frames...)
			return nil
		}
		f.writeChopped(bytes.Join(frames, nil), chop)
		return nil
	}
}

const (
	hello      = "Hello, world!"
	binPayload = "\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
	reserved   = "reserved opcode payload"
)
