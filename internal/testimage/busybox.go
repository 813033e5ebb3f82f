// Package testimage builds small OCI images for tests, with no registry:
// a busybox image made from the host's statically linked /bin/busybox
// (Debian's busybox-static), written as a docker-save style tarball that
// `shoal image load` and go-containerregistry's tarball package read.
//
// It is an ordinary (non-test) package so that the tests of every package
// can import it; nothing outside tests should.
package testimage

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// BusyboxPath is the static busybox the images are built from.
const BusyboxPath = "/bin/busybox"

// ErrNoBusybox is returned when BusyboxPath is missing; tests skip on it
// (errors.Is) with its message, which says what to install.
var ErrNoBusybox = errors.New("no static " + BusyboxPath + " to build the test image from: apt-get install -y busybox-static")

// Applets are the commands the image links to /bin/busybox.
var Applets = []string{"sh", "echo", "sleep", "cat", "ls", "id", "true", "false", "env",
	"touch", "mkdir", "head", "tr", "wc", "pwd", "stat", "rm", "grep", "readlink", "test"}

// Passwd is the image's /etc/passwd: root and nobody only, so that a job
// user with another uid has no entry (as on a real image).
const Passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"

// Busybox writes busybox.tar into dir: the image "busybox:latest" with
// /bin/busybox, a symlink to it for each of Applets, /tmp (1777), /root
// and a minimal /etc/passwd and /etc/group, PATH=/bin, CMD ["sh"]. The
// tarball is the same bytes every time (fixed timestamps), so loading it
// twice gives the same digest.
func Busybox(dir string) (tarPath string, err error) {
	return Image(dir, "busybox:latest", nil)
}

// Image writes an image like Busybox's, tagged tag and with extra regular
// files (path in the image → content, mode 0644) added to its one layer,
// to dir/<tag with ':' and '/' replaced>.tar. Different extra files give
// a different image, e.g. to repoint a name at a new digest.
func Image(dir, tag string, extra map[string]string) (string, error) {
	bb, err := os.ReadFile(BusyboxPath)
	if errors.Is(err, os.ErrNotExist) {
		return "", ErrNoBusybox
	}
	if err != nil {
		return "", fmt.Errorf("read busybox: %w", err)
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		return "", fmt.Errorf("image tag %q: %w", tag, err)
	}
	layer, err := busyboxLayer(bb, extra)
	if err != nil {
		return "", err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return "", fmt.Errorf("build image: %w", err)
	}
	img, err = mutate.Config(img, v1.Config{Env: []string{"PATH=/bin"}, Cmd: []string{"sh"}})
	if err != nil {
		return "", fmt.Errorf("set image config: %w", err)
	}
	out := filepath.Join(dir, fileName(tag)+".tar")
	if err := tarball.WriteToFile(out, ref, img); err != nil {
		return "", fmt.Errorf("write image tarball: %w", err)
	}
	return out, nil
}

func fileName(tag string) string {
	b := []byte(tag)
	for i, c := range b {
		if c == ':' || c == '/' {
			b[i] = '_'
		}
	}
	return string(b)
}

// epoch is every entry's mtime: the layer is reproducible.
var epoch = time.Unix(0, 0).UTC()

// busyboxLayer is the uncompressed layer tar.
func busyboxLayer(bb []byte, extra map[string]string) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body []byte) error {
		h.ModTime, h.Format = epoch, tar.FormatPAX
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	dirs := map[string]int64{"bin/": 0o755, "etc/": 0o755, "root/": 0o700, "tmp/": 0o1777}
	for p := range extra {
		for d := path.Dir(path.Clean(p)); d != "." && d != "/"; d = path.Dir(d) {
			if _, ok := dirs[d+"/"]; !ok {
				dirs[d+"/"] = 0o755
			}
		}
	}
	var entries []func() error
	for _, d := range sortedKeys(dirs) {
		entries = append(entries, func() error { return add(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: dirs[d]}, nil) })
	}
	entries = append(entries,
		func() error { return add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, bb) },
		func() error {
			return add(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}, []byte(Passwd))
		},
		func() error {
			return add(&tar.Header{Name: "etc/group", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("root:x:0:\nnogroup:x:65534:\n"))
		})
	for _, a := range Applets {
		entries = append(entries, func() error {
			return add(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "/bin/busybox", Mode: 0o777}, nil)
		})
	}
	for _, p := range sortedKeys(extra) {
		entries = append(entries, func() error {
			return add(&tar.Header{Name: path.Clean(p), Typeflag: tar.TypeReg, Mode: 0o644}, []byte(extra[p]))
		})
	}
	for _, e := range entries {
		if err := e(); err != nil {
			return nil, fmt.Errorf("write layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("write layer: %w", err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("build layer: %w", err)
	}
	return layer, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// BusyboxRootfs writes the file system of Busybox's image, unpacked, to
// dir/rootfs and returns that path: for tests of the sandbox, which runs
// an unpacked image and cannot use the node's unpacker.
func BusyboxRootfs(dir string) (string, error) {
	bb, err := os.ReadFile(BusyboxPath)
	if errors.Is(err, os.ErrNotExist) {
		return "", ErrNoBusybox
	}
	if err != nil {
		return "", fmt.Errorf("read busybox: %w", err)
	}
	root := filepath.Join(dir, "rootfs")
	for d, mode := range map[string]os.FileMode{"": 0o755, "bin": 0o755, "etc": 0o755, "root": 0o700, "tmp": 0o777 | os.ModeSticky} {
		p := filepath.Join(root, d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return "", err
		}
		if err := os.Chmod(p, mode); err != nil {
			return "", err
		}
	}
	for p, c := range map[string][]byte{"bin/busybox": bb, "etc/passwd": []byte(Passwd), "etc/group": []byte("root:x:0:\nnogroup:x:65534:\n")} {
		mode := os.FileMode(0o644)
		if p == "bin/busybox" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(root, p), c, mode); err != nil {
			return "", err
		}
	}
	for _, a := range Applets {
		if err := os.Symlink("/bin/busybox", filepath.Join(root, "bin", a)); err != nil {
			return "", err
		}
	}
	return root, nil
}
