package slurm

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/shoal-batch/shoal/api"

	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

// saJSONExit is an exit code as sacct --json writes it.
type saJSONExit struct {
	Status     string `json:"status"`
	ReturnCode int    `json:"return_code"`
	Signal     *struct {
		SignalID int `json:"signal_id"`
	} `json:"signal,omitempty"`
}

func exitJSON(code, signal int) saJSONExit {
	e := saJSONExit{Status: "SUCCESS", ReturnCode: code}
	switch {
	case signal != 0:
		e.Status = "SIGNALED"
		e.Signal = &struct {
			SignalID int `json:"signal_id"`
		}{signal}
	case code != 0:
		e.Status = "FAILED"
	}
	return e
}

// saJSONTime is the "time" block of a job or step.
type saJSONTime struct {
	Elapsed    int64  `json:"elapsed"`
	Eligible   int64  `json:"eligible,omitempty"`
	End        int64  `json:"end"`
	Start      int64  `json:"start"`
	Submission int64  `json:"submission,omitempty"`
	Suspended  int64  `json:"suspended"`
	Limit      *int64 `json:"limit,omitempty"`
	// Total is the CPU time of the job's processes (TotalCPU), once its
	// node reported it.
	Total *saJSONCPUTime `json:"total,omitempty"`
}

// saJSONCPUTime is a CPU time as sacct --json writes it.
type saJSONCPUTime struct {
	Seconds      int64 `json:"seconds"`
	Microseconds int64 `json:"microseconds"`
}

// totalCPUJSON is a job's CPU time from its usage record; nil without.
func totalCPUJSON(j *api.Job) *saJSONCPUTime {
	if j.Usage == nil {
		return nil
	}
	usec := int64(math.Round(j.Usage.CPUSeconds * 1e6))
	return &saJSONCPUTime{Seconds: usec / 1_000_000, Microseconds: usec % 1_000_000}
}

type saJSONStep struct {
	Nodes struct {
		List  []string `json:"list"`
		Count int      `json:"count"`
		Range string   `json:"range"`
	} `json:"nodes"`
	Time     saJSONTime `json:"time"`
	ExitCode saJSONExit `json:"exit_code"`
	Tasks    struct {
		Count int `json:"count"`
	} `json:"tasks"`
	State string `json:"state"`
	Step  struct {
		JobID uint64 `json:"job_id"`
		ID    string `json:"id"`
		Name  string `json:"name"`
	} `json:"step"`
}

// saJSONJob is the subset of Slurm 22.05's sacct --json job record
// (openapi dbv0.0.38) that shoal fills in, under the same keys.
type saJSONJob struct {
	Account         string `json:"account"`
	AllocationNodes int    `json:"allocation_nodes"`
	Array           struct {
		JobID  uint64 `json:"job_id"`
		Limits struct {
			Max struct {
				Running struct {
					Tasks int `json:"tasks"`
				} `json:"running"`
			} `json:"max"`
		} `json:"limits"`
		Task   *string `json:"task"`
		TaskID *int    `json:"task_id"`
	} `json:"array"`
	Cluster         string     `json:"cluster"`
	DerivedExitCode saJSONExit `json:"derived_exit_code"`
	Time            saJSONTime `json:"time"`
	ExitCode        saJSONExit `json:"exit_code"`
	Group           string     `json:"group"`
	JobID           uint64     `json:"job_id"`
	Name            string     `json:"name"`
	Nodes           string     `json:"nodes"`
	Partition       string     `json:"partition"`
	Priority        int64      `json:"priority"`
	QOS             string     `json:"qos"`
	Required        struct {
		CPUs   int   `json:"CPUs"`
		Memory int64 `json:"memory"`
	} `json:"required"`
	State struct {
		Current string `json:"current"`
		Reason  string `json:"reason"`
	} `json:"state"`
	Steps            []saJSONStep `json:"steps"`
	User             string       `json:"user"`
	WorkingDirectory string       `json:"working_directory"`
}

// sacctJSON prints jobs as Slurm's sacct --json does.
func sacctJSON(c *Ctx, views []*jobView, steps bool) int {
	out := struct {
		Meta   slurmJSONMeta `json:"meta"`
		Errors []string      `json:"errors"`
		Jobs   []saJSONJob   `json:"jobs"`
	}{Meta: newJSONMeta("openapi/dbv0.0.38", "Slurm OpenAPI DB v0.0.38"), Errors: []string{}, Jobs: []saJSONJob{}}
	for _, v := range views {
		j := v.j
		r := &saRow{v: v}
		rec := saJSONJob{Account: r.account(), Cluster: shoalCluster, Group: v.groupName(), JobID: v.rawID,
			Name: j.Name, Nodes: v.nodeList(), Partition: partitionOf(j), Priority: v.priority(), QOS: j.QOS,
			User: v.userName(), WorkingDirectory: j.Dir, Steps: []saJSONStep{},
			DerivedExitCode: exitJSON(0, 0)}
		if v.nodeList() != "" {
			rec.AllocationNodes = 1
		}
		code := 0
		if j.ExitCode != nil {
			code = *j.ExitCode
		}
		rec.ExitCode = exitJSON(code, j.ExitSignal)
		if j.Array != nil {
			rec.Array.JobID = v.arrayID
			rec.Array.Limits.Max.Running.Tasks = j.Array.MaxRunning
			if v.tasks != nil {
				s := v.taskStr
				rec.Array.Task = &s
			} else {
				idx := j.Array.Index
				rec.Array.TaskID = &idx
			}
		}
		rec.Time = saJSONTime{Elapsed: v.runSecs(), Submission: v.submitted().Unix(), Total: totalCPUJSON(j)}
		if e := saEligible(v); !e.IsZero() {
			rec.Time.Eligible = e.Unix()
		}
		if s := v.started(); !s.IsZero() {
			rec.Time.Start = s.Unix()
		}
		if e := v.ended(); !e.IsZero() {
			rec.Time.End = e.Unix()
		}
		if j.TimeLimit > 0 {
			m := (j.TimeLimit + 59) / 60
			rec.Time.Limit = &m
		}
		rec.Required.CPUs, rec.Required.Memory = v.cpus(), j.Resources.MemoryMB
		rec.State.Current, rec.State.Reason = v.state.Long, "None"
		if v.state == Pending {
			rec.State.Reason = v.reason
		}
		if steps && j.StartedAt > 0 && v.tasks == nil {
			var st saJSONStep
			st.Nodes.List, st.Nodes.Count, st.Nodes.Range = []string{j.Node}, 1, j.Node
			st.Time = saJSONTime{Elapsed: rec.Time.Elapsed, Start: rec.Time.Start, End: rec.Time.End, Total: rec.Time.Total}
			st.ExitCode = rec.ExitCode
			st.Tasks.Count = 1
			st.State = saStepState(j)
			st.Step.JobID, st.Step.ID, st.Step.Name = j.ID, "batch", "batch"
			rec.Steps = append(rec.Steps, st)
		}
		out.Jobs = append(out.Jobs, rec)
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		c.Errorf("sacct", "encode JSON: %v", err)
		return 1
	}
	fmt.Fprintln(c.Stdout, string(termsafe.JSON(data)))
	return 0
}
