package api

import (
	"encoding/json"
	"testing"
)

// A job list decodes the same whether or not count comes first (or at
// all), and into a slice sized from it when it does.
func TestListJobsResponseDecode(t *testing.T) {
	want := ListJobsResponse{Count: 3, Jobs: []Job{{ID: 1, JobSpec: JobSpec{
		Name: "a",
	}}, {ID: 2, JobSpec: JobSpec{Name: "b"}}, {ID: 3, JobSpec: JobSpec{Name: "c"}}}}
	wire, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"count first": string(wire),
		"count last":  `{"jobs":[{"jobId":1,"jobName":"a"},{"jobId":2,"jobName":"b"},{"jobId":3,"jobName":"c"}],"count":3}`,
		"no count":    `{"jobs":[{"jobId":1,"jobName":"a"},{"jobId":2,"jobName":"b"},{"jobId":3,"jobName":"c"}]}`,
	} {
		var got ListJobsResponse
		if err := json.Unmarshal([]byte(data), &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got.Jobs) != 3 || got.Jobs[0].Name != "a" || got.Jobs[2].ID != 3 {
			t.Errorf("%s: jobs = %+v", name, got.Jobs)
		}
		if name == "count first" && cap(got.Jobs) != 3 {
			t.Errorf("%s: cap = %d, want the list sized from count (3)", name, cap(got.Jobs))
		}
	}
	var inflated ListJobsResponse
	if err := json.Unmarshal([]byte(`{"count":9000000,"jobs":[{"jobId":1}]}`), &inflated); err != nil || cap(inflated.Jobs) > 10 {
		t.Errorf("a count the body cannot hold sized the list to %d (%v)", cap(inflated.Jobs), err)
	}
	var bad ListJobsResponse
	if err := json.Unmarshal([]byte(`{"count":2,"jobs":[{"jobId":"x"}]}`), &bad); err == nil {
		t.Error("a malformed job decoded without error")
	}
}
