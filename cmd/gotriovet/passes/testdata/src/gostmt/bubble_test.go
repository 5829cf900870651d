package gostmt

import (
	"testing"
	"testing/synctest"
)

// Test files are checked like any other.
func TestBare(t *testing.T) {
	go work() // want `go statement outside a nursery`
}

// The bubble of synctest.Test joins every goroutine started inside it.
func TestInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		go work()
		func() {
			go work()
		}()
	})
}

// A goroutine started by a helper is not lexically in the bubble.
func helper() {
	go work() // want `go statement outside a nursery`
}

// Only the bubble's body counts, not any function literal in the call.
func TestBubbleOnlyItsBody(t *testing.T) {
	run := func(f func()) { f() }
	run(func() {
		go work() // want `go statement outside a nursery`
	})
}
