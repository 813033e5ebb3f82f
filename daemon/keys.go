package daemon

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/accounts"
	"github.com/shoal-batch/shoal/raftfsm"
)

func (c *Controller) keys(ctx context.Context, who caller, req api.KeysRequest) (api.KeysResponse, error) {
	if err := requireRoot(who, "manage access keys"); err != nil {
		return api.KeysResponse{}, err
	}
	switch {
	case req.Create:
		u, err := accounts.Lookup(ctx, req.User)
		if errors.Is(err, accounts.ErrUnknown) {
			return api.KeysResponse{}, api.Errorf(api.CodeNotFound, "user %q does not exist on the controller's host: keys belong to its users; give a user name or a uid", req.User).WithField("user")
		}
		if err != nil {
			return api.KeysResponse{}, api.Errorf(api.CodeInternal, "%v", err)
		}
		if u.UID == 0 && !req.AllowRoot {
			return api.KeysResponse{}, api.Errorf(api.CodeInvalid,
				"user %q has uid 0: its key would run jobs as root from anywhere the TCP API reaches; issue keys to unprivileged users, or give --allow-root if a root key is meant",
				req.User).WithField("user")
		}
		k := api.AccessKey{ID: "AKIA" + randomString(16, upperAlnum), Secret: randomString(40, secretChars),
			User: u.Name, UID: u.UID, GID: u.GID, CreatedAt: c.nowMillis()}
		// Raft (and every snapshot of it) holds only the sealed secret; the
		// caller gets the clear one, this once.
		stored := k
		if stored.Secret, err = c.secrets.seal(k.ID, k.Secret); err != nil {
			return api.KeysResponse{}, api.Errorf(api.CodeInternal, "%v", err)
		}
		if _, err := c.applier.Apply(ctx, raftfsm.OpPutKey, raftfsm.PutKeyCmd{Key: stored}); err != nil {
			return api.KeysResponse{}, err
		}
		return api.KeysResponse{Keys: []api.AccessKey{k}}, nil
	case req.Delete != "":
		_, err := c.applier.Apply(ctx, raftfsm.OpDeleteKey, raftfsm.DeleteKeyCmd{ID: req.Delete})
		return api.KeysResponse{Keys: []api.AccessKey{}}, err
	}
	out := api.KeysResponse{Keys: []api.AccessKey{}}
	for _, k := range c.fsm.State().AccessKeys() {
		if req.User == "" || k.User == req.User {
			k := *k
			k.Secret = ""
			out.Keys = append(out.Keys, k)
		}
	}
	return out, nil
}

// sealKeys re-stores, sealed, any key whose secret an older controller
// kept in clear, and reports keys whose sealed secret does not open with
// this data dir's key file. Called once this member leads; snapshots
// taken before still hold the clear secrets until raft replaces them.
func (c *Controller) sealKeys(ctx context.Context) error {
	for _, k := range c.fsm.State().AccessKeys() {
		if isSealed(k.Secret) {
			if _, err := c.secrets.open(k.ID, k.Secret); err != nil {
				c.log.Error("access key unusable", "key", k.ID, "user", k.User, "err", err)
			}
			continue
		}
		sealed := *k
		var err error
		if sealed.Secret, err = c.secrets.seal(k.ID, k.Secret); err != nil {
			return err
		}
		if _, err := c.applier.Apply(ctx, raftfsm.OpPutKey, raftfsm.PutKeyCmd{Key: sealed}); err != nil {
			return fmt.Errorf("seal access key %s: %w", k.ID, err)
		}
		c.log.Info("access key secret sealed", "key", k.ID)
	}
	return nil
}

// keyStore lets SigV4 verification look up access keys in the state,
// opening their sealed secrets; the "user" it reports is the key id,
// which identify maps to the key's owner.
type keyStore struct {
	fsm     *raftfsm.FSM
	secrets *secretBox
	log     *slog.Logger
}

func (k keyStore) Lookup(id string) (secret, user string, ok bool) {
	key := k.fsm.State().AccessKey(id)
	if key == nil {
		return "", "", false
	}
	secret, err := k.secrets.open(key.ID, key.Secret)
	if err != nil {
		k.log.Error("access key refused", "key", key.ID, "err", err)
		return "", "", false
	}
	return secret, key.ID, true
}

// keysKeyFile holds the key that seals access-key secrets. It lives in the
// data dir beside raft, never in raft: a snapshot or a copy of the raft
// log alone does not give the secrets away.
const keysKeyFile = "keys.key"

// sealedPrefix marks a sealed secret: AES-256-GCM, then base64 of the
// 12-byte nonce and the ciphertext, the key id as additional data (a
// sealed secret moved to another key does not open).
const sealedPrefix = "aes256gcm:"

// secretBox seals and opens access-key secrets and the node join secret.
type secretBox struct {
	aead cipher.AEAD
	path string
}

// loadSecretBox reads the sealing key at path, creating it (32 random
// bytes, hex, mode 0600) on first start.
func loadSecretBox(path string) (*secretBox, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("make access-key sealing key: %w", err)
		}
		data = []byte(hex.EncodeToString(key) + "\n")
		if err := writePrivateFile(path, data); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("read access-key sealing key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%s: want 64 hexadecimal digits (an AES-256 key); restore it from a backup, or move it away to make a new one and reissue every access key", path)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("access-key sealing key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("access-key sealing key: %w", err)
	}
	return &secretBox{aead: aead, path: path}, nil
}

// sealedWhat names what a sealed secret is, for errors: an access key's,
// by its id, or the node join secret (jointoken.go).
func sealedWhat(keyID string) string {
	if keyID == joinSecretSealID {
		return keyID
	}
	return "access key " + keyID
}

func (b *secretBox) seal(keyID, secret string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal %s: %w", sealedWhat(keyID), err)
	}
	out := b.aead.Seal(nonce, nonce, []byte(secret), []byte(keyID))
	return sealedPrefix + base64.StdEncoding.EncodeToString(out), nil
}

// open returns the clear secret of a stored one. A secret stored in clear
// by an older controller is returned as it is (sealKeys seals it).
func (b *secretBox) open(keyID, stored string) (string, error) {
	raw, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok {
		return stored, nil
	}
	data, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(data) < b.aead.NonceSize() {
		return "", fmt.Errorf("sealed secret of %s is malformed", sealedWhat(keyID))
	}
	n := b.aead.NonceSize()
	clear, err := b.aead.Open(nil, data[:n], data[n:], []byte(keyID))
	if err != nil {
		return "", fmt.Errorf("secret of %s does not open with %s (the data dir was restored without its own key file?): restore that file, or reissue the key", sealedWhat(keyID), b.path)
	}
	return string(clear), nil
}

func isSealed(s string) bool { return strings.HasPrefix(s, sealedPrefix) }

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
