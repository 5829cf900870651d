module github.com/gotrio/gotrio/tests/bench

go 1.26.0

replace github.com/gotrio/gotrio => ../..

require (
	github.com/coder/websocket v1.8.15
	github.com/gorilla/websocket v1.5.3
	github.com/gotrio/gotrio v0.0.0-00010101000000-000000000000
	github.com/lxzan/gws v1.8.9
	github.com/sourcegraph/conc v0.3.0
	go.uber.org/goleak v1.3.0
	golang.org/x/sync v0.25.0
)

require (
	github.com/dolthub/maphash v0.1.0 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	golang.org/x/net v0.63.0 // indirect
)
