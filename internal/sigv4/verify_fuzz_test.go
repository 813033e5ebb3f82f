package sigv4

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	fuzzKeyID  = "AKIAFUZZFUZZFUZZFUZZ"
	fuzzSecret = "fuzz/secret+0123456789abcdefghijklmnopqr"
)

// fuzzSeeds are requests as they come off the wire: awscli's own shape,
// queries needing re-encoding and sorting, dot segments, repeated and
// oddly spaced headers, names textproto cannot canonicalise, chunked
// bodies, an absolute-form target, and one already carrying a signature.
var fuzzSeeds = []string{
	"POST /v1/submitjob HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\nContent-Length: 52\r\n\r\n" +
		`{"jobName":"x","jobQueue":"q","jobDefinition":"d"}` + "\n",
	"GET /v1/listjobs?jobQueue=q&b=%20x+y&a=2&a=1&empty HTTP/1.1\r\nHost: example.com\r\n\r\n",
	"POST /a/./b/../c//d/ HTTP/1.1\r\nHost: h\r\nX-Amz-Meta-One:  a   b \t c \r\nX-Amz-Meta-One: second\r\nContent-Length: 3\r\n\r\nabc",
	"PUT /%2F%7e%20/x%41 HTTP/1.1\r\nHost: [::1]:9\r\nfoo_bar: under score\r\nFOO_BAR: again\r\nContent-Length: 0\r\n\r\n",
	"POST /v1/describejobs HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"GET http://h:1/abs/path?q=1 HTTP/1.1\r\nHost: h:1\r\n\r\n",
	"POST /v1/listjobs HTTP/1.1\r\nHost: h\r\nX-Amz-Date: 20261204T120000Z\r\n" +
		"Authorization: AWS4-HMAC-SHA256 Credential=" + fuzzKeyID + "/20261204/us-east-1/batch/aws4_request, " +
		"SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0f", 32) + "\r\nContent-Length: 2\r\n\r\n{}",
}

// FuzzVerify feeds Verify arbitrary requests, parsed as a server reads
// them. It must never panic; once the request is signed (Sign and Verify
// each build the canonical request their own way round: client and
// server) it must verify; and it must not once a byte of the signature,
// the body, a signed header's value or the query is flipped.
func FuzzVerify(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add([]byte(s), uint16(i))
	}
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	v := &Verifier{Keys: keys{fuzzKeyID: {fuzzSecret, "carol"}}, Now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, raw []byte, pick uint16) {
		parse := func() (*http.Request, []byte, bool) {
			r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
			if err != nil {
				return nil, nil, false
			}
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				return nil, nil, false
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			return r, body, true
		}
		r, _, ok := parse()
		if !ok {
			return
		}
		// As it came: any answer but a panic.
		v.Verify(r)

		r, body, _ := parse()
		// A claimed payload hash is checked, not canonicalised: leave it
		// to the unit tests.
		r.Header.Del("X-Amz-Content-Sha256")
		if err := Sign(r, body, fuzzKeyID, fuzzSecret, "us-east-1", "batch", now); err != nil {
			// Only a bad %-escape in the query or a header name net/http's
			// server would refuse (textproto lets "a :" through) stop it.
			_, qerr := canonicalQuery(r.URL.RawQuery)
			badName := false
			for k := range r.Header {
				badName = badName || !isToken(k)
			}
			if qerr == nil && !badName {
				t.Fatalf("Sign failed on a request with a good query and header names: %v", err)
			}
			return
		}
		mustVerify := func(what string) {
			t.Helper()
			if _, err := v.Verify(r); err != nil {
				c, _ := canonicalRequest(r, signedOf(r), hexSHA256(body))
				t.Fatalf("%s: %v; canonical request:\n%s", what, err, c)
			}
		}
		mustFail := func(what string) {
			t.Helper()
			if _, err := v.Verify(r); err == nil {
				t.Fatalf("%s still verifies", what)
			}
		}
		mustVerify("signed request")

		auth := r.Header.Get("Authorization")
		i := len(auth) - 1 - int(pick)%64 // a hex digit of the signature
		r.Header.Set("Authorization", auth[:i]+string(flipHex(auth[i]))+auth[i+1:])
		mustFail("a flipped signature digit")
		r.Header.Set("Authorization", auth)
		mustVerify("the signature put back")

		if len(body) > 0 {
			bad := bytes.Clone(body)
			bad[int(pick)%len(bad)] ^= 0x01
			r.Body = io.NopCloser(bytes.NewReader(bad))
			mustFail("a flipped body byte")
			r.Body = io.NopCloser(bytes.NewReader(body))
		}

		for _, name := range signedOf(r) {
			if name == "host" || name == "x-amz-date" {
				continue
			}
			key, vi, bi, ok := alnumIn(r.Header, name, int(pick))
			if !ok {
				continue
			}
			vals := r.Header[key]
			orig := vals[vi]
			vals[vi] = orig[:bi] + string(orig[bi]^0x01) + orig[bi+1:]
			mustFail("a flipped byte in signed header " + name)
			vals[vi] = orig
			break
		}

		if q := r.URL.RawQuery; q != "" {
			for j := range len(q) {
				k := (int(pick) + j) % len(q)
				// Every such flip changes the decoded query, or leaves a
				// bad escape ("%4a" -> "%4`"): both must fail.
				if !isAlnum(q[k]) {
					continue
				}
				r.URL.RawQuery = q[:k] + string(q[k]^0x01) + q[k+1:]
				mustFail("a flipped query byte")
				r.URL.RawQuery = q
				break
			}
		}
	})
}

// signedOf returns the SignedHeaders of r's Authorization.
func signedOf(r *http.Request) []string {
	a, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return nil
	}
	return a.signedHeaders
}

// alnumIn finds an ASCII letter or digit in a value of header name (any
// case of it): flipping its low bit changes the canonical value, which
// only trims and squeezes whitespace.
func alnumIn(h http.Header, name string, pick int) (key string, vi, bi int, ok bool) {
	for k, vals := range h {
		if !strings.EqualFold(k, name) {
			continue
		}
		for vi, val := range vals {
			for j := range len(val) {
				if bi := (pick + j) % len(val); isAlnum(val[bi]) {
					return k, vi, bi, true
				}
			}
		}
	}
	return "", 0, 0, false
}

func isAlnum(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

func flipHex(c byte) byte {
	if c == '0' {
		return '1'
	}
	return '0'
}

func TestFuzzSeedsAreRequests(t *testing.T) {
	for _, s := range fuzzSeeds {
		if _, err := http.ReadRequest(bufio.NewReader(strings.NewReader(s))); err != nil && !errors.Is(err, io.EOF) {
			t.Errorf("seed %q does not parse: %v", s[:min(40, len(s))], err)
		}
	}
}
