package handshake

import (
	"net/textproto"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCanonicalKeyAgreesWithTextproto(t *testing.T) {
	for _, name := range []string{
		"Host", "host", "HOST", "sec-websocket-key", "Sec-WebSocket-Extensions", "x-", "-x", "a--b",
		"X-Forwarded-For", "x_y", "1-a", strings.Repeat("ab-", 30), "ETAG", "www-authenticate",
	} {
		assert.Equal(t, textproto.CanonicalMIMEHeaderKey(name), canonicalKey(name), name)
	}
}

func TestCanonicalKeyDoesNotAllocateForHandshakeFields(t *testing.T) {
	names := []string{"Host", "sec-websocket-key", "Sec-WebSocket-Version", "SEC-WEBSOCKET-PROTOCOL", "Sec-WebSocket-Extensions"}
	allocs := testing.AllocsPerRun(100, func() {
		for _, n := range names {
			_ = canonicalKey(n)
		}
	})
	assert.Zero(t, allocs)
}

func TestHasTokenMatchesWholeListElementsIgnoringCase(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   bool
	}{
		{[]string{"Upgrade"}, true},
		{[]string{"keep-alive, Upgrade"}, true},
		{[]string{"keep-alive,upgrade  "}, true},
		{[]string{"close", " UPGRADE\t"}, true},
		{[]string{",,upgrade,,"}, true},
		{[]string{"upgraded"}, false},
		{[]string{"up grade"}, false},
		{[]string{"keep-alive upgrade"}, false},
		{[]string{""}, false},
		{nil, false},
	} {
		assert.Equal(t, tc.want, hasToken(tc.values, "upgrade"), "%q", tc.values)
	}
}

func TestParseContentLengthAcceptsOnlyOneDecimalLength(t *testing.T) {
	for _, tc := range []struct {
		values []string
		n      int64
		ok     bool
	}{
		{nil, -1, true},
		{[]string{"0"}, 0, true},
		{[]string{"42"}, 42, true},
		{[]string{"42, 42", "42"}, 42, true},
		{[]string{"42", "43"}, 0, false},
		{[]string{"-1"}, 0, false},
		{[]string{"+1"}, 0, false},
		{[]string{"0x10"}, 0, false},
		{[]string{"1_0"}, 0, false},
		{[]string{""}, 0, false},
		{[]string{"99999999999999999999"}, 0, false},
	} {
		n, ok := parseContentLength(tc.values)
		assert.Equal(t, tc.ok, ok, "%q", tc.values)
		if tc.ok {
			assert.Equal(t, tc.n, n, "%q", tc.values)
		}
	}
}
