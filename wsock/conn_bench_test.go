package wsock

import (
	"context"
	"io"
	"net"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock/internal/proto"
)

// Allocation counts are process-wide, so the Send and Receive benchmarks face a raw peer
// that allocates nothing per message: what they report is the Conn's own cost.

var benchSizes = []int{16, 4 << 10, 64 << 10}

// benchTransports runs fn over net.Pipe and loopback TCP.
func benchTransports(b *testing.B, fn func(b *testing.B, tcp bool)) {
	for _, tcp := range []bool{false, true} {
		name := "pipe"
		if tcp {
			name = "tcp"
		}
		b.Run(name, func(b *testing.B) { fn(b, tcp) })
	}
}

// withBenchConn runs body with a Conn of role over one end of a fresh connection, its
// reader started as Accept and Connect start it (over TCP, Receive reads the socket
// itself), and the raw other end.
func withBenchConn(b testing.TB, tcp bool, role proto.Role, body func(ctx context.Context, c *Conn, peer net.Conn)) {
	ours, theirs := connectedSockets(b, tcp)
	if role == proto.Client {
		ours, theirs = theirs, ours
	}
	c := newConn(testConfig(ours, role))
	err := nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		startConn(n, c, limits{logger: c.logger}, func(error) {})
		body(ctx, c, theirs)
		// The raw peer cannot answer the Close frame the cancelled reader sends: it hangs
		// up instead, so that the reader ends at once rather than after DisconnectTimeout.
		theirs.Close()
		n.Scope().Cancel("benchmark over")
		return nil
	})
	require.NoError(b, err)
}

// BenchmarkSend measures Send to a peer that discards what it reads, as a client (masking)
// and as a server.
func BenchmarkSend(b *testing.B) {
	benchTransports(b, func(b *testing.B, tcp bool) {
		for _, role := range []proto.Role{proto.Client, proto.Server} {
			roleName := map[proto.Role]string{proto.Client: "client", proto.Server: "server"}[role]
			for _, size := range benchSizes {
				b.Run(roleName+"/"+strconv.Itoa(size), func(b *testing.B) {
					withBenchConn(b, tcp, role, func(ctx context.Context, c *Conn, peer net.Conn) {
						drained := make(chan struct{})
						//gotrio:go drains the raw peer socket; closing it ends the copy, joined by <-drained
						go func() {
							io.Copy(io.Discard, peer)
							close(drained)
						}()
						data := make([]byte, size)
						b.SetBytes(int64(size))
						b.ReportAllocs()
						b.ResetTimer()
						for range b.N {
							if err := c.SendBinary(ctx, data); err != nil {
								b.Fatal(err)
							}
						}
						b.StopTimer()
						c.nc.Close()
						<-drained
					})
				})
			}
		}
	})
}

// BenchmarkSendPrepared measures SendPrepared of a message framed once, as a broadcast
// sends it to each recipient, to a peer that discards what it reads.
func BenchmarkSendPrepared(b *testing.B) {
	benchTransports(b, func(b *testing.B, tcp bool) {
		for _, role := range []proto.Role{proto.Client, proto.Server} {
			roleName := map[proto.Role]string{proto.Client: "client", proto.Server: "server"}[role]
			for _, size := range []int{256, 4 << 10} {
				b.Run(roleName+"/"+strconv.Itoa(size), func(b *testing.B) {
					pm := NewPreparedMessage(BinaryMessage, make([]byte, size))
					withBenchConn(b, tcp, role, func(ctx context.Context, c *Conn, peer net.Conn) {
						drained := make(chan struct{})
						//gotrio:go a raw peer that discards what it reads; joined by <-drained
						go func() {
							_, _ = io.Copy(io.Discard, peer)
							close(drained)
						}()
						b.SetBytes(int64(size))
						b.ReportAllocs()
						b.ResetTimer()
						for range b.N {
							if err := c.SendPrepared(ctx, pm); err != nil {
								b.Fatal(err)
							}
						}
						b.StopTimer()
						c.nc.Close()
						<-drained
					})
				})
			}
		}
	})
}

// BenchmarkReceive measures Receive, as a server, of masked frames a raw client writes
// from a prepared buffer.
func BenchmarkReceive(b *testing.B) {
	benchTransports(b, func(b *testing.B, tcp bool) {
		for _, size := range benchSizes {
			b.Run(strconv.Itoa(size), func(b *testing.B) {
				withBenchConn(b, tcp, proto.Server, func(ctx context.Context, c *Conn, peer net.Conn) {
					frame := proto.AppendFrame(nil, true, proto.OpBinary, false, make([]byte, size), true, [4]byte{1, 2, 3, 4})
					perBatch := max(1, (64<<10)/len(frame))
					batch := make([]byte, 0, perBatch*len(frame))
					for range perBatch {
						batch = append(batch, frame...)
					}
					b.SetBytes(int64(size))
					b.ReportAllocs()
					b.ResetTimer()
					//gotrio:go feeds the raw peer socket; its Write fails once the benchmark closes it
					go func() {
						for left := b.N; left > 0; left -= perBatch {
							k := min(left, perBatch)
							if _, err := peer.Write(batch[:k*len(frame)]); err != nil {
								return
							}
						}
					}()
					for range b.N {
						m, err := c.Receive(ctx)
						if err != nil {
							b.Fatal(err)
						}
						if len(m.Data) != size {
							b.Fatalf("got %d bytes, want %d", len(m.Data), size)
						}
					}
				})
			})
		}
	})
}

// BenchmarkRoundTrip measures a message's round trip between two Conns: the client sends,
// the server echoes, the client receives.
func BenchmarkRoundTrip(b *testing.B) {
	benchTransports(b, func(b *testing.B, tcp bool) {
		for _, size := range benchSizes {
			b.Run(strconv.Itoa(size), func(b *testing.B) {
				withPair(b, pairOptions{tcp: tcp}, func(ctx context.Context, p *pair) {
					echoed := make(chan struct{})
					//gotrio:go echoes on the server side; ends when the pair closes, joined by <-echoed
					go func() {
						defer close(echoed)
						for {
							m, err := p.server.Receive(ctx)
							if err != nil {
								return
							}
							if err := p.server.Send(ctx, m.Type, m.Data); err != nil {
								return
							}
						}
					}()
					data := make([]byte, size)
					b.SetBytes(int64(size))
					b.ReportAllocs()
					b.ResetTimer()
					for range b.N {
						if err := p.client.SendBinary(ctx, data); err != nil {
							b.Fatal(err)
						}
						if _, err := p.client.Receive(ctx); err != nil {
							b.Fatal(err)
						}
					}
					b.StopTimer()
					p.client.Close(NormalClosure, "")
					<-echoed
				})
			})
		}
	})
}

// BenchmarkIdleConnMemory reports the memory (heap and goroutine stacks) that an idle
// connection costs, reader task included, over loopback TCP: both ends of b.N pairs are
// open, after a message each way. The sockets' kernel buffers are not counted.
func BenchmarkIdleConnMemory(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	defer ln.Close()
	conns := make([]*Conn, 0, 2*b.N)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err = nursery.Run(context.Background(), func(ctx context.Context, n *nursery.Nursery) error {
		for range b.N {
			cn, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(b, err)
			sn, err := ln.Accept()
			require.NoError(b, err)
			client, server := newConn(testConfig(cn, proto.Client)), newConn(testConfig(sn, proto.Server))
			for _, c := range []*Conn{client, server} {
				n.GoNamed("reader", func(ctx context.Context) error {
					c.run(ctx)
					return nil
				})
			}
			require.NoError(b, client.SendText(ctx, "hello"))
			_, err = server.Receive(ctx)
			require.NoError(b, err)
			require.NoError(b, server.SendText(ctx, "hello"))
			_, err = client.Receive(ctx)
			require.NoError(b, err)
			conns = append(conns, client, server)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		n.Scope().Cancel("measured")
		return nil
	})
	require.NoError(b, err)
	used := (after.HeapInuse + after.StackInuse) - (before.HeapInuse + before.StackInuse)
	b.ReportMetric(float64(after.StackInuse-before.StackInuse)/float64(len(conns)), "stackB/conn")
	b.ReportMetric(float64(used)/float64(len(conns)), "B/conn")
	b.ReportMetric(0, "ns/op")
}
