// Package conformance rebuilds the two fuzzing modes of the Autobahn|Testsuite in Go, so
// that CI checks what Autobahn would check without Python 2 and a Docker image:
//
//   - TestServerConformance is "wstest -m fuzzingclient": a hand-written client, the
//     fuzzer, connects to wsock's echo server over loopback TCP and, case by case, sends
//     exactly the bytes the case prescribes (frames masked by hand, chopped into the
//     described writes, with reserved bits and opcodes, invalid UTF-8, broken close
//     payloads, compressed and auto-fragmented messages), then judges what comes back.
//   - TestClientConformance is "wstest -m fuzzingserver": a hand-written server, the
//     fuzzer again, accepts wsock's client, whose body echoes every message, and plays the
//     same cases with unmasked frames.
//
// The case list is testdata/autobahn-cases.json, Autobahn's own descriptions; every case
// of sections 1–7, 9, 10, 12 and 13 has a scenario. Each case gets a verdict as Autobahn
// gives it (OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED or FAILED) from the events the
// fuzzer recorded, who started the closing handshake, whether it completed, the close code
// and who closed TCP. A FAILED case fails its test, and so does an UNIMPLEMENTED one
// (wsock implements every compression parameter); the others are summed up in a table in
// the test log. Pauses in Autobahn's scripts are replaced by waits for the event they give
// the peer time to produce, so the suite runs in seconds.
//
// Sizes follow Autobahn's, except under the race detector, where section 9 sends messages
// 64 times smaller and 100 round trips instead of 1000; sections 12 and 13 send about
// 256 KiB per case instead of 1000 messages (16 KiB, at most 50 messages, under -race).
// Run
//
//	go test -v -run 'Conformance$' ./tests/conformance
//
// to see every case's verdict and detail, and the summary tables (logged, so shown with -v
// or on failure).
//
// The fuzzer shares no code with wsock: its frame codec, handshakes and permessage-deflate
// (compress/flate, and its own DEFLATE block walker that holds a peer to a negotiated
// window below 32 KiB) are its own, so a bug in wsock's engine cannot hide itself.
package conformance
