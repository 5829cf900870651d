//go:build !unix

package main

import "os"

// interruptibleStdin returns os.Stdin: on this platform a blocked read of
// standard input is not interrupted, so wscat exits only at its end.
func interruptibleStdin() (stdin *os.File, restore func()) {
	return os.Stdin, func() {}
}
