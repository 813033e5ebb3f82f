package sigv4

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// unsignedHeaders are left out of the signature by Sign: botocore's
// SIGNED_HEADERS_BLACKLIST (proxies and clients rewrite them), plus the
// headers net/http's transport writes from fields of its own and not from
// Header, and Authorization itself.
var unsignedHeaders = map[string]bool{
	"authorization":     true,
	"expect":            true,
	"transfer-encoding": true,
	"user-agent":        true,
	"x-amzn-trace-id":   true,
	"content-length":    true, // from r.ContentLength
	"host":              true, // from r.Host, added separately
	"trailer":           true,
}

// Sign signs the client request r, whose body is body, with AWS Signature
// Version 4, as awscli 2 does for a JSON service: it sets X-Amz-Date to now
// (in UTC) and Authorization, signing host, x-amz-date and every other
// header already in r.Header but those in unsignedHeaders. For a request
// carrying only Content-Type that is content-type;host;x-amz-date, the set
// awscli signs for `aws batch`. No X-Amz-Content-Sha256 is added, as
// awscli adds none; the body's hash is in the signature all the same.
//
// Sign also sets r.Body, r.GetBody and r.ContentLength to body, so the
// signed bytes are the ones sent. Headers set on r after Sign are sent
// unsigned.
func Sign(r *http.Request, body []byte, accessKeyID, secret, region, service string, now time.Time) error {
	if r.URL == nil {
		return errors.New("sign request: no URL")
	}
	if accessKeyID == "" || secret == "" {
		return errors.New("sign request: empty access key id or secret")
	}
	for _, s := range []string{accessKeyID, region, service} {
		if s == "" || strings.ContainsAny(s, "/, \t\r\n") {
			return fmt.Errorf("sign request: %q cannot go in a credential scope", s)
		}
	}
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	amzDate := now.UTC().Format(amzDateLayout)
	r.Header.Del("Authorization")
	r.Header.Set("X-Amz-Date", amzDate)

	signed := []string{"host"}
	for k := range r.Header {
		if name := strings.ToLower(k); !unsignedHeaders[name] {
			if !isToken(name) {
				return fmt.Errorf("sign request: header name %q is not an HTTP token: it cannot be sent, nor listed in SignedHeaders", k)
			}
			signed = append(signed, name)
		}
	}
	slices.Sort(signed)
	signed = slices.Compact(signed)

	canonical, err := canonicalRequest(r, signed, hexSHA256(body))
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	scope := credentialScope(amzDate[:8], region, service)
	sig := hmacSHA256(signingKey(secret, amzDate[:8], region, service), stringToSign(amzDate, scope, canonical))
	r.Header.Set("Authorization", fmt.Sprintf("%s Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		algorithm, accessKeyID, scope, strings.Join(signed, ";"), hex.EncodeToString(sig)))

	r.ContentLength = int64(len(body))
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	if len(body) == 0 {
		r.Body = http.NoBody
	}
	return nil
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2), as
// header names must be: no spaces, ':', ';' or ',' that would break the
// Authorization header's SignedHeaders.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
