package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/reply"
	"github.com/shoal-batch/shoal/internal/sigv4"
)

// access says who may call a route. The HTTP layer checks it (guard)
// before the handler runs and before the body is read; handlers check
// only what depends on the object (a job's owner).
type access uint8

const (
	// anyone: no identity needed. Only the health check.
	anyone access = iota
	// identified: any caller who says who they are (a user or a node);
	// the answer for paths that do not exist.
	identified
	// asUser: an identified user: a unix peer (its uid), or the owner of
	// the access key that signed the request (SigV4).
	asUser
	// asOperator: root (a unix peer or a key of uid 0), or the
	// controller's own uid on the unix socket.
	asOperator
	// asNode: a node daemon: root or the controller's uid on the unix
	// socket, or a caller presenting its node credential (the join token
	// alone only registers a new node: routes.go's credentialed).
	asNode
)

// check refuses who unless they may call rt: 401 when they did not say
// who they are, 403 when they are not who the route is for.
func (rt route) check(who caller, path string) error {
	a := rt.access
	if a == anyone {
		return nil
	}
	if !who.known && !who.node {
		return errUnauthenticated(path)
	}
	what := rt.what
	if what == "" {
		what = "call " + path
	}
	switch {
	case a == asUser && !who.known:
		return api.Errorf(api.CodeForbidden, "only users may %s: a node's credential or the join token does not identify one", what)
	case a == asOperator && !who.operator:
		return api.Errorf(api.CodeForbidden, "only root may %s (or the controller's own user, on its socket)", what)
	case a == asNode && !who.node:
		return api.Errorf(api.CodeForbidden, "only node daemons may call this (%s): connect as root on the unix socket or present the node credential (the join token registers a new node)", path)
	}
	return nil
}

func errUnauthenticated(path string) *api.Error {
	return api.Errorf(api.CodeUnauthenticated,
		"%s: this request does not say who sent it: use the controller's unix socket, sign it with an access key (AWS SigV4; `shoal keys create`), or, for a node daemon, present its node credential (or the join token, to register)", path)
}

// Body limits, per route (the 413 names the limit). A job's own fields
// are bounded in newJob; these bound what is read before that.
const (
	// bodySmall: ids, filters, names, small objects: most routes.
	bodySmall = 1 << 20
	// bodySubmit: one job: a script of up to MaxScriptBytes, an
	// environment and arguments of up to MaxEnvBytes and MaxArgsBytes,
	// with room for JSON's escapes.
	bodySubmit = 16 << 20
	// bodySubmitBatch: a batch of up to MaxBatchJobs jobs: sixteen with
	// the largest scripts, or a thousand of 64 KiB each.
	bodySubmitBatch = 64 << 20
	// bodyImage: an image tarball (root only; written to disk as it comes).
	bodyImage = 64 << 30
)

// route is one API operation: its path, who may call it, how large a
// body it takes, and whether it answers in AWS Batch's error shape.
type route struct {
	path   string
	access access
	limit  int64
	aws    bool
	serve  serveFunc
	what   string // what the operation does, for refusals ("load images")
}

// serveFunc serves a request whose caller has been identified and allowed.
type serveFunc func(w http.ResponseWriter, r *http.Request, who caller)

// guard enforces rt's limits and access, then serves: the body is capped
// before anything reads it, the caller identified (which reads the body
// only to check a SigV4 signature), and refused callers never reach the
// handler.
func (c *Controller) guard(rt route) http.Handler {
	writeErr := reply.Error
	if rt.aws {
		writeErr = writeAWSError
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, rt.limit)
		who, err := c.identify(r)
		if rt.access == anyone { // answers even a caller whose credentials fail
			err = nil
		}
		if err == nil {
			err = rt.check(who, r.URL.Path)
		}
		if err == nil && r.ContentLength > rt.limit {
			err = errTooLarge(r.URL.Path, rt.limit)
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				err = errTooLarge(r.URL.Path, rt.limit)
			}
			writeErr(w, err)
			return
		}
		c.owners.prefetch(who) // a user's first submit finds them resolved
		rt.serve(w, r, who)
	})
}

func errTooLarge(path string, limit int64) *api.Error {
	return api.Errorf(api.CodeTooLarge, "%s: the request body is over this operation's limit of %s", path, sizeString(limit))
}

// sizeString prints a byte count in the largest binary unit that divides it.
func sizeString(n int64) string {
	for _, u := range []struct {
		unit string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.unit)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// endpoint adapts a typed handler of shoal's own API to HTTP: JSON in (no
// unknown fields), JSON out, errors in the API's error shape.
func endpoint[Req, Resp any](fn func(ctx context.Context, who caller, req Req) (Resp, error)) serveFunc {
	return handle(fn, true, reply.Error)
}

// awsEndpoint adapts an AWS Batch operation: fields it does not know are
// ignored (newer clients send more), and every client error is HTTP 400
// ClientException, as AWS Batch answers.
func awsEndpoint[Req, Resp any](fn func(ctx context.Context, who caller, req Req) (Resp, error)) serveFunc {
	return handle(fn, false, writeAWSError)
}

func handle[Req, Resp any](fn func(ctx context.Context, who caller, req Req) (Resp, error),
	strict bool, writeErr func(http.ResponseWriter, error)) serveFunc {
	return func(w http.ResponseWriter, r *http.Request, who caller) {
		if r.Method != http.MethodPost {
			writeErr(w, api.Errorf(api.CodeInvalid, "%s %s: use POST with a JSON body", r.Method, r.URL.Path))
			return
		}
		var req Req
		decode := decodeBody
		switch any(&req).(type) {
		case *api.SubmitJobRequest, *api.SubmitBatchRequest:
			if strict { // shoal's own submits: read without reflection
				decode = func(body io.Reader, v any, _ bool, path string) error { return decodeSubmitBody(body, v, path) }
			}
		}
		if err := decode(r.Body, &req, strict, r.URL.Path); err != nil {
			writeErr(w, err)
			return
		}
		resp, err := fn(r.Context(), who, req)
		if err != nil {
			writeErr(w, err)
			return
		}
		if enc, ok := any(resp).(encodedAnswer); ok {
			enc.writeTo(w) // already JSON: not copied again
			return
		}
		reply.JSON(w, http.StatusOK, resp)
	}
}

// decodeBody decodes one JSON value from body into v; strict refuses
// fields v does not have. An empty body leaves v zero. A body cut short by
// its route's limit is returned as the *http.MaxBytesError (guard's 413).
func decodeBody(body io.Reader, v any, strict bool, path string) error {
	dec := json.NewDecoder(body)
	if strict {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(v)
	var mbe *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &mbe):
		return errTooLarge(path, mbe.Limit)
	}
	return api.Errorf(api.CodeInvalid, "decode request body for %s: %v", path, err)
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
	switch e.Code {
	case api.CodeUnauthenticated: // AWS's code for a request with no signature
		(&sigv4.Error{Code: sigv4.CodeMissingAuthenticationToken, Message: "Missing Authentication Token: " + e.Message, Status: http.StatusUnauthorized}).WriteResponse(w)
		return
	case api.CodeTooLarge:
		(&sigv4.Error{Code: sigv4.CodeRequestTooLarge, Message: e.Message, Status: http.StatusRequestEntityTooLarge}).WriteResponse(w)
		return
	}
	status := http.StatusBadRequest
	if e.Type == "ServerException" {
		status = http.StatusInternalServerError
	}
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	reply.JSON(w, status, e)
}

// requireNode refuses callers that are not node daemons (guard already
// has, for node routes; kept where a handler's safety rests on it).
func requireNode(who caller) error {
	if !who.node {
		return api.Errorf(api.CodeForbidden,
			"only node daemons may call this: connect as root on the unix socket or present the node credential (the join token registers a new node)")
	}
	return nil
}

// notFound answers paths no route serves (identified callers only: others
// learn nothing about which paths exist).
func notFound(w http.ResponseWriter, r *http.Request, _ caller) {
	reply.Error(w, api.Errorf(api.CodeNotFound, "no API operation at %s %s", r.Method, r.URL.Path))
}

type empty struct{}
