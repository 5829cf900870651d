package handshake

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
)

// keyGUID is the magic string of RFC 6455 §1.3 appended to the key before hashing.
const keyGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// NewKey returns a fresh Sec-WebSocket-Key: 16 bytes from crypto/rand, base64-encoded
// (24 characters).
func NewKey() string {
	var raw [16]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails (it crashes the program instead).
	return base64.StdEncoding.EncodeToString(raw[:])
}

// AcceptKey returns the Sec-WebSocket-Accept value answering key:
// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
func AcceptKey(key string) string {
	var buf [acceptLen]byte
	return string(appendAcceptKey(buf[:0], key))
}

// acceptLen is the length of an AcceptKey: a SHA-1 sum in base64.
const acceptLen = 28

// appendAcceptKey appends AcceptKey(key) to dst.
func appendAcceptKey(dst []byte, key string) []byte {
	var buf [64]byte
	sum := sha1.Sum(append(append(buf[:0], key...), keyGUID...))
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// validKey reports whether key is the base64 encoding of exactly 16 bytes, as
// RFC 6455 §4.1 requires.
func validKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var raw [18]byte
	n, err := base64.StdEncoding.Strict().Decode(raw[:], []byte(key))
	return err == nil && n == 16
}
