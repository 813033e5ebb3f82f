package raftfsm

import (
	"fmt"
	"strconv"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

// Idempotent submits. A client that lost its connection after sending a
// submit (the controller it talked to died, or lost the leadership with
// the entry in flight) cannot know whether the jobs were stored. It sends
// every submit with a token of its own choosing (api.HeaderClientToken)
// and, when the answer is lost, sends the same request with the same
// token again, to any controller: the FSM records which jobs each token
// created and answers a repeat with the same ids instead of storing the
// jobs again. Tokens are the caller's (keyed by the uid the controller
// proved), so one user's token neither collides with nor reveals
// another's.
//
// The record is bounded and deterministic: a token is kept for
// SubmitTokenTTL after its submit (by the times the leader stamps in the
// commands, never a clock read in Apply) and the newest MaxSubmitTokens
// are kept; each tokened submit drops the records past either bound.

// OpSubmitOnce is a submit with a client token (SubmitOnceCmd). It is an op
// of its own, not a field of SubmitCmd: a controller that does not know
// tokens must stop at it (unknown command) rather than store the jobs a
// second time while the others answer the repeat with the first ids.
const OpSubmitOnce Op = 55

const (
	// SubmitTokenTTL is how long (ms, by the commands' Now) a token is
	// answered with its jobs' ids.
	SubmitTokenTTL = int64(60 * 60 * 1000)
	// MaxClientTokenLen is the longest token a client may give (AWS's
	// clientToken: up to 64 ASCII characters).
	MaxClientTokenLen = 64
)

// MaxSubmitTokens bounds the tokens kept (the oldest go first). A
// variable only for tests, which lower it; every replica runs the same
// binary, so it is the same on all.
var MaxSubmitTokens uint64 = 100_000

const tableSubmitTokens = "submittokens"

// SubmitOnceCmd is a SubmitCmd made idempotent by a client token: Token
// of the caller UID (proven where the request came in), with Hash, a
// digest of the request, so that a token sent again with a different
// request is refused rather than answered with another request's jobs.
type SubmitOnceCmd struct {
	Submit SubmitCmd `json:"submit"`
	UID    uint32    `json:"uid"`
	Token  string    `json:"token"`
	Hash   string    `json:"hash"`
}

// submitToken records the jobs a tokened submit stored: Count consecutive
// ids from First (a submit's ids are consecutive).
type submitToken struct {
	Key   string `json:"key"` // "UID:TOKEN"
	Seq   uint64 `json:"seq"` // the order tokens were recorded in
	Hash  string `json:"hash"`
	First uint64 `json:"first"`
	Count int    `json:"count"`
	At    int64  `json:"at"` // the submit's Now
}

func (t *submitToken) ids() []uint64 {
	ids := make([]uint64, t.Count)
	for i := range ids {
		ids[i] = t.First + uint64(i)
	}
	return ids
}

func submitTokenKey(uid uint32, token string) string {
	return strconv.FormatUint(uint64(uid), 10) + ":" + token
}

// submitTokenTables is the token table, added to the schema.
func submitTokenTables() map[string]*memdb.TableSchema {
	return map[string]*memdb.TableSchema{
		tableSubmitTokens: {
			Name: tableSubmitTokens,
			Indexes: map[string]*memdb.IndexSchema{
				"id":  {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
				"seq": {Name: "seq", Unique: true, Indexer: &memdb.UintFieldIndex{Field: "Seq"}},
			},
		},
	}
}

// CheckClientToken refuses a token a client may not use: empty, too long,
// or with other than printable ASCII characters.
func CheckClientToken(token string) error {
	if err := checkClientToken(token); err != nil {
		return err
	}
	return nil
}

func checkClientToken(token string) *api.Error {
	if token == "" || len(token) > MaxClientTokenLen {
		return api.Errorf(api.CodeInvalid, "client token %q: give 1 to %d printable ASCII characters (%s)", token, MaxClientTokenLen, api.HeaderClientToken)
	}
	for i := 0; i < len(token); i++ {
		if token[i] < 0x21 || token[i] > 0x7e {
			return api.Errorf(api.CodeInvalid, "client token %q: character %d is not printable ASCII: give 1 to %d printable ASCII characters (%s)",
				token, i+1, MaxClientTokenLen, api.HeaderClientToken)
		}
	}
	return nil
}

// SubmitToken returns the ids a submit of uid with token stored, and
// whether one did; a token recorded for a request of another digest is
// an error (the same token for a different request).
func (s *State) SubmitToken(uid uint32, token, hash string) ([]uint64, bool, error) {
	t, err := lookupSubmitToken(s.txn, uid, token)
	if err != nil || t == nil {
		return nil, false, err
	}
	if t.Hash != hash {
		return nil, false, tokenMismatch(token, t)
	}
	return t.ids(), true, nil
}

func lookupSubmitToken(txn *memdb.Txn, uid uint32, token string) (*submitToken, error) {
	raw, err := txn.First(tableSubmitTokens, "id", submitTokenKey(uid, token))
	if err != nil {
		return nil, fmt.Errorf("read client token: %w", err)
	}
	if raw == nil {
		return nil, nil
	}
	return raw.(*submitToken), nil
}

func tokenMismatch(token string, t *submitToken) *api.Error {
	return api.Errorf(api.CodeConflict,
		"client token %q was given with a different submit (it stored job %d): a token names one request; give a new token for a new request",
		token, t.First)
}

// submitOnce applies a tokened submit: a token already recorded answers
// with its jobs (Repeated), a new one submits and records them.
func (w writer) submitOnce(c SubmitOnceCmd) Result {
	return w.submitOnceBody(SubmitToken{UID: c.UID, Token: c.Token, Hash: c.Hash}, submitBodyOf(c.Submit))
}

// submitOnceBody applies a tokened submit (of either encoding).
func (w writer) submitOnceBody(c SubmitToken, b submitBody) Result {
	if err := checkClientToken(c.Token); err != nil {
		return Result{Err: err}
	}
	w.pruneSubmitTokens(b.Now)
	t, err := lookupSubmitToken(w.txn, c.UID, c.Token)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: %v", err))
	}
	if t != nil {
		if t.Hash != c.Hash {
			return Result{Err: tokenMismatch(c.Token, t)}
		}
		return Result{IDs: t.ids(), Repeated: true}
	}
	res := w.submitJobs(b)
	if res.Err != nil || len(res.IDs) == 0 {
		return res
	}
	m := w.meta()
	m.SubmitTokenSeq++
	w.put(tableMeta, &m)
	w.put(tableSubmitTokens, &submitToken{Key: submitTokenKey(c.UID, c.Token), Seq: m.SubmitTokenSeq, Hash: c.Hash,
		First: res.IDs[0], Count: len(res.IDs), At: b.Now})
	w.pruneSubmitTokens(b.Now)
	return res
}

// pruneSubmitTokens drops, oldest first, the tokens past SubmitTokenTTL at
// now or beyond the newest MaxSubmitTokens. It stops at the first it
// keeps: each call drops what the submits since the last made old.
func (w writer) pruneSubmitTokens(now int64) {
	seq := w.meta().SubmitTokenSeq
	for {
		raw, err := w.txn.First(tableSubmitTokens, "seq")
		if err != nil {
			panic(fmt.Sprintf("raftfsm: read client tokens: %v", err))
		}
		if raw == nil {
			return
		}
		t := raw.(*submitToken)
		if t.At >= now-SubmitTokenTTL && t.Seq+MaxSubmitTokens > seq {
			return
		}
		if err := w.txn.Delete(tableSubmitTokens, t); err != nil {
			panic(fmt.Sprintf("raftfsm: drop client token: %v", err))
		}
	}
}
