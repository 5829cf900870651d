package bench

// BenchmarkCompressed: BenchmarkThroughput's 64 connections echoing 4 KiB of
// JSON-like text with permessage-deflate on both sides, every library with
// compression enabled without context takeover (each message compressed on
// its own, the setting that keeps no compressor state per idle connection)
// at its default level (flate.BestSpeed for gotrio, gorilla and gws; coder
// uses compress/flate's BestSpeed too) and with messages over every
// library's threshold. cpu-ns/op is the process's CPU time (user+system) per
// round trip, both ends in this process: two compressions and two
// decompressions.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"
	"github.com/lxzan/gws"

	"github.com/gotrio/gotrio/wsock"
)

// compressedSize is the size of BenchmarkCompressed's message.
const compressedSize = 4 << 10

// jsonLike returns n bytes of JSON-like text: records with repeated keys and
// varying values, as a chat or a feed sends.
func jsonLike(n int) []byte {
	var sb strings.Builder
	sb.WriteString("[")
	for i := 0; sb.Len() < n; i++ {
		fmt.Fprintf(&sb, `{"id":%d,"user":"user-%d","room":"general","text":"message number %d, %s","ts":%d},`,
			i, i%37, i*7919%10007, strings.Repeat("ab", i%5), 1700000000+i*13)
	}
	return []byte(sb.String()[:n])
}

// compressedImpls are the libraries with permessage-deflate on.
var compressedImpls = []wsImpl{
	{
		name: "gotrio",
		serve: func(h *handler) (string, func(), error) {
			o := *gotrioServerOptions
			o.Compression = wsock.CompressionOptions{}
			return gotrioServeWith(h, &o)
		},
		clients: func(ctx context.Context, url string, k int, body func([]wsClient) error) error {
			o := *gotrioDialOptions
			o.Compression = wsock.CompressionOptions{}
			return gotrioClientsWith(ctx, url, k, body, &o)
		},
	},
	{
		name: "gorilla",
		serve: func(h *handler) (string, func(), error) {
			return gorillaServeWith(h, websocket.Upgrader{EnableCompression: true})
		},
		clients: func(ctx context.Context, url string, k int, body func([]wsClient) error) error {
			d := *websocket.DefaultDialer
			d.EnableCompression = true
			return gorillaClientsWith(ctx, url, k, body, &d)
		},
	},
	{
		name: "coder",
		serve: func(h *handler) (string, func(), error) {
			return coderServeWith(h, &coder.AcceptOptions{CompressionMode: coder.CompressionNoContextTakeover})
		},
		clients: func(ctx context.Context, url string, k int, body func([]wsClient) error) error {
			return coderClientsWith(ctx, url, k, body, &coder.DialOptions{CompressionMode: coder.CompressionNoContextTakeover})
		},
	},
	{
		name: "gws",
		serve: func(h *handler) (string, func(), error) {
			return gwsServeWith(h, func() *gws.ServerOption {
				return &gws.ServerOption{Logger: quietLogger{}, PermessageDeflate: gws.PermessageDeflate{Enabled: true}}
			})
		},
		clients: func(ctx context.Context, url string, k int, body func([]wsClient) error) error {
			return gwsClientsWith(ctx, url, k, body, gws.PermessageDeflate{Enabled: true})
		},
	},
}

func BenchmarkCompressed(b *testing.B) {
	msg := jsonLike(compressedSize)
	for _, im := range compressedImpls {
		b.Run(fmt.Sprintf("conns=%d/size=%d/impl=%s", throughputConns, compressedSize, im.name), func(b *testing.B) {
			addr, stop, err := im.serve(newHandler())
			if err != nil {
				b.Fatal(err)
			}
			defer stop()
			err = im.clients(context.Background(), "ws://"+addr+"/echo", throughputConns, func(cs []wsClient) error {
				for _, c := range cs {
					if err := c.echo(msg, 1, nil); err != nil { // warm up
						return err
					}
				}
				errs := make([]error, len(cs))
				var wg sync.WaitGroup
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				cpu0 := processCPU()
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
				b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
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
