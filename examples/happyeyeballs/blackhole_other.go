//go:build !linux

package main

// listenBlackhole reports that no blackhole listener is available: the
// trick of filling a listener's accept queue is Linux-specific.
func listenBlackhole() (addr string, closeAll func() error, ok bool) {
	return "", nil, false
}
