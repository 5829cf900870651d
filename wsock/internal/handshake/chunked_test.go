package handshake

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chunkedResult bundles DecodeChunked's results for comparison.
type chunkedResult struct {
	body []byte
	done bool
}

func decode(max int) func([]byte) (chunkedResult, int, error) {
	return func(b []byte) (chunkedResult, int, error) {
		body, n, done, err := DecodeChunked(b, max)
		return chunkedResult{body, done}, n, err
	}
}

const wiki = "4\r\nWiki\r\n5;name=value ; x\r\npedia\r\nE \r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n"

func TestDecodeChunkedDecodesBodyAndDropsTrailer(t *testing.T) {
	body, n, done, err := DecodeChunked([]byte(wiki+"after"), 100)
	require.NoError(t, err)
	assert.True(t, done)
	assert.Equal(t, len(wiki), n)
	assert.Equal(t, "Wikipedia in\r\n\r\nchunks.", string(body))
}

func TestDecodeChunkedDecodesAnEmptyBody(t *testing.T) {
	body, n, done, err := DecodeChunked([]byte("0\r\n\r\n"), 0)
	require.NoError(t, err)
	assert.True(t, done)
	assert.Equal(t, 5, n)
	assert.Empty(t, body)
}

func TestDecodeChunkedNeedsMoreBytesUntilTheEnd(t *testing.T) {
	for i := range len(wiki) {
		body, n, done, err := DecodeChunked([]byte(wiki[:i]), 100)
		require.NoError(t, err, "prefix %d", i)
		require.False(t, done)
		require.Zero(t, n)
		require.Nil(t, body)
	}
}

func TestDecodeChunkedByteByByteGivesTheWholeResult(t *testing.T) {
	for name, in := range map[string]string{
		"valid":     wiki,
		"too big":   "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
		"bad CRLF":  "5\r\nhelloX\r\n0\r\n\r\n",
		"bad size":  "5\r\nhello\r\nz\r\n",
		"bad trail": "0\r\nA B: c\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			whole, wn, werr := decode(10)([]byte(in))
			part, pn, perr := parseIncrementally([]byte(in), decode(10))
			assert.Equal(t, werr, perr)
			assert.Equal(t, wn, pn)
			assert.Equal(t, whole, part)
		})
	}
}

func TestDecodeChunkedRejectsMalformedOrOversizeBodies(t *testing.T) {
	for name, tc := range map[string]struct {
		in  string
		max int
		msg string
	}{
		"over max":          {"5\r\nhello\r\n0\r\n\r\n", 4, "larger than 4 bytes"},
		"over max in sum":   {"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", 5, "larger than 5 bytes"},
		"over max early":    {"ffff\r\n", 100, "larger than 100 bytes"},
		"zero max":          {"1\r\na\r\n0\r\n\r\n", 0, "larger than 0 bytes"},
		"overflow":          {"fffffffffffffffff\r\n", 100, "overflows"},
		"no digits":         {"\r\n", 100, "malformed chunk size"},
		"sign":              {"+5\r\nhello\r\n0\r\n\r\n", 100, "malformed chunk size"},
		"leading space":     {" 5\r\nhello\r\n0\r\n\r\n", 100, "malformed chunk size"},
		"junk after size":   {"5x\r\nhello\r\n0\r\n\r\n", 100, "malformed chunk extension"},
		"CR in extension":   {"5;a\rb\r\nhello\r\n0\r\n\r\n", 100, "malformed chunk extension"},
		"data without CRLF": {"5\r\nhelloXX0\r\n\r\n", 100, "not followed by CRLF"},
		"bare LF size":      {"5\nhello\r\n0\r\n\r\n", 100, "bare LF"},
		"bare LF trailer":   {"0\r\nA: b\n\r\n", 100, "bare LF"},
		"bad trailer":       {"0\r\nA : b\r\n\r\n", 100, "whitespace before colon"},
		"long size line":    {"5;" + strings.Repeat("x", 5000), 100, "longer than 4096"},
		"long trailer":      {"0\r\n" + strings.Repeat("A: b\r\n", 2000), 100, "trailer larger than 8192"},
	} {
		t.Run(name, func(t *testing.T) {
			body, n, done, err := DecodeChunked([]byte(tc.in), tc.max)
			requireStatus(t, err, 0, tc.msg)
			assert.Nil(t, body)
			assert.Zero(t, n)
			assert.False(t, done)
		})
	}
}
