package daemon

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/shoal-batch/shoal/api"
)

// Direct encoders for the job fields squeue and sacct read on every job:
// each appends its value from the field itself, with no reflection (the
// projection's FieldByIndex and a json.Marshal of each job's resources
// were half of what listing 20,000 jobs cost). A field without one goes
// through reflection as before; TestDirectFieldsMatchReflection holds
// the two to the same bytes.

// directField appends one field's JSON value; zero reports whether the
// field holds its type's zero value (left out under omitempty).
type directField struct {
	zero   func(j *api.Job) bool
	append func(buf []byte, j *api.Job) ([]byte, error)
}

func strField(get func(j *api.Job) string) directField {
	return directField{
		zero:   func(j *api.Job) bool { return get(j) == "" },
		append: func(buf []byte, j *api.Job) ([]byte, error) { return appendJSONString(buf, get(j)), nil },
	}
}

func intField(get func(j *api.Job) int64) directField {
	return directField{
		zero:   func(j *api.Job) bool { return get(j) == 0 },
		append: func(buf []byte, j *api.Job) ([]byte, error) { return strconv.AppendInt(buf, get(j), 10), nil },
	}
}

func uintField(get func(j *api.Job) uint64) directField {
	return directField{
		zero:   func(j *api.Job) bool { return get(j) == 0 },
		append: func(buf []byte, j *api.Job) ([]byte, error) { return strconv.AppendUint(buf, get(j), 10), nil },
	}
}

func boolField(get func(j *api.Job) bool) directField {
	return directField{
		zero:   func(j *api.Job) bool { return !get(j) },
		append: func(buf []byte, j *api.Job) ([]byte, error) { return strconv.AppendBool(buf, get(j)), nil },
	}
}

// directFields are the fields with a direct encoder, by JSON key.
var directFields = map[string]directField{
	"jobId":            uintField(func(j *api.Job) uint64 { return j.ID }),
	"jobName":          strField(func(j *api.Job) string { return j.Name }),
	"jobQueue":         strField(func(j *api.Job) string { return j.Queue }),
	"script":           strField(func(j *api.Job) string { return j.Script }),
	"workingDir":       strField(func(j *api.Job) string { return j.Dir }),
	"stdout":           strField(func(j *api.Job) string { return j.Stdout }),
	"stderr":           strField(func(j *api.Job) string { return j.Stderr }),
	"priority":         intField(func(j *api.Job) int64 { return j.Priority }),
	"nice":             intField(func(j *api.Job) int64 { return j.Nice }),
	"dependAny":        boolField(func(j *api.Job) bool { return j.DependAny }),
	"held":             boolField(func(j *api.Job) bool { return j.Held }),
	"beginAt":          intField(func(j *api.Job) int64 { return j.BeginAt }),
	"timeLimitSeconds": intField(func(j *api.Job) int64 { return j.TimeLimit }),
	"noRequeue":        boolField(func(j *api.Job) bool { return j.NoRequeue }),
	"deadlineAt":       intField(func(j *api.Job) int64 { return j.DeadlineAt }),
	"account":          strField(func(j *api.Job) string { return j.Account }),
	"qos":              strField(func(j *api.Job) string { return j.QOS }),
	"comment":          strField(func(j *api.Job) string { return j.Comment }),
	"user":             strField(func(j *api.Job) string { return j.User }),
	"uid":              uintField(func(j *api.Job) uint64 { return uint64(j.UID) }),
	"gid":              uintField(func(j *api.Job) uint64 { return uint64(j.GID) }),
	"status":           strField(func(j *api.Job) string { return string(j.State) }),
	"statusReason":     strField(func(j *api.Job) string { return j.StatusReason }),
	"waitReason":       strField(func(j *api.Job) string { return j.WaitReason }),
	"estimatedStartAt": intField(func(j *api.Job) int64 { return j.EstimatedStartAt }),
	"heldByAdmin":      boolField(func(j *api.Job) bool { return j.HeldByAdmin }),
	"node":             strField(func(j *api.Job) string { return j.Node }),
	"attempt":          intField(func(j *api.Job) int64 { return int64(j.Attempt) }),
	"attemptsDropped":  intField(func(j *api.Job) int64 { return int64(j.AttemptsDropped) }),
	"signal":           intField(func(j *api.Job) int64 { return int64(j.ExitSignal) }),
	"cause":            strField(func(j *api.Job) string { return string(j.Cause) }),
	"stopRequested":    boolField(func(j *api.Job) bool { return j.StopRequested }),
	"createdAt":        intField(func(j *api.Job) int64 { return j.CreatedAt }),
	"runnableAt":       intField(func(j *api.Job) int64 { return j.RunnableAt }),
	"startedAt":        intField(func(j *api.Job) int64 { return j.StartedAt }),
	"stoppedAt":        intField(func(j *api.Job) int64 { return j.StoppedAt }),
	"exitCode": {
		zero: func(j *api.Job) bool { return j.ExitCode == nil },
		append: func(buf []byte, j *api.Job) ([]byte, error) {
			if j.ExitCode == nil {
				return append(buf, "null"...), nil
			}
			return strconv.AppendInt(buf, int64(*j.ExitCode), 10), nil
		},
	},
	"resources": {
		zero:   func(j *api.Job) bool { return false }, // a struct: never left out
		append: appendResources,
	},
	"array": {
		zero:   func(j *api.Job) bool { return j.Array == nil },
		append: appendArrayTask,
	},
}

// appendResources writes a job's resources as encoding/json does.
func appendResources(buf []byte, j *api.Job) ([]byte, error) {
	r := &j.Resources
	if r.GPUTypes != "" {
		b, err := json.Marshal(r)
		if err != nil {
			return buf, fmt.Errorf("encode job %d field resources: %w", j.ID, err)
		}
		return append(buf, b...), nil
	}
	buf = append(buf, `{"cpus":`...)
	buf = strconv.AppendInt(buf, int64(r.CPUs), 10)
	buf = append(buf, `,"memoryMiB":`...)
	buf = strconv.AppendInt(buf, r.MemoryMB, 10)
	if r.GPUs != 0 {
		buf = append(buf, `,"gpus":`...)
		buf = strconv.AppendInt(buf, int64(r.GPUs), 10)
	}
	return append(buf, '}'), nil
}

// appendArrayTask writes a job's place in its array as encoding/json does.
func appendArrayTask(buf []byte, j *api.Job) ([]byte, error) {
	a := j.Array
	if a == nil {
		return append(buf, "null"...), nil
	}
	buf = append(buf, `{"jobId":`...)
	buf = strconv.AppendUint(buf, a.JobID, 10)
	buf = append(buf, `,"index":`...)
	buf = strconv.AppendInt(buf, int64(a.Index), 10)
	buf = append(buf, `,"min":`...)
	buf = strconv.AppendInt(buf, int64(a.Min), 10)
	buf = append(buf, `,"max":`...)
	buf = strconv.AppendInt(buf, int64(a.Max), 10)
	buf = append(buf, `,"count":`...)
	buf = strconv.AppendInt(buf, int64(a.Count), 10)
	if a.MaxRunning != 0 {
		buf = append(buf, `,"maxRunning":`...)
		buf = strconv.AppendInt(buf, int64(a.MaxRunning), 10)
	}
	if a.Tasks != "" {
		buf = append(buf, `,"tasks":`...)
		buf = appendJSONString(buf, a.Tasks)
	}
	return append(buf, '}'), nil
}
