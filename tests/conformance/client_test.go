package conformance

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/wsock"
	"github.com/gotrio/gotrio/wsock/wsocktest"
)

// dialOptions configure the client under test. In section 13 it keeps its compression
// context, so that the fuzzer's parameters rule, unless none of the fuzzer's accept rules
// would take an offer without client_no_context_takeover.
func dialOptions(sc *scenario) *wsock.DialOptions {
	takeover := false
	if cc := sc.compression; cc != nil && section(sc.id) == "13" {
		for _, a := range cc.accepts {
			takeover = takeover || !a.requestNoContextTakeover
		}
	}
	return &wsock.DialOptions{
		ConnectTimeout:    caseTimeout(sc),
		DisconnectTimeout: caseTimeout(sc),
		MaxMessageSize:    maxMessageSize,
		Compression:       wsock.CompressionOptions{ContextTakeover: takeover},
		Logger:            slog.New(slog.DiscardHandler),
	}
}

// TestClientConformance plays every case against wsock's client, as Autobahn's
// fuzzingserver mode does.
func TestClientConformance(t *testing.T) {
	cl := loadCases(t)
	scs := scenarios(t, cl)
	rep := &report{mode: "client (fuzzingserver)", cl: cl}
	start := time.Now()
	gate := make(chan struct{}, parallelCases)
	t.Run("cases", func(t *testing.T) {
		for _, sc := range scs {
			t.Run(sc.id, func(t *testing.T) {
				t.Parallel()
				gate <- struct{}{}
				defer func() { <-gate }()
				began := time.Now()
				o := runClientCase(t, sc)
				rep.add(sc.id, o, time.Since(began))
				checkOutcome(t, "client", sc.id, o)
			})
		}
	})
	t.Log(rep.summary(time.Since(start)))
}

// runClientCase has the client under test connect to a fuzzer server and plays sc.
func runClientCase(t *testing.T, sc *scenario) outcome {
	timeout := caseTimeout(sc)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var accepts []pmdAccept
	if sc.compression != nil {
		accepts = sc.compression.accepts
	}
	url := fmt.Sprintf("ws://%s/runCase?case=%s&agent=gotrio", ln.Addr(), sc.id)
	var o outcome
	var clientErr error
	err = nursery.Run(t.Context(), func(ctx context.Context, n *nursery.Nursery) error {
		clientDone := make(chan struct{})
		n.Go(func(ctx context.Context) error {
			defer close(clientDone)
			clientErr = wsock.Open(ctx, url, dialOptions(sc), wsocktest.EchoConn)
			return nil
		})
		f, _, err := acceptFuzzer(ln, accepts, timeout)
		if err != nil {
			o = outcome{Failed, "opening handshake: " + err.Error()}
			n.Scope().Cancel("no connection to play the case on")
			return nil
		}
		o = play(f, sc)
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		select {
		case <-clientDone:
		case <-timer.C:
			o = outcome{Failed, fmt.Sprintf("the client did not return within %v of the end of its connection (%s)", timeout, o.detail)}
			n.Scope().Cancel("the client hangs")
		}
		return nil
	})
	require.NoError(t, err)
	if o.verdict == Failed && clientErr != nil {
		o.detail += "; the client returned: " + clientErr.Error()
	}
	return o
}
