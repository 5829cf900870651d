package conformance

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Sections 1 to 5: framing, pings and pongs, reserved bits, reserved opcodes, fragmentation.

// framingScenarios are sections 1 to 5.
func framingScenarios() []*scenario {
	var scs []*scenario
	add := func(sc *scenario) { scs = append(scs, sc) }

	// 1 Framing: text and binary messages around the length encodings.
	for sub, op := range []byte{opText, opBinary} {
		fill := byte('*')
		if op == opBinary {
			fill = 0xfe
		}
		for i, n := range []int{0, 125, 126, 127, 128, 65535, 65536, 65536} {
			chop := 0
			if i == 7 {
				chop = 997
			}
			payload := bytes.Repeat([]byte{fill}, n)
			add(&scenario{id: fmt.Sprintf("1.%d.%d", sub+1, i+1), close: normalClose, expected: ok(message(op, payload)),
				script: chopped(chop, func(f *fuzzer) [][]byte { return [][]byte{f.frame(true, 0, op, payload)} })})
		}
	}

	// 2 Pings and pongs.
	ping := func(p string, chop int) func(f *fuzzer) *outcome {
		return chopped(chop, func(f *fuzzer) [][]byte { return [][]byte{f.frame(true, 0, opPing, []byte(p))} })
	}
	fe125, fe126 := strings.Repeat("\xfe", 125), strings.Repeat("\xfe", 126)
	add(&scenario{id: "2.1", script: ping("", 0), expected: ok(pong("")), close: normalClose})
	add(&scenario{id: "2.2", script: ping(hello, 0), expected: ok(pong(hello)), close: normalClose})
	add(&scenario{id: "2.3", script: ping(binPayload, 0), expected: ok(pong(binPayload)), close: normalClose})
	add(&scenario{id: "2.4", script: ping(fe125, 0), expected: ok(pong(fe125)), close: normalClose})
	add(&scenario{id: "2.5", script: ping(fe126, 0), expected: ok(), close: protoError})
	add(&scenario{id: "2.6", script: ping(fe125, 1), expected: ok(pong(fe125)), close: normalClose})
	unsolicited := func(p string, then func(f *fuzzer)) func(f *fuzzer) *outcome {
		return func(f *fuzzer) *outcome {
			f.write(f.frame(true, 0, opPong, []byte(p)))
			then(f)
			return nil
		}
	}
	closeNow := func(f *fuzzer) { f.sendClose(1000, "") }
	add(&scenario{id: "2.7", script: unsolicited("", closeNow), expected: ok(), close: normalClose, suppressClose: true})
	add(&scenario{id: "2.8", script: unsolicited("unsolicited pong payload", closeNow), expected: ok(), close: normalClose, suppressClose: true})
	add(&scenario{id: "2.9", script: unsolicited("unsolicited pong payload", func(f *fuzzer) {
		f.write(f.frame(true, 0, opPing, []byte("ping payload")))
	}), expected: ok(pong("ping payload")), close: normalClose})
	var tenPongs []event
	for i := range 10 {
		tenPongs = append(tenPongs, pong("payload-"+strconv.Itoa(i)))
	}
	tenPings := func(chop int) func(f *fuzzer) *outcome {
		return func(f *fuzzer) *outcome {
			for i := range 10 {
				f.writeChopped(f.frame(true, 0, opPing, []byte("payload-"+strconv.Itoa(i))), chop)
			}
			return nil
		}
	}
	add(&scenario{id: "2.10", script: tenPings(0), expected: ok(tenPongs...), close: normalClose})
	add(&scenario{id: "2.11", script: tenPings(1), expected: ok(tenPongs...), close: normalClose})

	// 3 Reserved bits: without a negotiated extension, every RSV bit fails the connection.
	add(&scenario{id: "3.1", expected: ok(), close: protoError,
		script: send(func(f *fuzzer) [][]byte { return [][]byte{f.frame(true, 1, opText, []byte(hello))} })})
	for i, chop := range []int{0, -1, 1} {
		rsv := byte(i + 2)
		add(&scenario{id: "3." + strconv.Itoa(i+2), expected: okOrNonStrict(text(hello)), close: protoError,
			script: chopped(chop, func(f *fuzzer) [][]byte {
				return [][]byte{f.frame(true, 0, opText, []byte(hello)), f.frame(true, rsv, opText, []byte(hello)), f.frame(true, 0, opPing, nil)}
			})})
	}
	add(&scenario{id: "3.5", expected: ok(), close: protoError,
		script: send(func(f *fuzzer) [][]byte { return [][]byte{f.frame(true, 5, opBinary, []byte(binPayload))} })})
	add(&scenario{id: "3.6", expected: ok(), close: protoError,
		script: send(func(f *fuzzer) [][]byte { return [][]byte{f.frame(true, 6, opPing, []byte(hello))} })})
	add(&scenario{id: "3.7", expected: ok(), close: protoError,
		script: send(func(f *fuzzer) [][]byte { return [][]byte{f.frame(true, 7, opClose, nil)} })})

	// 4 Reserved opcodes.
	for _, base := range []struct {
		sub string
		op  byte
	}{{"4.1.", 3}, {"4.2.", 11}} {
		for i := range 5 {
			op, payload := base.op+byte(i), []byte(reserved)
			if i == 0 || i == 2 {
				payload = nil
			}
			sc := &scenario{id: base.sub + strconv.Itoa(i+1), expected: ok(), close: protoError,
				script: send(func(f *fuzzer) [][]byte { return [][]byte{f.frame(true, 0, op, payload)} })}
			if i >= 2 {
				sc.expected = okOrNonStrict(text(hello))
				sc.script = send(func(f *fuzzer) [][]byte {
					return [][]byte{f.frame(true, 0, opText, []byte(hello)), f.frame(true, 0, op, payload), f.frame(true, 0, opPing, nil)}
				})
			}
			add(sc)
		}
	}

	// 5 Fragmentation.
	for i, op := range []byte{opPing, opPong} {
		add(&scenario{id: "5." + strconv.Itoa(i+1), expected: ok(), close: protoError,
			script: send(func(f *fuzzer) [][]byte {
				return [][]byte{f.frame(false, 0, op, []byte("fragment1")), f.frame(true, 0, opCont, []byte("fragment2"))}
			})})
	}
	chops := []int{0, -1, 1} // one chop, frame-wise, octet-wise
	for i, chop := range chops {
		add(&scenario{id: "5." + strconv.Itoa(3+i), expected: ok(text("fragment1fragment2")), close: normalClose,
			script: chopped(chop, func(f *fuzzer) [][]byte {
				return [][]byte{f.frame(false, 0, opText, []byte("fragment1")), f.frame(true, 0, opCont, []byte("fragment2"))}
			})})
	}
	for i, chop := range chops {
		add(&scenario{id: "5." + strconv.Itoa(6+i), expected: ok(pong("pongme!"), text("fragment1fragment2")), close: normalClose,
			script: chopped(chop, func(f *fuzzer) [][]byte {
				return [][]byte{f.frame(false, 0, opText, []byte("fragment1")), f.frame(true, 0, opPing, []byte("pongme!")),
					f.frame(true, 0, opCont, []byte("fragment2"))}
			})})
	}
	for i := range 6 {
		fin, chop := i < 3, chops[i%3]
		add(&scenario{id: "5." + strconv.Itoa(9+i), expected: ok(), close: protoError,
			script: chopped(chop, func(f *fuzzer) [][]byte {
				return [][]byte{f.frame(fin, 0, opCont, []byte("non-continuation payload")), f.frame(true, 0, opText, []byte(hello))}
			})})
	}
	add(&scenario{id: "5.15", expected: okOrNonStrict(text("fragment1fragment2")), close: protoError,
		script: send(func(f *fuzzer) [][]byte {
			return [][]byte{f.frame(false, 0, opText, []byte("fragment1")), f.frame(true, 0, opCont, []byte("fragment2")),
				f.frame(false, 0, opCont, []byte("fragment3")), f.frame(true, 0, opText, []byte("fragment4"))}
		})})
	for i, fin := range []bool{false, true} {
		add(&scenario{id: "5." + strconv.Itoa(16+i), expected: ok(), close: protoError,
			script: send(func(f *fuzzer) [][]byte {
				var fs [][]byte
				for range 2 {
					fs = append(fs, f.frame(fin, 0, opCont, []byte("fragment1")), f.frame(false, 0, opText, []byte("fragment2")),
						f.frame(true, 0, opCont, []byte("fragment3")))
				}
				return fs
			})})
	}
	add(&scenario{id: "5.18", expected: ok(), close: protoError,
		script: send(func(f *fuzzer) [][]byte {
			return [][]byte{f.frame(false, 0, opText, []byte("fragment1")), f.frame(true, 0, opText, []byte("fragment2"))}
		})})
	for i, sync := range []bool{false, true} {
		add(&scenario{id: "5." + strconv.Itoa(19+i), script: pingBetweenFragments(sync), close: normalClose,
			expected: ok(pong("pongme 1!"), pong("pongme 2!"), text("fragment1fragment2fragment3fragment4fragment5"))})
	}
	return scs
}

// pingBetweenFragments is cases 5.19 and 5.20: two fragments and a ping; then, once the
// ping is answered (Autobahn waits 1 s), two more fragments, a ping and the last one.
// With sync every frame goes out in a write of its own.
func pingBetweenFragments(sync bool) func(f *fuzzer) *outcome {
	return func(f *fuzzer) *outcome {
		write := func(frames ...[]byte) {
			if sync {
				f.writeEach(frames...)
			} else {
				f.sendFrames(frames...)
			}
		}
		write(f.frame(false, 0, opText, []byte("fragment1")), f.frame(false, 0, opCont, []byte("fragment2")),
			f.frame(true, 0, opPing, []byte("pongme 1!")))
		if !f.waitFor(f.timeout, func(s state) bool { return s.count("pong") > 0 || s.settled() }) {
			return &outcome{Failed, "the first ping was not answered before the rest of the message was sent"}
		}
		write(f.frame(false, 0, opCont, []byte("fragment3")), f.frame(false, 0, opCont, []byte("fragment4")),
			f.frame(true, 0, opPing, []byte("pongme 2!")), f.frame(true, 0, opCont, []byte("fragment5")))
		return nil
	}
}
