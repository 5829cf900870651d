package deflate

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseExtensionsFollowsRFC6455Grammar(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   []extension
	}{
		{"empty header", "", nil},
		{"only whitespace", " \t ", nil},
		{"bare extension", "permessage-deflate", []extension{{name: "permessage-deflate"}}},
		{
			"flag parameter",
			"permessage-deflate; client_max_window_bits",
			[]extension{{name: "permessage-deflate", params: []param{{name: "client_max_window_bits"}}}},
		},
		{
			"token value",
			"permessage-deflate; server_max_window_bits=10",
			[]extension{{name: "permessage-deflate", params: []param{{name: "server_max_window_bits", value: "10", hasValue: true}}}},
		},
		{
			"quoted value is unquoted",
			`permessage-deflate; server_max_window_bits="10"`,
			[]extension{{name: "permessage-deflate", params: []param{{name: "server_max_window_bits", value: "10", hasValue: true}}}},
		},
		{
			"quoted-pair is unescaped",
			`x; a="1\0"`,
			[]extension{{name: "x", params: []param{{name: "a", value: "10", hasValue: true}}}},
		},
		{
			"whitespace around delimiters",
			"permessage-deflate ;\tserver_max_window_bits = 10 ; client_no_context_takeover ,foo",
			[]extension{
				{name: "permessage-deflate", params: []param{
					{name: "server_max_window_bits", value: "10", hasValue: true},
					{name: "client_no_context_takeover"},
				}},
				{name: "foo"},
			},
		},
		{
			"several offers keep their order",
			"permessage-deflate; server_max_window_bits=10, permessage-deflate",
			[]extension{
				{name: "permessage-deflate", params: []param{{name: "server_max_window_bits", value: "10", hasValue: true}}},
				{name: "permessage-deflate"},
			},
		},
		{
			"empty list elements are skipped",
			", a , ,b,",
			[]extension{{name: "a"}, {name: "b"}},
		},
		{
			"names keep their case",
			"PerMessage-Deflate; Server_No_Context_Takeover",
			[]extension{{name: "PerMessage-Deflate", params: []param{{name: "Server_No_Context_Takeover"}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseExtensions(tt.header)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseExtensionsRejectsMalformedHeaders(t *testing.T) {
	for _, header := range []string{
		";",
		"permessage-deflate;",
		"permessage-deflate; ;",
		"permessage-deflate;=1",
		"permessage-deflate; a=",
		"permessage-deflate; a= ,",
		"permessage-deflate; a==1",
		"permessage-deflate a",
		"permessage-deflate; a b",
		"permessage-deflate; a=1 2",
		"permessage deflate",
		`permessage-deflate; a="1`,
		`permessage-deflate; a="1\`,
		`permessage-deflate; a=""`,
		`permessage-deflate; a="1 0"`,
		`permessage-deflate; a="1,0"`,
		`permessage-deflate; a="1"0`,
		`"permessage-deflate"`,
		"permessage-deflate/1",
		"permessage-deflate; a=1;",
		"permessage-deflate\x00",
		"permessage-deflate; a=\xff",
		"permessage-deflate\r\n",
	} {
		t.Run(header, func(t *testing.T) {
			_, err := parseExtensions(header)
			require.Error(t, err)
			assert.ErrorIs(t, err, errSyntax)
		})
	}
}

func TestParseExtensionsErrorNamesOffset(t *testing.T) {
	_, err := parseExtensions("permessage-deflate; a b")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "offset 22")
}

func TestIsTokenMatchesRFC9110(t *testing.T) {
	var tchars strings.Builder
	for c := 0; c < 256; c++ {
		if isTokenChar(byte(c)) {
			tchars.WriteByte(byte(c))
		}
	}
	assert.Equal(t, "!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz|~", tchars.String())
	assert.False(t, isToken(""))
}
