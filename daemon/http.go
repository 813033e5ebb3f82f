package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/shoal-batch/shoal/api"
)

// maxBody bounds a request body (a submit-batch of many jobs fits).
const maxBody = 64 << 20

// endpoint adapts a typed handler to HTTP: JSON in, JSON out, errors in
// the API's error shape.
func endpoint[Req, Resp any](c *Controller, fn func(ctx context.Context, who caller, req Req) (Resp, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			api.WriteError(w, api.Errorf(api.CodeInvalid, "%s %s: use POST with a JSON body", r.Method, r.URL.Path))
			return
		}
		var req Req
		dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			api.WriteError(w, api.Errorf(api.CodeInvalid, "decode request body for %s: %v", r.URL.Path, err))
			return
		}
		resp, err := fn(r.Context(), identify(r, c.selfUID, c.joinToken), req)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, resp)
	}
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
