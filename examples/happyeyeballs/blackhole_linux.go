package main

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// listenBlackhole returns the address of a loopback listener that never
// answers: its accept queue is shrunk to its minimum and filled, so the
// kernel drops further SYNs and connection attempts hang until cancelled.
// closeAll closes the listener and the connections that fill its queue. ok
// is false if the trick did not work.
func listenBlackhole() (addr string, closeAll func() error, ok bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, false
	}
	conns := []net.Conn{}
	closeAll = func() error {
		errs := []error{ln.Close()}
		for _, c := range conns {
			errs = append(errs, c.Close())
		}
		return errors.Join(errs...)
	}
	raw, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		closeAll()
		return "", nil, false
	}
	var lerr error
	if err := raw.Control(func(fd uintptr) { lerr = syscall.Listen(int(fd), 0) }); err != nil || lerr != nil {
		closeAll()
		return "", nil, false
	}
	// Fill the queue until a connection attempt hangs.
	d := net.Dialer{Timeout: 100 * time.Millisecond}
	for range 8 {
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			return ln.Addr().String(), closeAll, true
		}
		conns = append(conns, c)
	}
	closeAll()
	return "", nil, false
}
