package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
)

const (
	algorithm     = "AWS4-HMAC-SHA256"
	amzDateLayout = "20060102T150405Z"
	scopeTerm     = "aws4_request"
)

// canonicalRequest builds AWS's canonical request for r: method, canonical
// URI, canonical query, canonical headers for the lowercase, sorted
// signedHeaders, the signed-headers list and payloadHash, one per line.
// It fails only on a query string with a bad %-escape.
func canonicalRequest(r *http.Request, signedHeaders []string, payloadHash string) (string, error) {
	query, err := canonicalQuery(r.URL.RawQuery)
	if err != nil {
		return "", err
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet // net/http's client reads "" as GET
	}
	var b strings.Builder
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(wirePath(r)))
	b.WriteByte('\n')
	b.WriteString(query)
	b.WriteByte('\n')
	for _, name := range signedHeaders {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(headerValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String(), nil
}

// wirePath is r's path exactly as it travels on the request line: for a
// server request the raw request-target, for a client request the escaped
// path net/http's transport will write.
func wirePath(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		p, _, _ := strings.Cut(r.RequestURI, "?")
		return p
	}
	return r.URL.EscapedPath()
}

// canonicalURI is botocore's canonical path for every service but S3: the
// wire path with dot segments and empty segments removed (a trailing slash
// kept), URI-encoded again with "/" left bare.
func canonicalURI(path string) string {
	return uriEncode(removeDotSegments(path), true)
}

// removeDotSegments follows botocore's remove_dot_segments: RFC 3986
// section 5.2.4, and consecutive slashes collapse, as AWS requires.
func removeDotSegments(path string) string {
	if path == "" {
		return "/"
	}
	var out []string
	for _, seg := range strings.Split(path, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	var b strings.Builder
	if path[0] == '/' {
		b.WriteByte('/')
	}
	b.WriteString(strings.Join(out, "/"))
	if path[len(path)-1] == '/' && len(out) > 0 {
		b.WriteByte('/')
	}
	return b.String()
}

// canonicalQuery decodes each key=value pair of a raw query and re-encodes
// it with AWS's rules, sorted by key, then value. A pair without "=" has an
// empty value; "+" decodes to a space, as url.Values encodes one.
func canonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	parts := strings.Split(raw, "&")
	pairs := make([][2]string, 0, len(parts))
	for _, p := range parts {
		k, v, _ := strings.Cut(p, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return "", fmt.Errorf("decode query key %q: %w", k, err)
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return "", fmt.Errorf("decode query value %q: %w", v, err)
		}
		pairs = append(pairs, [2]string{uriEncode(dk, false), uriEncode(dv, false)})
	}
	// By key, then value; not the joined "k=v" strings, where "-", "." and
	// digits sort below "=" and would put "a-b=" ahead of "a=".
	slices.SortFunc(pairs, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	joined := make([]string, len(pairs))
	for i, p := range pairs {
		joined[i] = p[0] + "=" + p[1]
	}
	return strings.Join(joined, "&"), nil
}

// uriEncode percent-encodes every byte of s but A-Z a-z 0-9 - _ . ~ (and /
// when keepSlash), with upper-case hex, as AWS's UriEncode does.
func uriEncode(s string, keepSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/' && keepSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// headerValue is the canonical value of the lowercase header name in r:
// each value trimmed with inner whitespace runs squeezed to one space,
// repeated headers joined with "," in the order they came. host is r.Host
// (net/http moves it out of Header), or the URL's host on a client request
// that has none.
func headerValue(r *http.Request, name string) string {
	if name == "host" {
		if r.Host != "" {
			return r.Host
		}
		return r.URL.Host
	}
	vals := r.Header[textproto.CanonicalMIMEHeaderKey(name)]
	if len(vals) == 0 {
		// A name textproto cannot canonicalise is kept as it came.
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			if strings.EqualFold(k, name) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys) // map order must not reach the signature
		for _, k := range keys {
			vals = append(vals, r.Header[k]...)
		}
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// stringToSign is the second stage: algorithm, request time, credential
// scope and the hex SHA-256 of the canonical request.
func stringToSign(amzDate, scope, canonical string) string {
	return algorithm + "\n" + amzDate + "\n" + scope + "\n" + hexSHA256([]byte(canonical))
}

// credentialScope is DATE/REGION/SERVICE/aws4_request.
func credentialScope(date, region, service string) string {
	return date + "/" + region + "/" + service + "/" + scopeTerm
}

// signingKey derives kSigning from the secret: kDate = HMAC("AWS4"+secret,
// date), kRegion = HMAC(kDate, region), kService = HMAC(kRegion, service),
// kSigning = HMAC(kService, "aws4_request").
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, scopeTerm)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
