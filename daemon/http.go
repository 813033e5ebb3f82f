package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/sigv4"
)

// maxBody bounds a request body (a submit-batch of many jobs fits).
const maxBody = 64 << 20

// endpoint adapts a typed handler of shoal's own API to HTTP: JSON in (no
// unknown fields), JSON out, errors in the API's error shape.
func endpoint[Req, Resp any](c *Controller, fn func(ctx context.Context, who caller, req Req) (Resp, error)) http.HandlerFunc {
	return handle(c, fn, true, api.WriteError)
}

// awsEndpoint adapts an AWS Batch operation: fields it does not know are
// ignored (newer clients send more), and every client error is HTTP 400
// ClientException, as AWS Batch answers.
func awsEndpoint[Req, Resp any](c *Controller, fn func(ctx context.Context, who caller, req Req) (Resp, error)) http.HandlerFunc {
	return handle(c, fn, false, writeAWSError)
}

func handle[Req, Resp any](c *Controller, fn func(ctx context.Context, who caller, req Req) (Resp, error),
	strict bool, writeErr func(http.ResponseWriter, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeErr(w, api.Errorf(api.CodeInvalid, "%s %s: use POST with a JSON body", r.Method, r.URL.Path))
			return
		}
		who, err := c.identify(r)
		if err != nil {
			writeErr(w, err)
			return
		}
		var req Req
		dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
		if strict {
			dec.DisallowUnknownFields()
		}
		if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			writeErr(w, api.Errorf(api.CodeInvalid, "decode request body for %s: %v", r.URL.Path, err))
			return
		}
		resp, err := fn(r.Context(), who, req)
		if err != nil {
			writeErr(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, resp)
	}
}

// writeAWSError answers in AWS Batch's error shape and statuses.
func writeAWSError(w http.ResponseWriter, err error) {
	var se *sigv4.Error
	if errors.As(err, &se) {
		se.WriteResponse(w)
		return
	}
	var e *api.Error
	if !errors.As(err, &e) {
		e = api.Errorf(api.CodeInternal, "%v", err)
	}
	status := http.StatusBadRequest
	if e.Type == "ServerException" {
		status = http.StatusInternalServerError
	}
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	api.WriteJSON(w, status, e)
}

// requireNode refuses callers that are not node daemons.
func requireNode(who caller) error {
	if !who.node {
		return api.Errorf(api.CodeForbidden,
			"only node daemons may call this: connect as root on the unix socket or present the join token")
	}
	return nil
}

func notFound(w http.ResponseWriter, r *http.Request) {
	api.WriteError(w, api.Errorf(api.CodeNotFound, "no API operation at %s %s", r.Method, r.URL.Path))
}

type empty struct{}
