package node

// Checking and unpacking an image's layers (see images.go): every entry
// is checked to stay in the image's root before anything is written, and
// written relative to a handle on its parent directory.

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// ErrUnsafeImage is wrapped by the errors for an image whose layers hold
// an entry that would leave the image's root.
var ErrUnsafeImage = errors.New("unsafe image layer")

// checkLayers reads every layer of img and refuses the image if any entry
// would leave its root (see checkEntry). This reads the layers once more
// than unpacking them does: a cost paid once per image and node.
func checkLayers(img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("read image layers: %w", err)
	}
	for i, l := range layers {
		if err := checkLayer(l); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
	}
	return nil
}

func checkLayer(l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("read layer: %w", err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read layer: %w", err)
		}
		if err := checkEntry(h); err != nil {
			return err
		}
	}
}

// checkEntry refuses a tar entry that would leave the image's root: a
// name with ".." that climbs above it (a leading "/" is ignored, as every
// runtime does: "/etc/x" is etc/x, "/../x" climbs), a hard link whose
// target does, or a relative symlink that points above the root from
// where it sits. Absolute symlinks are kept: the job resolves them in its
// own root, and so does untar.
func checkEntry(h *tar.Header) error {
	name, ok := inRoot(h.Name)
	if !ok {
		return fmt.Errorf("%w: entry %q climbs out of the image root", ErrUnsafeImage, h.Name)
	}
	switch h.Typeflag {
	case tar.TypeLink:
		if _, ok := inRoot(h.Linkname); !ok {
			return fmt.Errorf("%w: hard link %q -> %q points out of the image root", ErrUnsafeImage, h.Name, h.Linkname)
		}
	case tar.TypeSymlink:
		if !path.IsAbs(h.Linkname) && escapes(path.Join(path.Dir(name), h.Linkname)) {
			return fmt.Errorf("%w: symlink %q -> %q points out of the image root", ErrUnsafeImage, h.Name, h.Linkname)
		}
	}
	return nil
}

// inRoot returns an archive path relative to the image root, cleaned,
// and false if it climbs above it.
func inRoot(p string) (string, bool) {
	rel := path.Clean(strings.TrimLeft(p, "/"))
	if escapes(rel) {
		return "", false
	}
	if rel == "." {
		rel = ""
	}
	return rel, true
}

func escapes(clean string) bool {
	clean = path.Clean(clean)
	return clean == ".." || strings.HasPrefix(clean, "../")
}

// receive writes body to path and checks that it hashes to hexDigest.
func receive(path string, body io.Reader, hexDigest string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create image file: %w", err)
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fetch image tarball: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != hexDigest {
		return fmt.Errorf("fetched tarball hashes to sha256:%s, not the sha256:%s the controller named", got, hexDigest)
	}
	return nil
}

// untar writes a flattened image (mutate.Extract's stream: each path once,
// upper layers first, whiteouts applied) into the empty directory root,
// with the modes, owners and times of the tar, and returns its size: the
// bytes of its regular files. An entry that would leave the root
// (checkEntry) fails the whole stream, as does a size past limit (if not
// 0): then, with ErrImageTooBig, the size is the whole stream's. The
// caller removes root.
//
// Every entry is created relative to a handle on its parent directory
// that is resolved inside root (symlinks followed as the job will see
// them, never out of root) and never follows a symlink itself, so a
// crafted image cannot make it write outside root. An entry whose parent
// came first as an implied directory (an upper layer's bin/foo before a
// lower layer's bin -> usr/bin) keeps the directory; device nodes are not
// created (a job's /dev is its own tmpfs); extended attributes (file
// capabilities included) are not kept. Hard links are made last, so their
// targets exist whatever the order.
func untar(root string, r io.Reader, limit int64) (size int64, err error) {
	rootF, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer rootF.Close()
	u := &unpacker{root: rootF}
	defer u.closeParent()
	tr := tar.NewReader(r)
	var dirs, links []*tar.Header
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return size, err
		}
		if err := checkEntry(h); err != nil {
			return size, err
		}
		if h.Typeflag == tar.TypeReg {
			if size += h.Size; limit > 0 && size > limit {
				// Read on, writing nothing, to say how big it is.
				for h, err := tr.Next(); err == nil; h, err = tr.Next() {
					if h.Typeflag == tar.TypeReg {
						size += h.Size
					}
				}
				return size, ErrImageTooBig
			}
		}
		name, _ := inRoot(h.Name)
		h.Name = name
		if name == "" && h.Typeflag != tar.TypeDir {
			continue // not a directory, yet the root: nothing to make of it
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := u.dir(h); err != nil {
				return size, err
			}
			dirs = append(dirs, h)
		case tar.TypeReg:
			err = u.file(h, tr)
		case tar.TypeSymlink:
			err = u.symlink(h)
		case tar.TypeLink:
			links = append(links, h)
		case tar.TypeFifo:
			err = u.fifo(h)
		default: // devices; anything else tar knows
		}
		if err != nil {
			return size, fmt.Errorf("%s: %w", name, err)
		}
	}
	for _, h := range links {
		if err := u.link(h); err != nil {
			return size, fmt.Errorf("%s: hard link to %s: %w", h.Name, h.Linkname, err)
		}
	}
	// Directory times last: creating entries in them changed them.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := u.dirTime(dirs[i]); err != nil {
			return size, fmt.Errorf("%s: %w", dirs[i].Name, err)
		}
	}
	return size, nil
}

// unpacker creates entries under root, keeping the handle of the last
// parent directory (a tar lists a directory's entries together).
type unpacker struct {
	root      *os.File
	parentDir string
	parent    *os.File
}

func (u *unpacker) closeParent() {
	if u.parent != nil && u.parent != u.root {
		u.parent.Close()
	}
	u.parent, u.parentDir = nil, ""
}

// parentOf returns a handle on name's parent directory, made (root-owned,
// 0755) if missing, and name's last element. Entries are only ever added,
// never replaced, so a resolved directory stays what it was.
func (u *unpacker) parentOf(name string) (int, string, error) {
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		return int(u.root.Fd()), base, nil
	}
	if u.parent == nil || u.parentDir != dir {
		u.closeParent()
		f, err := pathrs.MkdirAllHandle(u.root, dir, 0o755)
		if err != nil {
			return -1, "", fmt.Errorf("parent directory: %w", err)
		}
		u.parent, u.parentDir = f, dir
	}
	return int(u.parent.Fd()), base, nil
}

// meta sets owner, mode (not for symlinks) and times of base in dirfd.
func meta(dirfd int, base string, h *tar.Header, chmod bool) error {
	if err := unix.Fchownat(dirfd, base, h.Uid, h.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	// After chown, which clears set-id bits. The entry is not a symlink
	// (the caller knows), so fchmodat, which follows one, is safe.
	if chmod {
		if err := unix.Fchmodat(dirfd, base, uint32(h.Mode&0o7777), 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	return setTime(dirfd, base, h)
}

func setTime(dirfd int, base string, h *tar.Header) error {
	ts := []unix.Timespec{unix.NsecToTimespec(h.ModTime.UnixNano()), unix.NsecToTimespec(h.ModTime.UnixNano())}
	if !h.AccessTime.IsZero() {
		ts[0] = unix.NsecToTimespec(h.AccessTime.UnixNano())
	}
	if err := unix.UtimesNanoAt(dirfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

func (u *unpacker) dir(h *tar.Header) error {
	if h.Name == "" { // the image's root
		if err := unix.Fchownat(int(u.root.Fd()), ".", h.Uid, h.Gid, 0); err != nil {
			return fmt.Errorf("chown root: %w", err)
		}
		return unix.Fchmodat(int(u.root.Fd()), ".", uint32(h.Mode&0o7777), 0)
	}
	dirfd, base, err := u.parentOf(h.Name)
	if err != nil {
		return err
	}
	if err := unix.Mkdirat(dirfd, base, 0o700); err != nil {
		var st unix.Stat_t
		if !errors.Is(err, unix.EEXIST) || unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) != nil ||
			st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("mkdir: %w", err)
		}
		// Made earlier as the parent of an upper layer's entry.
	}
	return meta(dirfd, base, h, true)
}

func (u *unpacker) dirTime(h *tar.Header) error {
	if h.Name == "" {
		return setTime(int(u.root.Fd()), ".", h)
	}
	dir, base := path.Split(h.Name)
	if dir == "" {
		return setTime(int(u.root.Fd()), base, h)
	}
	p, err := pathrs.OpenatInRoot(u.root, dir)
	if err != nil {
		return err
	}
	defer p.Close()
	return setTime(int(p.Fd()), base, h)
}

func (u *unpacker) file(h *tar.Header, r io.Reader) error {
	dirfd, base, err := u.parentOf(h.Name)
	if err != nil {
		return err
	}
	fd, err := unix.Openat(dirfd, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.EEXIST) {
		return nil // an implied directory from an upper layer stays
	}
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	f := os.NewFile(uintptr(fd), h.Name)
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return meta(dirfd, base, h, true)
}

func (u *unpacker) symlink(h *tar.Header) error {
	dirfd, base, err := u.parentOf(h.Name)
	if err != nil {
		return err
	}
	if err := unix.Symlinkat(h.Linkname, dirfd, base); errors.Is(err, unix.EEXIST) {
		return nil // an implied directory from an upper layer stays
	} else if err != nil {
		return fmt.Errorf("symlink: %w", err)
	}
	return meta(dirfd, base, h, false)
}

func (u *unpacker) fifo(h *tar.Header) error {
	dirfd, base, err := u.parentOf(h.Name)
	if err != nil {
		return err
	}
	if err := unix.Mknodat(dirfd, base, unix.S_IFIFO|0o600, 0); errors.Is(err, unix.EEXIST) {
		return nil
	} else if err != nil {
		return fmt.Errorf("mkfifo: %w", err)
	}
	return meta(dirfd, base, h, true)
}

func (u *unpacker) link(h *tar.Header) error {
	dirfd, base, err := u.parentOf(h.Name)
	if err != nil {
		return err
	}
	target := strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")
	tdir, tbase := path.Split(target)
	tfd := int(u.root.Fd())
	if tdir != "" {
		t, err := pathrs.OpenatInRoot(u.root, tdir)
		if err != nil {
			return err
		}
		defer t.Close()
		tfd = int(t.Fd())
	}
	// No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink.
	if err := unix.Linkat(tfd, tbase, dirfd, base, 0); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}
