// Package client is the Go client of a shoal controller's HTTP API (and
// of a node daemon's log server): the wire types it carries live in
// package api, which stays free of net/http and crypto/tls so that the
// scheduler and the FSM, which use those types, never link the network.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// Client talks to a controller's HTTP API over a unix socket or TCP.
type Client struct {
	base  string
	http  *http.Client
	token string
}

// New returns a client for addr: "unix:/path", a path starting with
// "/" (a unix socket), "host:port" or "http://host:port" (plain HTTP: a
// node's log server), or "https://host:port" checked against the system's
// roots. token, if set, is sent as a bearer token (a node's join secret).
// A controller's TCP API serves TLS with its own CA: reach it with
// NewWith, which pins or loads that CA.
func New(addr, token string) *Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
	base := addr
	if path, ok := unixPath(addr); ok {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		base = "http://unix"
	} else if !strings.HasPrefix(addr, "http://") && !strings.HasPrefix(addr, "https://") {
		base = "http://" + addr
	}
	return &Client{base: strings.TrimRight(base, "/"), http: &http.Client{Transport: tr}, token: token}
}

func unixPath(addr string) (string, bool) {
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		return p, true
	}
	return addr, strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, "./")
}

// Call POSTs req as JSON to path and decodes the answer into resp (if not nil).
func (c *Client) Call(ctx context.Context, path string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", path, err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build %s request: %w", path, err)
	}
	hr.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(hr)
	if err != nil {
		return fmt.Errorf("call controller %s: %w", path, err)
	}
	defer res.Body.Close()
	data, err := readBody(res)
	if err != nil {
		return fmt.Errorf("read %s answer: %w", path, err)
	}
	if res.StatusCode/100 != 2 {
		var e api.Error
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			return &e
		}
		return api.Errorf(api.CodeInternal, "%s: HTTP %d: %s", path, res.StatusCode, strings.TrimSpace(string(data)))
	}
	if resp == nil {
		return nil
	}
	if err := json.Unmarshal(data, resp); err != nil {
		return fmt.Errorf("decode %s answer: %w", path, err)
	}
	return nil
}

// readBody reads an answer whole, into a buffer of its announced length
// (a job list may be tens of megabytes; growing a buffer to that size
// clears and copies it many times over).
func readBody(res *http.Response) ([]byte, error) {
	if n := res.ContentLength; n > 0 && n <= 1<<30 {
		data := make([]byte, n)
		if _, err := io.ReadFull(res.Body, data); err != nil {
			return nil, err
		}
		return data, nil
	}
	return io.ReadAll(res.Body)
}

// Submit submits one job.
func (c *Client) Submit(ctx context.Context, req api.SubmitJobRequest) (api.SubmitJobResponse, error) {
	var resp api.SubmitJobResponse
	err := c.Call(ctx, api.PathSubmit, req, &resp)
	return resp, err
}

// ListJobs lists jobs matching req.
func (c *Client) ListJobs(ctx context.Context, req api.ListJobsRequest) ([]api.Job, error) {
	var resp api.ListJobsResponse
	err := c.Call(ctx, api.PathListJobs, req, &resp)
	return resp.Jobs, err
}

// Job describes one job.
func (c *Client) Job(ctx context.Context, id uint64) (api.Job, error) {
	jobs, err := c.ListJobs(ctx, api.ListJobsRequest{IDs: []uint64{id}, Full: true})
	if err != nil {
		return api.Job{}, err
	}
	if len(jobs) == 0 {
		return api.Job{}, api.Errorf(api.CodeNotFound, "job %d does not exist", id)
	}
	return jobs[0], nil
}

// WaitJob blocks until job id reaches one of states (default: SUCCEEDED or
// FAILED), or ctx ends, and returns the job. A job that ends without
// reaching them is an error (api.CodeConflict), returned with the job.
func (c *Client) WaitJob(ctx context.Context, id uint64, states ...api.JobState) (api.Job, error) {
	for {
		var j api.Job
		err := c.Call(ctx, api.PathWait, api.WaitJobRequest{ID: id, States: states, WaitMillis: 60_000}, &j)
		if err != nil {
			return j, err
		}
		if j.State.Reached(states) {
			return j, nil
		}
		if j.State.Terminal() {
			return j, api.Errorf(api.CodeConflict, "job %d ended %s (%s) without reaching %v", id, j.State, j.StatusReason, states)
		}
		if err := ctx.Err(); err != nil {
			return j, err
		}
	}
}

// Cancel cancels a job that has not been placed yet.
func (c *Client) Cancel(ctx context.Context, id uint64, reason string) error {
	return c.Call(ctx, api.PathCancel, api.StopJobRequest{ID: id, Reason: reason}, nil)
}

// Terminate stops a placed or running job.
func (c *Client) Terminate(ctx context.Context, id uint64, reason string) error {
	return c.Call(ctx, api.PathTerminate, api.StopJobRequest{ID: id, Reason: reason}, nil)
}

// Signal sends signal sig to the processes of a started job that scope
// names ("" : every process but the batch script). It returns once the
// request is recorded; the job's node delivers it.
func (c *Client) Signal(ctx context.Context, id uint64, sig int, scope api.SignalScope) error {
	return c.Call(ctx, api.PathSignal, api.SignalJobRequest{ID: id, Signal: sig, Scope: scope}, nil)
}

// Hold holds (hold true) or releases jobs that have not started.
func (c *Client) Hold(ctx context.Context, ids []uint64, hold bool) error {
	return c.Call(ctx, api.PathHold, api.HoldJobsRequest{IDs: ids, Hold: hold}, nil)
}

// Requeue queues a job to run again: a running one once it has stopped, a
// finished one at once.
func (c *Client) Requeue(ctx context.Context, id uint64, reason string) error {
	return c.Call(ctx, api.PathTerminate, api.StopJobRequest{ID: id, Reason: reason, Requeue: true}, nil)
}

// RequeueHold queues a job to run again, as Requeue, and holds it once it
// is queued (scontrol requeuehold): one request, so it cannot start between.
func (c *Client) RequeueHold(ctx context.Context, id uint64, reason string) error {
	return c.Call(ctx, api.PathTerminate, api.StopJobRequest{ID: id, Reason: reason, Requeue: true, Hold: true}, nil)
}

// UpdateJob changes a job's name, queue, priority or time limit.
func (c *Client) UpdateJob(ctx context.Context, req api.UpdateJobRequest) error {
	return c.Call(ctx, api.PathUpdateJob, req, nil)
}

// UpdateNode drains, downs or resumes a node.
func (c *Client) UpdateNode(ctx context.Context, req api.UpdateNodeRequest) error {
	return c.Call(ctx, api.PathUpdateNode, req, nil)
}

// Cluster describes the controller.
func (c *Client) Cluster(ctx context.Context) (api.ClusterInfo, error) {
	var info api.ClusterInfo
	err := c.Call(ctx, api.PathClusterInfo, struct{}{}, &info)
	return info, err
}

// Logs returns a job's stdout or stderr.
func (c *Client) Logs(ctx context.Context, id uint64, stream string) ([]byte, error) {
	var resp api.LogsResponse
	err := c.Call(ctx, api.PathLogs, api.LogsRequest{ID: id, Stream: stream}, &resp)
	return resp.Data, err
}

// Nodes lists the cluster's nodes.
func (c *Client) Nodes(ctx context.Context) ([]api.Node, error) {
	var resp api.NodesResponse
	err := c.Call(ctx, api.PathNodes, struct{}{}, &resp)
	return resp.Nodes, err
}

// StopJobs ends many jobs in one commit, as scancel does (cancel what has
// not started, terminate what has), and returns the jobs it could not stop.
func (c *Client) StopJobs(ctx context.Context, ids []uint64, reason string) ([]api.JobFailure, error) {
	var resp api.StopJobsResponse
	err := c.Call(ctx, api.PathStopJobs, api.StopJobsRequest{IDs: ids, Reason: reason}, &resp)
	return resp.Failed, err
}
