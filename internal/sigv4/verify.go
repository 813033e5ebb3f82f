package sigv4

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// KeyStore resolves an access key id to its secret and the shoal user it
// belongs to; ok is false for an id it does not know.
type KeyStore interface {
	Lookup(accessKeyID string) (secret string, user string, ok bool)
}

// Defaults for the Verifier fields left zero.
const (
	DefaultService      = "batch"
	DefaultMaxSkew      = 15 * time.Minute // as AWS
	DefaultMaxBodyBytes = 10 << 20
)

// Verifier checks SigV4-signed requests against the keys in Keys. Its
// fields are read-only once Verify is in use; one Verifier serves any
// number of goroutines.
type Verifier struct {
	Keys    KeyStore
	Service string           // the service the credential scope must name; "" means DefaultService
	Now     func() time.Time // injected clock; nil means time.Now
	MaxSkew time.Duration    // how far X-Amz-Date may be from Now, either way; 0 means DefaultMaxSkew
	// MaxBodyBytes caps the body Verify reads into memory before the
	// signature is known good; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// authHeader is a parsed Authorization header.
type authHeader struct {
	accessKeyID, date, region, service string
	signedHeaders                      []string
	signature                          []byte
}

// Verify checks r's AWS4-HMAC-SHA256 Authorization header and returns the
// user its access key belongs to. It reads the body (up to MaxBodyBytes)
// and puts an unread copy back in r.Body for the handler.
//
// Every rejection is an *Error, checked in this order: no Authorization
// (MissingAuthenticationTokenException); a malformed Authorization or
// X-Amz-Date (IncompleteSignatureException); a credential scope naming
// another day than X-Amz-Date or another service, or host not signed
// (InvalidSignatureException); an unknown key id
// (UnrecognizedClientException); X-Amz-Date more than MaxSkew from now
// (InvalidSignatureException, "Signature expired: ..."); a body over
// MaxBodyBytes (RequestTooLargeException); X-Amz-Content-Sha256 that is
// not the body's hash (XAmzContentSHA256Mismatch); a query string with a
// bad escape (MalformedQueryString); and last a signature that does not
// match (InvalidSignatureException). An error reading the body is returned
// wrapped, and is not an *Error.
func (v *Verifier) Verify(r *http.Request) (user string, err error) {
	auths := r.Header.Values("Authorization")
	switch {
	case len(auths) == 0:
		return "", authError(CodeMissingAuthenticationToken, msgMissingToken)
	case len(auths) > 1:
		return "", badRequest(CodeIncompleteSignature, "Authorization header appears more than once.")
	}
	a, e := parseAuthorization(auths[0])
	if e != nil {
		return "", e
	}

	dates := r.Header.Values("X-Amz-Date")
	if len(dates) != 1 {
		return "", badRequest(CodeIncompleteSignature,
			"Authorization header requires existence of exactly one 'X-Amz-Date' header.")
	}
	amzDate := dates[0]
	at, perr := time.Parse(amzDateLayout, amzDate)
	if perr != nil {
		return "", badRequest(CodeIncompleteSignature,
			fmt.Sprintf("X-Amz-Date %q is not in the ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z'.", amzDate))
	}
	if a.date != amzDate[:8] {
		return "", authError(CodeInvalidSignature, fmt.Sprintf(
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			a.date, amzDate[:8], amzDate))
	}
	service := v.Service
	if service == "" {
		service = DefaultService
	}
	if a.service != service {
		return "", authError(CodeInvalidSignature,
			fmt.Sprintf("Credential should be scoped to correct service: '%s'.", service))
	}
	if !slices.Contains(a.signedHeaders, "host") {
		return "", authError(CodeInvalidSignature, "'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}

	var secret string
	ok := false
	if v.Keys != nil {
		secret, user, ok = v.Keys.Lookup(a.accessKeyID)
	}
	if !ok {
		return "", authError(CodeUnrecognizedClient, msgUnknownKey)
	}

	if e := v.checkSkew(at, amzDate); e != nil {
		return "", e
	}

	body, err := v.readBody(r)
	if err != nil {
		return "", err
	}
	payloadHash := hexSHA256(body)
	// The canonical request always carries the hash of the body that came,
	// so a claimed hash can only be checked, never trusted.
	if claimed := r.Header.Values("X-Amz-Content-Sha256"); len(claimed) > 0 {
		if len(claimed) > 1 || !strings.EqualFold(claimed[0], payloadHash) {
			return "", badRequest(CodeContentSHA256Mismatch, msgContentSHA256)
		}
	}

	canonical, cerr := canonicalRequest(r, a.signedHeaders, payloadHash)
	if cerr != nil {
		return "", badRequest(CodeMalformedQueryString, "The query string is malformed: "+cerr.Error())
	}
	scope := credentialScope(a.date, a.region, a.service)
	want := hmacSHA256(signingKey(secret, a.date, a.region, a.service), stringToSign(amzDate, scope, canonical))
	if !hmac.Equal(want, a.signature) { // constant time
		return "", authError(CodeInvalidSignature, msgBadSignature)
	}
	return user, nil
}

// checkSkew rejects a request time more than MaxSkew from now, with AWS's
// wording.
func (v *Verifier) checkSkew(at time.Time, amzDate string) *Error {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	t := now().UTC()
	span := skew.String()
	if skew%time.Minute == 0 {
		span = fmt.Sprintf("%d min.", skew/time.Minute)
	}
	switch {
	case at.Before(t.Add(-skew)):
		return authError(CodeInvalidSignature, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s)",
			amzDate, t.Add(-skew).Format(amzDateLayout), t.Format(amzDateLayout), span))
	case at.After(t.Add(skew)):
		return authError(CodeInvalidSignature, fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s)",
			amzDate, t.Add(skew).Format(amzDateLayout), t.Format(amzDateLayout), span))
	}
	return nil
}

// readBody reads all of r.Body, up to MaxBodyBytes, and puts the bytes
// back as a fresh reader whatever happens, so the handler sees the body
// exactly as it came.
func (v *Verifier) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	limit := v.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, &Error{Code: CodeRequestTooLarge, Status: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("Request body is longer than the %d bytes allowed.", limit)}
	}
	return body, nil
}

// parseAuthorization parses
//
//	AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b;c, Signature=HEX
//
// requiring each of the three parts exactly once, a five-part credential,
// a lowercase, sorted, duplicate-free SignedHeaders and a 64-digit hex
// signature.
func parseAuthorization(h string) (authHeader, *Error) {
	var a authHeader
	incomplete := func(msg string) (authHeader, *Error) {
		return authHeader{}, badRequest(CodeIncompleteSignature, msg)
	}
	rest, ok := strings.CutPrefix(h, algorithm+" ")
	if !ok {
		return incomplete("Authorization header must start with '" + algorithm + " '; no other algorithm is accepted.")
	}
	var cred, signed, sig string
	seen := map[string]bool{}
	for _, part := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || seen[k] {
			return incomplete(fmt.Sprintf("Authorization header part %q is malformed or repeated.", strings.TrimSpace(part)))
		}
		seen[k] = true
		switch k {
		case "Credential":
			cred = val
		case "SignedHeaders":
			signed = val
		case "Signature":
			sig = val
		default:
			return incomplete(fmt.Sprintf("Authorization header has an unknown part %q.", k))
		}
	}
	for _, need := range []string{"Credential", "SignedHeaders", "Signature"} {
		if !seen[need] {
			return incomplete(fmt.Sprintf("Authorization header requires '%s' parameter.", need))
		}
	}

	c := strings.Split(cred, "/")
	if len(c) != 5 || c[0] == "" || c[2] == "" || c[3] == "" || c[4] != scopeTerm || !isDate(c[1]) {
		return incomplete("Credential must have the form ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request.")
	}
	a.accessKeyID, a.date, a.region, a.service = c[0], c[1], c[2], c[3]

	a.signedHeaders = strings.Split(signed, ";")
	for i, name := range a.signedHeaders {
		if name == "" || name != strings.ToLower(name) || strings.ContainsAny(name, " \t:") ||
			(i > 0 && a.signedHeaders[i-1] >= name) {
			return incomplete("SignedHeaders must be lowercase header names, sorted, each once, separated by ';'.")
		}
	}

	b, err := hex.DecodeString(sig)
	if err != nil || len(b) != 32 {
		return incomplete("Signature must be 64 hexadecimal digits.")
	}
	a.signature = b
	return a, nil
}

// isDate reports whether s is eight ASCII digits.
func isDate(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
