// Package reply writes answers of the API over HTTP: JSON bodies, and
// errors in the API's error shape. Controllers and node daemons use it;
// package api itself stays free of net/http.
package reply

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/shoal-batch/shoal/api"
)

// Error answers an HTTP request with err in the API's error shape (an
// *api.Error as it is; anything else as an internal error).
func Error(w http.ResponseWriter, err error) {
	if r, ok := err.(interface{ WriteResponse(http.ResponseWriter) }); ok {
		r.WriteResponse(w) // an error that knows its own shape (SigV4's)
		return
	}
	var e *api.Error
	if !errors.As(err, &e) {
		e = api.Errorf(api.CodeInternal, "%v", err)
	}
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	JSON(w, e.HTTPStatus(), e)
}

// JSON answers an HTTP request with v as JSON.
func JSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		Error(w, api.Errorf(api.CodeInternal, "encode answer: %v", err))
		return
	}
	// A length, not chunks: the client reads a large answer into one
	// buffer of the right size.
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
