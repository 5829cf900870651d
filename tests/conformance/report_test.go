package conformance

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/stretchr/testify/assert"
)

// knownBugs are product bugs found by this suite, by "<mode> <case id>" (mode "server" or
// "client"): such a case is skipped with "BUG: <description>" while it fails, and fails the
// test once it passes, so that the entry is removed with the fix.
var knownBugs = map[string]string{}

// checkOutcome fails the test of a FAILED case, unless it is a known bug, and of an
// UNIMPLEMENTED one: wsock implements every optional feature the suite exercises (every
// permessage-deflate parameter, small windows included), so declining one is a regression.
func checkOutcome(t *testing.T, mode, id string, o outcome) {
	t.Helper()
	t.Logf("%s %s", o.verdict, o.detail)
	bug, known := knownBugs[mode+" "+id]
	switch {
	case o.verdict == Failed && known:
		t.Skipf("BUG: %s (got: %s)", bug, o.detail)
	case o.verdict == Failed:
		assert.Failf(t, "case FAILED", "%s case %s: %s", mode, id, o.detail)
	case o.verdict == Unimplemented:
		assert.Failf(t, "case UNIMPLEMENTED", "%s case %s: %s", mode, id, o.detail)
	case known:
		assert.Failf(t, "known bug no longer shows", "%q (%s %s): remove it from knownBugs", bug, o.verdict, o.detail)
	}
}

// parallelCases bounds how many cases run at once, whatever -parallel says.
const parallelCases = 4

// maxMessageSize is the implementation's MaxMessageSize: section 9 sends 16 MiB messages,
// exactly at the limit (which is inclusive).
const maxMessageSize = 16 << 20

// caseTimeout bounds every wait of a case for the implementation; it is only ever reached
// when something is wrong.
func caseTimeout(sc *scenario) time.Duration {
	d := 5 * time.Second
	if raceEnabled {
		d *= 2
	}
	if section(sc.id) == "9" {
		d *= 3
	}
	return d
}

type result struct {
	id      string
	outcome outcome
	elapsed time.Duration
}

// report collects the verdicts of one mode and sums them up per section.
type report struct {
	mode    string
	cl      *caseList
	mu      sync.Mutex
	results []result
}

func (r *report) add(id string, o outcome, elapsed time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, result{id, o, elapsed})
}

var verdicts = []verdict{OK, NonStrict, Informational, Unimplemented, Failed}

// summary is the table of verdict counts per section, then every case that is not OK.
func (r *report) summary(total time.Duration) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	order := map[string]int{}
	for i, c := range r.cl.Cases {
		order[c.ID] = i
	}
	slices.SortFunc(r.results, func(a, b result) int { return order[a.id] - order[b.id] })
	counts := map[string]map[verdict]int{}
	spent := map[string]time.Duration{}
	var sections []string
	for _, res := range r.results {
		s := section(res.id)
		if counts[s] == nil {
			counts[s] = map[verdict]int{}
			sections = append(sections, s)
		}
		counts[s][res.outcome.verdict]++
		spent[s] += res.elapsed
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s conformance: %d cases in %v\n", r.mode, len(r.results), total.Round(time.Millisecond))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "section\t\tcases\t")
	for _, v := range verdicts {
		fmt.Fprintf(tw, "%s\t", v)
	}
	fmt.Fprintln(tw, "case time\t")
	sum := map[verdict]int{}
	for _, s := range sections {
		n := 0
		for _, v := range verdicts {
			n += counts[s][v]
			sum[v] += counts[s][v]
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t", s, r.cl.Categories[s], n)
		for _, v := range verdicts {
			fmt.Fprintf(tw, "%d\t", counts[s][v])
		}
		fmt.Fprintf(tw, "%v\t\n", spent[s].Round(time.Millisecond))
	}
	fmt.Fprintf(tw, "total\t\t%d\t", len(r.results))
	for _, v := range verdicts {
		fmt.Fprintf(tw, "%d\t", sum[v])
	}
	fmt.Fprintln(tw, "\t")
	_ = tw.Flush()
	if len(r.results) > 0 {
		slowest := slices.MaxFunc(r.results, func(a, b result) int { return int(a.elapsed - b.elapsed) })
		fmt.Fprintf(&b, "slowest case: %s in %v\n", slowest.id, slowest.elapsed.Round(time.Millisecond))
	}
	for _, res := range r.results {
		if res.outcome.verdict != OK {
			fmt.Fprintf(&b, "  %-8s %-13s %s\n", res.id, res.outcome.verdict, res.outcome.detail)
		}
	}
	return b.String()
}
