package bench

// WebSocket comparison: gotrio's wsock beside gorilla/websocket,
// coder/websocket and lxzan/gws, each library serving and dialing itself
// (same-library pairs) over loopback TCP, without compression. Every
// benchmark names its library with an "impl=NAME" key, so that
//
//	benchstat -col /impl bench.txt
//
// puts the libraries side by side. The benchmarks:
//
//   - BenchmarkEcho: one connection, one message at a time, round trip
//     latency (ns/op is one round trip; p50-ns and p99-ns are percentiles of
//     the recorded round trips). Client and server share the process, so
//     allocs/op counts both sides of a round trip.
//   - BenchmarkThroughput: 64 connections echoing concurrently; MB/s counts
//     the payload echoed (one direction).
//   - BenchmarkEchoRemote, BenchmarkThroughputRemote: the same with the
//     server in a peer process, as a user's server and its clients run;
//     allocs/op is the client's.
//   - BenchmarkBroadcast (ws_broadcast_test.go): one message to many
//     connections.
//   - BenchmarkCompressed (ws_compress_test.go): echo throughput of 4 KiB
//     JSON-like text with permessage-deflate on both sides.
//   - BenchmarkSend: a client sends binary messages to a server in another
//     process (a peer, see childEnv); allocs/op is the client's per Send.
//   - BenchmarkReceive: a server receives binary messages from a client in
//     another process; allocs/op is the server's per received message.
//   - BenchmarkIdleConn: a server in another process holds many idle
//     connections; it reports the server's heap+stack growth per connection
//     (server-B/conn, runtime.MemStats HeapInuse+StackInuse after GC), the
//     stack part of it (server-stack-B/conn), its RSS growth
//     (server-rss-B/conn), its goroutines per connection
//     (server-goroutines/conn) and the client process's heap+stack growth
//     (client-B/conn); ns/op is the time to open one connection,
//     dialWorkers at a time. 10 000 connections by default; 200 under
//     -short or -benchtime 1x; BENCH_IDLE_CONNS=N overrides both.

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// maxLatencySamples bounds the round trips whose latency is recorded.
const maxLatencySamples = 1 << 20

// echoSizes are the message sizes of BenchmarkEcho.
var echoSizes = []int{16, 4 << 10}

// throughputSizes are the message sizes of BenchmarkThroughput.
var throughputSizes = []int{16, 4 << 10, 64 << 10}

// throughputConns is the number of concurrent connections of BenchmarkThroughput.
const throughputConns = 64

// oneWaySizes are the message sizes of BenchmarkSend and BenchmarkReceive.
var oneWaySizes = []int{16, 4 << 10}

// serveLocal starts im's server in this process and stops it at the end of b.
func serveLocal(b *testing.B, im wsImpl) (string, *handler) {
	b.Helper()
	h := newHandler()
	addr, stop, err := im.serve(h)
	if err != nil {
		b.Fatalf("serve %s: %v", im.name, err)
	}
	b.Cleanup(stop)
	return addr, h
}

func BenchmarkEcho(b *testing.B) { benchEcho(b, false) }

// BenchmarkEchoRemote is BenchmarkEcho with the server in a peer process:
// allocs/op counts the client's side of a round trip only.
func BenchmarkEchoRemote(b *testing.B) { benchEcho(b, true) }

func BenchmarkThroughput(b *testing.B) { benchThroughput(b, false) }

// BenchmarkThroughputRemote is BenchmarkThroughput with the server in a peer
// process.
func BenchmarkThroughputRemote(b *testing.B) { benchThroughput(b, true) }

// echoServer returns the address of im's echo server: in this process, or,
// when remote, in a peer process of ps.
func echoServer(b *testing.B, ps *peers, im wsImpl, remote bool) string {
	if remote {
		return ps.get(b, "serve:"+im.name).addr
	}
	addr, _ := serveLocal(b, im)
	return addr
}

func benchEcho(b *testing.B, remote bool) {
	ps := newPeers(b)
	for _, size := range echoSizes {
		for _, im := range impls {
			b.Run(fmt.Sprintf("size=%d/impl=%s", size, im.name), func(b *testing.B) {
				addr := echoServer(b, ps, im, remote)
				msg := make([]byte, size)
				err := im.clients(context.Background(), "ws://"+addr+"/echo", 1, func(cs []wsClient) error {
					c := cs[0]
					if err := c.echo(msg, 1, nil); err != nil { // warm up
						return err
					}
					lat := make([]time.Duration, min(b.N, maxLatencySamples))
					b.ReportAllocs()
					b.ResetTimer()
					err := c.echo(msg, b.N, lat)
					b.StopTimer()
					if err != nil {
						return err
					}
					reportLatency(b, lat)
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

func benchThroughput(b *testing.B, remote bool) {
	ps := newPeers(b)
	for _, size := range throughputSizes {
		for _, im := range impls {
			name := fmt.Sprintf("conns=%d/size=%d/impl=%s", throughputConns, size, im.name)
			b.Run(name, func(b *testing.B) {
				addr := echoServer(b, ps, im, remote)
				msg := make([]byte, size)
				err := im.clients(context.Background(), "ws://"+addr+"/echo", throughputConns, func(cs []wsClient) error {
					for _, c := range cs {
						if err := c.echo(msg, 1, nil); err != nil { // warm up
							return err
						}
					}
					errs := make([]error, len(cs))
					var wg sync.WaitGroup
					b.SetBytes(int64(size))
					b.ReportAllocs()
					b.ResetTimer()
					for i, c := range cs {
						n := b.N / len(cs)
						if i < b.N%len(cs) {
							n++
						}
						wg.Go(func() { errs[i] = c.echo(msg, n, nil) })
					}
					wg.Wait()
					b.StopTimer()
					for _, err := range errs {
						if err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

func BenchmarkSend(b *testing.B) {
	ps := newPeers(b)
	for _, size := range oneWaySizes {
		for _, im := range impls {
			b.Run(fmt.Sprintf("size=%d/impl=%s", size, im.name), func(b *testing.B) {
				p := ps.get(b, "serve:"+im.name)
				msg := make([]byte, size)
				err := im.clients(context.Background(), "ws://"+p.addr+"/sink", 1, func(cs []wsClient) error {
					c := cs[0]
					if err := c.send(msg, 1); err != nil { // warm up
						return err
					}
					if err := c.sync(); err != nil {
						return err
					}
					b.SetBytes(int64(size))
					b.ReportAllocs()
					b.ResetTimer()
					if err := c.send(msg, b.N); err != nil {
						return err
					}
					err := c.sync() // the server has received everything
					b.StopTimer()
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

func BenchmarkReceive(b *testing.B) {
	ps := newPeers(b)
	for _, size := range oneWaySizes {
		for _, im := range impls {
			b.Run(fmt.Sprintf("size=%d/impl=%s", size, im.name), func(b *testing.B) {
				addr, h := serveLocal(b, im)
				p := ps.get(b, "send:"+im.name)
				p.call(b, "dial ws://"+addr+"/sink")
				defer p.call(b, "close")
				if err := h.waitOpen(1, peerTimeout); err != nil {
					b.Fatal(err)
				}
				h.expect(1) // warm up
				p.call(b, "send 1 "+strconv.Itoa(size))
				if err := h.waitReached(peerTimeout); err != nil {
					b.Fatal(err)
				}
				h.expect(b.N)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				if err := p.write(fmt.Sprintf("send %d %d", b.N, size)); err != nil {
					b.Fatal(err)
				}
				err := h.waitReached(peerTimeout)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.read(); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// idleConns is the number of connections of BenchmarkIdleConn: see the
// comment at the top of this file. It is capped by the limit on open files.
func idleConns(b *testing.B) int {
	n := 10000
	if smokeRun() {
		n = 200
	}
	if s := os.Getenv("BENCH_IDLE_CONNS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("BENCH_IDLE_CONNS=%q: want a positive number", s)
		}
		n = v
	}
	if limit := int(fileLimit) - 256; n > limit {
		b.Logf("%d idle connections exceed the open-file limit %d: opening %d", n, fileLimit, limit)
		n = limit
	}
	return n
}

// BenchmarkIdleConn measures in b.Loop, which calls the function once: each
// iteration (one with -benchtime 1x or when opening takes longer than
// -benchtime) starts a server peer, opens n connections and measures; the
// metrics are the iterations' means.
func BenchmarkIdleConn(b *testing.B) {
	n := idleConns(b)
	for _, im := range impls {
		b.Run(fmt.Sprintf("conns=%d/impl=%s", n, im.name), func(b *testing.B) {
			var sum idleMetrics
			iters := 0
			for b.Loop() {
				sum = sum.plus(measureIdle(b, im, n))
				iters++
			}
			sum.report(b, iters)
		})
	}
}

// idleMetrics are BenchmarkIdleConn's per-connection measurements.
type idleMetrics struct {
	openNs, server, serverStack, serverRSS, serverGoroutines, client float64
}

func (m idleMetrics) plus(o idleMetrics) idleMetrics {
	return idleMetrics{
		m.openNs + o.openNs, m.server + o.server, m.serverStack + o.serverStack,
		m.serverRSS + o.serverRSS, m.serverGoroutines + o.serverGoroutines, m.client + o.client,
	}
}

func (m idleMetrics) report(b *testing.B, iters int) {
	k := float64(max(iters, 1))
	b.ReportMetric(m.openNs/k, "ns/op")
	b.ReportMetric(m.server/k, "server-B/conn")
	b.ReportMetric(m.serverStack/k, "server-stack-B/conn")
	b.ReportMetric(m.serverRSS/k, "server-rss-B/conn")
	b.ReportMetric(m.serverGoroutines/k, "server-goroutines/conn")
	b.ReportMetric(m.client/k, "client-B/conn")
}

// measureIdle starts a server peer of im, opens n idle connections to it and
// returns the growth of both processes per connection.
func measureIdle(b *testing.B, im wsImpl, n int) idleMetrics {
	p := startPeer(b, "serve:"+im.name)
	defer p.stop()
	serverBefore := p.mem(b, 0)
	clientBefore := measureMem()
	start := time.Now()
	var m idleMetrics
	err := im.clients(context.Background(), "ws://"+p.addr+"/echo", n, func([]wsClient) error {
		open := time.Since(start)
		serverAfter := p.mem(b, n)
		clientAfter := measureMem()
		// Stop the server first: the clients then close at once, without
		// waiting for closing handshakes.
		p.stop()
		m = idleMetrics{
			openNs:           float64(open.Nanoseconds()) / float64(n),
			server:           perConn(serverBefore.heapStack(), serverAfter.heapStack(), n),
			serverStack:      perConn(serverBefore.stack, serverAfter.stack, n),
			serverRSS:        perConn(serverBefore.rss, serverAfter.rss, n),
			serverGoroutines: perConn(serverBefore.goroutines, serverAfter.goroutines, n),
			client:           perConn(clientBefore.heapStack(), clientAfter.heapStack(), n),
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return m
}
