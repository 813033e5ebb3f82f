package daemon

import (
	"context"
	"crypto/rand"
	"os/user"
	"strconv"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/raftfsm"
)

// KeysRequest creates (Create with User), lists, or deletes (Delete) access
// keys for the AWS-compatible API. Root only.
type KeysRequest struct {
	Create bool   `json:"create,omitempty"`
	User   string `json:"user,omitempty"`
	Delete string `json:"delete,omitempty"`
}

// KeysResponse holds the keys; a created key carries its secret, once.
type KeysResponse struct {
	Keys []api.AccessKey `json:"keys"`
}

func (c *Controller) keys(ctx context.Context, who caller, req KeysRequest) (KeysResponse, error) {
	if err := requireRoot(who, "manage access keys"); err != nil {
		return KeysResponse{}, err
	}
	switch {
	case req.Create:
		u, err := user.Lookup(req.User)
		if err != nil {
			return KeysResponse{}, api.Errorf(api.CodeNotFound, "user %q: %v; keys belong to users of the controller's host", req.User, err).WithField("user")
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		k := api.AccessKey{ID: "AKIA" + randomString(16, upperAlnum), Secret: randomString(40, secretChars),
			User: u.Username, UID: uint32(uid), GID: uint32(gid), CreatedAt: nowMillis()}
		if _, err := c.applier.Apply(ctx, raftfsm.OpPutKey, raftfsm.PutKeyCmd{Key: k}); err != nil {
			return KeysResponse{}, err
		}
		return KeysResponse{Keys: []api.AccessKey{k}}, nil
	case req.Delete != "":
		_, err := c.applier.Apply(ctx, raftfsm.OpDeleteKey, raftfsm.DeleteKeyCmd{ID: req.Delete})
		return KeysResponse{Keys: []api.AccessKey{}}, err
	}
	out := KeysResponse{Keys: []api.AccessKey{}}
	for _, k := range c.fsm.State().AccessKeys() {
		if req.User == "" || k.User == req.User {
			k := *k
			k.Secret = ""
			out.Keys = append(out.Keys, k)
		}
	}
	return out, nil
}

const (
	upperAlnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// randomString draws n characters from alphabet (whose length divides 256,
// so that every character is equally likely).
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
