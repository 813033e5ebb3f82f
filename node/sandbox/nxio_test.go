package sandbox

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// An output whose open finds no device or address (ENXIO) is refused
// naming what it is: /dev/tty (the node daemon has no terminal) and a
// device with no driver behind it are character devices, not the named
// pipe or socket the message used to guess; a FIFO with no reader and a
// socket are named as such. As root and as nobody.
func TestOpenNoDeviceNamesType(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("mknod and opening as another user need root")
	}
	dir := scratchDir(t)
	os.Chmod(dir, 0o777)
	dev := filepath.Join(dir, "nodev")
	if err := unix.Mknod(dev, unix.S_IFCHR|0o666, int(unix.Mkdev(0, 0))); err != nil {
		t.Fatalf("mknod: %v", err)
	}
	os.Chmod(dev, 0o666)
	fifo := filepath.Join(dir, "fifo")
	unix.Mkfifo(fifo, 0o666)
	os.Chmod(fifo, 0o666)
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	os.Chmod(sock, 0o666)
	cases := []struct{ path, want string }{
		{dev, "is a character device, not a regular file"},
		{fifo, "is a named pipe (FIFO), not a regular file"},
		{sock, "is a socket, not a regular file"},
	}
	// /dev/tty too, where this process has no controlling terminal (as
	// under go test from a script or CI, and as the node daemon).
	if fd, err := unix.Open("/dev/tty", unix.O_WRONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
		unix.Close(fd)
		t.Log("this process has a controlling terminal: /dev/tty not tried")
	} else if errors.Is(err, unix.ENXIO) {
		cases = append(cases, struct{ path, want string }{"/dev/tty", "is a character device, not a regular file"})
	}
	for _, tc := range cases {
		for _, uid := range []uint32{0, nobody} {
			f, err := OpenAsUser(tc.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, uid, uid, nil)
			if err == nil {
				f.Close()
				t.Errorf("uid %d: OpenAsUser(%s) succeeded, want it refused", uid, tc.path)
				continue
			}
			if msg := err.Error(); !strings.HasPrefix(msg, tc.path+": ") || !strings.Contains(msg, tc.want) {
				t.Errorf("uid %d: OpenAsUser(%s): %q, want the path and %q", uid, tc.path, msg, tc.want)
			}
			if !errors.Is(err, unix.ENXIO) {
				t.Errorf("uid %d: OpenAsUser(%s): %v, want it to unwrap to ENXIO", uid, tc.path, err)
			}
		}
	}
}
