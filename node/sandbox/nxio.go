package sandbox

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// nxioError is an open that found no device or address (ENXIO), saying
// what the path is: a named pipe with no reader, a socket, or a device
// with nothing behind it (/dev/tty, the node daemon having no controlling
// terminal). It unwraps to the open's error.
type nxioError struct {
	what string // as fileType names it
	err  error
}

func (e *nxioError) Error() string {
	return fmt.Sprintf("is a %s, not a regular file (only regular files and /dev/null are accepted)", e.what)
}

func (e *nxioError) Unwrap() error { return e.err }

// explainNXIO turns err, an open of path that failed with ENXIO, into an
// *nxioError naming what path is. It looks path up again, O_PATH (nothing
// opened for reading or writing), no final symlink and no magic link
// followed, with the caller's credentials: OpenAsUser calls it inside
// the open as the user, so it learns nothing the open could not. Failing
// that it returns err.
func explainNXIO(path string, err error) error {
	f, perr := openNoMagic(path, unix.O_PATH|unix.O_NOFOLLOW, 0)
	if perr != nil {
		return err
	}
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return err
	}
	return &nxioError{what: fileType(st.Mode & unix.S_IFMT), err: err}
}
