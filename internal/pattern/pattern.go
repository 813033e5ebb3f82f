// Package pattern fills in Slurm's filename patterns (sbatch and srun
// -o/-e/-i: %j, %3a, ...), the one expander both the node daemon (a batch
// job's output files) and srun (a step's) use.
package pattern

import (
	"strconv"
	"strings"
)

// Fields are the values a pattern's escapes stand for, as strings.
type Fields struct {
	JobID     string // %j
	JobStep   string // %J: "JOBID.STEPID" for a step; the job id for the batch script
	StepID    string // %s: a step number, or "batch"
	Task      string // %t: the task's rank
	NodeIndex string // %n: the node's index in the job
	Node      string // %N: the node's name
	ArrayJob  string // %A: the array's job id (the job's own outside an array)
	ArrayTask string // %a: the array index (Slurm's 4294967294 outside an array)
	Name      string // %x: the job's name
	User      string // %u: the job's user
}

// Expand fills in p: %j %J %s %t %n %N %A %a %x %u as Fields says, %% a
// percent sign. A number after the % pads a numeric value with zeros to
// that width, at most 10 as in Slurm (%3a -> 007; names are never padded). Any other escape, and
// a % at the end, is kept as written.
func Expand(p string, f Fields) string {
	if !strings.Contains(p, "%") {
		return p
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
		if k == len(p) {
			b.WriteString(p[i:])
			break
		}
		width := padWidth(p[i+1 : k])
		v, pad := "", true
		switch p[k] {
		case 'j':
			v = f.JobID
		case 'J':
			v = f.JobStep
		case 's':
			v = f.StepID
		case 't':
			v = f.Task
		case 'n':
			v = f.NodeIndex
		case 'A':
			v = f.ArrayJob
		case 'a':
			v = f.ArrayTask
		case 'N':
			v, pad = f.Node, false
		case 'x':
			v, pad = f.Name, false
		case 'u':
			v, pad = f.User, false
		case '%':
			v, pad = "%", false
		default:
			b.WriteString(p[i : k+1])
			i = k
			continue
		}
		if pad && len(v) < width && digits(v) {
			v = strings.Repeat("0", width-len(v)) + v
		}
		b.WriteString(v)
		i = k
	}
	return b.String()
}

// maxPad is the widest padding a pattern may ask for (Slurm's MAX_WIDTH):
// a width of 99999999999999999999 must not become that many zeros.
const maxPad = 10

// padWidth is the width the digits w ask for, at most maxPad.
func padWidth(w string) int {
	if len(w) > 2 {
		return maxPad
	}
	n, _ := strconv.Atoi(w)
	return min(n, maxPad)
}

// digits reports whether s is a number to pad ("12", not "12.0" or "batch").
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
