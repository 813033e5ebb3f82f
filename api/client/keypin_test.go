package client

import (
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// A pinned server key needs TLS, a well-formed hash, and no CA pin beside it.
func TestKeyHashOptions(t *testing.T) {
	key := "sha256:" + strings.Repeat("ab", 32)
	for _, tt := range []struct {
		addr string
		opts Options
		want string // in the error; "" for none
	}{
		{"127.0.0.1:9000", Options{KeyHash: key, Token: "log-token"}, ""},
		{"https://node1:9000", Options{KeyHash: key}, ""},
		{"http://127.0.0.1:9000", Options{KeyHash: key}, "needs TLS"},
		{"/run/shoal/node.sock", Options{KeyHash: key}, "needs TLS"},
		{"127.0.0.1:9000", Options{KeyHash: "sha256:12"}, "64 hexadecimal digits"},
		{"127.0.0.1:9000", Options{KeyHash: key, CAHash: "sha256:" + strings.Repeat("cd", 32)}, "not both"},
		{"127.0.0.1:9000", Options{KeyHash: key, Token: api.FormatJoinToken("s", "sha256:"+strings.Repeat("cd", 32))}, "not both"},
	} {
		_, err := NewWith(tt.addr, tt.opts)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("NewWith(%q, %+v): %v, want %q", tt.addr, tt.opts, err, tt.want)
		}
	}
}
