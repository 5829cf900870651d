package handshake

import (
	"crypto/sha1"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAcceptKeyMatchesRFC6455Example(t *testing.T) {
	// RFC 6455 §1.3.
	assert.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="))
}

func TestAcceptKeyHashesKeysOfAnyLength(t *testing.T) {
	for _, key := range []string{"", "x", strings.Repeat("k", 28), strings.Repeat("k", 29), strings.Repeat("k", 1000)} {
		sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		want := base64.StdEncoding.EncodeToString(sum[:])
		assert.Equal(t, want, AcceptKey(key), "key of %d bytes", len(key))
		assert.True(t, acceptMatches(want, key))
		assert.False(t, acceptMatches(want+" ", key))
	}
}

func TestNewKeyIsSixteenRandomBytesInBase64(t *testing.T) {
	seen := map[string]bool{}
	for range 64 {
		k := NewKey()
		raw, err := base64.StdEncoding.DecodeString(k)
		require.NoError(t, err)
		assert.Len(t, raw, 16)
		assert.True(t, validKey(k))
		assert.False(t, seen[k], "repeated key %q", k)
		seen[k] = true
	}
}

func TestValidKeyRequiresSixteenBytesOfPaddedBase64(t *testing.T) {
	for key, want := range map[string]bool{
		"dGhlIHNhbXBsZSBub25jZQ==":     true,
		"":                             false,
		"dGhlIHNhbXBsZSBub25jZQ":       false, // unpadded
		"dGhlIHNhbXBsZSBub25j":         false, // 15 bytes
		"dGhlIHNhbXBsZSBub25jZXg=":     false, // 17 bytes
		"dGhlIHNhbXBsZSBub25jZR==":     false, // non-zero padding bits
		"dGhlIHNhbXBsZSBub25jZQ=*":     false,
		"dGhlIHNhbXBsZSBub25j\nZQ==":   false,
		"dGhlIHNhbXBsZSBub25jZQ==dGhl": false,
	} {
		assert.Equal(t, want, validKey(key), "%q", key)
	}
}
