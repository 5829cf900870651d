// Package nurserytest checks that tests leave no goroutine behind, and when
// one remains says which task it belongs to.
//
// It is built on go.uber.org/goleak and takes its options; what it adds is
// the report. Every goroutine that package nursery starts carries its task
// path as a runtime/pprof label (nursery.LabelKey: "server/conn 3/reader"),
// and so does any goroutine that such a task starts with a bare go
// statement. When goroutines leak, the failure lists them as the task tree
// they belong to, each with its wait reason, the frame it blocks in, the
// user code that made the blocking call and the go statement that started
// it — rather than a dump of stacks:
//
//	nurserytest: 1 leaked goroutine, by task:
//	server
//	  conn 3
//	    goroutine 41 [chan receive]
//	        blocks in   main.(*conn).read /src/conn.go:88
//	        created by  main.serve.func2 /src/server.go:40 (goroutine 12)
//
// Use VerifyTestMain for a whole package and VerifyNone at the end of a
// test. In tests that run in parallel, a check of every goroutine sees the
// other tests' goroutines too; VerifyNoneUnder checks only the goroutines of
// one task subtree, which a test can give a name of its own.
//
// The labels of a goroutine appear in a traceback only with
// GODEBUG=tracebacklabels=1 (Go 1.26): the package switches it on for the
// time of its own traceback and restores GODEBUG after.
package nurserytest
