// Package proto is the sans-IO core of gotrio's WebSocket engine (RFC 6455): frame headers,
// masking, close payloads, incremental UTF-8 validation and the receive state machine.
//
// Nothing here touches a socket, a clock or a goroutine. The connection layer feeds received
// bytes to a [Reader] and gets events back; it builds outgoing frames with [AppendFrame] (or
// [AppendHeader] and [Mask]). Every protocol violation is reported as an [*Error] carrying the
// close code the connection must be failed with.
//
// A read loop over a fixed buffer looks like this:
//
//	r := proto.NewReader(proto.ReaderConfig{Role: proto.Server, MaxMessageSize: 1 << 20})
//	for {
//		ev, n, err := r.Next(buf[start:end])
//		start += n
//		if err != nil {
//			// *proto.Error: send a close frame with its Code, then drop the connection.
//			// io.EOF: a close frame was received earlier.
//			return err
//		}
//		switch ev.Kind {
//		case proto.EventNone: // every byte was used: read more into buf
//		case proto.EventData: // ev.Data aliases buf: consume it before reading again
//		case proto.EventPing: // answer with a pong carrying a copy of ev.Data
//		case proto.EventPong, proto.EventClose: // ...
//		}
//	}
package proto
