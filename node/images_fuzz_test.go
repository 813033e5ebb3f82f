package node

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzCanary is an absolute path the seeds aim at: nothing may ever be
// created there.
const fuzzCanary = "/var/tmp/shoal-untar-fuzz-canary"

// tarOf is a tar stream of headers (a regular file's body is "x").
func tarOf(tb testing.TB, hs ...*tar.Header) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hs {
		if h.Typeflag == tar.TypeReg {
			h.Size = 1
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte("x"))
		}
	}
	tw.Close()
	return buf.Bytes()
}

// FuzzUntar feeds the image tar reader arbitrary streams: it must not
// panic, must write nothing outside its root (a sibling directory and the
// canary path stay as they were), and anything checkEntry refuses must
// fail the stream.
//
//	go test -run '^$' -fuzz FuzzUntar -fuzztime 30s ./node/
func FuzzUntar(f *testing.F) {
	if os.Geteuid() != 0 {
		f.Skip("untar sets owners: needs root")
	}
	canary := strings.TrimPrefix(fuzzCanary, "/")
	seeds := [][]*tar.Header{
		{{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}, {Name: "etc/passwd", Typeflag: tar.TypeReg},
			{Name: "bin/sh", Typeflag: tar.TypeReg, Mode: 0o4755}, {Name: "bin/ash", Typeflag: tar.TypeLink, Linkname: "bin/sh"},
			{Name: "usr/bin", Typeflag: tar.TypeSymlink, Linkname: "../bin"}, {Name: "p", Typeflag: tar.TypeFifo}},
		{{Name: "../outside/dotdot", Typeflag: tar.TypeReg}},
		{{Name: "a/../../outside/inner", Typeflag: tar.TypeReg}},
		{{Name: "/../outside/abs", Typeflag: tar.TypeReg}},
		{{Name: "/" + canary, Typeflag: tar.TypeReg}},
		{{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "/"}, {Name: "up/" + canary, Typeflag: tar.TypeReg}},
		{{Name: "rel", Typeflag: tar.TypeSymlink, Linkname: ".."}, {Name: "rel/outside/viarel", Typeflag: tar.TypeReg}},
		{{Name: "c", Typeflag: tar.TypeSymlink, Linkname: fuzzCanary}, {Name: "c/x", Typeflag: tar.TypeReg}},
		{{Name: "d", Typeflag: tar.TypeSymlink, Linkname: "/var/tmp"}, {Name: "d/shoal-untar-fuzz-canary", Typeflag: tar.TypeDir}},
		{{Name: "hl", Typeflag: tar.TypeLink, Linkname: "../outside/keep"}},
		{{Name: "hl", Typeflag: tar.TypeLink, Linkname: "/" + canary}},
		{{Name: "x", Typeflag: tar.TypeReg}, {Name: "x/y", Typeflag: tar.TypeReg}},
		{{Name: strings.Repeat("long/", 40) + "f", Typeflag: tar.TypeReg}},
		{{Name: "./", Typeflag: tar.TypeDir, Mode: 0o700}, {Name: ".", Typeflag: tar.TypeReg}},
		{{Name: "dev", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}},
	}
	for _, hs := range seeds {
		f.Add(tarOf(f, hs...))
	}
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		root, outside := filepath.Join(base, "rootfs"), filepath.Join(base, "outside")
		os.Mkdir(root, 0o755)
		os.Mkdir(outside, 0o755)
		os.WriteFile(filepath.Join(outside, "keep"), []byte("keep"), 0o600)

		_, err := untar(root, bytes.NewReader(data), 0)

		entries, _ := os.ReadDir(base)
		if len(entries) != 2 {
			t.Errorf("%s holds %v: untar wrote beside its root", base, entries)
		}
		if got, _ := os.ReadDir(outside); len(got) != 1 {
			t.Errorf("%s holds %v: untar wrote outside its root", outside, got)
		}
		if b, _ := os.ReadFile(filepath.Join(outside, "keep")); string(b) != "keep" {
			t.Errorf("a file outside the root now reads %q", b)
		}
		if _, serr := os.Lstat(fuzzCanary); !errors.Is(serr, os.ErrNotExist) {
			os.RemoveAll(fuzzCanary)
			t.Errorf("untar created %s outside its root (stat: %v)", fuzzCanary, serr)
		}
		// Whatever checkEntry refuses fails the whole stream.
		tr := tar.NewReader(bytes.NewReader(data))
		for {
			h, rerr := tr.Next()
			if rerr != nil {
				break
			}
			if checkEntry(h) != nil && err == nil {
				t.Errorf("entry %q -> %q is refused by checkEntry, yet untar succeeded", h.Name, h.Linkname)
			}
		}
	})
}
