package deflate

import (
	"errors"
	"fmt"
	"strings"
)

// extension is one element of a Sec-WebSocket-Extensions list: an offer in a request, the
// accepted configuration in a response.
type extension struct {
	name   string
	params []param
}

// param is one extension parameter. Quoted values are stored unquoted.
type param struct {
	name     string
	value    string
	hasValue bool
}

// errSyntax marks a header value that does not match the RFC 6455 §9.1 grammar.
var errSyntax = errors.New("malformed extension list")

// parseExtensions splits a Sec-WebSocket-Extensions value into its elements, following
// RFC 6455 §9.1 with RFC 9110's list rules:
//
//	extension-list = 1#extension
//	extension      = extension-token *( OWS ";" OWS extension-param )
//	extension-param = token [ BWS "=" BWS ( token / quoted-string ) ]
//
// A quoted value must unquote to a token. Empty list elements (", ,") are skipped as RFC 9110
// §5.6.1 requires; an empty header yields no extensions. Names keep their spelling: callers
// compare them case-insensitively.
func parseExtensions(s string) ([]extension, error) {
	p := scanner{s: s}
	var exts []extension
	for {
		p.skipSpace()
		if p.eof() {
			return exts, nil
		}
		if p.peek() == ',' {
			p.i++
			continue
		}
		name := p.token()
		if name == "" {
			return nil, p.fail("want an extension name")
		}
		ext := extension{name: name}
		for {
			p.skipSpace()
			if p.eof() || p.peek() == ',' {
				break
			}
			if p.peek() != ';' {
				return nil, p.fail("want ';' or ','")
			}
			p.i++
			p.skipSpace()
			prm, err := p.param()
			if err != nil {
				return nil, err
			}
			ext.params = append(ext.params, prm)
		}
		exts = append(exts, ext)
	}
}

// scanner walks a header value; i is the offset of the next unread byte.
type scanner struct {
	s string
	i int
}

func (p *scanner) eof() bool  { return p.i >= len(p.s) }
func (p *scanner) peek() byte { return p.s[p.i] }

func (p *scanner) fail(what string) error {
	if p.eof() {
		return fmt.Errorf("%w: %s at end of %q", errSyntax, what, p.s)
	}
	return fmt.Errorf("%w: %s at offset %d of %q", errSyntax, what, p.i, p.s)
}

// skipSpace skips optional whitespace (SP and HTAB).
func (p *scanner) skipSpace() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t') {
		p.i++
	}
}

// token consumes the longest run of token characters, possibly none.
func (p *scanner) token() string {
	start := p.i
	for !p.eof() && isTokenChar(p.peek()) {
		p.i++
	}
	return p.s[start:p.i]
}

// param consumes one extension-param.
func (p *scanner) param() (param, error) {
	name := p.token()
	if name == "" {
		return param{}, p.fail("want a parameter name")
	}
	p.skipSpace()
	if p.eof() || p.peek() != '=' {
		return param{name: name}, nil
	}
	p.i++
	p.skipSpace()
	if !p.eof() && p.peek() == '"' {
		v, err := p.quoted()
		if err != nil {
			return param{}, err
		}
		return param{name: name, value: v, hasValue: true}, nil
	}
	v := p.token()
	if v == "" {
		return param{}, p.fail("want a parameter value")
	}
	return param{name: name, value: v, hasValue: true}, nil
}

// quoted consumes a quoted-string and returns its unescaped content, which RFC 6455 §9.1
// requires to be a token.
func (p *scanner) quoted() (string, error) {
	start := p.i
	p.i++ // opening quote
	var b strings.Builder
	for {
		if p.eof() {
			p.i = start
			return "", p.fail("unterminated quoted string")
		}
		c := p.peek()
		p.i++
		switch {
		case c == '"':
			v := b.String()
			if !isToken(v) {
				p.i = start
				return "", p.fail("quoted value is not a token")
			}
			return v, nil
		case c == '\\':
			if p.eof() {
				p.i = start
				return "", p.fail("unterminated quoted string")
			}
			c = p.peek()
			p.i++
		}
		b.WriteByte(c)
	}
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// isTokenChar reports whether c is an RFC 9110 tchar.
func isTokenChar(c byte) bool {
	return c < 0x80 && tchar[c]
}

var tchar = func() (t [0x80]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
