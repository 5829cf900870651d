//go:build unix

package main

import (
	"os"
	"syscall"
)

// interruptibleStdin returns standard input as a file whose blocked Read a
// read deadline interrupts, so that wscat can stop reading when the server closes the
// connection first. A blocking descriptor cannot be interrupted, so it is
// switched to non-blocking mode, which lets Go's poller own it; restore puts
// the mode back, since the terminal's descriptor is shared with the shell.
func interruptibleStdin() (stdin *os.File, restore func()) {
	fd := int(os.Stdin.Fd())
	if err := syscall.SetNonblock(fd, true); err != nil {
		return os.Stdin, func() {}
	}
	return os.NewFile(uintptr(fd), "/dev/stdin"), func() { _ = syscall.SetNonblock(fd, false) }
}
