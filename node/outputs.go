package node

import (
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// noArrayIndex is what Slurm prints for %a of a job that is not an array task.
const noArrayIndex = "4294967294"

// expandPattern fills in sbatch's filename pattern: %j %J job id, %A array
// job id, %a array index, %x job name, %u user, %N and %n node, %t task,
// %s step, %% a percent sign. A number after % pads numbers with zeros
// (%3a -> 007). Anything else is kept as written.
func expandPattern(p string, j *api.Job, node string) string {
	if !strings.Contains(p, "%") {
		return p
	}
	id := api.FormatID(j.ID)
	arrayID, index := id, noArrayIndex
	if j.Array != nil {
		arrayID, index = api.FormatID(j.Array.JobID), strconv.Itoa(j.Array.Index)
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' || i+1 == len(p) {
			b.WriteByte(p[i])
			continue
		}
		k := i + 1
		for k < len(p) && p[k] >= '0' && p[k] <= '9' {
			k++
		}
		width, _ := strconv.Atoi(p[i+1 : k])
		if k == len(p) {
			b.WriteString(p[i:])
			break
		}
		var v string
		numeric := true
		switch p[k] {
		case 'j', 'J':
			v = id
		case 'A':
			v = arrayID
		case 'a':
			v = index
		case 't', 'n':
			v = "0"
		case 's':
			v, numeric = "batch", false
		case 'x':
			v, numeric = j.Name, false
		case 'u':
			v, numeric = j.User, false
		case 'N':
			v, numeric = node, false
		case '%':
			v, numeric = "%", false
		default:
			b.WriteString(p[i : k+1])
			i = k
			continue
		}
		if numeric && len(v) < width {
			v = strings.Repeat("0", width-len(v)) + v
		}
		b.WriteString(v)
		i = k
	}
	return b.String()
}
