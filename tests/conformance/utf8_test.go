package conformance

import (
	"bytes"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// Section 6: UTF-8 handling. The payloads come from the case descriptions.

var (
	payloadHexRE = regexp.MustCompile(`Payload: 0x([0-9a-f]*)`)
	quotedHexRE  = regexp.MustCompile(`b'([0-9a-f]*)'`)
	partHexRE    = regexp.MustCompile(`PART(\d) = b'([0-9a-f]*)'`)
)

const (
	// quietWait is how long the fail-fast cases watch the implementation accept the valid
	// first part (Autobahn waits 1 s; the implementation has no reason to react at all).
	quietWait = 100 * time.Millisecond
	// failFastWait is how long they give it to fail on the invalid part before sending
	// the rest (Autobahn's 1 s); a close arriving sooner ends the wait at once.
	failFastWait = time.Second
)

func unhex(t testing.TB, id, s string) []byte {
	b, err := hex.DecodeString(s)
	require.NoError(t, err, id)
	return b
}

// utf8Scenario turns a case of section 6 into a scenario.
func utf8Scenario(t testing.TB, c abCase, cl *caseList) *scenario {
	valid := strings.Contains(c.Expectation, "echo")
	sc := &scenario{id: c.ID, close: badPayload, expected: ok()}
	var frags [][]byte // the message's frames
	switch {
	case c.ID == "6.1.1":
		frags = [][]byte{{}}
	case c.ID == "6.1.2":
		frags = [][]byte{{}, {}, {}}
	case c.ID == "6.1.3":
		frags = [][]byte{{}, []byte("middle frame payload"), {}}
	case strings.HasPrefix(c.ID, "6.4."):
		return failFastScenario(t, c, cl)
	case payloadHexRE.MatchString(c.Description):
		frags = [][]byte{unhex(t, c.ID, payloadHexRE.FindStringSubmatch(c.Description)[1])}
	default:
		for _, m := range quotedHexRE.FindAllStringSubmatch(c.Description, -1) {
			frags = append(frags, unhex(t, c.ID, m[1]))
		}
		require.NotEmpty(t, frags, "%s: no payload in %q", c.ID, c.Description)
		if strings.Contains(c.Description, "fragments of 1 octet") {
			msg := bytes.Join(frags, nil)
			frags = nil
			for i := range msg {
				frags = append(frags, msg[i:i+1])
			}
		}
	}
	msg := bytes.Join(frags, nil)
	require.Equal(t, valid, utf8.Valid(msg), "%s: the expectation disagrees with unicode/utf8", c.ID)
	if valid {
		sc.close, sc.expected = normalClose, ok(message(opText, msg))
	}
	sc.script = send(func(f *fuzzer) [][]byte {
		out := make([][]byte, len(frags))
		for i, fr := range frags {
			op := opText
			if i > 0 {
				op = opCont
			}
			out[i] = f.frame(i == len(frags)-1, 0, op, fr)
		}
		return out
	})
	return sc
}

// failFastScenario is a case of 6.4: a text message whose second part makes it invalid,
// sent in three parts, as three frames (6.4.1, 6.4.2) or as three chops of one frame
// (6.4.3, 6.4.4). The implementation must accept the first part, and fail the connection
// on the second (OK) or at least once the message is complete (NON-STRICT).
//
// The chops of 6.4.3 and 6.4.4 cut the frame of 6.4.1's message. Autobahn's description of
// 6.4.4 shows an empty PART3 (it prints a slice of the wrong string); its code sends the rest
// of the frame, and so does this scenario.
func failFastScenario(t testing.TB, c abCase, cl *caseList) *scenario {
	partsOf := func(id string, desc string) [][]byte {
		ms := partHexRE.FindAllStringSubmatch(desc, -1)
		require.Len(t, ms, 3, "%s: three parts in %q", id, desc)
		var ps [][]byte
		for _, m := range ms {
			ps = append(ps, unhex(t, id, m[2]))
		}
		return ps
	}
	parts := partsOf(c.ID, c.Description)
	var pieces func(f *fuzzer) [][]byte
	switch c.ID {
	case "6.4.1", "6.4.2":
		require.False(t, utf8.Valid(bytes.Join(parts, nil)), c.ID)
		pieces = func(f *fuzzer) [][]byte {
			return [][]byte{f.frame(false, 0, opText, parts[0]), f.frame(false, 0, opCont, parts[1]), f.frame(true, 0, opCont, parts[2])}
		}
	default:
		var first []byte
		for _, o := range cl.Cases {
			if o.ID == "6.4.1" {
				first = bytes.Join(partsOf(o.ID, o.Description), nil)
			}
		}
		p1, p2 := len(parts[0]), len(parts[1])
		require.True(t, bytes.HasPrefix(first, bytes.Join(parts[:2], nil)), c.ID)
		require.True(t, bytes.HasPrefix(first[p1+p2:], parts[2]), c.ID)
		pieces = func(f *fuzzer) [][]byte {
			fr := f.frame(true, 0, opText, first)
			h := len(fr) - len(first)
			return [][]byte{fr[:h+p1], fr[h+p1 : h+p1+p2], fr[h+p1+p2:]}
		}
	}
	return &scenario{
		id:    c.ID,
		close: badPayload,
		expected: []alternative{
			{verdict: OK, events: []event{timeout("A")}},
			{verdict: NonStrict, events: []event{timeout("A"), timeout("B")},
				note: "not fail-fast: the connection was failed after the message was complete, not at the invalid byte"},
		},
		script: func(f *fuzzer) *outcome {
			ps := pieces(f)
			f.write(ps[0])
			if !f.quiet(quietWait) || !f.mark("A") {
				return nil
			}
			f.write(ps[1])
			if !f.quiet(failFastWait) || !f.mark("B") {
				return nil
			}
			f.write(ps[2])
			return nil
		},
	}
}
