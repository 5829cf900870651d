package nurserytest_test

import (
	"context"
	"os"
	"runtime/pprof"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/nursery"
	"github.com/gotrio/gotrio/nursery/nurserytest"
)

// trace is a traceback as runtime.Stack prints it with
// GODEBUG=tracebacklabels=1, with the shapes the parser must handle.
const trace = `goroutine 1 [running]:
main.main()
	/src/main.go:19 +0xf3

goroutine 41 [chan receive, 2 minutes labels:{"pool": "a", "task": "server/conn \"3\"/r\u00e9ader"}]:
runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
	/usr/local/go/src/runtime/proc.go:460 +0xce fp=0xc000 sp=0xc000 pc=0x43
main.(*conn).read(...)
	/src/dir with space/conn.go:88
main.(*conn).serve(0xc000010000)
	/src/dir with space/conn.go:61 +0x1d
created by main.serve in goroutine 12
	/src/server.go:40 +0x4a
[originating from goroutine 12]:
main.serve(...)
	/src/server.go:40 +0x4a

goroutine 7 [select, locked to thread, synctest bubble 2]:
main.loop()
	/src/loop.go:5 +0x1
...additional frames elided...
created by main.init.0 in goroutine 1
	/src/loop.go:3 +0x2
`

func TestParseStacksReadsIDStateTaskAndFrames(t *testing.T) {
	gs := nurserytest.ParseStacks([]byte(trace))
	require.Len(t, gs, 3)

	g := gs[1]
	assert.Equal(t, 41, g.ID)
	assert.Equal(t, "chan receive, 2 minutes", g.State)
	assert.Equal(t, `server/conn "3"/réader`, g.Task, "the task label, unquoted")
	assert.Equal(t, []nurserytest.Frame{
		{Function: "runtime.gopark", File: "/usr/local/go/src/runtime/proc.go", Line: 460},
		{Function: "main.(*conn).read", File: "/src/dir with space/conn.go", Line: 88},
		{Function: "main.(*conn).serve", File: "/src/dir with space/conn.go", Line: 61},
	}, g.Frames, "the ancestors' frames after created by are not the goroutine's")
	assert.Equal(t, nurserytest.Frame{Function: "main.serve", File: "/src/server.go", Line: 40}, g.CreatedBy)
	assert.Equal(t, 12, g.CreatorID)
	assert.Equal(t, "main.(*conn).read", g.Top().Function, "the innermost frame outside the runtime")
	assert.Equal(t, "main.(*conn).serve", g.Entry().Function)

	g = gs[2]
	assert.Equal(t, "select, locked to thread, synctest bubble 2", g.State)
	assert.Empty(t, g.Task, "no labels, no task")
	assert.Equal(t, []nurserytest.Frame{{Function: "main.loop", File: "/src/loop.go", Line: 5}}, g.Frames)
	assert.Equal(t, "main.init.0", g.CreatedBy.Function)
}

func TestParseStacksSkipsWhatIsNotAGoroutine(t *testing.T) {
	gs := nurserytest.ParseStacks([]byte("goroutine x [running]:\nmain.main()\n\ngarbage\n\ngoroutine 3 [idle]:\n"))
	require.Len(t, gs, 1)
	assert.Equal(t, 3, gs[0].ID)
	assert.Empty(t, gs[0].Frames)
}

func TestMalformedLabelsKeepWhatParsedBeforeThem(t *testing.T) {
	gs := nurserytest.ParseStacks([]byte(`goroutine 3 [idle labels:{"task": "a", "b": }]:` + "\n"))
	require.Len(t, gs, 1)
	assert.Equal(t, "a", gs[0].Task)
}

func TestLabelsOnTakesTheLastSetting(t *testing.T) {
	assert.False(t, nurserytest.LabelsOn(""))
	assert.True(t, nurserytest.LabelsOn("tracebacklabels=1"))
	assert.True(t, nurserytest.LabelsOn("gctrace=0, tracebacklabels=1"))
	assert.False(t, nurserytest.LabelsOn("tracebacklabels=1,tracebacklabels=0"))
}

func TestSnapshotSeesTaskLabelsAndRestoresGODEBUG(t *testing.T) {
	for _, godebug := range []string{"", "panicnil=0"} {
		t.Run("GODEBUG="+godebug, func(t *testing.T) {
			if godebug == "" {
				t.Setenv("GODEBUG", "")
				require.NoError(t, os.Unsetenv("GODEBUG"))
			} else {
				t.Setenv("GODEBUG", godebug)
			}
			release := make(chan struct{})
			id := make(chan int, 1)
			pprof.Do(context.Background(), pprof.Labels(nursery.LabelKey, "labelled"), func(context.Context) {
				go func() { //gotrio:go a goroutine with a label of its own, seen by Snapshot; close(release) ends it
					id <- nurserytest.Snapshot()[0].ID
					block(release)
				}()
			})
			me := <-id
			var task string
			for _, g := range nurserytest.Snapshot() {
				if g.ID == me {
					task = g.Task
				}
			}
			close(release)
			assert.Equal(t, "labelled", task)
			v, set := os.LookupEnv("GODEBUG")
			assert.Equal(t, godebug != "", set)
			assert.Equal(t, godebug, v)
		})
	}
}

func FuzzParseStacks(f *testing.F) {
	f.Add([]byte(trace))
	f.Add([]byte(`goroutine 9 [idle labels:{"task": "a\x00b", "k": "\U00045678"}]:` + "\nf()\n\tx.go:1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, g := range nurserytest.ParseStacks(b) {
			_ = g.Top()
			_ = g.Caller()
			_ = g.Entry()
		}
	})
}

func TestCallerAndEntrySkipGotriosLibrary(t *testing.T) {
	gs := nurserytest.ParseStacks([]byte(`goroutine 9 [select]:
github.com/gotrio/gotrio/wsock.(*Conn).Receive(0x1, {0x2, 0x3})
	/gotrio/wsock/read.go:60 +0x1
example.com/app.chat(...)
	/app/chat.go:12 +0x2
github.com/gotrio/gotrio/wsock/wsocktest_test.TestChat.func1(0x1)
	/gotrio/wsock/wsocktest/chat_test.go:30 +0x3
github.com/gotrio/gotrio/nursery.(*Nursery).run(0x1, 0x2, 0x3)
	/gotrio/nursery/nursery.go:173 +0xb0
created by github.com/gotrio/gotrio/nursery.(*Nursery).GoNamed in goroutine 8
	/gotrio/nursery/nursery.go:122 +0xdb
`))
	require.Len(t, gs, 1)
	assert.Equal(t, "github.com/gotrio/gotrio/wsock.(*Conn).Receive", gs[0].Top().Function)
	assert.Equal(t, "example.com/app.chat", gs[0].Caller().Function)
	assert.Equal(t, "github.com/gotrio/gotrio/wsock/wsocktest_test.TestChat.func1", gs[0].Entry().Function,
		"a test package of gotrio is user code")
}

func TestGoroutinesLeavesOutTheCaller(t *testing.T) {
	me := nurserytest.Snapshot()[0].ID
	for _, g := range nurserytest.Goroutines() {
		assert.NotEqual(t, me, g.ID)
	}
}

func TestALeakErrorOfAnyOrderPrintsATree(t *testing.T) {
	err := &nurserytest.LeakError{Goroutines: []nurserytest.Goroutine{
		{ID: 3, State: "select"},
		{ID: 2, Task: "a/x", State: "select"},
		{ID: 4, Task: "a b", State: "select"},
		{ID: 1, Task: "a", State: "select"},
	}}
	assert.Equal(t, `nurserytest: 4 leaked goroutines, by task:
a
  goroutine 1 [select]
  x
    goroutine 2 [select]
a b
  goroutine 4 [select]
(no task)
  goroutine 3 [select]`, err.Error())
}
