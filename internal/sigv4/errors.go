package sigv4

import (
	"encoding/json"
	"net/http"
)

// Error codes carried in Error.Code. They are AWS's own, so that awscli
// and the SDKs print and branch on them as they would against AWS.
const (
	// CodeMissingAuthenticationToken: the request has no Authorization
	// header (403).
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	// CodeUnrecognizedClient: the access key id is unknown (403).
	CodeUnrecognizedClient = "UnrecognizedClientException"
	// CodeInvalidSignature: the signature does not match, the credential
	// scope is wrong, or the request time is outside MaxSkew (403).
	CodeInvalidSignature = "InvalidSignatureException"
	// CodeIncompleteSignature: the Authorization or X-Amz-Date header is
	// malformed or missing a part (400).
	CodeIncompleteSignature = "IncompleteSignatureException"
	// CodeContentSHA256Mismatch: X-Amz-Content-Sha256 is not the hash of
	// the body that came (400; S3's code for the same fault).
	CodeContentSHA256Mismatch = "XAmzContentSHA256Mismatch"
	// CodeMalformedQueryString: the query string has a bad %-escape, so
	// it has no canonical form (400).
	CodeMalformedQueryString = "MalformedQueryString"
	// CodeRequestTooLarge: the body is longer than MaxBodyBytes (413).
	CodeRequestTooLarge = "RequestTooLargeException"
)

// Error is what Verify returns for a request it rejects. Code is one of the
// Code constants above; the caller answers with WriteResponse or its own
// rendering of the AWS error shape. Code, not Message, is what to branch on.
type Error struct {
	Code    string
	Message string
	Status  int // HTTP status to answer with: 403 for auth failures, 400 for malformed
}

// Error returns "Code: Message".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// WriteResponse answers an HTTP request with e in the AWS JSON error shape:
// status e.Status, header x-amzn-ErrorType: e.Code, and body
// {"__type": e.Code, "message": e.Message}. awscli prints it as
// "An error occurred (Code) when calling the ... operation: Message".
func (e *Error) WriteResponse(w http.ResponseWriter) {
	body, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message}) // two strings: Marshal cannot fail
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(e.Status)
	w.Write(body)
}

func authError(code, msg string) *Error {
	return &Error{Code: code, Message: msg, Status: http.StatusForbidden}
}

func badRequest(code, msg string) *Error {
	return &Error{Code: code, Message: msg, Status: http.StatusBadRequest}
}

// Messages AWS sends with these codes, word for word where awscli users
// will recognise them.
const (
	msgMissingToken = "Missing Authentication Token"
	msgUnknownKey   = "The security token included in the request is invalid."
	msgBadSignature = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgContentSHA256 = "The provided 'x-amz-content-sha256' header does not match what was computed."
)
