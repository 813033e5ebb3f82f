package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/client"
	"github.com/shoal-batch/shoal/internal/units"
	"github.com/shoal-batch/shoal/node/sandbox"
)

// The node's image cache: each image the controller serves, unpacked once
// (its layers flattened) and shared read-only by every job that runs it,
// each of which writes to an overlay layer of its own (see node/sandbox).
//
//	DataDir/images/<hex>/rootfs       the image's file system
//	DataDir/images/<hex>/config.json  its config (Env, WorkingDir, Entrypoint, Cmd)
//	DataDir/images/<hex>/size.json    its unpacked size (imageSize)
//	DataDir/images/.tmp-*             an unpack in progress, renamed when done,
//	                                  or an evicted image being removed
//
// <hex> is the SHA-256 of the image's tarball as the controller stores it.
// An image name is resolved on the controller at every job start: one
// round trip, answered "not modified" while the name still points at the
// digest this node has, so loading a name again takes effect for the next
// job. If the controller does not answer, the digest the name had last
// (in this daemon's life) is used.
//
// The cache is bounded (Config.ImageCacheBytes, of unpacked size: the
// bytes of an image's regular files). Once an image takes it past the
// bound, the least recently used images no job uses are removed (trim):
// a job of this daemon pins its image from its start to its end, and one
// an earlier daemon started holds its image as its overlay's lower layer
// (sandbox.MountedImages). An image in use is never removed, so while the
// images in use alone exceed the bound the cache does too, until their
// jobs end. The mtime of <hex> is the image's last use, so the order
// survives a restart. One image may unpack to at most
// Config.MaxImageBytes, and never to more than the whole bound: a larger
// one is refused (ErrImageTooBig) and nothing of it is kept.

// fetchTimeout bounds fetching and unpacking one image.
const fetchTimeout = 10 * time.Minute

var digestPattern = regexp.MustCompile(`^sha256:([0-9a-f]{64})$`)

// imageCache is one data dir's cache. Its locks make concurrent starts of
// one image fetch and unpack it once.
type imageCache struct {
	dir    string
	client *client.Client
	// current, if set, is the controller's client as the node now proves
	// itself (Agent.client: its credential may change), used over client.
	current func() *client.Client
	// capacity bounds the unpacked size of all images, maxImage that of
	// one (Config.ImageCacheBytes, MaxImageBytes); 0: no bound.
	capacity, maxImage int64
	log                *slog.Logger // nil: none

	mu      sync.Mutex
	locks   map[string]*keyLock
	digests map[string]string // image name → the digest it last resolved to
	swept   bool
	held    map[string]*cachedImage // by <hex>: what is unpacked (prepare)
	total   int64                   // their sizes
}

// cachedImage is one unpacked image, as the cache's bound sees it.
type cachedImage struct {
	size    int64
	lastUse time.Time
	pins    int // jobs of this daemon that use it, from start to end
}

// imageSizeFile records an unpacked image's size beside its rootfs.
const imageSizeFile = "size.json"

// imageSize is imageSizeFile.
type imageSize struct {
	UnpackedBytes int64 `json:"unpackedBytes"`
}

// ErrImageTooBig is wrapped by the error for an image that unpacks to
// more than the node takes (Config.MaxImageBytes, ImageCacheBytes).
var ErrImageTooBig = errors.New("image too big for this node")

type keyLock struct {
	held chan struct{} // a token while held: waiting for it can be abandoned
	refs int
}

// images is the agent's image cache, under its data dir, made at first
// use with the agent's own client.
func (a *Agent) images() *imageCache {
	a.imagesOnce.Do(func() {
		a.imageCache = &imageCache{dir: filepath.Join(a.cfg.DataDir, "images"), client: a.cfg.Client, current: a.client,
			capacity: a.cfg.ImageCacheBytes, maxImage: a.cfg.MaxImageBytes, log: a.log,
			locks: map[string]*keyLock{}, digests: map[string]string{}}
	})
	return a.imageCache
}

// lock takes the lock of key and returns its unlock, or ctx's error if
// ctx ends first (a job terminated while another fetches its image).
func (c *imageCache) lock(ctx context.Context, key string) (func(), error) {
	c.mu.Lock()
	l := c.locks[key]
	if l == nil {
		l = &keyLock{held: make(chan struct{}, 1)}
		c.locks[key] = l
	}
	l.refs++
	c.mu.Unlock()
	drop := func() {
		c.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(c.locks, key)
		}
		c.mu.Unlock()
	}
	select {
	case l.held <- struct{}{}:
	case <-ctx.Done():
		drop()
		return nil, ctx.Err()
	}
	return func() {
		<-l.held
		drop()
	}, nil
}

// imageRootfs returns the unpacked file system of the image name, fetching
// and unpacking it first if this node does not have the digest the
// controller resolves name to, and release: until it is called, the
// image is in use (never evicted).
func (a *Agent) imageRootfs(ctx context.Context, name string) (rootfs string, release func(), err error) {
	c := a.images()
	unlock, err := c.lock(ctx, "name:"+name)
	if err != nil {
		return "", nil, err
	}
	defer unlock()
	if err := c.prepare(); err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	cl := c.client
	if c.current != nil {
		cl = c.current()
	}
	// Twice at most: an image evicted between the controller's "not
	// modified" and its pin is fetched again in full, and pinned as it
	// is unpacked.
	for range 2 {
		c.mu.Lock()
		have := c.digests[name]
		if c.held[hexOf(have)] == nil {
			have = ""
		}
		c.mu.Unlock()
		digest, body, err := cl.FetchImage(ctx, name, have)
		var refused *api.Error
		if err != nil && have != "" && !errors.As(err, &refused) && ctx.Err() == nil {
			// The controller did not answer: run what the name was last time.
			if release, ok := c.pin(have); ok {
				return c.rootfs(have), release, nil
			}
			return "", nil, fmt.Errorf("image %s: the controller did not answer (%w), and this node's copy (%s) was evicted from its image cache meanwhile",
				name, err, have)
		}
		if err != nil {
			return "", nil, err
		}
		var ok bool
		if body != nil {
			release, err = c.unpack(ctx, digest, body)
			// Closed unread (the node has this digest under another
			// name), it just drops the connection.
			body.Close()
			if err != nil {
				return "", nil, fmt.Errorf("unpack image %s (%s): %w", name, digest, err)
			}
		} else if release, ok = c.pin(digest); !ok {
			continue
		}
		c.mu.Lock()
		c.digests[name] = digest
		c.mu.Unlock()
		c.trim() // after the pin: never this image
		return c.rootfs(digest), release, nil
	}
	return "", nil, fmt.Errorf("image %s was evicted from this node's image cache twice before a job could use it: raise shoal agent's -image-cache-size (%s now)",
		name, units.FormatBytes(c.capacity))
}

// hexOf is the <hex> of a digest, "" if it is none.
func hexOf(digest string) string {
	if m := digestPattern.FindStringSubmatch(digest); m != nil {
		return m[1]
	}
	return ""
}

// pin marks the image of digest in use until release is called, and used
// now; false if the cache does not hold it (evicted meanwhile).
func (c *imageCache) pin(digest string) (release func(), ok bool) {
	hex := hexOf(digest)
	c.mu.Lock()
	img := c.held[hex]
	if img != nil {
		release = c.pinLocked(img)
	}
	c.mu.Unlock()
	if img == nil {
		return nil, false
	}
	// The order of use survives a restart; failing that, the image
	// only looks older than it is.
	now := time.Now()
	_ = os.Chtimes(filepath.Join(c.dir, hex), now, now)
	return release, true
}

// pinLocked pins img (c.mu held); its release trims the cache once the
// image is no longer in use, should the cache be over its bound.
func (c *imageCache) pinLocked(img *cachedImage) func() {
	img.pins++
	img.lastUse = time.Now()
	return sync.OnceFunc(func() {
		c.mu.Lock()
		img.pins--
		c.mu.Unlock()
		c.trim()
	})
}

// trim removes the least recently used images that no job uses until the
// cache holds at most its capacity; images in use stay, however many.
func (c *imageCache) trim() {
	c.mu.Lock()
	over := c.capacity > 0 && c.total > c.capacity
	c.mu.Unlock()
	if !over {
		return
	}
	// Jobs of an earlier daemon hold their images in their overlays.
	lower, err := sandbox.MountedImages()
	if err != nil {
		c.warn("the image cache is over its bound, and stays so: which images running jobs use is unknown", "err", err)
		return
	}
	mounted := map[string]bool{}
	for d := range lower {
		if filepath.Base(d) == "rootfs" {
			mounted[filepath.Base(filepath.Dir(d))] = true
		}
	}
	c.mu.Lock()
	var free []string
	for hex, img := range c.held {
		if img.pins == 0 && !mounted[hex] {
			free = append(free, hex)
		}
	}
	slices.SortFunc(free, func(a, b string) int { return c.held[a].lastUse.Compare(c.held[b].lastUse) })
	var gone []string
	for _, hex := range free {
		if c.total <= c.capacity {
			break
		}
		// Moved out of the way at once, under mu: from here on no job
		// finds it, and a new fetch unpacks it afresh.
		away, err := os.MkdirTemp(c.dir, ".tmp-evicted-")
		if err == nil {
			err = os.Rename(filepath.Join(c.dir, hex), filepath.Join(away, hex))
		}
		if err != nil {
			c.warn("evict image", "digest", "sha256:"+hex, "err", err)
			continue
		}
		c.total -= c.held[hex].size
		delete(c.held, hex)
		gone = append(gone, away)
		c.info("evicted image, the least recently used", "digest", "sha256:"+hex)
	}
	total := c.total
	c.mu.Unlock()
	for _, d := range gone {
		if err := os.RemoveAll(d); err != nil {
			c.warn("remove evicted image (the next daemon's start removes it)", "dir", d, "err", err)
		}
	}
	if total > c.capacity {
		c.warn("the image cache holds more than its bound until jobs end: the rest is in use",
			"bytes", total, "bound", c.capacity)
	}
}

func (c *imageCache) warn(msg string, args ...any) {
	if c.log != nil {
		c.log.Warn(msg, args...)
	}
}

func (c *imageCache) info(msg string, args ...any) {
	if c.log != nil {
		c.log.Info(msg, args...)
	}
}

// imageLimit is the most one image may unpack to (0: no limit), and the
// flag of shoal agent that sets it.
func (c *imageCache) imageLimit() (int64, string) {
	if c.capacity > 0 && (c.maxImage == 0 || c.maxImage > c.capacity) {
		return c.capacity, "-image-cache-size"
	}
	return c.maxImage, "-max-image-size"
}

// rootfs is where the file system of digest is unpacked.
func (c *imageCache) rootfs(digest string) string {
	return filepath.Join(c.dir, strings.TrimPrefix(digest, "sha256:"), "rootfs")
}

// prepare makes the cache directory, and on first use removes what an
// interrupted unpack or eviction left, learns what the cache holds and
// trims it to its bound (which may have been lowered since).
func (c *imageCache) prepare() error {
	c.mu.Lock()
	if c.swept {
		c.mu.Unlock()
		return nil
	}
	err := c.load()
	c.mu.Unlock()
	if err != nil {
		return err
	}
	c.trim()
	return nil
}

// load is prepare's work, with c.mu held.
func (c *imageCache) load() error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("create image cache: %w", err)
	}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("list image cache: %w", err)
	}
	c.held, c.total = map[string]*cachedImage{}, 0
	for _, e := range entries {
		p := filepath.Join(c.dir, e.Name())
		if strings.HasPrefix(e.Name(), ".tmp-") {
			os.RemoveAll(p)
			continue
		}
		if !e.IsDir() || hexOf("sha256:"+e.Name()) == "" {
			continue
		}
		img, err := loadImage(p)
		if errors.Is(err, fs.ErrNotExist) {
			// Its rootfs is gone, so no job can use it: fetched again
			// when one needs it.
			c.warn("remove a cached image that has no rootfs", "dir", p)
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("remove cached image %s, which has no rootfs: %w", p, err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("image cache: %w (remove %s once no running job uses it)", err, p)
		}
		c.held[e.Name()] = img
		c.total += img.size
	}
	c.swept = true
	return nil
}

// loadImage reads what the cache knows of the image unpacked in dir: its
// size (counted, and recorded, for one unpacked before sizes were) and
// its last use. An error for a missing rootfs is fs.ErrNotExist.
func loadImage(dir string) (*cachedImage, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "rootfs")
	if _, err := os.Stat(root); err != nil {
		return nil, err
	}
	var size imageSize
	if b, err := os.ReadFile(filepath.Join(dir, imageSizeFile)); err != nil || json.Unmarshal(b, &size) != nil {
		if size.UnpackedBytes, err = unpackedSize(root); err != nil {
			return nil, err
		}
		if err := writeImageSize(dir, size.UnpackedBytes); err != nil {
			return nil, err
		}
		// The new file changed the mtime, which is the last use.
		if err := os.Chtimes(dir, fi.ModTime(), fi.ModTime()); err != nil {
			return nil, fmt.Errorf("keep the last use of %s: %w", dir, err)
		}
	}
	return &cachedImage{size: size.UnpackedBytes, lastUse: fi.ModTime()}, nil
}

// writeImageSize records the unpacked size of the image in dir.
func writeImageSize(dir string, n int64) error {
	b, _ := json.Marshal(imageSize{UnpackedBytes: n}) // one int: cannot fail
	if err := os.WriteFile(filepath.Join(dir, imageSizeFile), b, 0o600); err != nil {
		return fmt.Errorf("record the image's size: %w", err)
	}
	return nil
}

// unpackedSize is what untar counts of the tree root: the bytes of its
// regular files, a hard-linked one once.
func unpackedSize(root string) (int64, error) {
	var n int64
	seen := map[uint64]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Nlink > 1 {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		n += fi.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("size of unpacked image %s: %w", root, err)
	}
	return n, nil
}

// unpack stores the tarball read from body as digest, unless the cache
// has it already: into a temporary directory, checked against digest,
// flattened, then renamed into place. Either way the image comes pinned
// (see pin): release it once no job uses it.
func (c *imageCache) unpack(ctx context.Context, digest string, body io.Reader) (release func(), err error) {
	m := digestPattern.FindStringSubmatch(digest)
	if m == nil {
		return nil, fmt.Errorf("the controller sent digest %q, not sha256:<64 hex>", digest)
	}
	unlock, err := c.lock(ctx, "digest:"+digest)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if release, ok := c.pin(digest); ok {
		return release, nil
	}
	final := filepath.Dir(c.rootfs(digest))
	tmp, err := os.MkdirTemp(c.dir, ".tmp-"+m[1][:12]+"-")
	if err != nil {
		return nil, fmt.Errorf("create unpack dir: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed

	tarPath := filepath.Join(tmp, "image.tar")
	if err := receive(tarPath, body, m[1]); err != nil {
		return nil, err
	}
	img, err := tarball.ImageFromPath(tarPath, nil)
	if err != nil {
		return nil, fmt.Errorf("read image tarball: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read image config: %w", err)
	}
	cb, err := json.Marshal(cfg.Config)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "config.json"), cb, 0o644); err != nil {
		return nil, fmt.Errorf("write image config: %w", err)
	}
	// Before anything is written: an image with one entry that would
	// leave the root is refused as a whole (mutate.Extract would drop a
	// link that leaves it and go on).
	if err := checkLayers(img); err != nil {
		return nil, err
	}
	root := filepath.Join(tmp, "rootfs")
	if err := os.Mkdir(root, 0o755); err != nil {
		return nil, fmt.Errorf("create rootfs: %w", err)
	}
	limit, flag := c.imageLimit()
	flat := mutate.Extract(img)
	size, err := untar(root, flat, limit)
	flat.Close()
	if errors.Is(err, ErrImageTooBig) {
		return nil, fmt.Errorf("%w: it unpacks to %s (%d bytes), over the %s this node takes for one image: raise shoal agent's %s on this node, or load a smaller image",
			ErrImageTooBig, units.FormatBytes(size), size, units.FormatBytes(limit), flag)
	}
	if err != nil {
		return nil, fmt.Errorf("unpack layers: %w", err)
	}
	if err := os.Remove(tarPath); err != nil {
		return nil, err
	}
	if err := writeImageSize(tmp, size); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Under mu: trim sees the image with its pin or not at all.
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("move unpacked image into place: %w", err)
	}
	ci := &cachedImage{size: size}
	c.held[m[1]] = ci
	c.total += size
	return c.pinLocked(ci), nil
}

// readImageConfig reads the config stored beside an unpacked rootfs.
func readImageConfig(rootfs string) (v1.Config, error) {
	var cfg v1.Config
	b, err := os.ReadFile(filepath.Join(filepath.Dir(rootfs), "config.json"))
	if err != nil {
		return cfg, fmt.Errorf("read image config: %w", err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("decode image config: %w", err)
	}
	return cfg, nil
}

// scriptTarget is where an image job sees its batch script.
const scriptTarget = "/.shoal/script"

// imageSpec makes spec run j in its image, as AWS Batch runs a container:
// the image's Entrypoint, then the job's command (or the image's Cmd if it
// has none); the image's Env beneath the job's own variables and shoal's
// job variables; the working directory the job names, else the image's,
// else "/"; HOME "/" unless the job or image sets it (the job's uid may
// have no entry in the image's /etc/passwd). The job still runs as its
// submitter's uid and gids, whatever the image's USER. A batch script is
// mounted read-only at /.shoal/script and run instead of the Entrypoint.
//
// The image is in use until release is called (once the job has ended, or
// failed to start).
func (a *Agent) imageSpec(ctx context.Context, j *api.Job, spec *sandbox.Spec) (release func(), err error) {
	rootfs, release, err := a.imageRootfs(ctx, j.Image)
	if err != nil {
		return nil, err
	}
	cfg, err := readImageConfig(rootfs)
	if err != nil {
		release()
		return nil, err
	}
	spec.Rootfs, spec.ReadonlyRootfs = rootfs, j.ReadonlyRootfs
	spec.Dir = j.Dir
	if spec.Dir == "" {
		spec.Dir = cfg.WorkingDir
	}
	spec.Dir = path.Clean("/" + spec.Dir)
	if j.Script != "" {
		spec.Mounts = append(spec.Mounts, sandbox.Mount{Source: spec.Argv[0], Target: scriptTarget, ReadOnly: true})
		spec.Argv = append([]string{scriptTarget}, spec.Argv[1:]...)
	} else {
		cmd := j.Command
		if len(cmd) == 0 {
			cmd = cfg.Cmd
		}
		spec.Argv = append(append([]string(nil), cfg.Entrypoint...), cmd...)
	}
	spec.Env = imageEnv(spec.Env, cfg.Env, j.Env)
	return release, nil
}

// imageEnv layers an image's environment into a job's: an image variable
// replaces a default (PATH, HOME, SHELL, ...) but not one the job set
// itself nor one of shoal's, Slurm's or AWS Batch's job variables.
func imageEnv(env, image []string, own map[string]string) []string {
	vars := map[string]string{}
	var order []string
	set := func(kv string) {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	for _, kv := range env {
		set(kv)
	}
	homeSet := own["HOME"] != ""
	for _, kv := range image {
		k, _, _ := strings.Cut(kv, "=")
		if _, mine := own[k]; mine || k == "" || strings.HasPrefix(k, "SHOAL_") ||
			strings.HasPrefix(k, "SLURM_") || strings.HasPrefix(k, "AWS_BATCH_") {
			continue
		}
		homeSet = homeSet || k == "HOME"
		set(kv)
	}
	if !homeSet {
		vars["HOME"] = "/"
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vars[k])
	}
	return out
}

// sandboxMounts converts a job's mounts.
func sandboxMounts(ms []api.Mount) []sandbox.Mount {
	var out []sandbox.Mount
	for _, m := range ms {
		out = append(out, sandbox.Mount{Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	return out
}
