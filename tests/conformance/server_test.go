package conformance

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsocktest"
)

// serverOptions configure the server under test: section 13 runs against a server with
// context takeover, so that the parameters follow the client's offers; the others against
// the defaults.
func serverOptions(contextTakeover bool) *wsock.ServerOptions {
	return &wsock.ServerOptions{
		ConnectTimeout:    10 * time.Second,
		DisconnectTimeout: 5 * time.Second,
		MaxMessageSize:    maxMessageSize,
		Compression:       wsock.CompressionOptions{ContextTakeover: contextTakeover},
		Logger:            slog.New(slog.DiscardHandler),
	}
}

// TestServerConformance plays every case against wsock's server, as Autobahn's
// fuzzingclient mode does.
func TestServerConformance(t *testing.T) {
	cl := loadCases(t)
	scs := scenarios(t, cl)
	rep := &report{mode: "server (fuzzingclient)", cl: cl}
	start := time.Now()
	err := nursery.Run(t.Context(), func(ctx context.Context, n *nursery.Nursery) error {
		plain, err := nursery.Start(ctx, n, wsock.ServeTask("127.0.0.1:0", wsocktest.Echo, serverOptions(false)))
		if err != nil {
			return err
		}
		takeover, err := nursery.Start(ctx, n, wsock.ServeTask("127.0.0.1:0", wsocktest.Echo, serverOptions(true)))
		if err != nil {
			return err
		}
		gate := make(chan struct{}, parallelCases)
		t.Run("cases", func(t *testing.T) {
			for _, sc := range scs {
				addr := plain.Addr().String()
				if section(sc.id) == "13" {
					addr = takeover.Addr().String()
				}
				t.Run(sc.id, func(t *testing.T) {
					t.Parallel()
					gate <- struct{}{}
					defer func() { <-gate }()
					began := time.Now()
					o := runServerCase(sc, addr, caseTimeout(sc))
					rep.add(sc.id, o, time.Since(began))
					checkOutcome(t, "server", sc.id, o)
				})
			}
		})
		n.Scope().Cancel("every case is done")
		return nil
	})
	require.NoError(t, err)
	t.Log(rep.summary(time.Since(start)))
}

// runServerCase connects a fuzzer client to the server at addr and plays sc.
func runServerCase(sc *scenario, addr string, timeout time.Duration) outcome {
	var offers []pmdOffer
	if sc.compression != nil {
		offers = sc.compression.offers
	}
	f, err := dialFuzzer(addr, "/runCase?case="+sc.id+"&agent=fuzzer", offers, timeout)
	if err != nil {
		return outcome{Failed, "opening handshake: " + err.Error()}
	}
	return play(f, sc)
}
