// Package peercred proves who is on the other end of a unix socket: the
// kernel's SO_PEERCRED credentials, put in each HTTP request's context.
package peercred

import (
	"context"
	"net"

	"golang.org/x/sys/unix"
)

// Cred is the peer process's user and group at connect time.
type Cred struct {
	UID, GID uint32
	PID      int32
}

type key struct{}

// ConnContext is an http.Server ConnContext hook: on a unix connection it
// stores the peer's credentials; on any other it leaves ctx as it is.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	raw.Control(func(fd uintptr) {
		if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
			ctx = context.WithValue(ctx, key{}, Cred{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid})
		}
	})
	return ctx
}

// FromContext returns the credentials ConnContext stored, if any.
func FromContext(ctx context.Context) (Cred, bool) {
	c, ok := ctx.Value(key{}).(Cred)
	return c, ok
}

// NewContext returns ctx carrying c, as ConnContext stores it: for a
// server that proves its peer another way, and for tests that serve the
// API's handlers without a socket (httptest) as a uid of their choice.
func NewContext(ctx context.Context, c Cred) context.Context {
	return context.WithValue(ctx, key{}, c)
}
