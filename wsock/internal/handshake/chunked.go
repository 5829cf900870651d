package handshake

import (
	"bytes"
	"strconv"
)

// Bounds on the framing of a chunked body, beyond the caller's bound on the
// body itself.
const (
	maxChunkLine    = 4 << 10 // a chunk-size line, extensions included
	maxTrailerBytes = 8 << 10 // the trailer section
)

// DecodeChunked decodes a body with chunked transfer coding (RFC 9112 §7.1)
// from the start of b, which holds the bytes after the response head. When
// the last chunk and trailer section are in b it returns the body (a fresh
// copy), the number of bytes of b they took, and done == true. Otherwise it
// returns n == 0 and done == false: call again with more bytes (it parses from
// the start each time, so pass all of them).
//
// Chunk extensions and trailer fields are validated and dropped. A body longer
// than max bytes (max <= 0 allows only an empty body), a chunk-size line over
// 4 KiB, a trailer section over 8 KiB or malformed framing fail with a *Error
// of Status 0, as soon as b shows it.
func DecodeChunked(b []byte, max int) (body []byte, n int, done bool, err error) {
	total, end, e := scanChunked(b, max)
	if e != nil {
		return nil, 0, false, e
	}
	if end == 0 {
		return nil, 0, false, nil
	}
	body = make([]byte, 0, total)
	for pos := 0; ; {
		size, next, _ := chunkSize(b[pos:])
		pos += next
		if size == 0 {
			return body, end, true, nil
		}
		body = append(body, b[pos:pos+size]...)
		pos += size + 2
	}
}

// scanChunked validates the chunked body at the start of b and returns its
// decoded length and encoded length, or end == 0 when it is incomplete.
func scanChunked(b []byte, max int) (total, end int, err *Error) {
	pos := 0
	for {
		size, next, e := chunkSize(b[pos:])
		if e != nil || next == 0 {
			return 0, 0, e
		}
		pos += next
		if size == 0 {
			break
		}
		if size > max-total {
			return 0, 0, badResponse("chunked body larger than " + strconv.Itoa(max) + " bytes")
		}
		total += size
		if len(b)-pos < size+2 {
			return 0, 0, nil
		}
		if b[pos+size] != '\r' || b[pos+size+1] != '\n' {
			return 0, 0, badResponse("chunk data not followed by CRLF")
		}
		pos += size + 2
	}
	// Trailer section: field lines up to an empty line.
	start := pos
	for {
		window := b[pos:min(len(b), start+maxTrailerBytes)]
		i := bytes.IndexByte(window, '\n')
		if i < 0 {
			if len(b)-start > maxTrailerBytes {
				return 0, 0, badResponse("chunked trailer larger than " + strconv.Itoa(maxTrailerBytes) + " bytes")
			}
			return 0, 0, nil
		}
		if i == 0 || window[i-1] != '\r' {
			return 0, 0, badResponse("line in chunked body ends in a bare LF, want CRLF")
		}
		line := window[:i-1]
		pos += i + 1
		if len(line) == 0 {
			return total, pos, nil
		}
		if msg := checkFieldLine(line); msg != "" {
			return 0, 0, badResponse("chunked trailer: " + msg)
		}
	}
}

// chunkSize parses a "chunk-size [chunk-ext] CRLF" line at the start of b. It
// returns the size and the line's length, or next == 0 when it is incomplete.
func chunkSize(b []byte) (size, next int, err *Error) {
	window := b[:min(len(b), maxChunkLine)]
	i := bytes.IndexByte(window, '\n')
	if i < 0 {
		if len(b) > maxChunkLine {
			return 0, 0, badResponse("chunk-size line longer than " + strconv.Itoa(maxChunkLine) + " bytes")
		}
		return 0, 0, nil
	}
	if i == 0 || window[i-1] != '\r' {
		return 0, 0, badResponse("line in chunked body ends in a bare LF, want CRLF")
	}
	line := window[:i-1]
	digits := 0
	for ; digits < len(line); digits++ {
		d := unhex(line[digits])
		if d < 0 {
			break
		}
		if size > (1<<31-1)>>4 {
			return 0, 0, badResponse("chunk size overflows")
		}
		size = size<<4 | d
	}
	if digits == 0 {
		return 0, 0, badResponse("malformed chunk size " + quote(string(line)))
	}
	// chunk-ext: *( BWS ";" BWS name [ BWS "=" BWS value ] ); checked for
	// characters only, since it is dropped.
	if ext := trimOWS(line[digits:]); len(ext) > 0 && (ext[0] != ';' || !isFieldValue(ext)) {
		return 0, 0, badResponse("malformed chunk extension " + quote(string(line)))
	}
	return size, i + 1, nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
