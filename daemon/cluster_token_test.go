package daemon

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// postToken POSTs req as p with a client token and returns the status
// and the answer's body.
func (mc *memController) postToken(p peer, path, token string, req any) (int, []byte) {
	mc.t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		mc.t.Fatal(err)
	}
	hr, err := http.NewRequest(http.MethodPost, mc.urls[p]+path, bytes.NewReader(body))
	if err != nil {
		mc.t.Fatal(err)
	}
	hr.Header.Set(api.HeaderClientToken, token)
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		mc.t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data
}

// A submit sent again with its client token is answered with the job the
// first stored (no second job); the token with another request is
// refused; another user's same token is their own; a malformed token is
// refused with what a token may be; the AWS front door honours it too.
func TestMemSubmitClientToken(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	req := api.SubmitJobRequest{JobSpec: heldJob}
	submit := func(p peer, token string, req any) (int, api.SubmitJobResponse, api.Error) {
		t.Helper()
		status, data := mc.postToken(p, api.PathSubmit, token, req)
		var resp api.SubmitJobResponse
		var e api.Error
		if status == http.StatusOK {
			json.Unmarshal(data, &resp)
		} else {
			json.Unmarshal(data, &e)
		}
		return status, resp, e
	}
	status, first, e := submit(alice, "retry-me", req)
	if status != http.StatusOK || first.ID == 0 {
		t.Fatalf("first submit: HTTP %d %s", status, e.Message)
	}
	for i := 0; i < 2; i++ {
		if status, again, e := submit(alice, "retry-me", req); status != http.StatusOK || again.ID != first.ID {
			t.Fatalf("submit sent again: HTTP %d id %d %s, want job %d", status, again.ID, e.Message, first.ID)
		}
	}
	if n := len(mc.jobs(alice, api.ListJobsRequest{})); n != 1 {
		t.Fatalf("alice has %d jobs, want 1", n)
	}
	other := req
	other.Name = "other"
	if status, _, e := submit(alice, "retry-me", other); status != http.StatusBadRequest || e.Code != api.CodeConflict {
		t.Fatalf("the token with another request: HTTP %d %s %q, want a conflict", status, e.Code, e.Message)
	}
	if status, resp, e := submit(bob, "retry-me", req); status != http.StatusOK || resp.ID == first.ID {
		t.Fatalf("bob's submit with alice's token: HTTP %d id %d %s, want a job of his own", status, resp.ID, e.Message)
	}
	if status, _, e := submit(alice, "has space", req); status != http.StatusBadRequest || e.Code != api.CodeInvalid {
		t.Fatalf("a token with a space: HTTP %d %s %q, want a refusal", status, e.Code, e.Message)
	}

	// AWS Batch's SubmitJob through the same header.
	if status, out := mc.awsCall(alice, "registerjobdefinition", `{"jobDefinitionName":"tok","type":"script",
		"containerProperties":{"command":["true"],"vcpus":1,"memory":64}}`); status != http.StatusOK {
		t.Fatalf("registerjobdefinition: HTTP %d %v", status, out)
	}
	aws := map[string]any{"jobName": "tok", "jobQueue": api.DefaultQueue, "jobDefinition": "tok"}
	var ids []string
	for i := 0; i < 2; i++ {
		status, data := mc.postToken(alice, "/v1/submitjob", "aws-token", aws)
		var resp api.AWSSubmitJobResponse
		if status != http.StatusOK || json.Unmarshal(data, &resp) != nil {
			t.Fatalf("AWS submitjob with a token: HTTP %d %s", status, data)
		}
		ids = append(ids, resp.JobID)
	}
	if ids[0] != ids[1] {
		t.Fatalf("AWS submitjob sent twice with one token: jobs %v, want one", ids)
	}
}
