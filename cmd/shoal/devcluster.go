package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/shoal-batch/shoal/daemon"
)

// devClusterCommand starts a cluster of controllers and node daemons on
// this machine, each its own process, to try high availability: kill a
// controller, see another lead, start it again.
func devClusterCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "dev-cluster",
		Usage: "run a local cluster: N controllers (raft over mutual TLS) and M node daemons, each a process of its own, until interrupted",
		Flags: []ucli.Flag{
			&ucli.IntFlag{Name: "controllers", Value: 3, Usage: "how many controllers (1, 3 or 5)"},
			&ucli.IntFlag{Name: "nodes", Value: 2, Usage: "how many node daemons"},
			&ucli.StringFlag{Name: "dir", Value: "./shoal-cluster", Usage: "the cluster's directory: a data dir, a socket and a log per process (kept: start it again to restart the cluster with its state)"},
			&ucli.IntFlag{Name: "port-base", Value: 7300, Usage: "controller i serves its API on 127.0.0.1:PORT_BASE+i and raft on 127.0.0.1:PORT_BASE+100+i"},
			&ucli.IntFlag{Name: "node-cpus", Usage: "CPUs each node daemon offers (default: all the machine has)"},
		},
		Action: runDevCluster,
	}
}

// devSandboxRoot holds the dev cluster's nodes' sandbox roots.
const devSandboxRoot = "/run/shoal-dev-cluster"

type devProc struct {
	name string
	args []string
	log  string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
}

// stop ends the process with SIGTERM (SIGKILL after 30 s).
func (p *devProc) stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func runDevCluster(c *ucli.Context) error {
	nc, nn := c.Int("controllers"), c.Int("nodes")
	if nc != 1 && nc != 3 && nc != 5 {
		return fmt.Errorf("dev-cluster: -controllers %d: give 1, 3 or 5 (an odd number: a majority must survive a loss)", nc)
	}
	if nn < 0 {
		return fmt.Errorf("dev-cluster: -nodes %d: give 0 or more", nn)
	}
	dir, err := filepath.Abs(c.String("dir"))
	if err != nil {
		return fmt.Errorf("dev-cluster: -dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("dev-cluster: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("dev-cluster: find the shoal binary: %w", err)
	}
	base := c.Int("port-base")
	var procs []*devProc
	stopAll := func() {
		for i := len(procs) - 1; i >= 0; i-- { // nodes first, then controllers
			procs[i].stop()
		}
		os.Remove(devSandboxRoot) // the nodes removed their own; the parent if empty
	}
	// The controllers are started alike, as a real cluster's would be:
	// each is given all of them to -join and one server token, and they
	// form the cluster together (-bootstrap-expect). A restarted one has
	// state, and rejoins as it is.
	var sockets, allBinds []string
	for i := 1; i <= nc; i++ {
		allBinds = append(allBinds, "127.0.0.1:"+strconv.Itoa(base+i))
	}
	token, err := daemon.NewServerToken()
	if err != nil {
		return fmt.Errorf("dev-cluster: %w", err)
	}
	for i := 1; i <= nc; i++ {
		name := fmt.Sprintf("controller%d", i)
		sock := filepath.Join(dir, name+".sock")
		bind := allBinds[i-1]
		raft := "127.0.0.1:" + strconv.Itoa(base+100+i)
		args := []string{"agent", "-server", "-data-dir", filepath.Join(dir, name), "-socket", sock,
			"-bind", bind, "-raft-addr", raft}
		if nc > 1 {
			args = append(args, "-bootstrap-expect", strconv.Itoa(nc), "-join", strings.Join(allBinds, ","), "-server-token", token)
		}
		p := &devProc{name: name, args: args, log: filepath.Join(dir, name+".log")}
		procs = append(procs, p)
		if err := p.start(self, "controller serving"); err != nil {
			stopAll()
			return err
		}
		sockets = append(sockets, sock)
		fmt.Fprintf(c.App.Writer, "%s (pid %d): API %s and %s, raft %s, log %s\n", name, p.cmd.Process.Pid, sock, bind, raft, p.log)
	}
	addrs := strings.Join(sockets, ",")
	for i := 1; i <= nn; i++ {
		name := fmt.Sprintf("node%d", i)
		args := []string{"agent", "-node", "-controller", addrs, "-name", name, "-data-dir", filepath.Join(dir, name),
			"-sandbox-root", filepath.Join(devSandboxRoot, name), "-cgroup-parent", "shoal-dev-" + name}
		if n := c.Int("node-cpus"); n > 0 {
			args = append(args, "-node-cpus", strconv.Itoa(n))
		}
		p := &devProc{name: name, args: args, log: filepath.Join(dir, name+".log")}
		procs = append(procs, p)
		if err := p.start(self, "node daemon running"); err != nil {
			stopAll()
			return err
		}
		fmt.Fprintf(c.App.Writer, "%s (pid %d): log %s\n", name, p.cmd.Process.Pid, p.log)
	}
	fmt.Fprintf(c.App.Writer, "\nThe cluster runs. In another shell:\n\n    export SHOAL_ADDR=%s\n    shoal operator raft list-peers\n    shoal submit -- hostname\n\nKill the leader (kill -9 PID of the controller list-peers shows as leader; its raft port is PORT_BASE+100+i)\nand see another take over; start it again with the same command line (in its log) to rejoin. Ctrl-C stops the cluster.\n", addrs)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sigs:
	case <-c.Context.Done():
	}
	fmt.Fprintln(c.App.Writer, "stopping the cluster")
	stopAll()
	return nil
}

// start runs the process with its output in its log, and returns once a
// line of that output contains ready (or the process has exited).
func (p *devProc) start(bin, ready string) error {
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("dev-cluster: %s log: %w", p.name, err)
	}
	fmt.Fprintf(logf, "# %s %s\n", bin, strings.Join(p.args, " "))
	p.cmd = exec.Command(bin, p.args...)
	p.cmd.Stdout = logf
	pr, pw := io.Pipe()
	p.cmd.Stderr = pw
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("dev-cluster: start %s: %w", p.name, err)
	}
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		signalled := false
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if !signalled && strings.Contains(sc.Text(), ready) {
				found <- true
				signalled = true
			}
		}
		if !signalled {
			found <- false
		}
		logf.Close()
	}()
	p.done = make(chan struct{})
	go func() { p.cmd.Wait(); pw.Close(); close(p.done) }()
	select {
	case ok := <-found:
		if ok {
			return nil
		}
	case <-time.After(time.Minute):
	}
	p.cmd.Process.Kill()
	<-p.done
	p.cmd = nil
	return fmt.Errorf("dev-cluster: %s did not start (see %s): %s", p.name, p.log, lastLine(p.log))
}

// lastLine returns the file's last line: what a process that gave up said last.
func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	s := strings.TrimRight(string(b), "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}
