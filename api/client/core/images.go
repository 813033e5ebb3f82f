package core

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// LoadImage sends an image tarball (docker save / go-containerregistry
// tarball.Write format) to the controller's image store under name (""
// for the tarball's own repo tags) and returns the names it now has.
func (c *Client) LoadImage(ctx context.Context, name string, tarball io.Reader) ([]api.Image, error) {
	path := api.PathImageLoad
	if name != "" {
		path += "?name=" + url.QueryEscape(name)
	}
	res, err := c.post(ctx, path, "application/x-tar", tarball)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var resp api.ImagesResponse
	if err := json.NewDecoder(res.Body).Decode(&resp); err != nil {
		return nil, fmt.Errorf("decode %s answer: %w", api.PathImageLoad, err)
	}
	return resp.Images, nil
}

// ListImages lists the controller's images.
func (c *Client) ListImages(ctx context.Context) ([]api.Image, error) {
	var resp api.ImagesResponse
	err := c.Call(ctx, api.PathImageList, struct{}{}, &resp)
	return resp.Images, err
}

// FetchImage resolves name on the controller and streams its tarball.
// It returns the digest name resolved to and the tarball, which the
// caller must close; body is nil when the digest is ifNoneMatch (the
// caller has it already).
func (c *Client) FetchImage(ctx context.Context, name, ifNoneMatch string) (digest string, body io.ReadCloser, err error) {
	req, err := json.Marshal(api.FetchImageRequest{Name: name, IfNoneMatch: ifNoneMatch})
	if err != nil {
		return "", nil, fmt.Errorf("encode %s request: %w", api.PathImageFetch, err)
	}
	res, err := c.post(ctx, api.PathImageFetch, "application/json", bytes.NewReader(req))
	if err != nil {
		return "", nil, err
	}
	digest = res.Header.Get(api.HeaderImageDigest)
	if res.StatusCode == StatusNotModified {
		res.Body.Close()
		return digest, nil, nil
	}
	if digest == "" {
		res.Body.Close()
		return "", nil, api.Errorf(api.CodeInternal, "%s: answer without a %s header", api.PathImageFetch, api.HeaderImageDigest)
	}
	return digest, res.Body, nil
}

// post sends body to path and returns a 2xx or 304 answer, whose body the
// caller closes; any other answer is returned as its *api.Error. A body
// in memory (a *bytes.Reader) follows the leader as Call does; a stream
// (an image tarball) goes to the controller that answered last.
func (c *Client) post(ctx context.Context, path, contentType string, body io.Reader) (*Response, error) {
	var res *Response
	var err error
	if br, ok := body.(*bytes.Reader); ok {
		data := make([]byte, br.Len())
		br.Read(data)
		res, err = c.send(ctx, path, contentType, "", data)
	} else {
		ep := c.eps[c.cur.Load()%int64(len(c.eps))]
		res, err = c.sendTo(ctx, ep, path, contentType, "", body, -1)
	}
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 == 2 || res.StatusCode == StatusNotModified {
		return res, nil
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	var e api.Error
	if json.Unmarshal(data, &e) == nil && e.Message != "" {
		return nil, &e
	}
	return nil, api.Errorf(api.CodeInternal, "%s: HTTP %d: %s", path, res.StatusCode, strings.TrimSpace(string(data)))
}

// Post sends body (of contentType) to path, as Call does for JSON, and
// returns a 2xx answer whose body the caller closes (a snapshot).
func (c *Client) Post(ctx context.Context, path, contentType string, body io.Reader) (*Response, error) {
	return c.post(ctx, path, contentType, body)
}
