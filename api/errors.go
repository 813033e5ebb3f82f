package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
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

// HTTPStatus maps the code to the status the API answers with.
func (e *Error) HTTPStatus() int {
	switch e.Code {
	case CodeNotFound:
		return http.StatusNotFound
	case CodeForbidden:
		return http.StatusForbidden
	case CodeUnauthenticated:
		return http.StatusUnauthorized
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	case CodeInternal:
		return http.StatusInternalServerError
	default:
		return http.StatusBadRequest
	}
}

// Errorf builds an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	typ := "ClientException"
	if code == CodeInternal || code == CodeUnavailable {
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

// WriteError answers an HTTP request with err in the API's error shape
// (an *Error as it is; anything else as an internal error).
func WriteError(w http.ResponseWriter, err error) {
	if r, ok := err.(interface{ WriteResponse(http.ResponseWriter) }); ok {
		r.WriteResponse(w) // an error that knows its own shape (SigV4's)
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		e = Errorf(CodeInternal, "%v", err)
	}
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	WriteJSON(w, e.HTTPStatus(), e)
}

// WriteJSON answers an HTTP request with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		WriteError(w, Errorf(CodeInternal, "encode answer: %v", err))
		return
	}
	// A length, not chunks: the client reads a large answer into one
	// buffer of the right size.
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
