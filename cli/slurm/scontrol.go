package slurm

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/shoal-batch/shoal/api"
)

var scontrolGetopt = &Getopt{Prog: "scontrol", Options: []Option{
	{Long: "all", Short: 'a', Arg: NoArg, Key: "ignore"},
	{Long: "details", Short: 'd', Arg: NoArg},
	{Long: "help", Short: 'h', Arg: NoArg},
	{Long: "hide", Arg: NoArg, Key: "ignore"},
	{Long: "json", Arg: NoArg},
	{Long: "local", Arg: NoArg, Key: "ignore"},
	{Long: "cluster", Arg: RequiredArg, Key: "ignore"},
	{Long: "clusters", Short: 'M', Arg: RequiredArg, Key: "ignore"},
	{Long: "oneliner", Short: 'o', Arg: NoArg},
	{Long: "quiet", Short: 'Q', Arg: NoArg},
	{Long: "sibling", Arg: NoArg, Key: "ignore"},
	{Long: "uid", Short: 'u', Arg: RequiredArg, Key: "ignore"},
	{Long: "usage", Arg: NoArg},
	{Long: "verbose", Short: 'v', Arg: NoArg},
	{Long: "version", Short: 'V', Arg: NoArg},
	{Long: "yaml", Arg: NoArg, Key: "json"},
}}

// scontrolRun is one scontrol invocation: its options and context.
type scontrolRun struct {
	c        *Ctx
	ctx      context.Context
	details  int
	oneliner bool
	json     bool
	verbose  int  // -v: show prints when the data was read and how many records
	quiet    bool // -Q: no such line
	// taskNames are the array tasks the job operands named, as Slurm
	// writes them in messages ("12_4"); other jobs go by their ids.
	taskNames map[uint64]string
}

// jobFailed says why job id was not changed as Slurm's scontrol does: a
// task an array operand named in the words of the array's answer
// ("12_4: Job is no longer pending execution"), another job as "... for
// job 12" (then true: Slurm's scontrol goes on to report the call).
func (r *scontrolRun) jobFailed(id uint64, msg string) bool {
	if name, ok := r.taskNames[id]; ok {
		fmt.Fprintf(r.c.Stderr, "%s: %s\n", name, msg)
		return false
	}
	fmt.Fprintf(r.c.Stderr, "%s for job %d\n", msg, id)
	return true
}

// Scontrol is scontrol: show job/node/partition/config, ping, version,
// hold/release/requeue and update of jobs and nodes.
func Scontrol(c *Ctx, args []string) int {
	opts, operands, err := scontrolGetopt.Parse(args)
	if err != nil {
		fmt.Fprintf(c.Stderr, "scontrol: %v\nTry \"scontrol --help\" for more information\n", err)
		return 1
	}
	r := &scontrolRun{c: c, ctx: context.Background()}
	for _, opt := range opts {
		switch opt.Key {
		case "details":
			r.details++
		case "help":
			fmt.Fprint(c.Stdout, scontrolHelp)
			return 0
		case "usage":
			fmt.Fprint(c.Stdout, scontrolHelp)
			return 0
		case "json":
			r.json = true
		case "oneliner":
			r.oneliner = true
		case "verbose":
			r.verbose++
		case "quiet":
			r.quiet = true
		case "version":
			fmt.Fprintln(c.Stdout, VersionLine)
			return 0
		}
	}
	if len(operands) == 0 {
		return r.interactive()
	}
	return r.command(operands)
}

// interactive reads commands from stdin, as scontrol does without any.
func (r *scontrolRun) interactive() int {
	rc := 0
	in := bufio.NewScanner(r.c.Stdin)
	var last []string
	for {
		fmt.Fprint(r.c.Stdout, "scontrol: ")
		if !in.Scan() {
			fmt.Fprintln(r.c.Stdout)
			return rc
		}
		words := strings.Fields(in.Text())
		if len(words) == 0 {
			continue
		}
		switch strings.ToLower(words[0]) {
		case "quit", "exit":
			return rc
		case "!!": // the last command again
			if last == nil {
				fmt.Fprintln(r.c.Stderr, "no last command")
				rc = 1
				continue
			}
			words = last
		}
		last = words
		rc = r.command(words)
	}
}

// command runs one scontrol command ("show job 5", "ping", ...).
func (r *scontrolRun) command(words []string) int {
	kw := strings.ToLower(words[0])
	args := words[1:]
	switch {
	case kw == "show" || kw == "list":
		return r.show(args)
	case kw == "ping":
		return r.ping()
	case kw == "version":
		fmt.Fprintln(r.c.Stdout, VersionLine)
		return 0
	case kw == "hold" || kw == "uhold" || kw == "holdu":
		return r.hold(kw, args, true)
	case kw == "release":
		return r.hold(kw, args, false)
	case kw == "requeue" || kw == "requeuehold":
		return r.requeue(kw, args)
	case kw == "update":
		return r.update(args)
	case kw == "help":
		fmt.Fprint(r.c.Stdout, scontrolHelp)
		return 0
	case kw == "reconfigure":
		return 0
	case kw == "create" && len(args) > 0 && isPartitionKey(strings.SplitN(args[0], "=", 2)[0]):
		return r.createPartition(args)
	case kw == "delete":
		return r.deleteEntity(args)
	case kw == "top":
		return r.topJobs(args)
	case kw == "write":
		return r.write(args)
	case kw == "suspend" || kw == "resume" || kw == "create" || kw == "reboot" ||
		kw == "notify" || kw == "listpids" || kw == "takeover" || kw == "shutdown" || kw == "abort":
		fmt.Fprintf(r.c.Stderr, "scontrol: error: shoal does not support %q\n", kw)
		return 1
	}
	fmt.Fprintf(r.c.Stderr, "invalid keyword: %s\n", words[0])
	return 1
}

// show prints an entity: job/jobid, node, partition, config, version.
func (r *scontrolRun) show(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(r.c.Stderr, "too few arguments for keyword:show")
		return 1
	}
	entity := strings.ToLower(args[0])
	name := ""
	if len(args) > 1 {
		name = args[1]
	} else if k, v, ok := strings.Cut(args[0], "="); ok {
		// scontrol show partitionname=NAME (jobid=, nodename=): the
		// entity and its name in one word.
		entity, name = strings.ToLower(k), v
	}
	switch {
	case entity == "job" || entity == "jobs" || entity == "jobid":
		return r.showJob(name)
	case strings.HasPrefix("nodes", entity) && len(entity) >= 2 || entity == "node" || entity == "nodename":
		return r.showNode(name)
	case strings.HasPrefix("partitions", entity) && len(entity) >= 2 || entity == "partitionname":
		return r.showPartition(name)
	case strings.HasPrefix("config", entity) && len(entity) >= 2:
		return r.showConfig()
	case entity == "version":
		fmt.Fprintln(r.c.Stdout, VersionLine)
		return 0
	case entity == "reservation" || entity == "reservations" || entity == "res":
		fmt.Fprintln(r.c.Stdout, "No reservations in the system")
		return 0
	case entity == "step" || entity == "steps":
		return r.showStep(name)
	case entity == "daemons":
		return r.showDaemons()
	case entity == "licenses" || entity == "license" || entity == "licensename":
		return showLicenses(r.ctx, r.c, name, r.oneliner)
	case entity == "hostnames" || entity == "hostlist":
		return r.showHostnames(args[1:], entity)
	}
	fmt.Fprintf(r.c.Stderr, "invalid entity:%s for keyword:show \n", args[0])
	return 1
}

// showHostnames expands (hostnames) or compresses (hostlist) node names.
func (r *scontrolRun) showHostnames(args []string, entity string) int {
	list := strings.Join(args, ",")
	if list == "" {
		list = r.c.Getenv("SLURM_JOB_NODELIST")
	}
	names, err := expandHosts(list)
	if err != nil {
		fmt.Fprintf(r.c.Stderr, "scontrol: error: %s\n", safeErr(err))
		return 1
	}
	if entity == "hostlist" {
		fmt.Fprintln(r.c.Stdout, compressHosts(names))
		return 0
	}
	for _, n := range names {
		fmt.Fprintln(r.c.Stdout, n)
	}
	return 0
}

// showDaemons names the Slurm daemons this host stands for: slurmctld
// when the controller is here (reached over a local unix socket, or this
// host leads), slurmd when this host is a node.
func (r *scontrolRun) showDaemons() int {
	var names []string
	addr := r.c.Getenv("SHOAL_ADDR")
	if addr == "" {
		addr = api.DefaultSocket
	}
	info, err := r.c.Client.Cluster(r.ctx)
	local := strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, "unix:")
	if err == nil && (local || controllerHost(info.Leader) == r.c.Hostname) {
		names = append(names, "slurmctld")
	}
	if nodes, err := r.c.Client.Nodes(r.ctx); err == nil {
		for _, n := range nodes {
			if n.Name == r.c.Hostname {
				names = append(names, "slurmd")
				break
			}
		}
	}
	fmt.Fprintln(r.c.Stdout, strings.Join(names, " "))
	return 0
}

// lastUpdate is the line scontrol -v prints above the records it shows.
func (r *scontrolRun) lastUpdate(records int) {
	if r.verbose > 0 && !r.quiet {
		fmt.Fprintf(r.c.Stdout, "last_update_time=%s, records=%d\n", stamp(r.c.Now(), "Unknown"), records)
	}
}

// ping reports the controllers: the raft leader as primary, the other
// members as backups.
func (r *scontrolRun) ping() int {
	info, err := r.c.Client.Cluster(r.ctx)
	if err != nil {
		host := r.c.Getenv("SHOAL_ADDR")
		if host == "" {
			host = api.DefaultSocket
		}
		fmt.Fprintf(r.c.Stdout, "Slurmctld(primary) at %s is DOWN\n", host)
		fmt.Fprint(r.c.Stdout, "*****************************************\n** RESTORE SLURMCTLD DAEMON TO SERVICE **\n*****************************************\n")
		return 1
	}
	leader := controllerHost(info.Leader)
	if leader == "" {
		leader = r.c.Hostname
	}
	fmt.Fprintf(r.c.Stdout, "Slurmctld(primary) at %s is UP\n", leader)
	for _, m := range info.Members {
		if h := controllerHost(m); h != "" && m != info.Leader {
			fmt.Fprintf(r.c.Stdout, "Slurmctld(backup) at %s is UP\n", h)
		}
	}
	return 0
}

// controllerHost is the name of a raft server "id (addr)": its id.
func controllerHost(s string) string {
	id, _, _ := strings.Cut(strings.TrimSpace(s), " (")
	return id
}

const scontrolHelp = `scontrol [<OPTION>] [<COMMAND>]
    Valid <OPTION> values are:
     -a or --all: equivalent to "all" command
     -d or --details: equivalent to "details" command
     -h or --help: equivalent to "help" command
     -o or --oneliner: equivalent to "oneliner" command
     -Q or --quiet: equivalent to "quiet" command
     -v or --verbose: equivalent to "verbose" command
     -V or --version: equivalent to "version" command

  <keyword> may be omitted from the execute line and scontrol will execute
  in interactive mode. It will process commands as entered until explicitly
  terminated. "!!" repeats the last command.

    Valid <COMMAND> values are:
     delete <ENTITY>=<ID>     delete a partition (PartitionName=) or a
                              node that runs nothing (NodeName=; root):
                              its name may then join anew.
     hold <job_list>          prevent specified job from starting.
     notify <job_id> msg      send message to specified job (shoal: not
                              supported).
     ping                     print status of slurmctld daemons.
     reconfigure              re-read configuration files (shoal: nothing
                              to re-read; accepted).
     release <job_list>       permit specified job to start (see hold).
     requeue <job_id>         re-queue a batch job.
     show <ENTITY> [<ID>]     display state of identified entity, default
                              is all records (job, node, partition, config,
                              daemons, hostnames, hostlist).
     uhold <job_list>         place user hold on specified job (see hold).
     update <SPECIFICATIONS>  update job or node configuration
                              (JobId=, TimeLimit=, Partition=, Name=, Nice=,
                              Priority=; NodeName=, State=, Reason=).
     version                  display tool version number.
`
