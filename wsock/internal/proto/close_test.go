package proto_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotrio/gotrio/wsock/internal/proto"
)

func TestCloseCodeNameFollowsTheRegistry(t *testing.T) {
	for code, name := range map[proto.CloseCode]string{
		1000: "NORMAL_CLOSURE", 1001: "GOING_AWAY", 1002: "PROTOCOL_ERROR", 1003: "UNSUPPORTED_DATA",
		1005: "NO_STATUS_RCVD", 1006: "ABNORMAL_CLOSURE", 1007: "INVALID_FRAME_PAYLOAD_DATA",
		1008: "POLICY_VIOLATION", 1009: "MESSAGE_TOO_BIG", 1010: "MANDATORY_EXT", 1011: "INTERNAL_ERROR",
		1012: "SERVICE_RESTART", 1013: "TRY_AGAIN_LATER", 1014: "BAD_GATEWAY", 1015: "TLS_HANDSHAKE_FAILED",
		3000: "REGISTERED", 3999: "REGISTERED", 4000: "PRIVATE_USE", 4999: "PRIVATE_USE",
		0: "UNKNOWN", 999: "UNKNOWN", 1004: "UNKNOWN", 1016: "UNKNOWN", 2999: "UNKNOWN", 5000: "UNKNOWN", 65535: "UNKNOWN",
	} {
		assert.Equal(t, name, code.Name(), "code %d", code)
	}
}

func TestCloseCodeValidOnWire(t *testing.T) {
	valid := []proto.CloseCode{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}
	invalid := []proto.CloseCode{0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}
	for _, c := range valid {
		assert.True(t, c.ValidOnWire(), "code %d", c)
	}
	for _, c := range invalid {
		assert.False(t, c.ValidOnWire(), "code %d", c)
	}
}

func TestParseClose(t *testing.T) {
	for name, tc := range map[string]struct {
		payload string
		code    proto.CloseCode
		reason  string
		errCode proto.CloseCode
	}{
		"empty payload means no status":  {"", proto.NoStatusReceived, "", 0},
		"code only":                      {"\x03\xe8", proto.NormalClosure, "", 0},
		"code and reason":                {"\x03\xe9bye", proto.GoingAway, "bye", 0},
		"registered 1012":                {"\x03\xf4", proto.ServiceRestart, "", 0},
		"private 4999":                   {"\x13\x87", 4999, "", 0},
		"one byte":                       {"\x03", 0, "", proto.ProtocolError},
		"code 1005 may not be sent":      {"\x03\xed", 0, "", proto.ProtocolError},
		"code 1006 may not be sent":      {"\x03\xee", 0, "", proto.ProtocolError},
		"code 1015 may not be sent":      {"\x03\xf7", 0, "", proto.ProtocolError},
		"code 0":                         {"\x00\x00", 0, "", proto.ProtocolError},
		"code 5000":                      {"\x13\x88", 0, "", proto.ProtocolError},
		"invalid UTF-8 reason":           {"\x03\xe8\xce\xba\xed\xa0\x80", 0, "", proto.InvalidPayload},
		"reason cut inside a code point": {"\x03\xe8\xce", 0, "", proto.InvalidPayload},
		"126 bytes":                      {"\x03\xe8" + stars(124), 0, "", proto.ProtocolError},
	} {
		t.Run(name, func(t *testing.T) {
			code, reason, err := proto.ParseClose([]byte(tc.payload))
			if tc.errCode != 0 {
				var pe *proto.Error
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, tc.errCode, pe.Code)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.code, code)
			assert.Equal(t, tc.reason, reason)
		})
	}
}

func TestAppendCloseEncodesCodeThenReason(t *testing.T) {
	p, err := proto.AppendClose([]byte("x"), proto.GoingAway, "bye")
	require.NoError(t, err)
	assert.Equal(t, []byte("x\x03\xe9bye"), p)

	p, err = proto.AppendClose(nil, 0, "")
	require.NoError(t, err)
	assert.Empty(t, p, "code 0 means a close frame without status")

	p, err = proto.AppendClose(nil, 4000, stars(proto.MaxCloseReason))
	require.NoError(t, err)
	assert.Len(t, p, 125)
}

func TestAppendCloseRejectsWhatCannotBeSent(t *testing.T) {
	for name, tc := range map[string]struct {
		code   proto.CloseCode
		reason string
	}{
		"no status received":  {proto.NoStatusReceived, ""},
		"abnormal closure":    {proto.AbnormalClosure, ""},
		"reason without code": {0, "why"},
		"reason of 124 bytes": {proto.NormalClosure, stars(124)},
		"invalid UTF-8":       {proto.NormalClosure, "\xff"},
	} {
		t.Run(name, func(t *testing.T) {
			dst := []byte("dst")
			got, err := proto.AppendClose(dst, tc.code, tc.reason)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "append close")
			assert.Equal(t, []byte("dst"), got)
		})
	}
}

func TestErrorNamesReasonAndCode(t *testing.T) {
	err := &proto.Error{Code: proto.ProtocolError, Reason: "bad frame"}
	assert.Equal(t, "websocket: bad frame (close 1002)", err.Error())
	assert.Nil(t, errors.Unwrap(err))
}
