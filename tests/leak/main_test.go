package leak

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gotrio/gotrio/nursery/nurserytest"
	"github.com/gotrio/gotrio/wsock"
)

func TestMain(m *testing.M) { nurserytest.VerifyTestMain(m) }

// module prefixes every function of ours in a goroutine dump.
const module = "github.com/gotrio/gotrio/"

// hangLimit is how long a scenario over real sockets may take before the
// watchdog declares it hung. Each one takes milliseconds; the margin is for
// a loaded machine running -race.
const hangLimit = 20 * time.Second

// quiet discards the logs of servers and clients: handler failures and
// abnormal closures are what these tests provoke.
var quiet = slog.New(slog.DiscardHandler)

// scenario runs body, a scenario that must return within hangLimit, and then
// checks that no goroutine of ours outlives it. If body hangs, the watchdog
// panics with every goroutine's stack, which names the place it hung.
func scenario(t *testing.T, body func()) {
	t.Helper()
	stop := watchdog(t.Name(), hangLimit)
	defer requireNothingOfOursRemains(t)
	defer stop()
	body()
}

// watchdog panics with a dump of every goroutine if stop is not called
// within d. stop joins the watchdog's goroutine.
func watchdog(name string, d time.Duration) (stop func()) {
	done, exited := make(chan struct{}), make(chan struct{})
	//gotrio:go the watchdog must run outside every nursery it watches; stop joins it
	go func() {
		defer close(exited)
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-done:
		case <-timer.C:
			panic(fmt.Sprintf("leak: %s hung for %v; goroutines:\n\n%s", name, d, allStacks()))
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// allStacks returns runtime.Stack of every goroutine, whole.
func allStacks() string {
	for size := 1 << 16; ; size *= 2 {
		buf := make([]byte, size)
		if n := runtime.Stack(buf, true); n < size {
			return string(buf[:n])
		}
	}
}

// goroutinesOfOurs returns every goroutine that runs code of the module, or
// was started by it, except the calling goroutine, the watchdog and those of
// the test harness (the goroutines running TestMain and the tests, whose
// stacks hold test functions of this package).
func goroutinesOfOurs() []nurserytest.Goroutine {
	var ours []nurserytest.Goroutine
	for _, g := range nurserytest.Goroutines() {
		if isOurs(g) && !isHarness(g) {
			ours = append(ours, g)
		}
	}
	return ours
}

func isOurs(g nurserytest.Goroutine) bool {
	if strings.HasPrefix(g.CreatedBy.Function, module) {
		return true
	}
	for _, f := range g.Frames {
		if strings.HasPrefix(f.Function, module) {
			return true
		}
	}
	return false
}

func isHarness(g nurserytest.Goroutine) bool {
	for _, f := range g.Frames {
		switch f.Function {
		case "testing.tRunner", "testing.(*M).Run", module + "tests/leak.watchdog.func1":
			return true
		}
	}
	return false
}

// schedRounds bounds how many times requireNothingOfOursRemains yields before
// it judges. A goroutine that a nursery has joined may still be returning
// through its last frames when the join is seen (a join can only be signalled
// from inside the goroutine); yielding lets it finish. A goroutine that is
// blocked is still there after every round.
const schedRounds = 10000

// requireNothingOfOursRemains fails the test, listing their stacks, if
// goroutines of ours remain. It never sleeps: it only yields the processor
// a bounded number of times.
func requireNothingOfOursRemains(t *testing.T) {
	t.Helper()
	ours := goroutinesOfOurs()
	for i := 0; i < schedRounds && len(ours) > 0; i++ {
		runtime.Gosched()
		ours = goroutinesOfOurs()
	}
	if len(ours) > 0 {
		t.Fatalf("goroutines of ours remain after the scenario returned: %v", &nurserytest.LeakError{Goroutines: ours})
	}
}

// wsURL is the URL of a server listening on 127.0.0.1:port.
func wsURL(port int) string { return "ws://127.0.0.1:" + strconv.Itoa(port) + "/" }

// closeCode is the code of err's *ClosedError, 0 if it has none.
func closeCode(err error) wsock.StatusCode {
	var ce *wsock.ClosedError
	if errors.As(err, &ce) && ce.Reason != nil {
		return ce.Reason.Code
	}
	return 0
}

// silentPeer plays a server that takes the TCP (or pipe) connection, reads
// the opening handshake and never answers. It reports on heard when it has
// read the whole request head, then reads on until the client closes.
func silentPeer(nc net.Conn, heard chan<- struct{}) {
	defer nc.Close()
	var head []byte
	buf := make([]byte, 512)
	told := false
	for {
		n, err := nc.Read(buf)
		head = append(head, buf[:n]...)
		if !told && bytes.Contains(head, []byte("\r\n\r\n")) {
			told = true
			close(heard)
		}
		if err != nil {
			return
		}
	}
}
