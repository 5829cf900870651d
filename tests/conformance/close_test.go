package conformance

import (
	"bytes"
	"strconv"
	"strings"
)

// closeScenarios are section 7: the fuzzer starts the closing handshake with valid and
// invalid Close frames, some followed by frames the implementation must ignore.
func closeScenarios() []*scenario {
	var scs []*scenario
	// closing sends before, a Close frame with payload p, and after, in one write.
	closing := func(p []byte, before, after func(f *fuzzer) [][]byte) func(f *fuzzer) *outcome {
		return func(f *fuzzer) *outcome {
			var b []byte
			if before != nil {
				b = bytes.Join(before(f), nil)
			}
			b = append(b, f.frame(true, 0, opClose, p)...)
			if after != nil {
				b = append(b, bytes.Join(after(f), nil)...)
			}
			f.writeClosing(b)
			return nil
		}
	}
	normal := closePayload(1000, "")
	add := func(id string, script func(f *fuzzer) *outcome, ce closeExpect) {
		scs = append(scs, &scenario{id: id, script: script, expected: ok(), close: ce, suppressClose: true})
	}
	const hw = "Hello World!"
	scs = append(scs, &scenario{id: "7.1.1", expected: ok(text(hw)), close: normalClose,
		script: send(func(f *fuzzer) [][]byte { return [][]byte{f.frame(true, 0, opText, []byte(hw))} })})
	add("7.1.2", closing(normal, nil, func(f *fuzzer) [][]byte { return [][]byte{f.frame(true, 0, opClose, nil)} }), normalClose)
	add("7.1.3", closing(normal, nil, func(f *fuzzer) [][]byte { return [][]byte{f.frame(true, 0, opPing, []byte(hw))} }), normalClose)
	add("7.1.4", closing(normal, nil, func(f *fuzzer) [][]byte { return [][]byte{f.frame(true, 0, opText, []byte(hw))} }), normalClose)
	add("7.1.5", closing(normal,
		func(f *fuzzer) [][]byte { return [][]byte{f.frame(false, 0, opText, []byte("fragment1"))} },
		func(f *fuzzer) [][]byte { return [][]byte{f.frame(true, 0, opCont, []byte("fragment2"))} }), normalClose)
	big := bytes.Repeat([]byte("BAsd7&jh23"), 256<<10/10+1)[:256<<10]
	scs = append(scs, &scenario{id: "7.1.6", close: normalClose, suppressClose: true, informational: true,
		expected: []alternative{{verdict: OK, events: []event{message(opText, big), text(hw)}}},
		script: closing(normal,
			func(f *fuzzer) [][]byte {
				return [][]byte{f.frame(true, 0, opText, big), f.frame(true, 0, opText, []byte(hw))}
			},
			func(f *fuzzer) [][]byte { return [][]byte{f.frame(true, 0, opPing, nil)} })})

	loose := func(codes ...uint16) closeExpect { return closeExpect{byMe: true, codes: codes} }
	add("7.3.1", closing(nil, nil, nil), normalClose)
	add("7.3.2", closing([]byte("a"), nil, nil), loose(1002))
	add("7.3.3", closing(normal, nil, nil), normalClose)
	add("7.3.4", closing(closePayload(1000, hw), nil, nil), normalClose)
	add("7.3.5", closing(closePayload(1000, strings.Repeat("*", 123)), nil, nil), normalClose)
	add("7.3.6", closing(closePayload(1000, strings.Repeat("*", 124)), nil, nil), loose(1002))
	add("7.5.1", closing(closePayload(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"), nil, nil),
		loose(1002, 1007))
	for i, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		add("7.7."+strconv.Itoa(i+1), closing(closePayload(code, ""), nil, nil),
			closeExpect{byMe: true, codes: []uint16{1000, code}, requireClean: true})
	}
	for i, code := range []uint16{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999} {
		p := []byte{byte(code >> 8), byte(code)}
		add("7.9."+strconv.Itoa(i+1), closing(p, nil, nil), loose(1002))
	}
	for i, code := range []uint16{5000, 65535} {
		p := []byte{byte(code >> 8), byte(code)}
		scs = append(scs, &scenario{id: "7.13." + strconv.Itoa(i+1), script: closing(p, nil, nil), expected: ok(),
			close: loose(1000, code, 1002), suppressClose: true, informational: true})
	}
	return scs
}
