package node

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/node/sandbox"
)

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// logPaths returns where a job's stdout and stderr go: the paths the job
// asked for (relative to its working directory), else the node's log dir.
func (a *Agent) logPaths(j *api.Job) (stdout, stderr string) {
	stdout, stderr = j.Stdout, j.Stderr
	if stdout == "" {
		stdout = filepath.Join(a.logDir, api.FormatID(j.ID)+".out")
	}
	if stderr == "" {
		stderr = filepath.Join(a.logDir, api.FormatID(j.ID)+".err")
	}
	if !filepath.IsAbs(stdout) {
		stdout = filepath.Join(j.Dir, stdout)
	}
	if !filepath.IsAbs(stderr) {
		stderr = filepath.Join(j.Dir, stderr)
	}
	return stdout, stderr
}

// prepareLogs creates the log files that live in the node's own log dir,
// owned by the job's user and readable only by them (and root): the
// sandbox opens them with the user's credentials, and the user cannot
// create files in that root-owned dir.
func (a *Agent) prepareLogs(spec *sandbox.Spec) error {
	for _, p := range []string{spec.Stdout, spec.Stderr} {
		if filepath.Dir(p) != a.logDir {
			continue
		}
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("remove old log %s: %w", p, err)
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("create log %s: %w", p, err)
		}
		err = f.Chown(int(spec.UID), int(spec.GID))
		f.Close()
		if err != nil {
			return fmt.Errorf("give log %s to uid %d: %w", p, spec.UID, err)
		}
	}
	return nil
}

// jobSpec turns an assignment into a sandbox spec: the job's command as its
// owner, in its working directory, with a login-like environment, the job's
// own variables and the variables shoal defines for every job.
func (a *Agent) jobSpec(j *api.Job) sandbox.Spec {
	home, shell := "/", "/bin/sh"
	if u, err := user.LookupId(strconv.FormatUint(uint64(j.UID), 10)); err == nil {
		home = u.HomeDir
	}
	env := map[string]string{
		"PATH": defaultPath, "HOME": home, "USER": j.User, "LOGNAME": j.User, "SHELL": shell,
	}
	for k, v := range j.Env {
		env[k] = v
	}
	id := api.FormatID(j.ID)
	for k, v := range map[string]string{
		"SHOAL_JOB_ID":          id,
		"SHOAL_JOB_NAME":        j.Name,
		"SHOAL_NODE":            a.cfg.Name,
		"AWS_BATCH_JOB_ID":      id,
		"AWS_BATCH_JOB_ATTEMPT": strconv.Itoa(max(j.Attempt, 1)),
		"AWS_BATCH_JQ_NAME":     j.Queue,
		"AWS_BATCH_CE_NAME":     j.Queue,
	} {
		env[k] = v
	}
	envList := make([]string, 0, len(env))
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	sort.Strings(envList)
	dir := j.Dir
	if dir == "" {
		dir = home
	}
	stdout, stderr := a.logPaths(j)
	return sandbox.Spec{
		ID:          fmt.Sprintf("job-%d-%d", j.ID, j.Attempt),
		Argv:        j.Command,
		Env:         envList,
		Dir:         dir,
		UID:         j.UID,
		GID:         j.GID,
		Groups:      j.Groups,
		MemoryBytes: j.Resources.MemoryMB << 20,
		CPUs:        float64(j.Resources.CPUs),
		Stdout:      stdout,
		Stderr:      stderr,
	}
}
