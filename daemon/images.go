package daemon

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/reply"
)

// The image store: container images are files in DataDir/images on the
// controller that loaded them, not raft state (a tarball is far too big
// for a log entry). So a second controller does not have them: load an
// image on every controller that nodes may fetch it from.
//
//	DataDir/images/<hex>.tar   a loaded tarball, named by its SHA-256
//	DataDir/images/index.json  image name → digest, size, load time
//
// Loads write the tarball to a temporary file, check it is a readable
// image, and rename it into place; the index is replaced the same way. A
// tarball no name points at any more is removed.

// imageIndexFile is the name → digest index in the store.
const imageIndexFile = "index.json"

// maxFetchRequest bounds the JSON body of a fetch.
const maxFetchRequest = 64 << 10

// imageStore is one controller's image store.
type imageStore struct {
	dir string
	// mu orders index updates and blob removal against each other and
	// against fetches opening a blob.
	mu sync.Mutex
}

// imageIndex is index.json.
type imageIndex struct {
	// Images are keyed by the name normalized (index.docker.io/library/busybox:latest).
	Images map[string]api.Image `json:"images"`
}

// images is the controller's image store, under its data dir, made at
// first use.
func (c *Controller) images() *imageStore {
	c.imagesOnce.Do(func() { c.imageStore = &imageStore{dir: filepath.Join(c.cfg.DataDir, "images")} })
	return c.imageStore
}

// loadImage serves PathImageLoad (operators; routeTable): the body is the
// tarball, ?name= its name.
func (c *Controller) loadImage(w http.ResponseWriter, r *http.Request, _ caller) {
	if r.Method != http.MethodPost {
		reply.Error(w, api.Errorf(api.CodeInvalid, "%s %s: POST the image tarball as the body", r.Method, r.URL.Path))
		return
	}
	var names []string
	if n := r.URL.Query().Get("name"); n != "" {
		if _, _, err := imageKey(n); err != nil {
			reply.Error(w, err)
			return
		}
		names = []string{n}
	}
	images, err := c.images().load(r.Body, names, c.clock.Now())
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = errTooLarge(r.URL.Path, mbe.Limit)
	}
	if err != nil {
		reply.Error(w, err)
		return
	}
	for _, im := range images {
		c.log.Info("image loaded", "name", im.Name, "digest", im.Digest, "bytes", im.Size)
	}
	reply.JSON(w, http.StatusOK, api.ImagesResponse{Images: images})
}

// listImages serves PathImageList, to users.
func (c *Controller) listImages(_ context.Context, _ caller, _ empty) (api.ImagesResponse, error) {
	idx, err := c.images().readIndex()
	if err != nil {
		return api.ImagesResponse{}, err
	}
	out := make([]api.Image, 0, len(idx.Images))
	for _, im := range idx.Images {
		out = append(out, im)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return api.ImagesResponse{Images: out}, nil
}

// fetchImage serves PathImageFetch to node daemons (routeTable): the
// digest in a header, then (unless the node has it) the tarball.
func (c *Controller) fetchImage(w http.ResponseWriter, r *http.Request, _ caller) {
	if r.Method != http.MethodPost {
		reply.Error(w, api.Errorf(api.CodeInvalid, "%s %s: use POST with a JSON body", r.Method, r.URL.Path))
		return
	}
	var req api.FetchImageRequest
	if err := decodeBody(r.Body, &req, true, r.URL.Path); err != nil {
		reply.Error(w, err)
		return
	}
	im, f, err := c.images().open(req.Name)
	if err != nil {
		reply.Error(w, err)
		return
	}
	defer f.Close()
	w.Header().Set(api.HeaderImageDigest, im.Digest)
	if req.IfNoneMatch == im.Digest {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Length", strconv.FormatInt(im.Size, 10))
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, f); err != nil {
		// Also when a node finds it has the digest after all and hangs up.
		c.log.Debug("send image", "name", req.Name, "digest", im.Digest, "err", err)
	}
}

// imageKey normalizes an image name as Docker does ("busybox" →
// "index.docker.io/library/busybox:latest") for the index's key, and
// returns its familiar form ("busybox:latest") for display.
func imageKey(s string) (key, familiar string, err error) {
	tag, err := name.NewTag(s)
	if err != nil {
		return "", "", api.Errorf(api.CodeInvalid,
			"image name %q: %v; use a name like busybox, busybox:1.36 or registry.example/team/tool:v2 (shoal names images by tag, not digest)", s, err).WithField("image")
	}
	repo := tag.RepositoryStr()
	if tag.RegistryStr() == name.DefaultRegistry {
		familiar = strings.TrimPrefix(repo, "library/") + ":" + tag.TagStr()
	} else {
		familiar = tag.RegistryStr() + "/" + repo + ":" + tag.TagStr()
	}
	return tag.Name(), familiar, nil
}

// blobPath is where the tarball of digest lives.
func (s *imageStore) blobPath(digest string) string {
	return filepath.Join(s.dir, strings.TrimPrefix(digest, "sha256:")+".tar")
}

// load stores a tarball read from body under names (nil: its repo tags)
// and returns the store's entries for them.
func (s *imageStore) load(body io.Reader, names []string, now time.Time) ([]api.Image, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create image store: %w", err)
	}
	tmp, err := os.CreateTemp(s.dir, ".load-*.tar")
	if err != nil {
		return nil, fmt.Errorf("create image file: %w", err)
	}
	kept := false
	defer func() {
		if !kept {
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	size, err := io.Copy(io.MultiWriter(tmp, h), body)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("receive image tarball: %w", err)
	}
	tags, err := checkImageTarball(tmp.Name())
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		if len(tags) == 0 {
			return nil, api.Errorf(api.CodeInvalid,
				"the tarball does not name its image (no RepoTags in its manifest.json): give a name (shoal image load --name NAME)")
		}
		names = tags
	}
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	out := make([]api.Image, 0, len(names))
	keys := make([]string, 0, len(names))
	for _, n := range names {
		key, familiar, err := imageKey(n)
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
		out = append(out, api.Image{Name: familiar, Digest: digest, Size: size, LoadedAt: now.UnixMilli()})
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// Same digest, same bytes: an existing blob is as good as this one.
	if err := os.Rename(tmp.Name(), s.blobPath(digest)); err != nil {
		return nil, fmt.Errorf("store image tarball: %w", err)
	}
	kept = true
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		idx.Images[k] = out[i]
	}
	if err := writeFileAtomic(filepath.Join(s.dir, imageIndexFile), idx); err != nil {
		return nil, fmt.Errorf("write image index: %w", err)
	}
	s.removeUnused(idx)
	return out, nil
}

// readIndex reads index.json; a store without one is empty.
func (s *imageStore) readIndex() (*imageIndex, error) {
	idx := &imageIndex{Images: map[string]api.Image{}}
	b, err := os.ReadFile(filepath.Join(s.dir, imageIndexFile))
	if errors.Is(err, os.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read image index: %w", err)
	}
	if err := json.Unmarshal(b, idx); err != nil {
		return nil, fmt.Errorf("decode image index %s: %w", filepath.Join(s.dir, imageIndexFile), err)
	}
	if idx.Images == nil {
		idx.Images = map[string]api.Image{}
	}
	return idx, nil
}

// removeUnused deletes tarballs the index no longer names (a name loaded
// again with other content). A fetch that has one open still reads it to
// the end. Called with mu held.
func (s *imageStore) removeUnused(idx *imageIndex) {
	used := map[string]bool{}
	for _, im := range idx.Images {
		used[filepath.Base(s.blobPath(im.Digest))] = true
	}
	entries, _ := os.ReadDir(s.dir)
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".tar") && !strings.HasPrefix(n, ".") && !used[n] {
			os.Remove(filepath.Join(s.dir, n))
		}
	}
}

// open resolves name and opens its tarball.
func (s *imageStore) open(n string) (api.Image, *os.File, error) {
	key, _, err := imageKey(n)
	if err != nil {
		return api.Image{}, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	idx, err := s.readIndex()
	if err != nil {
		return api.Image{}, nil, err
	}
	im, ok := idx.Images[key]
	if !ok {
		return api.Image{}, nil, api.Errorf(api.CodeNotFound,
			"image %q is not loaded on the controller: `shoal image list` shows what is, `shoal image load FILE.tar` adds one", n).WithField("image")
	}
	f, err := os.Open(s.blobPath(im.Digest))
	if err != nil {
		return api.Image{}, nil, fmt.Errorf("open image %s: %w", im.Digest, err)
	}
	return im, f, nil
}

// checkImageTarball checks that path is one readable image, as
// go-containerregistry's tarball package reads it (docker save, or
// tarball.Write), every layer intact (its content matches the config's
// diff id, and it is a tar), and returns the tarball's repo tags.
func checkImageTarball(path string) ([]string, error) {
	invalid := func(err error) error {
		return api.Errorf(api.CodeInvalid, "not a readable image tarball (docker save format): %v", err).WithField("image")
	}
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, invalid(err)
	}
	if len(m) != 1 {
		return nil, invalid(fmt.Errorf("it holds %d images; load one at a time", len(m)))
	}
	img, err := tarball.Image(opener, nil)
	if err != nil {
		return nil, invalid(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, invalid(fmt.Errorf("config: %w", err))
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, invalid(fmt.Errorf("layers: %w", err))
	}
	if len(layers) != len(cfg.RootFS.DiffIDs) {
		return nil, invalid(fmt.Errorf("%d layers for %d diff ids in the config", len(layers), len(cfg.RootFS.DiffIDs)))
	}
	for i, l := range layers {
		if err := checkLayer(l.Uncompressed, cfg.RootFS.DiffIDs[i].Hex); err != nil {
			return nil, invalid(fmt.Errorf("layer %d: %w", i, err))
		}
	}
	return m[0].RepoTags, nil
}

// checkLayer reads a layer through: a tar whose bytes hash to diffID.
func checkLayer(open func() (io.ReadCloser, error), diffID string) error {
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	r := io.TeeReader(rc, h)
	tr := tar.NewReader(r)
	for {
		if _, err := tr.Next(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
	}
	if _, err := io.Copy(io.Discard, r); err != nil { // the padding after the end
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != diffID {
		return fmt.Errorf("content hashes to sha256:%s, the config says sha256:%s", got, diffID)
	}
	return nil
}

// writeFileAtomic replaces path with v as JSON: a temporary file, synced,
// renamed over path, and the directory synced.
func writeFileAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".index-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
