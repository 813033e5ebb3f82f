package slurm

import (
	"encoding/json"
	"fmt"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
)

// slurmJSONMeta is the "meta" block Slurm 22.05's --json output starts
// with.
type slurmJSONMeta struct {
	Plugin struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"plugin"`
	Slurm struct {
		Version struct {
			Major int `json:"major"`
			Micro int `json:"micro"`
			Minor int `json:"minor"`
		} `json:"version"`
		Release string `json:"release"`
	} `json:"Slurm"`
}

func newJSONMeta(plugin, name string) slurmJSONMeta {
	var m slurmJSONMeta
	m.Plugin.Type, m.Plugin.Name = plugin, name
	m.Slurm.Version.Major, m.Slurm.Version.Micro, m.Slurm.Version.Minor = 22, 8, 5
	m.Slurm.Release = "22.05.8"
	return m
}

// sqJSONJob is the subset of Slurm 22.05's squeue --json job record
// (openapi v0.0.38) that shoal fills in, under the same keys. Times are
// epoch seconds, time_limit minutes (null: none), exit_code a wait status.
type sqJSONJob struct {
	Account         string  `json:"account"`
	AccrueTime      int64   `json:"accrue_time"`
	ArrayJobID      uint64  `json:"array_job_id"`
	ArrayTaskID     *int    `json:"array_task_id"`
	ArrayMaxTasks   int     `json:"array_max_tasks"`
	ArrayTaskString string  `json:"array_task_string"`
	BatchFlag       bool    `json:"batch_flag"`
	BatchHost       string  `json:"batch_host"`
	Command         string  `json:"command"`
	Comment         string  `json:"comment"`
	Dependency      string  `json:"dependency"`
	EligibleTime    int64   `json:"eligible_time"`
	EndTime         int64   `json:"end_time"`
	ExitCode        int     `json:"exit_code"`
	GroupID         uint32  `json:"group_id"`
	GroupName       string  `json:"group_name"`
	JobID           uint64  `json:"job_id"`
	JobState        string  `json:"job_state"`
	Name            string  `json:"name"`
	Nodes           string  `json:"nodes"`
	Nice            int64   `json:"nice"`
	CPUs            int     `json:"cpus"`
	NodeCount       int     `json:"node_count"`
	Tasks           int     `json:"tasks"`
	Partition       string  `json:"partition"`
	MemoryPerNode   *int64  `json:"memory_per_node"`
	Priority        int64   `json:"priority"`
	QOS             string  `json:"qos"`
	Requeue         bool    `json:"requeue"`
	Restarts        int     `json:"restart_cnt"`
	StartTime       int64   `json:"start_time"`
	StateReason     string  `json:"state_reason"`
	StandardError   string  `json:"standard_error"`
	StandardInput   string  `json:"standard_input"`
	StandardOutput  string  `json:"standard_output"`
	SubmitTime      int64   `json:"submit_time"`
	TimeLimit       *int64  `json:"time_limit"`
	TresReqStr      string  `json:"tres_req_str"`
	TresAllocStr    string  `json:"tres_alloc_str"`
	UserID          uint32  `json:"user_id"`
	UserName        string  `json:"user_name"`
	Cwd             string  `json:"current_working_directory"`
	BillableTres    float64 `json:"billable_tres"`
}

// squeueJSON prints every job squeue can see as Slurm's --json does (all
// other filters and formats are ignored, as in Slurm).
func squeueJSON(c *Ctx, views []*jobView, known map[uint64]*api.Job) int {
	out := struct {
		Meta   slurmJSONMeta `json:"meta"`
		Errors []string      `json:"errors"`
		Jobs   []sqJSONJob   `json:"jobs"`
	}{Meta: newJSONMeta("openapi/v0.0.38", "Slurm OpenAPI v0.0.38"), Errors: []string{}, Jobs: []sqJSONJob{}}
	for _, v := range views {
		out.Jobs = append(out.Jobs, jobJSON(v, known))
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		c.Errorf("squeue", "encode JSON: %v", err)
		return 1
	}
	fmt.Fprintln(c.Stdout, string(termsafe.JSON(data)))
	return 0
}

// jobJSON is one job's record.
func jobJSON(v *jobView, known map[uint64]*api.Job) sqJSONJob {
	j := v.j
	secs := func(ms int64) int64 { return ms / 1000 }
	r := sqJSONJob{
		Account: j.Account, JobID: j.ID, Name: j.Name, JobState: v.state.Long,
		BatchFlag: j.Script != "", Command: "", Comment: j.Comment,
		GroupID: j.GID, GroupName: v.groupName(), Nodes: v.nodeList(), BatchHost: v.nodeList(),
		Nice: v.nice(), CPUs: v.cpus(), NodeCount: 1, Tasks: 1, Partition: partitionOf(j),
		Priority: v.priority(), QOS: j.QOS, Requeue: !j.NoRequeue, Restarts: restarts(j),
		StateReason: v.reason, StandardInput: "/dev/null",
		StandardOutput: v.outputPath(j.Stdout), StandardError: v.outputPath(j.Stderr),
		SubmitTime: secs(j.CreatedAt), StartTime: secs(j.StartedAt), ExitCode: v.rawExit(),
		TresReqStr: v.tres(), UserID: j.UID, UserName: v.userName(), Cwd: j.Dir,
		BillableTres: float64(v.cpus()),
	}
	if d := v.dependency(known); d != "(null)" {
		r.Dependency = d
	}
	if v.state != Pending {
		r.TresAllocStr = v.tres()
	}
	if j.State.Terminal() {
		r.EndTime = secs(j.StoppedAt)
	} else if e, ok := v.expectedEnd(); ok {
		r.EndTime = e.Unix()
	}
	if b := v.beginAt(); !b.IsZero() {
		r.StartTime, r.EligibleTime = b.Unix(), b.Unix()
	} else if v.reason != "Dependency" && v.reason != "JobHeldUser" {
		r.EligibleTime, r.AccrueTime = secs(j.CreatedAt), secs(j.CreatedAt)
	}
	if j.Array != nil {
		r.ArrayJobID = j.Array.JobID
		r.ArrayMaxTasks = j.Array.MaxRunning
		if v.tasks == nil {
			idx := j.Array.Index
			r.ArrayTaskID = &idx
		} else {
			r.ArrayTaskString = v.taskStr
		}
	}
	if j.TimeLimit > 0 {
		m := (j.TimeLimit + 59) / 60
		r.TimeLimit = &m
	}
	if j.Resources.MemoryMB > 0 {
		m := j.Resources.MemoryMB
		r.MemoryPerNode = &m
	}
	return r
}
