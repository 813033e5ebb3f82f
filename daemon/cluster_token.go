package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// A submit may carry a client token (api.HeaderClientToken): the client's
// name for the request, so that one sent again after its answer was lost
// (a leader died with it in flight) stores no second job. The FSM keeps
// the token with the ids it stored (raftfsm/submittoken.go), per caller
// uid; a digest of the request's path and body goes with it, so that the
// same token with another request is refused, not answered with the
// first one's jobs.

type clientTokenKey struct{}

// clientToken is a submit's token and the digest of its request (128
// bits of SHA-256: the FSM keeps one per token).
type clientToken struct {
	token, hash string
}

// withClientToken wraps a submit route: a request with a client token
// has it checked and, with its digest, put in its context for submitJobs.
func withClientToken(serve serveFunc, writeErr func(http.ResponseWriter, error)) serveFunc {
	return func(w http.ResponseWriter, r *http.Request, who caller) {
		token := r.Header.Get(api.HeaderClientToken)
		if token == "" {
			serve(w, r, who)
			return
		}
		if err := raftfsm.CheckClientToken(token); err != nil {
			writeErr(w, err)
			return
		}
		body, err := io.ReadAll(r.Body) // capped by guard
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				err = errTooLarge(r.URL.Path, mbe.Limit)
			} else {
				err = api.Errorf(api.CodeInvalid, "%s: read the request: %v", r.URL.Path, err)
			}
			writeErr(w, err)
			return
		}
		sum := sha256.New()
		sum.Write([]byte(r.URL.Path + "\n"))
		sum.Write(body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		ctx := context.WithValue(r.Context(), clientTokenKey{}, clientToken{token: token, hash: hex.EncodeToString(sum.Sum(nil)[:16])})
		serve(w, r.WithContext(ctx), who)
	}
}

func clientTokenOf(ctx context.Context) (clientToken, bool) {
	t, ok := ctx.Value(clientTokenKey{}).(clientToken)
	return t, ok
}

// submitOnce commits a submit: with a client token in ctx, one the FSM
// answers with the first submit's ids when the token was recorded. Once
// encoded, *cmd is cleared: its jobs are not held while the entry commits.
func (c *Controller) submitOnce(ctx context.Context, who caller, cmd *raftfsm.SubmitCmd) (raftfsm.Result, error) {
	var token *raftfsm.SubmitToken
	if t, ok := clientTokenOf(ctx); ok {
		token = &raftfsm.SubmitToken{UID: who.uid, Token: t.token, Hash: t.hash}
	}
	entry, err := raftfsm.EncodeSubmit(cmd, token) // the compact form (OpSubmitBin)
	*cmd = raftfsm.SubmitCmd{}
	if err != nil {
		return raftfsm.Result{}, err
	}
	// Noted before it commits: a pass that sees the job has seen the
	// note, and holds for the burst (noted after, a pass woken by the
	// commit could place it first). A submit that fails is noted too,
	// which at worst holds a pass for one burstGap.
	c.burst.note(c.clock.Now())
	res, err := c.applier.ApplyEntry(ctx, entry)
	if err == nil && res.Repeated {
		c.log.Info("a submit was sent again with its client token: answered with the jobs it stored", "uid", who.uid, "first", res.IDs[0])
	}
	return res, err
}

// submittedBefore answers a tokened submit whose token this controller
// has applied already from its own state (what it applied is committed):
// the ids, and true. It needs no round trip to the leader, and does not
// depend on the request still being valid (a queue since disabled).
func (c *Controller) submittedBefore(ctx context.Context, who caller, state interface {
	SubmitToken(uid uint32, token, hash string) ([]uint64, bool, error)
}) ([]uint64, bool, error) {
	t, ok := clientTokenOf(ctx)
	if !ok {
		return nil, false, nil
	}
	return state.SubmitToken(who.uid, t.token, t.hash)
}
