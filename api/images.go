package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Image store paths. Images live as files on the controller that loaded
// them (not in the raft state), so a second controller does not have them.
const (
	// PathImageLoad takes an image tarball as the raw body, root only;
	// ?name=NAME names it (default: the tarball's own repo tags).
	PathImageLoad = "/shoal/v1/images/load"
	// PathImageList lists the loaded images (ImagesResponse).
	PathImageList = "/shoal/v1/images/list"
	// PathImageFetch answers a FetchImageRequest with the image's tarball,
	// for node daemons (and root).
	PathImageFetch = "/shoal/v1/images/fetch"
)

// ReasonCannotPull starts the statusReason of a job whose node could not
// get its image (AWS Batch's wording).
const ReasonCannotPull = "CannotPullContainerError"

// HeaderImageDigest carries the digest of the image a fetch resolved to.
const HeaderImageDigest = "Shoal-Image-Digest"

// Image is one name in the controller's image store.
type Image struct {
	// Name as loaded, in its familiar form ("busybox:latest"). A job's
	// image "busybox" or "docker.io/library/busybox:latest" finds it too:
	// names compare as Docker normalizes them (default registry docker.io,
	// default tag latest).
	Name string `json:"name"`
	// Digest is "sha256:" and the hex SHA-256 of the stored tarball.
	Digest string `json:"digest"`
	// Size is the tarball's size in bytes.
	Size int64 `json:"size"`
	// LoadedAt is when the name was loaded (epoch ms).
	LoadedAt int64 `json:"loadedAt"`
}

// ImagesResponse lists images, sorted by name.
type ImagesResponse struct {
	Images []Image `json:"images"`
}

// FetchImageRequest asks for an image's tarball by name.
type FetchImageRequest struct {
	Name string `json:"name"`
	// IfNoneMatch is a digest the caller has: if the name still resolves
	// to it, the answer is 304 Not Modified with no body.
	IfNoneMatch string `json:"ifNoneMatch,omitempty"`
}

// LoadImage sends an image tarball (docker save / go-containerregistry
// tarball.Write format) to the controller's image store under name (""
// for the tarball's own repo tags) and returns the names it now has.
func (c *Client) LoadImage(ctx context.Context, name string, tarball io.Reader) ([]Image, error) {
	path := PathImageLoad
	if name != "" {
		path += "?name=" + url.QueryEscape(name)
	}
	res, err := c.post(ctx, path, "application/x-tar", tarball)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var resp ImagesResponse
	if err := json.NewDecoder(res.Body).Decode(&resp); err != nil {
		return nil, fmt.Errorf("decode %s answer: %w", PathImageLoad, err)
	}
	return resp.Images, nil
}

// ListImages lists the controller's images.
func (c *Client) ListImages(ctx context.Context) ([]Image, error) {
	var resp ImagesResponse
	err := c.Call(ctx, PathImageList, struct{}{}, &resp)
	return resp.Images, err
}

// FetchImage resolves name on the controller and streams its tarball.
// It returns the digest name resolved to and the tarball, which the
// caller must close; body is nil when the digest is ifNoneMatch (the
// caller has it already).
func (c *Client) FetchImage(ctx context.Context, name, ifNoneMatch string) (digest string, body io.ReadCloser, err error) {
	req, err := json.Marshal(FetchImageRequest{Name: name, IfNoneMatch: ifNoneMatch})
	if err != nil {
		return "", nil, fmt.Errorf("encode %s request: %w", PathImageFetch, err)
	}
	res, err := c.post(ctx, PathImageFetch, "application/json", bytes.NewReader(req))
	if err != nil {
		return "", nil, err
	}
	digest = res.Header.Get(HeaderImageDigest)
	if res.StatusCode == http.StatusNotModified {
		res.Body.Close()
		return digest, nil, nil
	}
	if digest == "" {
		res.Body.Close()
		return "", nil, Errorf(CodeInternal, "%s: answer without a %s header", PathImageFetch, HeaderImageDigest)
	}
	return digest, res.Body, nil
}

// post sends body to path and returns a 2xx or 304 answer, whose body the
// caller closes; any other answer is returned as its *Error.
func (c *Client) post(ctx context.Context, path, contentType string, body io.Reader) (*http.Response, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("build %s request: %w", path, err)
	}
	hr.Header.Set("Content-Type", contentType)
	if c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("call controller %s: %w", path, err)
	}
	if res.StatusCode/100 == 2 || res.StatusCode == http.StatusNotModified {
		return res, nil
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	var e Error
	if json.Unmarshal(data, &e) == nil && e.Message != "" {
		return nil, &e
	}
	return nil, Errorf(CodeInternal, "%s: HTTP %d: %s", path, res.StatusCode, strings.TrimSpace(string(data)))
}
