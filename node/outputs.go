package node

import (
	"strconv"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/internal/pattern"
)

// noArrayIndex is what Slurm prints for %a of a job that is not an array task.
const noArrayIndex = "4294967294"

// expandPattern fills in sbatch's filename pattern for a batch job on
// node (pattern.Expand): %j %J job id, %A array job id, %a array index,
// %x job name, %u user, %N node, %n and %t 0, %s "batch", %% a percent
// sign, with zero padding (%3a -> 007).
func expandPattern(p string, j *api.Job, node string) string {
	id := api.FormatID(j.ID)
	f := pattern.Fields{JobID: id, JobStep: id, StepID: "batch", Task: "0", NodeIndex: "0", Node: node,
		ArrayJob: id, ArrayTask: noArrayIndex, Name: j.Name, User: j.User}
	if j.Array != nil {
		f.ArrayJob, f.ArrayTask = api.FormatID(j.Array.JobID), strconv.Itoa(j.Array.Index)
	}
	return pattern.Expand(p, f)
}
