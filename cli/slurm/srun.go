package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/cli/internal/termsafe"
	"github.com/shoal-batch/shoal/internal/pattern"
)

// Options only srun has.
var srunOnlyOptions = []Option{
	{Long: "accel-bind", Arg: RequiredArg, Key: "ignore"},
	{Long: "bcast", Arg: OptionalArg, Key: "ignore"},
	{Long: "bcast-exclude", Arg: RequiredArg, Key: "ignore"},
	{Long: "compress", Arg: OptionalArg, Key: "ignore"},
	{Long: "cpu-bind", Arg: RequiredArg, Key: "ignore"},
	{Long: "disable-status", Short: 'X', Arg: NoArg, Key: "ignore"},
	{Long: "epilog", Arg: RequiredArg, Key: "ignore"},
	{Long: "exact", Arg: NoArg, Key: "ignore"},
	{Long: "het-group", Arg: RequiredArg, Key: "ignore"},
	{Long: "immediate", Short: 'I', Arg: OptionalArg, Key: "ignore"},
	{Long: "input", Short: 'i', Arg: RequiredArg, Key: "srun-input"},
	{Long: "jobid", Arg: RequiredArg, Key: "srun-jobid"},
	{Long: "kill-on-bad-exit", Short: 'K', Arg: OptionalArg, Key: "srun-kill-on-bad-exit"},
	{Long: "label", Short: 'l', Arg: NoArg, Key: "srun-label"},
	{Long: "mpi", Arg: RequiredArg, Key: "ignore"},
	{Long: "msg-timeout", Arg: RequiredArg, Key: "ignore"},
	{Long: "multi-prog", Arg: NoArg, Key: "srun-multi-prog"},
	{Long: "no-allocate", Short: 'Z', Arg: NoArg, Key: "ignore"},
	{Long: "overlap", Arg: NoArg, Key: "ignore"},
	{Long: "preserve-env", Short: 'E', Arg: NoArg, Key: "ignore"},
	{Long: "prolog", Arg: RequiredArg, Key: "ignore"},
	{Long: "pty", Arg: NoArg, Key: "ignore"},
	{Long: "quit-on-interrupt", Arg: NoArg, Key: "ignore"},
	{Long: "relative", Short: 'r', Arg: RequiredArg, Key: "ignore"},
	{Long: "resv-ports", Arg: OptionalArg, Key: "ignore"},
	{Long: "send-libs", Arg: OptionalArg, Key: "ignore"},
	{Long: "slurmd-debug", Arg: RequiredArg, Key: "ignore"},
	{Long: "task-epilog", Arg: RequiredArg, Key: "ignore"},
	{Long: "task-prolog", Arg: RequiredArg, Key: "ignore"},
	{Long: "threads", Short: 'T', Arg: RequiredArg, Key: "ignore"},
	{Long: "unbuffered", Short: 'u', Arg: NoArg, Key: "ignore"},
	{Long: "wait", Short: 'W', Arg: RequiredArg, Key: "ignore"},
	{Long: "x11", Arg: OptionalArg, Key: "ignore"},
}

// srunEnvOptions are the input variables srun reads for its standard
// streams, Slurm's older SLURM_STD*MODE and the SRUN_* names; the command
// line overrides them.
var srunEnvOptions = []struct{ Env, Key, Name string }{
	{"SLURM_STDINMODE", "srun-input", "--input"},
	{"SRUN_INPUT", "srun-input", "--input"},
	{"SLURM_STDOUTMODE", "output", "--output"},
	{"SRUN_OUTPUT", "output", "--output"},
	{"SLURM_STDERRMODE", "error", "--error"},
	{"SRUN_ERROR", "error", "--error"},
}

// srunGetopt parses srun's command line: options end at the command.
var srunGetopt = &Getopt{Prog: "srun", Options: jobOptions, Own: srunOnlyOptions, InOrder: true}

// srunOpts are the options only srun acts on.
type srunOpts struct {
	label         bool
	input         string
	jobID         string
	killOnBadExit bool
}

// Srun is srun. Inside a job (SLURM_JOB_ID set) it runs the command as a
// job step in place: one process per task, on this node, with the step's
// Slurm variables, its output patterns and labels. Outside a job it
// submits the command as a job, waits for it, prints its output and exits
// with its exit status.
func Srun(c *Ctx, args []string) int {
	opts, argv, err := srunGetopt.Parse(args)
	if err != nil {
		return report(c, "srun", err)
	}
	o, s := &jobOpts{prog: "srun"}, &srunOpts{}
	var fromEnv []Opt
	for _, e := range srunEnvOptions {
		if v, ok := c.LookupEnv(e.Env); ok {
			fromEnv = append(fromEnv, Opt{Key: e.Key, Name: e.Name, Value: v, HasValue: true})
		}
	}
	for _, opt := range append(fromEnv, opts...) {
		switch opt.Key {
		case "srun-input":
			s.input = opt.Value
		case "srun-jobid":
			s.jobID = opt.Value
		case "srun-kill-on-bad-exit":
			s.killOnBadExit = !opt.HasValue || opt.Value != "0"
		case "srun-label":
			s.label = true
		case "srun-multi-prog":
			return report(c, "srun", errorf(1, "--multi-prog is not supported by shoal: run one program, and read SLURM_PROCID to tell the tasks apart"))
		default:
			err = o.apply(opt, levelCLI)
		}
		if err != nil {
			return report(c, "srun", err)
		}
	}
	switch {
	case o.help:
		io.WriteString(c.Stdout, srunHelp)
		return 0
	case o.usage:
		io.WriteString(c.Stdout, srunHelp)
		return 0
	case o.version:
		fmt.Fprintln(c.Stdout, VersionLine)
		return 0
	case len(argv) == 0:
		return report(c, "srun", &exitError{RC: 1, Fatal: true, Lines: []string{"No command given to execute."}})
	}
	o.dumpOptions(c.Stderr)
	job := c.Getenv("SLURM_JOB_ID")
	if s.jobID != "" && s.jobID != job {
		return report(c, "srun", errorf(1, "--jobid=%s: shoal starts a step only inside its own job (from the job's script)", s.jobID))
	}
	if job != "" {
		return runStep(c, o, s, argv)
	}
	return srunSubmit(c, o, s, argv)
}

// stepTaskCount is how many tasks a step runs: -n, else --ntasks-per-node,
// else the job's SLURM_NTASKS (srun's input variable), else 1.
func stepTaskCount(c *Ctx, o *jobOpts) int {
	switch {
	case o.ntasks > 0:
		return o.ntasks
	case o.ntasksPerNode > 0:
		return o.ntasksPerNode
	}
	if n, err := strconv.Atoi(c.Getenv("SLURM_NTASKS")); err == nil && n > 0 {
		return n
	}
	return 1
}

// stepInfo is what a step's output patterns and variables are made of.
type stepInfo struct {
	jobID, stepID, node, name, user string
	arrayJob, arrayTask             string
}

// expand fills in an output pattern for task (pattern.Expand: Slurm's
// %j %J %s %t %n %N %A %a %x %u %%, with an optional zero-padding width).
func (si stepInfo) expand(p string, task int) string {
	return pattern.Expand(p, pattern.Fields{JobID: si.jobID, JobStep: si.jobID + "." + si.stepID, StepID: si.stepID,
		Task: strconv.Itoa(task), NodeIndex: "0", Node: si.node, ArrayJob: si.arrayJob, ArrayTask: si.arrayTask,
		Name: si.name, User: si.user})
}

// lockedWriter serializes writes from several tasks to one destination.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// labelWriter prefixes each line a task writes with its label ("0: "),
// writing whole lines only, as srun -l does.
type labelWriter struct {
	label string
	out   io.Writer
	buf   []byte
}

func (l *labelWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := append([]byte(l.label), l.buf[:i+1]...)
		l.buf = l.buf[i+1:]
		if _, err := l.out.Write(line); err != nil {
			return len(p), err
		}
	}
}

// flush writes a last line that has no newline.
func (l *labelWriter) flush() {
	if len(l.buf) > 0 {
		l.out.Write(append(append([]byte(l.label), l.buf...), '\n'))
		l.buf = nil
	}
}

// labelFor is task's -l label: its id right-aligned to the width of the
// largest id, then ": ".
func labelFor(task, ntasks int) string {
	return fmt.Sprintf("%*d: ", len(strconv.Itoa(max(ntasks-1, 0))), task)
}

// runStep runs argv as a job step inside the current job.
func runStep(c *Ctx, o *jobOpts, s *srunOpts, argv []string) int {
	if err := o.checkNodes(); err != nil {
		return report(c, "srun", err)
	}
	ntasks := stepTaskCount(c, o)
	cwd, err := c.Getwd()
	if err != nil {
		return report(c, "srun", errorf(1, "Unable to find the current directory: %v (give --chdir)", err))
	}
	dir := cwd
	if o.chdir != "" {
		dir = o.chdir
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(cwd, dir)
		}
	}
	si := stepInfo{
		jobID: c.Getenv("SLURM_JOB_ID"), stepID: "0", node: c.Getenv("SLURMD_NODENAME"),
		name: c.Getenv("SLURM_JOB_NAME"), user: c.Getenv("SLURM_JOB_USER"),
		arrayJob: c.Getenv("SLURM_ARRAY_JOB_ID"), arrayTask: c.Getenv("SLURM_ARRAY_TASK_ID"),
	}
	if si.node == "" {
		si.node = c.Hostname
	}
	if si.user == "" {
		si.user = c.userName()
	}
	if si.arrayJob == "" {
		si.arrayJob, si.arrayTask = si.jobID, "4294967294"
	}
	// --export, else the job's SLURM_EXPORT_ENV (what sbatch --export
	// said, as srun reads it), else the whole environment.
	base := c.Env
	if spec, ok := c.LookupEnv("SLURM_EXPORT_ENV"); ok && !o.exportSet {
		o.export, o.exportSet = spec, true
	}
	if o.exportSet {
		base = envList(exportEnv(o.export, c.Env))
	}
	nodelist := c.Getenv("SLURM_JOB_NODELIST")
	if nodelist == "" {
		nodelist = si.node
	}
	stepEnv := func(task int) []string {
		env := append([]string(nil), base...)
		add := func(k, v string) { env = append(env, k+"="+v) }
		n := strconv.Itoa(ntasks)
		add("SLURM_STEP_ID", si.stepID)
		add("SLURM_STEPID", si.stepID)
		add("SLURM_PROCID", strconv.Itoa(task))
		add("SLURM_LOCALID", strconv.Itoa(task))
		add("SLURM_NODEID", "0")
		add("SLURM_NTASKS", n)
		add("SLURM_NPROCS", n)
		add("SLURM_STEP_NUM_TASKS", n)
		add("SLURM_STEP_NUM_NODES", "1")
		add("SLURM_STEP_NODELIST", nodelist)
		add("SLURM_STEP_TASKS_PER_NODE", n)
		if o.cpusPerTask > 0 {
			add("SLURM_CPUS_PER_TASK", strconv.Itoa(o.cpusPerTask))
		}
		return env
	}

	openMode := o.openMode
	if openMode == "" {
		openMode = c.Getenv("SLURM_OPEN_MODE")
	}
	files := map[string]*lockedWriter{}
	var opened []*os.File
	defer func() {
		for _, f := range opened {
			f.Close()
		}
	}()
	open := func(pattern string, task int) (io.Writer, error) {
		path := si.expand(pattern, task)
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		if w, ok := files[path]; ok {
			return w, nil
		}
		flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
		if openMode == "a" || openMode == "append" {
			flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
		}
		f, err := os.OpenFile(path, flags, 0o644)
		if err != nil {
			return nil, errorf(1, "Could not open output file %s: %v", path, err)
		}
		opened = append(opened, f)
		files[path] = &lockedWriter{w: f}
		return files[path], nil
	}
	sharedOut, sharedErr := &lockedWriter{w: c.Stdout}, &lockedWriter{w: c.Stderr}
	errPattern := o.errPath
	if errPattern == "" {
		errPattern = o.output
	}
	var labels []*labelWriter
	dest := func(pattern string, shared *lockedWriter, direct io.Writer, task int) (io.Writer, error) {
		var w io.Writer = shared
		if pattern != "" {
			var err error
			if w, err = open(pattern, task); err != nil {
				return nil, err
			}
		} else if ntasks == 1 && !s.label {
			w = direct // a single task writes straight through
		}
		if s.label {
			lw := &labelWriter{label: labelFor(task, ntasks), out: w}
			labels = append(labels, lw)
			return lw, nil
		}
		return w, nil
	}

	cpus := ntasks * max(o.cpusPerTask, 1)
	if o.overcommit {
		cpus = max(o.cpusPerTask, 1)
	}
	// The step is recorded with the controller (squeue --steps, scontrol
	// show step, sacct, scancel JOB.STEP) before its tasks start, and its
	// end once they have all ended.
	jobID, _ := strconv.ParseUint(si.jobID, 10, 64)
	stepName := o.name
	if stepName == "" {
		stepName = filepath.Base(argv[0])
	}
	stepID, endStep, err := registerStep(c, jobID, api.StepStartRequest{Name: stepName, NTasks: ntasks, CPUs: cpus,
		MemMB: o.mem, SrunHost: c.Hostname, SrunPID: os.Getpid()})
	if err != nil {
		return report(c, "srun", errorf(1, "Unable to create step for job %s: %s", si.jobID, safeErr(err)))
	}
	si.stepID = strconv.FormatUint(uint64(stepID), 10)
	if o.verbose > 0 {
		launchLines(c.Stderr, si.jobID, si.stepID, si.node, cpus, ntasks)
	}
	cmds := make([]*exec.Cmd, ntasks)
	for t := range ntasks {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir, cmd.Env = dir, stepEnv(t)
		if cmd.Stdout, err = dest(o.output, sharedOut, c.Stdout, t); err == nil {
			cmd.Stderr, err = dest(errPattern, sharedErr, c.Stderr, t)
		}
		if err == nil {
			cmd.Stdin, err = s.stdinFor(c, si, dir, t)
		}
		if err != nil {
			return report(c, "srun", err)
		}
		cmds[t] = cmd
	}

	// srun outlives the signals a job's processes are sent (scancel -s,
	// --signal, the end of the job) so as to report its tasks, and does
	// not pass them on: the node sends them to every process of the job
	// but its batch script, the tasks too, and Slurm delivers one signal
	// once (test 17.38).
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	var mu sync.Mutex
	started := make([]*os.Process, 0, ntasks)
	forward := func(sig os.Signal) {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range started {
			p.Signal(sig)
		}
	}

	type result struct {
		task int
		err  error
	}
	results := make(chan result, ntasks)
	for t, cmd := range cmds {
		mu.Lock()
		err := cmd.Start()
		if err == nil {
			started = append(started, cmd.Process)
		}
		mu.Unlock()
		if err != nil {
			fmt.Fprintf(c.Stderr, "srun: error: %s: task %d: Unable to start: %v\n", si.node, t, execError(err))
			results <- result{t, &exec.ExitError{}}
			continue
		}
		go func(t int, cmd *exec.Cmd) { results <- result{t, cmd.Wait()} }(t, cmd)
	}
	rc, stepCode, stepSig := 0, 0, 0
	for range ntasks {
		r := <-results
		status := taskStatus(c, si.node, r.task, r.err)
		if status != 0 && s.killOnBadExit {
			forward(syscall.SIGKILL)
		}
		rc = max(rc, status)
		code, sig := taskExit(r.err)
		stepCode, stepSig = max(stepCode, code), max(stepSig, sig)
	}
	endStep(stepCode, stepSig)
	for _, lw := range labels {
		lw.flush()
	}
	return rc
}

// execError shortens exec's "exec: "x": executable file not found in $PATH".
func execError(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return fmt.Errorf("%s: %v", ee.Name, ee.Err)
	}
	return err
}

// taskStatus reports a task's end as srun does and returns its status:
// the exit code, or 128+N for signal N.
func taskStatus(c *Ctx, node string, task int, err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		fmt.Fprintf(c.Stderr, "srun: error: %s: task %d: %s\n", node, task, safeErr(err))
		return 1
	}
	if ee.ProcessState == nil {
		return 2 // could not start; already reported
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		fmt.Fprintf(c.Stderr, "srun: error: %s: task %d: %s\n", node, task, signalText(int(ws.Signal())))
		return 128 + int(ws.Signal())
	}
	code := ee.ExitCode()
	fmt.Fprintf(c.Stderr, "srun: error: %s: task %d: Exited with exit code %d\n", node, task, code)
	return code
}

// taskExit is how a task ended: its exit code, or the signal that killed
// it (a task that could not start exits 2, as srun reports it).
func taskExit(err error) (code, sig int) {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, 0
	case !errors.As(err, &ee):
		return 1, 0
	case ee.ProcessState == nil:
		return 2, 0
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 0, int(ws.Signal())
	}
	return ee.ExitCode(), 0
}

// signalText is how srun names the signal that killed a task: "Killed",
// "Terminated", ...
func signalText(sig int) string {
	t := syscall.Signal(sig).String()
	if t == "" {
		return fmt.Sprintf("Signal %d", sig)
	}
	return strings.ToUpper(t[:1]) + t[1:]
}

// stdinFor is task t's standard input under --input: "all" (the default)
// or "0".."N" the caller's stdin for every or one task, "none" nothing, or
// a file pattern.
func (s *srunOpts) stdinFor(c *Ctx, si stepInfo, dir string, t int) (io.Reader, error) {
	switch in := s.input; {
	case in == "" || strings.EqualFold(in, "all"):
		if t == 0 {
			return c.Stdin, nil
		}
		return nil, nil
	case strings.EqualFold(in, "none"):
		return nil, nil
	default:
		if n, err := strconv.Atoi(in); err == nil {
			if n == t {
				return c.Stdin, nil
			}
			return nil, nil
		}
		path := si.expand(in, t)
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, errorf(1, "Could not open stdin file %s: %v", path, err)
		}
		return f, nil
	}
}

// envList turns an environment map into KEY=VALUE strings.
func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// srunScript is the batch script srun submits for a command outside a
// job: the command, or for several tasks one copy per task with its own
// SLURM_PROCID, each task that exits non-zero reported on the job's
// stderr as srun reports it ("srun: error: NODE: task T: Exited with exit
// code N"), the highest status winning. input, when not "", is a file
// every task reads as its standard input (--input=FILE).
func srunScript(argv []string, ntasks int, input string) string {
	cmd := quoteArgs(argv)
	redirect := ""
	if input != "" {
		redirect = " < " + quoteArgs([]string{input})
	}
	if ntasks <= 1 {
		return "#!/bin/sh\n# This script was created by srun.\n\nexec " + cmd + redirect + "\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\n# This script was created by srun: %d tasks.\n\n", ntasks)
	fmt.Fprintf(&b, "SLURM_NTASKS=%d SLURM_NPROCS=%d SLURM_STEP_ID=0 SLURM_STEPID=0\nexport SLURM_NTASKS SLURM_NPROCS SLURM_STEP_ID SLURM_STEPID\npids=\n", ntasks, ntasks)
	if input == "" {
		redirect = " < /dev/null" // only task 0 reads the caller's stdin, as srun --input=0
	}
	for t := range ntasks {
		r := redirect
		if t == 0 && input == "" {
			r = ""
		}
		fmt.Fprintf(&b, "SLURM_PROCID=%d SLURM_LOCALID=%d %s%s &\npids=\"$pids $!\"\n", t, t, cmd, r)
	}
	b.WriteString("rc=0 t=0\nfor p in $pids; do\n" +
		"  wait \"$p\"; s=$?\n" +
		"  if [ \"$s\" -gt 0 ] && [ \"$s\" -lt 128 ]; then echo \"srun: error: ${SLURMD_NODENAME:-$(hostname)}: task $t: Exited with exit code $s\" >&2; fi\n" +
		"  [ \"$s\" -gt \"$rc\" ] && rc=$s; t=$((t+1))\n" +
		"done\nexit \"$rc\"\n")
	return b.String()
}

// scriptInput is the file a submitted srun's tasks read (--input=FILE,
// relative to cwd), or "" for the caller's stdin (all, N) or none.
func (s *srunOpts) scriptInput(cwd string) (string, error) {
	in := s.input
	if in == "" || strings.EqualFold(in, "all") || strings.EqualFold(in, "none") {
		return "", nil
	}
	if _, err := strconv.Atoi(in); err == nil {
		return "", nil
	}
	if strings.Contains(in, "%") {
		return "", errorf(1, "--input=%s: shoal's srun outside a job reads one input file for every task; a %%-pattern needs a job step (srun inside sbatch)", in)
	}
	if !filepath.IsAbs(in) {
		in = filepath.Join(cwd, in)
	}
	return in, nil
}

// launchLines are srun -v's lines about its allocation and step:
//
//	srun: jobid 7: nodes(1):`node1', cpu counts: 1(x1)
//	srun: launching StepId=7.0 on host node1, 5 tasks: [0-4]
func launchLines(w io.Writer, job, step, node string, cpus, ntasks int) {
	tasks := "0"
	if ntasks > 1 {
		tasks = fmt.Sprintf("[0-%d]", ntasks-1)
	}
	fmt.Fprintf(w, "srun: jobid %s: nodes(1):`%s', cpu counts: %d(x1)\n", job, termsafe.String(node), max(cpus, 1))
	fmt.Fprintf(w, "srun: launching StepId=%s.%s on host %s, %d tasks: %s\n", job, step, termsafe.String(node), ntasks, tasks)
}

// testOnlyFailure reports why srun --test-only could not place the job
// as Slurm 22.05 does: "allocation failure: REASON" alone, rc 1.
func testOnlyFailure(c *Ctx, err error) int {
	reason := err.Error()
	var e *exitError
	if errors.As(err, &e) && len(e.Lines) > 0 {
		reason = e.Lines[len(e.Lines)-1]
	}
	reason = strings.TrimPrefix(reason, "Batch job submission failed: ")
	if reason == "Node count specification invalid" { // more nodes than a job gets
		reason = "Requested node configuration is not available"
	}
	fmt.Fprintf(c.Stderr, "allocation failure: %s\n", termsafe.String(reason))
	return 1
}

// srunSubmit runs argv as a job of its own: submit, wait, print its output,
// exit with its status. Ctrl-C (or TERM) terminates the job.
func srunSubmit(c *Ctx, o *jobOpts, s *srunOpts, argv []string) int {
	ctx := context.Background()
	cwd, err := c.Getwd()
	if err != nil {
		return report(c, "srun", errorf(1, "Unable to find the current directory: %v (give --chdir)", err))
	}
	req, err := o.request(ctx, c, cwd)
	if err != nil {
		if o.testOnly {
			return testOnlyFailure(c, err)
		}
		return report(c, "srun", allocFailure(err))
	}
	ntasks := max(o.ntasks, 1)
	switch {
	case o.ntasks == 0 && o.ntasksPerNode > 0:
		ntasks = o.ntasksPerNode
	case o.ntasks == 0 && o.exclusive:
		// One task per --cpus-per-task of the whole node it was given.
		ntasks = max(req.Resources.CPUs/max(o.cpusPerTask, 1), 1)
	}
	if req.Name == "" {
		req.Name = filepath.Base(argv[0])
	}
	input, err := s.scriptInput(cwd)
	if err != nil {
		return report(c, "srun", err)
	}
	req.Script = srunScript(argv, ntasks, input)
	if req.Stderr == "" {
		req.Stderr = req.Stdout
	}
	if tio := (taskIO{out: req.Stdout, err: req.Stderr, label: s.label, append: o.openMode == "a"}); needsTaskIO(tio, ntasks) {
		// The script writes the tasks' files (and labels) itself.
		req.Script = srunTaskScript(argv, ntasks, input, tio)
		if tio.out != "" {
			req.Stdout = "/dev/null"
		}
		if tio.err != "" {
			req.Stderr = "/dev/null"
		}
	}
	if ntasks <= 1 && req.LimitWarnSignal > 0 {
		// --signal goes to the tasks; a single task is the batch script
		// itself (the script execs it).
		req.LimitWarnBatch = true
	}
	resp, err := c.Client.Submit(ctx, req)
	if err != nil {
		if o.testOnly {
			return testOnlyFailure(c, submitFailure(err, invalidPartition(ctx, c, req.JobSpec)))
		}
		return report(c, "srun", allocFailure(submitFailure(err, invalidPartition(ctx, c, req.JobSpec))))
	}
	if o.testOnly {
		return testOnlyReport(ctx, c, "srun", req)
	}
	if o.verbose > 0 {
		// Slurm's srun -v names the allocation and the step it launches;
		// here they are known once the job has started.
		j, err := c.Client.WaitJob(ctx, resp.ID, api.StateRunning)
		if err == nil || j.State.Terminal() {
			launchLines(c.Stderr, strconv.FormatUint(resp.ID, 10), "0", j.Node, req.Resources.CPUs, ntasks)
		}
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sigs:
			fmt.Fprintf(c.Stderr, "srun: Job step aborted: terminating job %d\n", resp.ID)
			c.Client.Terminate(ctx, resp.ID, "Terminated by srun (interrupted)")
		case <-done:
		}
	}()
	j, err := c.Client.WaitJob(ctx, resp.ID)
	if err != nil {
		return report(c, "srun", errorf(1, "Unable to wait for job %d: %v", resp.ID, err))
	}
	if j.Node != "" {
		streams := []struct {
			name    string
			out     io.Writer
			ownFile bool
		}{{"stdout", c.Stdout, req.Stdout != ""}, {"stderr", c.Stderr, req.Stderr != ""}}
		for _, st := range streams {
			if st.ownFile {
				continue // the job wrote it where -o/-e said
			}
			data, err := c.Client.Logs(ctx, resp.ID, st.name)
			if api.IsCode(err, api.CodeNotFound) {
				continue // the job wrote nothing there
			}
			if err != nil {
				fmt.Fprintf(c.Stderr, "srun: error: Unable to read the %s of job %d: %s\n", st.name, resp.ID, safeErr(err))
				continue
			}
			if s.label && ntasks == 1 {
				lw := &labelWriter{label: labelFor(0, 1), out: st.out}
				lw.Write(data)
				lw.flush()
			} else {
				st.out.Write(data)
			}
		}
	}
	if ntasks > 1 && req.Stderr == "" && j.Node != "" && j.ExitSignal == 0 && (j.Cause == "" || j.Cause == api.CauseExitCode) {
		// The tasks' exits were reported on the job's stderr, printed above.
		if j.ExitCode != nil {
			return *j.ExitCode
		}
	}
	return jobEndStatus(c, &j)
}

// jobEndStatus reports how the job srun submitted ended, as srun reports a
// task's end, and returns srun's exit status.
func jobEndStatus(c *Ctx, j *api.Job) int {
	if j.State == api.StateSucceeded {
		return 0
	}
	node := j.Node
	switch {
	case node == "":
		fmt.Fprintf(c.Stderr, "srun: error: Job allocation %d has been revoked: %s\n", j.ID, termsafe.String(j.StatusReason))
		return 1
	case j.Cause == api.CauseTimeout:
		fmt.Fprintf(c.Stderr, "srun: error: *** JOB %d ON %s CANCELLED DUE TO TIME LIMIT ***\n", j.ID, node)
	case j.Cause == api.CauseOOM:
		fmt.Fprintf(c.Stderr, "srun: error: %s: task 0: Out Of Memory\n", node)
	case j.Cause == api.CauseCancelled || j.Cause == api.CauseTerminated:
		fmt.Fprintf(c.Stderr, "srun: error: *** JOB %d ON %s CANCELLED: %s ***\n", j.ID, termsafe.String(node), termsafe.String(j.StatusReason))
	case j.Cause == api.CauseStartFailed:
		fmt.Fprintf(c.Stderr, "srun: error: %s: task 0: Unable to start: %s\n", termsafe.String(node), termsafe.String(j.StatusReason))
		return 1
	}
	switch {
	case j.ExitSignal > 0:
		fmt.Fprintf(c.Stderr, "srun: error: %s: task 0: %s\n", node, signalText(j.ExitSignal))
		return 128 + j.ExitSignal
	case j.ExitCode != nil && *j.ExitCode != 0:
		fmt.Fprintf(c.Stderr, "srun: error: %s: task 0: Exited with exit code %d\n", node, *j.ExitCode)
		return *j.ExitCode
	}
	return 1
}

// allocFailure rewords sbatch's "Batch job submission failed: X" as srun's
// "Unable to allocate resources: X".
func allocFailure(err error) error {
	var e *exitError
	if !errors.As(err, &e) {
		return err
	}
	out := *e
	out.Lines = make([]string, len(e.Lines))
	for i, l := range e.Lines {
		if rest, ok := strings.CutPrefix(l, "Batch job submission failed: "); ok {
			l = "Unable to allocate resources: " + rest
		}
		out.Lines[i] = l
	}
	return &out
}

const srunHelp = `Usage: srun [OPTIONS(0)...] executable(0) [args(0)...]

shoal's srun. Inside a job (SLURM_JOB_ID set) it runs the command as a job
step on this node: -n N tasks with SLURM_PROCID 0..N-1, -o/-e patterns
(%j %J %s %t %n %N %A %a %x %u), -l labels. Outside a job it submits the
command as a job (sbatch's resource options apply), waits for it and prints
its output.

  -n, --ntasks=ntasks         number of tasks to run
  -c, --cpus-per-task=ncpus   number of cpus required per task
  -N, --nodes=N               number of nodes (shoal: 1)
  -o, --output=out            location of stdout redirection
  -e, --error=err             location of stderr redirection
  -i, --input=in              location of stdin redirection (all, none, N, file)
  -l, --label                 prepend task number to lines of stdout/err
  -D, --chdir=path            change remote current working directory
  -K, --kill-on-bad-exit      kill the job if any task terminates with a
                              non-zero exit code
  -J, --job-name=jobname      name of job
  -p, --partition=partition   partition requested
  -t, --time=minutes          time limit
      --mem=MB                minimum amount of real memory
      --export=env_vars|NONE  environment passed to the tasks
  -h, --help                  show this help message
  -V, --version               output version information and exit
`
