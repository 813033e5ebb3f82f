package daemon

import "github.com/shoal-batch/shoal/api"

// nodeLogsRequest is what the controller sends a node's log server to read
// one stream of job j: only what the node needs to find and open the file
// (node.Agent.readLog and logPaths): the ids, name and user its output
// patterns expand (%j %A %a %x %u), the owner's uid, gid and groups it opens
// the file as, the output paths and working directory, and the state.
// Never the environment, script, command or anything else of the job:
// the log server is whoever registered that address.
func nodeLogsRequest(j *api.Job, stream string) api.NodeLogsRequest {
	lj := api.Job{ID: j.ID, User: j.User, UID: j.UID, GID: j.GID, Groups: j.Groups, State: j.State}
	lj.Name, lj.Dir, lj.Stdout, lj.Stderr = j.Name, j.Dir, j.Stdout, j.Stderr
	if a := j.Array; a != nil {
		lj.Array = &api.ArrayTask{JobID: a.JobID, Index: a.Index, Min: a.Min, Max: a.Max, Count: a.Count}
	}
	return api.NodeLogsRequest{Job: lj, Stream: stream}
}
