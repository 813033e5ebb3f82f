package slurm

// squeueLight are the job fields squeue asks the controller for unless
// its output shows a heavy one: what its fields, filters and sorting read
// (a batch job's script, command and paths are most of what a job weighs
// on the wire, and the usual formats print none of them). The golden
// tests list through a fake that projects as the controller does, so a
// field missing here shows there.
var squeueLight = []string{
	"jobId", "jobName", "jobQueue", "jobQueues", "resources", "priority", "nice", "dependsOn", "dependAny", "held", "beginAt",
	"timeLimitSeconds", "noRequeue", "account", "qos", "comment", "user", "uid", "gid", "status",
	"statusReason", "array", "node", "attempt", "exitCode", "signal", "cause", "stopRequested",
	"createdAt", "startedAt", "stoppedAt", "attempts", "attemptsDropped", "deadlineAt", "runnableAt",
	"waitReason", "estimatedStartAt", "heldByAdmin", "licenses",
}

// squeueHeavyFields are the -o letters and -O names that show a heavy
// field: %o and command (a batch job's command is "(null)" only if its
// script is known), %Z and workdir, stdout, stderr.
var (
	squeueHeavyLetters = map[byte]bool{'o': true, 'Z': true}
	squeueHeavyNames   = map[string]bool{"command": true, "workdir": true, "stdout": true, "stderr": true}
)

// wantedFields is what squeue asks the controller for (ListJobsRequest
// Fields): squeueLight, or nil (every field) when its output shows a
// heavy one or is --json.
func (o *squeueOpts) wantedFields() []string {
	if o.json {
		return nil
	}
	if o.formatLong != "" {
		for _, col := range parseLongFormat(o.formatLong, 20) {
			if squeueHeavyNames[col.key] {
				return nil
			}
		}
	} else {
		pf, _ := parsePercentFormat(o.percentFormat(), func(l byte) bool { _, ok := sqLetters()[l]; return ok })
		for _, col := range pf.cols {
			if !col.invalid && squeueHeavyLetters[col.key[0]] {
				return nil
			}
		}
	}
	return squeueLight
}

// percentFormat is the -o format squeue prints with: -o's, else -l's or
// --start's, else the default.
func (o *squeueOpts) percentFormat() string {
	switch {
	case o.format != "":
		return o.format
	case o.long:
		return squeueLongFormat
	case o.start:
		return squeueStartFormat
	}
	return squeueDefaultFormat
}
