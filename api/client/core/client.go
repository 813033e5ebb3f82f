// Package core is the Go client of a shoal controller's HTTP API without
// net/http or crypto/tls: it speaks HTTP/1.1 itself over a unix socket or
// plain TCP, and reaches a TLS address through a transport that package
// api/client registers (RegisterTLS) when it is linked. The client binary
// (cmd/shoal-client), which every sbatch starts, links only this package:
// the initialisation and page-ins of net/http and crypto/tls were a third
// of its start (issue 19). Package api/client is the same Client (a type
// alias) with net/http transports, for the server and the node.
package core

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// Client talks to a controller's HTTP API over a unix socket or TCP. Given
// several controllers of a cluster (addresses separated by commas), it
// follows the leader: a request that cannot reach a controller, or that
// one answers Unavailable (no leader, shutting down), goes to the next,
// round after round, for up to FailoverWait.
type Client struct {
	eps   []endpoint
	cur   atomic.Int64 // the endpoint that answered last
	token string
	// FailoverWait bounds how long a request tries the controllers of a
	// client with several addresses before it returns the last error
	// (DefaultFailoverWait when 0). A client of one controller never
	// retries.
	FailoverWait time.Duration
	// Stale makes every call a stale read (CallStale): answered from the
	// state of whichever controller is asked, without checking with the
	// leader. For listings that may lag (squeue, sinfo with SHOAL_STALE=1).
	Stale bool
	// OnResend, if set, is told of each request with a client token sent
	// again after its answer was lost (for tests and figures).
	OnResend func(path string, lost error)
}

// endpoint is one controller's address and the transport to it.
type endpoint struct {
	base string
	tr   Transport
}

// DefaultFailoverWait is how long a client of several controllers tries
// them before it gives up: long enough for a few elections.
const DefaultFailoverWait = 20 * time.Second

// New returns a client for addr: "unix:/path", a path starting with
// "/" (a unix socket), "host:port" or "http://host:port" (plain HTTP: a
// node's log server), or "https://host:port" checked against the system's
// roots; or several of these separated by commas (the controllers of a
// cluster). token, if set, is sent as a bearer token (a node's join
// secret). A controller's TCP API serves TLS with its own CA: reach it
// with NewWith, which pins or loads that CA.
func New(addr, token string) *Client { return NewVia(nil, addr, token) }

// NewVia is New with the transports mk makes (nil: this package's own
// HTTP/1.1 for plain addresses, the registered TLS one for https).
func NewVia(mk Maker, addr, token string) *Client {
	c := &Client{token: token}
	addrs := SplitAddrs(addr)
	if len(addrs) == 0 {
		addrs = []string{addr}
	}
	for _, a := range addrs {
		t := plainTarget(a)
		tr, err := makeTransport(mk, t)
		if err != nil {
			tr = failing{err}
		}
		c.eps = append(c.eps, endpoint{base: t.Base, tr: tr})
	}
	return c
}

// SplitAddrs splits a comma-separated list of controller addresses.
func SplitAddrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// plainTarget is where New sends requests for addr: a unix socket, the
// http:// or https:// base given, or plain HTTP to host:port.
func plainTarget(addr string) Target {
	if path, ok := unixPath(addr); ok {
		return Target{Base: "http://unix", Unix: path}
	}
	base := addr
	if !strings.HasPrefix(addr, "http://") && !strings.HasPrefix(addr, "https://") {
		base = "http://" + addr
	}
	base = strings.TrimRight(base, "/")
	t := Target{Base: base}
	if strings.HasPrefix(base, "https://") {
		t.TLS = &TLS{Host: hostOf(base)}
	}
	return t
}

func unixPath(addr string) (string, bool) {
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		return p, true
	}
	return addr, strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, "./")
}

// Call POSTs req as JSON to path and decodes the answer into resp (if not nil).
func (c *Client) Call(ctx context.Context, path string, req, resp any) error {
	return c.CallWithToken(ctx, path, "", req, resp)
}

// CallWithToken is Call for a request made idempotent by a client token
// (api.HeaderClientToken; "" for none): with several controllers, one
// whose answer was lost (the connection broke after it was sent, or the
// controller answered OutcomeUnknown) is sent again, with the same token,
// to the next controller, until FailoverWait: the controllers store it
// once and answer every copy alike.
func (c *Client) CallWithToken(ctx context.Context, path, token string, req, resp any) error {
	if c.Stale && !strings.Contains(path, "?") {
		path += "?" + api.StaleParam + "=true"
	}
	body, err := encodeRequest(req)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", path, err)
	}
	res, err := c.send(ctx, path, "application/json", token, body)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if each, ok := resp.(jobsEach); ok && res.StatusCode/100 == 2 && res.Header.Get("Content-Type") == api.ContentTypeJobRows {
		if _, err := api.DecodeJobRowsEach(res.Body, each); err != nil {
			return fmt.Errorf("decode %s answer: %w", path, err)
		}
		return nil
	}
	if l, ok := resp.(*api.ListJobsResponse); ok && res.StatusCode/100 == 2 && res.Header.Get("Content-Type") == api.ContentTypeJobRows {
		// Rows are read as they come: the controller sends them as it
		// makes them.
		// l.Jobs, if set, is memory to decode them into (ListJobsInto).
		out, err := api.DecodeJobRowsInto(res.Body, l.Jobs)
		if err != nil {
			return fmt.Errorf("decode %s answer: %w", path, err)
		}
		*l = out
		return nil
	}
	data, err := readBody(res)
	if err != nil {
		return fmt.Errorf("read %s answer: %w", path, err)
	}
	if res.StatusCode/100 != 2 {
		return answerError(path, res.StatusCode, data)
	}
	if resp == nil {
		return nil
	}
	var derr error
	if each, ok := resp.(jobsEach); ok {
		// A list in JSON, from a controller that does not send rows.
		var l api.ListJobsResponse
		if err := l.UnmarshalJSON(data); err != nil {
			return fmt.Errorf("decode %s answer: %w", path, err)
		}
		for i := range l.Jobs {
			if err := each(&l.Jobs[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if l, ok := resp.(*api.ListJobsResponse); ok {
		// A job list has a decoder of its own, which checks what it
		// reads: json.Unmarshal would first scan the whole answer to
		// check it (a sixth of squeue's time over thousands of jobs).
		derr = l.UnmarshalJSON(data)
	} else {
		derr = json.Unmarshal(data, resp)
	}
	if derr != nil {
		return fmt.Errorf("decode %s answer: %w", path, derr)
	}
	return nil
}

// CallStale is Call for a read that may be answered from the state of
// whichever controller is asked, without checking with the leader that it
// is current (api.StaleParam): squeue in a loop, or during an election.
func (c *Client) CallStale(ctx context.Context, path string, req, resp any) error {
	return c.Call(ctx, path+"?"+api.StaleParam+"=true", req, resp)
}

func answerError(path string, status int, data []byte) error {
	var e api.Error
	if json.Unmarshal(data, &e) == nil && e.Message != "" {
		return &e
	}
	return api.Errorf(api.CodeInternal, "%s: HTTP %d: %s", path, status, strings.TrimSpace(string(data)))
}

// send POSTs body to path: with several controllers, to the one that
// answered last, then to the others in turn while they cannot be reached
// or answer Unavailable. A request whose connection broke after it was
// sent is not sent again (it may have been done), unless it carries a
// client token (then its answer is read here, and a lost one sends it
// on). The answer's body is the caller's to close.
func (c *Client) send(ctx context.Context, path, contentType, token string, body []byte) (*Response, error) {
	n := int64(len(c.eps))
	var deadline time.Time
	pause := 50 * time.Millisecond
	for {
		start := c.cur.Load()
		var last error
		for i := int64(0); i < n; i++ {
			idx := (start + i) % n
			res, err := c.sendTo(ctx, c.eps[idx], path, contentType, token, bytes.NewReader(body), int64(len(body)))
			if n == 1 {
				return res, err
			}
			if token != "" && ctx.Err() == nil {
				if again, lost := answerLost(path, res, err); again {
					last = lost
					if c.OnResend != nil {
						c.OnResend(path, lost)
					}
					continue
				}
			}
			if err == nil && res.StatusCode == StatusServiceUnavailable {
				data, _ := readBody(res)
				res.Body.Close()
				err = answerError(path, res.StatusCode, data)
				if !api.IsCode(err, api.CodeUnavailable) {
					// Not a controller's Unavailable (a proxy's): give it back.
					return &Response{StatusCode: res.StatusCode, Header: res.Header,
						ContentLength: int64(len(data)), Body: io.NopCloser(bytes.NewReader(data))}, nil
				}
			} else if err == nil || !unreachable(err) {
				if err == nil {
					c.cur.Store(idx)
				}
				return res, err
			}
			last = err
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(cmp.Or(c.FailoverWait, DefaultFailoverWait))
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, last
		}
		select {
		case <-time.After(min(pause, left)):
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		}
		pause = min(2*pause, time.Second)
	}
}

// answerLost reads the answer of a request sent with a client token and
// reports whether it was lost (the connection broke, or the controller
// answered OutcomeUnknown), with the error to give if no other controller
// answers; otherwise the answer, read whole, stays in res for the caller.
func answerLost(path string, res *Response, err error) (bool, error) {
	if err != nil {
		return !unreachable(err), err // unreachable: send's own failover
	}
	data, err := readBody(res)
	res.Body.Close()
	if err != nil {
		return true, fmt.Errorf("read %s answer: %w", path, err)
	}
	res.Body = io.NopCloser(bytes.NewReader(data))
	res.ContentLength = int64(len(data))
	if res.StatusCode/100 == 5 {
		if err := answerError(path, res.StatusCode, data); api.IsCode(err, api.CodeOutcomeUnknown) {
			return true, err
		}
	}
	return false, nil
}

// sendTo POSTs body (of length n, or -1 when unknown) to path at ep, with
// the client token clientToken when not "".
func (c *Client) sendTo(ctx context.Context, ep endpoint, path, contentType, clientToken string, body io.Reader, n int64) (*Response, error) {
	res, err := ep.tr.RoundTrip(ctx, &Request{Path: path, ContentType: contentType, Token: c.token, ClientToken: clientToken, Body: body, Length: n})
	if err != nil {
		return nil, fmt.Errorf("call controller %s: %w", path, err)
	}
	return res, nil
}

// unreachable reports whether err is a failure to connect: nothing was
// sent, so another controller may be asked.
func unreachable(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// readBody reads an answer whole, into a buffer of its announced length
// (a job list may be tens of megabytes; growing a buffer to that size
// clears and copies it many times over).
func readBody(res *Response) ([]byte, error) {
	if n := res.ContentLength; n > 0 && n <= 1<<30 {
		data := make([]byte, n)
		if _, err := io.ReadFull(res.Body, data); err != nil {
			return nil, err
		}
		return data, nil
	}
	return io.ReadAll(res.Body)
}

// Submit submits one job. A client of several controllers gives it a
// client token of its own (NewClientToken), so that a submit whose answer
// was lost in a failover is sent again to the next controller and stored
// once.
func (c *Client) Submit(ctx context.Context, req api.SubmitJobRequest) (api.SubmitJobResponse, error) {
	var resp api.SubmitJobResponse
	token := ""
	if len(c.eps) > 1 {
		token = NewClientToken()
	}
	err := c.CallWithToken(ctx, api.PathSubmit, token, req, &resp)
	return resp, err
}

// NewClientToken returns a new random client token (api.HeaderClientToken).
// A token names one request of one user (the controller keys it by the
// caller's proven uid) and guards against repeats, not against guessing:
// math/rand/v2's generator, seeded from the system's random source, keeps
// crypto's initialisation out of the client binary's start.
func NewClientToken() string {
	return fmt.Sprintf("%016x%016x", rand.Uint64(), rand.Uint64())
}

// ListJobs lists jobs matching req, asking for them in the row form.
func (c *Client) ListJobs(ctx context.Context, req api.ListJobsRequest) ([]api.Job, error) {
	return c.ListJobsInto(ctx, req, nil)
}

// ListJobsInto is ListJobs that reads a list in the row form into the
// memory of into, whose jobs it overwrites, where it has room: a walk
// through pages of a long list reads each into the last one's memory.
func (c *Client) ListJobsInto(ctx context.Context, req api.ListJobsRequest, into []api.Job) ([]api.Job, error) {
	if req.Form != "" {
		return c.listJobs(ctx, req, into)
	}
	// The row form: a fraction of JSON's bytes to send and read. A
	// controller that answers JSON all the same is read as JSON; one that
	// refuses the request (a controller older than the form refuses a
	// field it does not know) is asked again in JSON, and its answer,
	// list or error, is the answer.
	req.Form = api.ListFormRows
	jobs, err := c.listJobs(ctx, req, into)
	if api.IsCode(err, api.CodeInvalid) {
		req.Form, req.GroupTasks = "", false // JSON lists every task
		return c.listJobs(ctx, req, nil)
	}
	return jobs, err
}

// ListJobsEach is ListJobs that calls fn with each job as it is read, in
// the list's order, instead of returning the list: the job is fn's only
// until fn returns, and fn must not change it (api.DecodeJobRowsEach). An
// error from fn ends the list and is returned as it is.
func (c *Client) ListJobsEach(ctx context.Context, req api.ListJobsRequest, fn func(*api.Job) error) error {
	given := false  // fn has had a job: the list is not asked for again
	var fnErr error // fn's own error, not the decoder's
	each := jobsEach(func(j *api.Job) error {
		given = true
		fnErr = fn(j)
		return fnErr
	})
	call := func(req api.ListJobsRequest) error {
		err := c.Call(ctx, api.PathListJobs, req, each)
		if fnErr != nil {
			return fnErr
		}
		return err
	}
	if req.Form != "" {
		return call(req)
	}
	req.Form = api.ListFormRows // as ListJobsInto asks, and falls back
	err := call(req)
	if api.IsCode(err, api.CodeInvalid) && !given {
		req.Form, req.GroupTasks = "", false
		return call(req)
	}
	return err
}

// jobsEach, as Call's resp, is given each job of a list answer in turn.
type jobsEach func(*api.Job) error

func (c *Client) listJobs(ctx context.Context, req api.ListJobsRequest, into []api.Job) ([]api.Job, error) {
	resp := api.ListJobsResponse{Jobs: into}
	if err := c.Call(ctx, api.PathListJobs, req, &resp); err != nil {
		return nil, err // not into's jobs, which are not the answer
	}
	return resp.Jobs, nil
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

// StartStep registers a step of a running job the caller owns (srun
// inside the job) and returns its id.
func (c *Client) StartStep(ctx context.Context, req api.StepStartRequest) (uint32, error) {
	var resp api.StepStartResponse
	err := c.Call(ctx, api.PathStepStart, req, &resp)
	return resp.StepID, err
}

// EndStep records how a step ended.
func (c *Client) EndStep(ctx context.Context, req api.StepEndRequest) error {
	return c.Call(ctx, api.PathStepEnd, req, nil)
}

// SignalStep signals a running step's processes, or cancels the step
// (req.Cancel). It returns once the request is recorded; the job's node
// delivers it.
func (c *Client) SignalStep(ctx context.Context, req api.StepSignalRequest) error {
	return c.Call(ctx, api.PathStepSignal, req, nil)
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

// DeleteNode removes a node that runs nothing (root only), so that its
// name may register anew with the join token.
func (c *Client) DeleteNode(ctx context.Context, name string) error {
	return c.Call(ctx, api.PathDeleteNode, api.DeleteNodeRequest{Name: name}, nil)
}

// WithToken returns a client of the same controllers, over the same
// transports (and TLS pins), that presents token as its bearer token: a
// node daemon's credential in place of the join token it registered with.
func (c *Client) WithToken(token string) *Client {
	return &Client{eps: c.eps, token: token, FailoverWait: c.FailoverWait, Stale: c.Stale, OnResend: c.OnResend}
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
	return c.Stop(ctx, api.StopJobsRequest{IDs: ids, Reason: reason})
}

// Stop is StopJobs of a whole request: jobs by id, and arrays whole
// (api.StopJobsRequest.ArrayJobIDs).
func (c *Client) Stop(ctx context.Context, req api.StopJobsRequest) ([]api.JobFailure, error) {
	var resp api.StopJobsResponse
	err := c.Call(ctx, api.PathStopJobs, req, &resp)
	return resp.Failed, err
}
