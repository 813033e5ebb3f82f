package slurm

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

// Options sbatch and srun share: what a job asks for.
var jobOptions = []Option{
	{Long: "account", Short: 'A', Arg: RequiredArg},
	{Long: "acctg-freq", Arg: RequiredArg, Key: "ignore"},
	{Long: "bb", Arg: RequiredArg, Key: "ignore"},
	{Long: "bbf", Arg: RequiredArg, Key: "ignore"},
	{Long: "begin", Short: 'b', Arg: RequiredArg},
	{Long: "chdir", Short: 'D', Arg: RequiredArg},
	{Long: "cluster-constraint", Arg: RequiredArg, Key: "ignore"},
	{Long: "clusters", Short: 'M', Arg: RequiredArg, Key: "ignore"},
	{Long: "comment", Arg: RequiredArg},
	{Long: "constraint", Short: 'C', Arg: RequiredArg, Key: "ignore"},
	{Long: "container", Arg: RequiredArg, Key: "ignore"},
	{Long: "contiguous", Arg: NoArg, Key: "ignore"},
	{Long: "core-spec", Short: 'S', Arg: RequiredArg, Key: "ignore"},
	{Long: "cores-per-socket", Arg: RequiredArg, Key: "ignore"},
	{Long: "cpu-freq", Arg: RequiredArg, Key: "ignore"},
	{Long: "cpus-per-gpu", Arg: RequiredArg},
	{Long: "cpus-per-task", Short: 'c', Arg: RequiredArg},
	{Long: "deadline", Arg: RequiredArg},
	{Long: "delay-boot", Arg: RequiredArg, Key: "ignore"},
	{Long: "dependency", Short: 'd', Arg: RequiredArg},
	{Long: "distribution", Short: 'm', Arg: RequiredArg, Key: "ignore"},
	{Long: "error", Short: 'e', Arg: RequiredArg},
	{Long: "exclude", Short: 'x', Arg: RequiredArg, Key: "ignore"},
	{Long: "exclusive", Arg: OptionalArg},
	{Long: "export", Arg: RequiredArg},
	{Long: "extra-node-info", Short: 'B', Arg: RequiredArg, Key: "ignore"},
	{Long: "gid", Arg: RequiredArg},
	{Long: "gpu-bind", Arg: RequiredArg, Key: "ignore"},
	{Long: "gpu-freq", Arg: RequiredArg, Key: "ignore"},
	{Long: "gpus", Short: 'G', Arg: RequiredArg},
	{Long: "gpus-per-node", Arg: RequiredArg},
	{Long: "gpus-per-socket", Arg: RequiredArg},
	{Long: "gpus-per-task", Arg: RequiredArg},
	{Long: "gres", Arg: RequiredArg},
	{Long: "gres-flags", Arg: RequiredArg, Key: "ignore"},
	{Long: "help", Short: 'h', Arg: NoArg},
	{Long: "hint", Arg: RequiredArg, Key: "ignore"},
	{Long: "hold", Short: 'H', Arg: NoArg},
	{Long: "job-name", Short: 'J', Arg: RequiredArg},
	{Long: "licenses", Short: 'L', Arg: RequiredArg},
	{Long: "mail-type", Arg: RequiredArg, Key: "ignore"},
	{Long: "mail-user", Arg: RequiredArg, Key: "ignore"},
	{Long: "mcs-label", Arg: RequiredArg, Key: "ignore"},
	{Long: "mem", Arg: RequiredArg},
	{Long: "mem-bind", Arg: RequiredArg, Key: "ignore"},
	{Long: "mem-per-cpu", Arg: RequiredArg},
	{Long: "mem-per-gpu", Arg: RequiredArg},
	{Long: "mincpus", Arg: RequiredArg},
	{Long: "network", Arg: RequiredArg, Key: "ignore"},
	{Long: "nice", Arg: OptionalArg},
	{Long: "no-kill", Short: 'k', Arg: OptionalArg, Key: "ignore"},
	{Long: "nodefile", Short: 'F', Arg: RequiredArg, Key: "ignore"},
	{Long: "nodelist", Short: 'w', Arg: RequiredArg},
	{Long: "nodes", Short: 'N', Arg: RequiredArg},
	{Long: "ntasks", Short: 'n', Arg: RequiredArg},
	{Long: "ntasks-per-core", Arg: RequiredArg, Key: "ignore"},
	{Long: "ntasks-per-gpu", Arg: RequiredArg, Key: "ignore"},
	{Long: "ntasks-per-node", Arg: RequiredArg},
	{Long: "ntasks-per-socket", Arg: RequiredArg, Key: "ignore"},
	{Long: "open-mode", Arg: RequiredArg},
	{Long: "output", Short: 'o', Arg: RequiredArg},
	{Long: "overcommit", Short: 'O', Arg: NoArg},
	{Long: "oversubscribe", Short: 's', Arg: NoArg, Key: "ignore"},
	{Long: "partition", Short: 'p', Arg: RequiredArg},
	{Long: "power", Arg: RequiredArg, Key: "ignore"},
	{Long: "prefer", Arg: RequiredArg, Key: "ignore"},
	{Long: "priority", Arg: RequiredArg},
	{Long: "profile", Arg: RequiredArg, Key: "ignore"},
	{Long: "propagate", Arg: OptionalArg, Key: "ignore"},
	{Long: "qos", Short: 'q', Arg: RequiredArg},
	{Long: "quiet", Short: 'Q', Arg: NoArg},
	{Long: "reboot", Arg: NoArg, Key: "ignore"},
	{Long: "reservation", Arg: RequiredArg, Key: "ignore"},
	{Long: "signal", Arg: RequiredArg},
	{Long: "sockets-per-node", Arg: RequiredArg, Key: "ignore"},
	{Long: "spread-job", Arg: NoArg, Key: "ignore"},
	{Long: "switches", Arg: RequiredArg, Key: "ignore"},
	{Long: "test-only", Arg: NoArg},
	{Long: "thread-spec", Arg: RequiredArg, Key: "ignore"},
	{Long: "threads-per-core", Arg: RequiredArg, Key: "ignore"},
	{Long: "time", Short: 't', Arg: RequiredArg},
	{Long: "time-min", Arg: RequiredArg, Key: "ignore"},
	{Long: "tmp", Arg: RequiredArg},
	{Long: "uid", Arg: RequiredArg},
	{Long: "usage", Arg: NoArg},
	{Long: "use-min-nodes", Arg: NoArg, Key: "ignore"},
	{Long: "verbose", Short: 'v', Arg: NoArg},
	{Long: "version", Short: 'V', Arg: NoArg},
	{Long: "wckey", Arg: RequiredArg, Key: "ignore"},
}

// Options only sbatch has.
var sbatchOnlyOptions = []Option{
	{Long: "array", Short: 'a', Arg: RequiredArg},
	{Long: "batch", Arg: RequiredArg, Key: "ignore"},
	{Long: "export-file", Arg: RequiredArg, Key: "ignore"},
	{Long: "get-user-env", Arg: OptionalArg},
	{Long: "ignore-pbs", Arg: NoArg, Key: "ignore"},
	{Long: "input", Short: 'i', Arg: RequiredArg},
	{Long: "kill-on-invalid-dep", Arg: RequiredArg},
	{Long: "no-requeue", Arg: NoArg},
	{Long: "parsable", Arg: NoArg},
	{Long: "requeue", Arg: NoArg},
	{Long: "wait", Short: 'W', Arg: NoArg},
	{Long: "wait-all-nodes", Arg: RequiredArg, Key: "ignore"},
	{Long: "wrap", Arg: RequiredArg},
}

// sbatchGetopt parses sbatch's command line: options end at the script.
var sbatchGetopt = &Getopt{Prog: "sbatch", Options: jobOptions, Own: sbatchOnlyOptions, InOrder: true}

// Levels an option can be set at; a higher level overrides a lower one.
const (
	levelScript = 1 // #SBATCH
	levelEnv    = 2 // SBATCH_* input variables
	levelCLI    = 3 // the command line
)

// jobOpts is what sbatch's (or srun's) options ask for, before it becomes
// a request.
type jobOpts struct {
	prog string // sbatch or srun, for messages

	name          string
	partition     string
	ntasks        int
	cpusPerTask   int
	ntasksPerNode int
	nodes         string // as given, checked when the request is built
	mincpus       int
	cpusPerGPU    int

	// memory: the three ways to say it, and the level each was set at
	mem, memPerCPU, memPerGPU                int64
	tmp                                      int64 // --tmp, MiB: the size of the job's private /tmp
	memLevel, memPerCPULevel, memPerGPULevel int

	gpus, gpusPerNode, gpusPerTask int
	// the GPU type each of those asked for ("" any); --gres may ask for
	// several, gresTypes (then gpusPerNode is its total)
	gpusType, gpusPerNodeType, gpusPerTaskType string
	gresTypes                                  api.GPUCounts

	timeLimit int64     // seconds; 0 = none
	warn      *warnSpec // --signal
	output    string
	input     string
	// killInvalidDep: a dependency that can never be met fails the job
	// (--kill-on-invalid-dep=yes); by default it stays PENDING, as 22.05.
	killInvalidDep bool
	errPath        string
	chdir          string
	array          string
	dependency     string
	hold           bool
	export         string
	exportSet      bool
	begin          string
	deadline       string
	noRequeue      bool
	priority       int64
	prioritySet    bool
	nice           int64
	account        string
	qos            string
	comment        string
	licenses       []api.LicenseUse // -L/--licenses
	openMode       string
	testOnly       bool
	parsable       bool
	wait           bool
	wrap           string
	wrapSet        bool
	quiet          bool
	verbose        int

	help, usage, version bool

	// ignored names the options shoal accepts but does not act on, for -v.
	ignored []string
	// defined holds the options given, for -v's "defined options".
	defined map[string]string
	// overcommit (-O): the job asks for one CPU per task's worth of
	// --cpus-per-task, however many tasks it runs.
	overcommit bool
	// exclusive (--exclusive without a value): the job asks for every CPU
	// of a node, and runs one task per --cpus-per-task of them unless -n
	// says otherwise; nodelist (-w) names the node whose size that is.
	exclusive bool
	nodelist  string
}

// intOpt reads a positive count as Slurm's parse_int does.
func (o *jobOpts) intOpt(opt Opt) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(opt.Value))
	if err != nil || n <= 0 {
		return 0, errorf(1, "Invalid numeric value \"%s\" for %s.", opt.Value, longName(opt))
	}
	return n, nil
}

// longName is how Slurm names an option in its messages: --long.
func longName(opt Opt) string {
	if strings.HasPrefix(opt.Name, "--") {
		return opt.Name
	}
	for _, g := range []*Getopt{sbatchGetopt, srunGetopt} {
		for o := range g.all() {
			if "-"+string(o.Short) == opt.Name && o.Long != "" {
				return "--" + o.Long
			}
		}
	}
	return opt.Name
}

// apply sets one option, given at level (levelScript, levelEnv, levelCLI).
func (o *jobOpts) apply(opt Opt, level int) error {
	var err error
	v := opt.Value
	o.define(opt)
	switch opt.Key {
	case "ignore":
		o.ignored = append(o.ignored, longName(opt))
	case "overcommit":
		o.overcommit = true
	case "exclusive":
		// --exclusive=user|mcs share a node with the user's own jobs:
		// nothing more than shoal's default.
		o.exclusive = !opt.HasValue
	case "nodelist":
		o.nodelist = v
	case "account":
		o.account = v
	case "begin":
		o.begin = v
	case "deadline":
		o.deadline = v
	case "chdir":
		o.chdir = v
	case "comment":
		o.comment = v
	case "licenses":
		o.licenses, err = parseLicenseOpt(v)
	case "cpus-per-gpu":
		o.cpusPerGPU, err = o.intOpt(opt)
	case "cpus-per-task":
		o.cpusPerTask, err = o.intOpt(opt)
	case "dependency":
		o.dependency = v
	case "error":
		o.errPath = v
	case "export":
		for _, tok := range splitQuoted(v, ',') {
			if k, _, ok := strings.Cut(tok, "="); ok && k == "" {
				return errorf(1, "Invalid --export item %q: a variable needs a name, as in NAME=VALUE", tok)
			}
		}
		o.export, o.exportSet = v, true
	case "gid":
		return errorf(1, "--gid is not supported: shoal runs a job as the user whose connection submits it")
	case "uid":
		return errorf(1, "--uid is not supported: shoal runs a job as the user whose connection submits it")
	case "gpus":
		o.gpus, o.gpusType, err = gpuCount(opt)
	case "gpus-per-node":
		o.gpusPerNode, o.gpusPerNodeType, err = gpuCount(opt)
		o.gresTypes = ""
	case "gpus-per-socket":
		o.gpusPerNode, o.gpusPerNodeType, err = gpuCount(opt) // one node, treated as one socket's worth
		o.gresTypes = ""
	case "gpus-per-task":
		o.gpusPerTask, o.gpusPerTaskType, err = gpuCount(opt)
	case "gres":
		var n int
		var typed api.GPUCounts
		n, typed, err = parseGres(v)
		if err == nil && n > 0 {
			o.gpusPerNode, o.gpusPerNodeType, o.gresTypes = n, "", typed
		}
	case "help":
		o.help = true
	case "usage":
		o.usage = true
	case "version":
		o.version = true
	case "hold":
		o.hold = true
	case "job-name":
		o.name = v
	case "mem":
		o.mem, err = memOpt(opt)
		o.memLevel = level
	case "tmp":
		o.tmp, err = memOpt(opt)
	case "mem-per-cpu":
		o.memPerCPU, err = memOpt(opt)
		o.memPerCPULevel = level
	case "mem-per-gpu":
		o.memPerGPU, err = memOpt(opt)
		o.memPerGPULevel = level
	case "mincpus":
		o.mincpus, err = o.intOpt(opt)
	case "nice":
		o.nice = 100 // Slurm's default adjustment
		if opt.HasValue {
			n, perr := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if perr != nil || n < -api.MaxNice || n > api.MaxNice {
				return errorf(255, "Invalid --nice value: %s", v)
			}
			o.nice = n
		}
	case "nodes":
		o.nodes = v
	case "ntasks":
		o.ntasks, err = o.intOpt(opt)
	case "ntasks-per-node":
		o.ntasksPerNode, err = o.intOpt(opt)
	case "open-mode":
		switch strings.ToLower(v) {
		case "append", "a", "truncate", "t":
			o.openMode = strings.ToLower(v[:1])
		default:
			return errorf(255, "Invalid --open-mode specification")
		}
	case "kill-on-invalid-dep":
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "yes":
			o.killInvalidDep = true
		case "no":
			o.killInvalidDep = false
		default:
			return errorf(255, "Invalid --kill-on-invalid-dep specification")
		}
	case "input":
		o.input = v
	case "output":
		o.output = v
	case "partition":
		o.partition = v
	case "priority":
		n, perr := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if perr != nil {
			return errorf(255, "Invalid --priority specification")
		}
		o.priority, o.prioritySet = n, true
	case "qos":
		o.qos = v
	case "quiet":
		o.quiet = true
	case "signal":
		w, ok := parseSignalSpec(v)
		if !ok {
			return errorf(255, "Invalid --signal specification")
		}
		o.warn = &w
	case "test-only":
		o.testOnly = true
	case "time":
		o.timeLimit, err = parseTimeLimit(v)
		if err != nil {
			return errorf(255, "Invalid --time specification")
		}
	case "verbose":
		o.verbose++
	case "verbose-level": // SBATCH_DEBUG
		n, perr := strconv.Atoi(strings.TrimSpace(v))
		if perr != nil || n < 0 {
			return errorf(1, "Invalid SBATCH_DEBUG value %q: give a number of -v", v)
		}
		o.verbose = n
	// sbatch only
	case "array":
		o.array = v
	case "no-requeue":
		o.noRequeue = true
	case "requeue":
		o.noRequeue = false
	case "parsable":
		o.parsable = true
	case "wait":
		o.wait = true
	case "wrap":
		o.wrap, o.wrapSet = v, true
	case "get-user-env":
		// Checked as Slurm does, then ignored: the job gets the
		// environment sbatch exports (--export), not one loaded from the
		// user's login shell on the node (README, Slurm differences).
		if opt.HasValue && !validGetUserEnv(v) {
			return errorf(255, "Invalid --get-user-env specification")
		}
		o.ignored = append(o.ignored, longName(opt))
	default:
		return fmt.Errorf("internal error: option %s (%s) has no handler", opt.Name, opt.Key)
	}
	return err
}

func memOpt(opt Opt) (int64, error) {
	n, err := ParseMemoryMiB(opt.Value)
	if err != nil {
		return 0, errorf(255, "Invalid %s specification", longName(opt))
	}
	return n, nil
}

func gpuCount(opt Opt) (int, string, error) {
	n, typ, err := parseGPUSpec(opt.Value)
	if err != nil {
		return 0, "", errorf(1, "Invalid %s specification: %s (want [type:]count, e.g. 2 or a100:2)", longName(opt), opt.Value)
	}
	return n, typ, nil
}

// gpuRequest is how many GPUs the options ask for, the most of --gpus,
// --gpus-per-node (or --gres) and --gpus-per-task times the tasks, and of
// which types: those of the option that asks for the most.
func (o *jobOpts) gpuRequest(ntasks int) (int, api.GPUCounts) {
	best, typed := 0, api.GPUCounts("")
	one := func(t string, n int) api.GPUCounts {
		if t == "" {
			return ""
		}
		return api.MakeGPUCounts(map[string]int{t: n})
	}
	for _, c := range []struct {
		n     int
		typed api.GPUCounts
	}{
		{o.gpus, one(o.gpusType, o.gpus)},
		{o.gpusPerNode, o.gresTypes.Add(one(o.gpusPerNodeType, o.gpusPerNode))},
		{o.gpusPerTask * ntasks, one(o.gpusPerTaskType, o.gpusPerTask*ntasks)},
	} {
		if c.n > best {
			best, typed = c.n, c.typed
		}
	}
	return best, typed
}

// sbatchEnvOptions are the SBATCH_* input variables shoal reads, with the
// option each stands for. They override #SBATCH lines; the command line
// overrides them.
var sbatchEnvOptions = []struct{ Env, Key, Name string }{
	{"SBATCH_ACCOUNT", "account", "--account"},
	{"SBATCH_ARRAY_INX", "array", "--array"},
	{"SBATCH_DEBUG", "verbose-level", "--verbose"},
	{"SBATCH_EXPORT", "export", "--export"},
	{"SBATCH_GET_USER_ENV", "get-user-env", "--get-user-env"},
	{"SBATCH_JOB_NAME", "job-name", "--job-name"},
	{"SBATCH_PARTITION", "partition", "--partition"},
	{"SBATCH_QOS", "qos", "--qos"},
	{"SBATCH_TIMELIMIT", "time", "--time"},
	{"SBATCH_WAIT", "wait", "--wait"},
	{"SBATCH_REQUEUE", "requeue", "--requeue"},
	{"SBATCH_SIGNAL", "signal", "--signal"},
	{"SBATCH_NO_REQUEUE", "no-requeue", "--no-requeue"},
}

// envOpts returns the options the environment's SBATCH_* variables set.
func envOpts(c *Ctx) []Opt {
	var opts []Opt
	for _, e := range sbatchEnvOptions {
		v, ok := c.LookupEnv(e.Env)
		if !ok {
			continue
		}
		opts = append(opts, Opt{Key: e.Key, Name: e.Name, Value: v, HasValue: true})
	}
	return opts
}
