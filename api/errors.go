package api

import (
	"errors"
	"fmt"
)

// Error codes carried in Error.Code; clients branch on these, never on text.
const (
	CodeInvalid       = "InvalidRequest"   // malformed or impossible request
	CodeUnsatisfiable = "Unsatisfiable"    // no node of the queue could ever run it
	CodeNotFound      = "NotFound"         // no such job, node or queue
	CodeForbidden     = "PermissionDenied" // caller may not touch this object
	CodeConflict      = "InvalidState"     // the object's state does not allow it
	CodeUnavailable   = "Unavailable"      // no leader, shutting down
	CodeInternal      = "Internal"
	// CodeUnauthenticated: the request does not say who sent it (HTTP 401).
	CodeUnauthenticated = "Unauthenticated"
	// CodeTooLarge: the request body is over the route's limit (HTTP 413).
	CodeTooLarge = "RequestTooLarge"
	// CodeOutcomeUnknown: the request reached the replicated log but its
	// answer was lost (the leader died or lost the leadership): it may or
	// may not have been done. A submit sent with a client token
	// (HeaderClientToken) may be sent again with the same token; anything
	// else should be checked before it is repeated (HTTP 500).
	CodeOutcomeUnknown = "OutcomeUnknown"
)

// Error is the JSON body of every failed API call. __type and message are
// AWS Batch's error shape; code is shoal's machine-readable reason.
type Error struct {
	Type    string `json:"__type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the part of the request at fault, when one is: "memory",
	// "cpus", "gpus", "queue", "dependency", ... (Slurm's wording keys off it).
	Field string `json:"field,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// HTTPStatus maps the code to the HTTP status the API answers with
// (numbers, not net/http's names: this package stays free of net/http).
func (e *Error) HTTPStatus() int {
	switch e.Code {
	case CodeNotFound:
		return 404 // Not Found
	case CodeForbidden:
		return 403 // Forbidden
	case CodeUnauthenticated:
		return 401 // Unauthorized
	case CodeTooLarge:
		return 413 // Request Entity Too Large
	case CodeUnavailable:
		return 503 // Service Unavailable
	case CodeInternal, CodeOutcomeUnknown:
		return 500 // Internal Server Error
	default:
		return 400 // Bad Request
	}
}

// Errorf builds an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	typ := "ClientException"
	if code == CodeInternal || code == CodeUnavailable || code == CodeOutcomeUnknown {
		typ = "ServerException"
	}
	return &Error{Type: typ, Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithField returns e naming the request field at fault.
func (e *Error) WithField(f string) *Error { e.Field = f; return e }

// IsCode reports whether err is an *Error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
