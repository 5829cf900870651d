package conformance

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"unicode/utf8"
)

// Sections 9 and 10: large messages, many fragments, small writes, many round trips, and
// auto-fragmentation.

// big scales the sizes of section 9 down under the race detector.
func big(n int) int {
	if raceEnabled && n > 64<<10 {
		return n / 64
	}
	return n
}

// limitScenarios are sections 9 and 10.
func limitScenarios() []*scenario {
	var scs []*scenario
	add := func(id string, script func(f *fuzzer) *outcome, events ...event) {
		scs = append(scs, &scenario{id: id, script: script, expected: ok(events...), close: normalClose})
	}
	ops := []byte{opText, opBinary}
	for sub, op := range ops {
		for i, n := range []int{64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20} {
			msg := payloadOf(op, big(n))
			add(fmt.Sprintf("9.%d.%d", 1+sub, i+1), send(func(f *fuzzer) [][]byte { return [][]byte{f.frame(true, 0, op, msg)} }),
				message(op, msg))
		}
	}
	for sub, op := range ops {
		msg := payloadOf(op, big(4<<20))
		for i, n := range []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20} {
			add(fmt.Sprintf("9.%d.%d", 3+sub, i+1), send(func(f *fuzzer) [][]byte { return [][]byte{f.fragments(op, 0, msg, n)} }),
				message(op, msg))
		}
	}
	for sub, op := range ops {
		msg := payloadOf(op, big(1<<20))
		for i, n := range []int{64, 128, 256, 512, 1024, 2048} {
			add(fmt.Sprintf("9.%d.%d", 5+sub, i+1), chopped(n, func(f *fuzzer) [][]byte { return [][]byte{f.frame(true, 0, op, msg)} }),
				message(op, msg))
		}
	}
	count := 1000
	if raceEnabled {
		count = 100
	}
	for sub, op := range ops {
		for i, n := range []int{0, 16, 64, 256, 1024, 4096} {
			msg := payloadOf(op, n)
			echoes := make([]event, count)
			for j := range echoes {
				echoes[j] = message(op, msg)
			}
			add(fmt.Sprintf("9.%d.%d", 7+sub, i+1), roundTrips(op, msg, count), echoes...)
		}
	}
	msg := bytes.Repeat([]byte("*"), 65536)
	add("10.1.1", send(func(f *fuzzer) [][]byte { return [][]byte{f.fragments(opText, 0, msg, 1300)} }), text(string(msg)))
	return scs
}

// roundTrips sends count messages, each once the previous one is echoed.
func roundTrips(op byte, msg []byte, count int) func(f *fuzzer) *outcome {
	return func(f *fuzzer) *outcome {
		for i := range count {
			f.write(f.frame(true, 0, op, msg))
			if !f.waitFor(f.timeout, func(s state) bool { return len(s.events) > i || s.settled() }) || f.snapshot().settled() {
				return nil
			}
		}
		return nil
	}
}

var (
	payloadMu    sync.Mutex
	payloadCache = map[[2]int][]byte{}
)

// payloadOf returns n bytes for a message of section 9: for text, valid UTF-8 mixing ASCII
// with 2-, 3- and 4-byte code points (so that fragments end inside code points); for
// binary, random bytes. It is shared and read-only.
func payloadOf(op byte, n int) []byte {
	payloadMu.Lock()
	defer payloadMu.Unlock()
	key := [2]int{int(op), n}
	if b, ok := payloadCache[key]; ok {
		return b
	}
	var b []byte
	if op == opText {
		const pattern = "BAsd7&jh23 µ€𝄞 Hello-µ@ßöäüàá-UTF-8!! κόσμε "
		b = bytes.Repeat([]byte(pattern), n/len(pattern)+1)[:n]
		for i := len(b) - 1; i >= 0 && !utf8.Valid(b); i-- {
			b[i] = '*' // do not end inside a code point
		}
	} else {
		b = make([]byte, n)
		rng := rand.NewChaCha8([32]byte{9})
		_, _ = rng.Read(b)
	}
	b = b[:n:n]
	payloadCache[key] = b
	return b
}
