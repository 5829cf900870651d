package deflate

import (
	"compress/flate"
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkRoundTrip compresses and inflates 4 KiB JSON messages, successive slices of a
// larger document so that context takeover sees realistic, not identical, history.
func BenchmarkRoundTrip(b *testing.B) {
	const size = 4 << 10
	corpus := jsonPayload(rand.New(rand.NewPCG(7, 7)), 256<<10)
	for _, mode := range []struct {
		name       string
		noTakeover bool
	}{{"context_takeover", false}, {"no_context_takeover", true}} {
		for _, level := range []int{flate.BestSpeed, flate.DefaultCompression} {
			b.Run(fmt.Sprintf("%s/level=%d", mode.name, level), func(b *testing.B) {
				c := NewCompressor(level, mode.noTakeover)
				defer c.Close()
				d := NewDecompressor(mode.noTakeover)
				defer d.Close()
				var z, out []byte
				var compressed, off int
				b.SetBytes(size)
				b.ReportAllocs()
				for b.Loop() {
					msg := corpus[off : off+size]
					off = (off + size) % len(corpus)
					var err error
					if z, err = c.Compress(z[:0], msg); err != nil {
						b.Fatal(err)
					}
					if out, err = d.Inflate(out[:0], z, 1<<20); err != nil {
						b.Fatal(err)
					}
					compressed += len(z)
				}
				b.ReportMetric(float64(compressed)/float64(b.N*size), "ratio")
			})
		}
	}
}
