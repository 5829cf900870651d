package deflate

import (
	"github.com/gotrio/gotrio/wsock/internal/proto"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOfferListsRequestedParameters(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "permessage-deflate; client_max_window_bits"},
		{Config{ClientNoContextTakeover: true}, "permessage-deflate; client_no_context_takeover; client_max_window_bits"},
		{Config{ServerNoContextTakeover: true}, "permessage-deflate; server_no_context_takeover; client_max_window_bits"},
		{
			Config{ServerNoContextTakeover: true, ClientNoContextTakeover: true, Level: 9, Threshold: 1},
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits",
		},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, Offer(tt.cfg))
		})
	}
}

func TestServerAcceptPicksFirstAcceptableOffer(t *testing.T) {
	tests := []struct {
		name     string
		offer    string
		cfg      Config
		want     Params
		response string
	}{
		{
			name:     "plain offer",
			offer:    "permessage-deflate",
			response: "permessage-deflate",
		},
		{
			name:     "client_max_window_bits without value is a hint we need not answer",
			offer:    "permessage-deflate; client_max_window_bits",
			response: "permessage-deflate",
		},
		{
			name:     "client_max_window_bits with value is a hint we need not answer",
			offer:    "permessage-deflate; client_max_window_bits=9",
			response: "permessage-deflate",
		},
		{
			name:     "server_no_context_takeover request is honoured",
			offer:    "permessage-deflate; server_no_context_takeover",
			want:     Params{ServerNoContextTakeover: true},
			response: "permessage-deflate; server_no_context_takeover",
		},
		{
			name:     "client_no_context_takeover hint is confirmed",
			offer:    "permessage-deflate; client_no_context_takeover",
			want:     Params{ClientNoContextTakeover: true},
			response: "permessage-deflate; client_no_context_takeover",
		},
		{
			name:     "configured no context takeover is imposed on both sides",
			offer:    "permessage-deflate",
			cfg:      Config{ServerNoContextTakeover: true, ClientNoContextTakeover: true},
			want:     Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true},
			response: "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
		},
		{
			name:     "server_max_window_bits=15 is echoed",
			offer:    "permessage-deflate; server_max_window_bits=15",
			want:     Params{ServerMaxWindowBits: 15},
			response: "permessage-deflate; server_max_window_bits=15",
		},
		{
			name:     "quoted server_max_window_bits",
			offer:    `permessage-deflate; server_max_window_bits="15"`,
			want:     Params{ServerMaxWindowBits: 15},
			response: "permessage-deflate; server_max_window_bits=15",
		},
		{
			name:     "leading zeros are tolerated",
			offer:    "permessage-deflate; server_max_window_bits=015",
			want:     Params{ServerMaxWindowBits: 15},
			response: "permessage-deflate; server_max_window_bits=15",
		},
		{
			name:     "server_max_window_bits=10 is echoed",
			offer:    "permessage-deflate; server_max_window_bits=10",
			want:     Params{ServerMaxWindowBits: 10},
			response: "permessage-deflate; server_max_window_bits=10",
		},
		{
			name:     "smallest server_max_window_bits is echoed",
			offer:    "permessage-deflate; server_max_window_bits=8; server_no_context_takeover",
			want:     Params{ServerNoContextTakeover: true, ServerMaxWindowBits: 8},
			response: "permessage-deflate; server_no_context_takeover; server_max_window_bits=8",
		},
		{
			name:     "server_max_window_bits=14 with context takeover is echoed",
			offer:    "permessage-deflate; server_max_window_bits=14; client_max_window_bits",
			want:     Params{ServerMaxWindowBits: 14},
			response: "permessage-deflate; server_max_window_bits=14",
		},
		{
			name:     "names are case-insensitive",
			offer:    "PerMessage-Deflate; SERVER_NO_CONTEXT_TAKEOVER",
			want:     Params{ServerNoContextTakeover: true},
			response: "permessage-deflate; server_no_context_takeover",
		},
		{
			name:     "an offer with a small server window is no longer skipped",
			offer:    "permessage-deflate; server_max_window_bits=10; client_max_window_bits, permessage-deflate; client_max_window_bits",
			want:     Params{ServerMaxWindowBits: 10},
			response: "permessage-deflate; server_max_window_bits=10",
		},
		{
			name:     "unknown parameter falls back to an offer with a small server window",
			offer:    "permessage-deflate; x=1, permessage-deflate; server_max_window_bits=9",
			want:     Params{ServerMaxWindowBits: 9},
			response: "permessage-deflate; server_max_window_bits=9",
		},
		{
			name:     "invalid offer falls back to the next offer",
			offer:    "permessage-deflate; server_max_window_bits=16, permessage-deflate; server_no_context_takeover",
			want:     Params{ServerNoContextTakeover: true},
			response: "permessage-deflate; server_no_context_takeover",
		},
		{
			name:     "other extensions are skipped",
			offer:    "x-webkit-deflate-frame, permessage-deflate; client_no_context_takeover, foo",
			want:     Params{ClientNoContextTakeover: true},
			response: "permessage-deflate; client_no_context_takeover",
		},
		{
			name:     "first acceptable offer wins over later ones",
			offer:    "permessage-deflate; server_no_context_takeover, permessage-deflate",
			want:     Params{ServerNoContextTakeover: true},
			response: "permessage-deflate; server_no_context_takeover",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, response, ok := ServerAccept(tt.offer, tt.cfg)
			require.True(t, ok)
			assert.Equal(t, tt.want, p)
			assert.Equal(t, tt.response, response)
		})
	}
}

func TestServerAcceptDeclinesUnacceptableOffers(t *testing.T) {
	for _, offer := range []string{
		"",
		"foo, bar",
		"x-webkit-deflate-frame",
		"permessage-deflate; server_max_window_bits",
		"permessage-deflate; server_max_window_bits=7",
		"permessage-deflate; server_max_window_bits=16",
		"permessage-deflate; server_max_window_bits=0",
		"permessage-deflate; server_max_window_bits=-15",
		"permessage-deflate; server_max_window_bits=1a",
		"permessage-deflate; server_max_window_bits=999999999999999999999",
		"permessage-deflate; client_max_window_bits=7",
		"permessage-deflate; client_max_window_bits=16",
		`permessage-deflate; client_max_window_bits="x"`,
		"permessage-deflate; server_no_context_takeover=1",
		"permessage-deflate; client_no_context_takeover=true",
		"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
		"permessage-deflate; client_no_context_takeover; CLIENT_NO_CONTEXT_TAKEOVER",
		"permessage-deflate; server_max_window_bits=15; server_max_window_bits=15",
		"permessage-deflate; client_max_window_bits; client_max_window_bits=15",
		"permessage-deflate; mux",
		"permessage-deflate; x=1, permessage-deflate; server_max_window_bits=7",
		// Malformed headers decline everything, even an acceptable offer.
		"permessage-deflate, permessage-deflate; a=\"",
		"permessage-deflate; ; server_no_context_takeover",
	} {
		t.Run(offer, func(t *testing.T) {
			p, response, ok := ServerAccept(offer, Config{ServerNoContextTakeover: true})
			assert.False(t, ok)
			assert.Empty(t, response)
			assert.Zero(t, p)
		})
	}
}

func TestClientAcceptReturnsNegotiatedParams(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		response string
		want     Params
	}{
		{"plain", Config{}, "permessage-deflate", Params{}},
		{"server keeps its context despite our request", Config{ServerNoContextTakeover: true}, "permessage-deflate", Params{}},
		{
			"server no context takeover",
			Config{ServerNoContextTakeover: true},
			"permessage-deflate; server_no_context_takeover",
			Params{ServerNoContextTakeover: true},
		},
		{
			"server imposes client no context takeover",
			Config{},
			"permessage-deflate; client_no_context_takeover",
			Params{ClientNoContextTakeover: true},
		},
		{
			"our client no context takeover holds without the server's confirmation",
			Config{ClientNoContextTakeover: true},
			"permessage-deflate",
			Params{ClientNoContextTakeover: true},
		},
		{"server window 8", Config{}, "permessage-deflate; server_max_window_bits=8", Params{ServerMaxWindowBits: 8}},
		{"server window 15", Config{}, "permessage-deflate; server_max_window_bits=15", Params{ServerMaxWindowBits: 15}},
		{"quoted window", Config{}, `permessage-deflate; server_max_window_bits="12"`, Params{ServerMaxWindowBits: 12}},
		{"client window 8", Config{}, "permessage-deflate; client_max_window_bits=8", Params{ClientMaxWindowBits: 8}},
		{"client window 15", Config{}, "permessage-deflate; client_max_window_bits=15", Params{ClientMaxWindowBits: 15}},
		{
			"both windows with client no context takeover",
			Config{ClientNoContextTakeover: true},
			"permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
			Params{ClientNoContextTakeover: true, ServerMaxWindowBits: 12, ClientMaxWindowBits: 12},
		},
		{
			"all at once, any case",
			Config{},
			"Permessage-Deflate ; Server_Max_Window_Bits=10; server_no_context_takeover;client_no_context_takeover",
			Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 10},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ClientAccept(tt.response, tt.cfg)
			require.NoError(t, err)
			assert.Equal(t, tt.want, p)
		})
	}
}

func TestClientAcceptRejectsInvalidResponses(t *testing.T) {
	tests := []struct {
		response string
		errMsg   string
	}{
		{"", "no extension"},
		{" , ", "no extension"},
		{"foo", `extension "foo" was not offered`},
		{"permessage-deflate, permessage-deflate", "2 extensions"},
		{"permessage-deflate, foo", "2 extensions"},
		{"permessage-deflate; client_max_window_bits", "client_max_window_bits needs a value"},
		{"permessage-deflate; client_max_window_bits=7", "want 8 to 15"},
		{"permessage-deflate; client_max_window_bits=16", "want 8 to 15"},
		{"permessage-deflate; client_max_window_bits=10; client_max_window_bits=10", "duplicate parameter"},
		{"permessage-deflate; server_max_window_bits", "needs a value"},
		{"permessage-deflate; server_max_window_bits=7", "want 8 to 15"},
		{"permessage-deflate; server_max_window_bits=16", "want 8 to 15"},
		{"permessage-deflate; server_no_context_takeover=1", "takes no value"},
		{"permessage-deflate; server_no_context_takeover; server_no_context_takeover", "duplicate parameter"},
		{"permessage-deflate; foo", "unknown parameter"},
		{"permessage-deflate;", "malformed extension list"},
		{`permessage-deflate; server_max_window_bits="10`, "malformed extension list"},
	}
	for _, tt := range tests {
		t.Run(tt.response, func(t *testing.T) {
			_, err := ClientAccept(tt.response, Config{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.errMsg)
			assert.Contains(t, err.Error(), "deflate: ")
		})
	}
}

func TestServerResponseSatisfiesOurClient(t *testing.T) {
	for _, client := range takeoverConfigs() {
		for _, server := range takeoverConfigs() {
			_, response, ok := ServerAccept(Offer(client), server)
			require.True(t, ok)
			p, err := ClientAccept(response, client)
			require.NoError(t, err)
			assert.Equal(t, client.ServerNoContextTakeover || server.ServerNoContextTakeover, p.ServerNoContextTakeover)
			assert.Equal(t, client.ClientNoContextTakeover || server.ClientNoContextTakeover, p.ClientNoContextTakeover)
		}
	}
}

func TestParamsStringListsEveryParameter(t *testing.T) {
	p := Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 12, ClientMaxWindowBits: 9}
	assert.Equal(t,
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=9",
		p.String())
}

func TestConfigShouldCompressAppliesThreshold(t *testing.T) {
	assert.False(t, Config{}.ShouldCompress(DefaultThreshold-1))
	assert.True(t, Config{}.ShouldCompress(DefaultThreshold))
	assert.False(t, Config{Threshold: 10}.ShouldCompress(9))
	assert.True(t, Config{Threshold: 10}.ShouldCompress(10))
	assert.True(t, Config{Threshold: -1}.ShouldCompress(0))
}

// takeoverConfigs returns the four combinations of the no_context_takeover flags.
func takeoverConfigs() []Config {
	return []Config{
		{},
		{ServerNoContextTakeover: true},
		{ClientNoContextTakeover: true},
		{ServerNoContextTakeover: true, ClientNoContextTakeover: true},
	}
}

func TestFullClientWindowOffersNoClientWindowAndRefusesOne(t *testing.T) {
	cfg := Config{FullClientWindow: true}
	assert.Equal(t, "permessage-deflate", Offer(cfg))
	assert.Contains(t, Offer(Config{}), "client_max_window_bits")

	p, err := ClientAccept("permessage-deflate; server_max_window_bits=12", cfg)
	require.NoError(t, err)
	assert.Equal(t, 12, p.ServerMaxWindowBits)
	assert.Equal(t, 9, p.CompressionLevel(proto.Client, 9), "our compressor keeps its full window")

	_, err = ClientAccept("permessage-deflate; client_max_window_bits=12", cfg)
	assert.ErrorContains(t, err, "not offered")
}
