// Package reply writes answers of the API over HTTP: JSON bodies, and
// errors in the API's error shape. Controllers and node daemons use it;
// package api itself stays free of net/http.
package reply

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"

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
	buf := buffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooled {
			buffers.Put(buf)
		}
	}()
	if err := json.NewEncoder(buf).Encode(v); err != nil { // json.Marshal's bytes, and a newline
		Error(w, api.Errorf(api.CodeInternal, "encode answer: %v", err))
		return
	}
	// A length, not chunks: the client reads a large answer into one
	// buffer of the right size.
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// jsonType is every JSON answer's Content-Type value, shared: net/http
// copies a header's values when it writes them.
var jsonType = []string{"application/json"}

// buffers hold answers as they are encoded: most are small and many, a
// submit's among them.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooled is the largest buffer kept for the next answer.
const maxPooled = 64 << 10
