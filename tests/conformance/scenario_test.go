package conformance

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// verdict is a case's result, in Autobahn's words.
type verdict string

const (
	OK            verdict = "OK"
	NonStrict     verdict = "NON-STRICT"    // passes, but not as strictly as the RFC would like
	Informational verdict = "INFORMATIONAL" // the spec leaves the outcome open; recorded only
	Unimplemented verdict = "UNIMPLEMENTED" // an optional feature (a compression parameter) is declined
	Failed        verdict = "FAILED"
)

type outcome struct {
	verdict verdict
	detail  string
}

// alternative is one list of events the implementation may produce, and what it earns.
type alternative struct {
	verdict verdict
	events  []event
	note    string // why it earns less than OK
}

// closeExpect is how the connection must end (Autobahn's expectedClose).
type closeExpect struct {
	byMe         bool     // the fuzzer starts the closing handshake (else the implementation fails the connection)
	codes        []uint16 // acceptable close codes from the implementation (no code is always acceptable)
	requireClean bool     // the closing handshake must complete
}

var (
	normalClose = closeExpect{byMe: true, codes: []uint16{1000}, requireClean: true}
	protoError  = closeExpect{codes: []uint16{1002}}
	badPayload  = closeExpect{codes: []uint16{1007}}
)

// scenario is one case: the bytes the fuzzer sends and what it expects back.
type scenario struct {
	id string
	// script sends the case's bytes, waiting where the case waits. It returns an outcome
	// only for cases that judge the events themselves (sections 12 and 13).
	script   func(f *fuzzer) *outcome
	expected []alternative
	close    closeExpect
	// suppressClose: the script sends its own Close frame (or none); otherwise the fuzzer
	// closes with 1000 as soon as the events match (Autobahn's finishWhenDone).
	suppressClose bool
	informational bool
	compression   *compressionCase
}

// play runs sc over f, from the open connection to the end of TCP, and judges it.
func play(f *fuzzer, sc *scenario) outcome {
	own := sc.script(f)
	if sc.close.byMe && !sc.suppressClose {
		f.waitFor(f.timeout, func(s state) bool {
			return s.settled() || matches(s.events, sc.expected) != nil || !couldMatch(s.events, sc.expected)
		})
		if !f.snapshot().settled() {
			f.sendClose(1000, "")
		}
	}
	if !f.waitFor(f.timeout, state.settled) {
		f.note("the implementation did not react within %v", f.timeout)
	}
	if s := f.snapshot(); s.violation != "" && s.peerClose == nil && !f.sentCloseNow() {
		f.sendClose(1002, "") // end it quickly: the verdict is settled
	} else if s.peerClose == nil && !s.ended && !f.sentCloseNow() {
		f.sendClose(1000, "") // the implementation did not fail the connection: close it
	}
	f.finish()
	return judge(f, sc, own)
}

// judge gives the verdict from what the fuzzer saw, as Autobahn's Case.onConnectionLost.
func judge(f *fuzzer, sc *scenario, own *outcome) outcome {
	f.mu.Lock()
	events, peerClose, violation := f.events, f.peerClose, f.violation
	closedByMe := f.sentClose
	if peerClose != nil {
		closedByMe = f.closedByMe
	}
	clean := f.sentClose && peerClose != nil
	dropped, notes := f.droppedByMe, f.notes
	f.mu.Unlock()
	if violation != "" {
		return outcome{Failed, "protocol violation by the implementation: " + violation}
	}
	var o outcome
	switch {
	case own != nil:
		o = *own
	default:
		o = outcome{Failed, fmt.Sprintf("got %s, want %s", describeAll(events), describeAll(sc.expected[0].events))}
		if alt := matches(events, sc.expected); alt != nil {
			o = outcome{alt.verdict, alt.note}
		}
	}
	var problem string
	switch {
	case closedByMe != sc.close.byMe && sc.close.byMe:
		problem = "the implementation started the closing handshake"
	case closedByMe != sc.close.byMe:
		problem = "the implementation did not fail the connection"
	case sc.close.requireClean && !clean:
		problem = "UNCLEAN: the closing handshake did not complete"
	case peerClose != nil && peerClose.hasCode && !slices.Contains(sc.close.codes, peerClose.code):
		problem = fmt.Sprintf("WRONG CODE: closed with %d, want %v", peerClose.code, sc.close.codes)
	case dropped:
		problem = "the server did not close TCP after the closing handshake: the fuzzer had to"
	}
	closing := describeClose(closedByMe, clean, peerClose)
	if sc.informational {
		return outcome{Informational, strings.TrimPrefix(o.detail+"; ", "; ") + describeAll(events) + ", " + closing}
	}
	if problem != "" {
		detail := problem + " (" + closing + "; events " + describeAll(events) + ")"
		if len(notes) > 0 {
			detail += "; notes: " + strings.Join(notes, "; ")
		}
		if o.verdict != Failed {
			return outcome{Failed, detail}
		}
		o.detail += "; " + detail
	}
	return o
}

// matches returns the first alternative events equal, or nil.
func matches(events []event, alts []alternative) *alternative {
	for i := range alts {
		if equalEvents(events, alts[i].events) {
			return &alts[i]
		}
	}
	return nil
}

// couldMatch reports whether more events could still make events match an alternative.
func couldMatch(events []event, alts []alternative) bool {
	for _, a := range alts {
		if len(events) <= len(a.events) && equalEvents(events, a.events[:len(events)]) {
			return true
		}
	}
	return false
}

func equalEvents(a, b []event) bool {
	return slices.EqualFunc(a, b, func(x, y event) bool {
		return x.kind == y.kind && x.op == y.op && bytes.Equal(x.data, y.data)
	})
}

func describe(e event) string {
	d := e.data
	s := fmt.Sprintf("%q", d)
	if len(d) > 24 {
		s = fmt.Sprintf("%q…(%d bytes)", d[:24], len(d))
	}
	if e.kind == "message" {
		return opName(e.op) + " " + s
	}
	return e.kind + " " + s
}

func describeAll(events []event) string {
	if len(events) == 0 {
		return "[]"
	}
	if len(events) > 6 {
		return fmt.Sprintf("[%s … %d events … %s]", describe(events[0]), len(events), describe(events[len(events)-1]))
	}
	s := make([]string, len(events))
	for i, e := range events {
		s[i] = describe(e)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func describeClose(byMe, clean bool, c *closeInfo) string {
	who := "the implementation"
	if byMe {
		who = "the fuzzer"
	}
	switch {
	case c == nil:
		return "no close frame from the implementation"
	case !c.hasCode:
		return fmt.Sprintf("closed by %s, no code, clean %t", who, clean)
	}
	return fmt.Sprintf("closed by %s, code %d %q, clean %t", who, c.code, c.reason, clean)
}
