package raftfsm

import (
	"crypto/sha256"
	"reflect"
	"slices"

	"github.com/hashicorp/go-memdb"

	"github.com/shoal-batch/shoal/api"
)

// shared keeps one copy of each batch script and environment the state
// holds. A sweep of 20,000 sbatch jobs sends the same script and, but for a
// variable or two, the same environment (sbatch exports the submitting
// shell's) 20,000 times; decoded from the log, each would be its own
// strings and map, some 10 KB a job. Stored jobs point at the shared copy
// instead: the same environment is one map, and environments that differ
// share their names and values.
//
// It changes no value the state holds, only where the bytes live, so the
// FSM stays deterministic. Shared maps and strings are never written to:
// the state's jobs are read-only, as go-memdb requires of every object.
// Only Apply and Restore use it (raft's one apply goroutine, or no apply at
// all); Check, which runs beside them, stores nothing and shares nothing.
type shared struct {
	scripts map[string]string
	strs    map[string]string
	envs    map[[sha256.Size]byte]map[string]string
	// kept is how many entries the last prune kept and jobs how many
	// jobs the state held then; gone counts the jobs expired since. The
	// next prune waits until the tables have doubled or half those jobs
	// have gone: a prune scans the jobs, so it costs O(1) per job added
	// or removed, and what the tables hold stays within twice what the
	// state's jobs use.
	kept, jobs, gone int
	// specs are the jobs' specs stored last (jobrec.go).
	specs specCache
	// byJSON are the environments of envs by the SHA-256 of their JSON
	// in a log entry (envJSON), for those of at least envJSONMin bytes.
	byJSON map[[sha256.Size]byte]map[string]string
	// lastEnv is the shared environment env returned last: a job whose
	// environment is that very map (its entry's decode found it shared,
	// or an array's task) is not hashed again to find it.
	lastEnv map[string]string
}

// envJSONMin is the size of an environment's JSON from which the table
// knows it by its JSON: a smaller one costs less to decode than its entry
// would hold.
const envJSONMin = 512

// envJSON returns the shared environment that raw (a log entry's JSON of
// one) decodes to, decoding it only if its JSON is new. The same map
// encodes to the same JSON (encoding/json sorts the names), and what the
// table gives for a JSON is what that JSON decoded to: the values are
// those a decode would give.
func (s *shared) envJSON(raw envJSON) map[string]string {
	return s.envOf(nil, raw, func() map[string]string { return decodeEnv(raw) })
}

// envOf returns the shared environment that raw, an encoding of one of
// the kind named by kind, decodes to (decode), decoding it only if its
// bytes are new.
func (s *shared) envOf(kind, raw []byte, decode func() map[string]string) map[string]string {
	if len(raw) < envJSONMin {
		env := decode()
		if len(env) > 0 && !small(env) {
			env = s.env(env)
		}
		return env
	}
	h := sha256.New()
	h.Write(kind)
	h.Write(raw)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	if env, ok := s.byJSON[sum]; ok {
		s.lastEnv = env
		return env
	}
	env := decode()
	if len(env) > 0 && !small(env) {
		if s.onBase(env) {
			return env // one job's: not known by its bytes
		}
		env = s.intern(env)
	}
	if s.byJSON == nil {
		s.byJSON = map[[sha256.Size]byte]map[string]string{}
	}
	s.byJSON[sum] = env
	return env
}

func newShared() *shared {
	return &shared{scripts: map[string]string{}, strs: map[string]string{}, envs: map[[sha256.Size]byte]map[string]string{}}
}

// job points j's script and environment at the shared copies.
func (s *shared) job(j *api.Job) {
	if j.Script != "" {
		j.Script = intern(s.scripts, j.Script)
	}
	if len(j.Env) > 0 && !small(j.Env) && !sameMap(j.Env, s.lastEnv) { // a small one is packed in its record
		j.Env = s.env(j.Env)
	}
}

// sameMap reports whether a and b are the same map (not merely equal).
func sameMap(a, b map[string]string) bool {
	return a != nil && b != nil && reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

func intern(table map[string]string, v string) string {
	if c, ok := table[v]; ok {
		return c
	}
	table[v] = v
	return v
}

// onBase reports whether env is the environment the last job stored
// whole has, with a few variables set on top: its record will hold it
// as that one and those (newJobRec), so env is not kept.
func (s *shared) onBase(env map[string]string) bool {
	var names [smallEnvVars]string
	_, ok := onTop(s.specs.env, env, &names)
	return ok
}

// env returns the shared map equal to env, or env itself with its names
// and values shared, now the one for its contents; or env as it is when
// its job's record will hold it on top of another's (onBase).
func (s *shared) env(env map[string]string) map[string]string {
	if s.onBase(env) {
		return env
	}
	return s.intern(env)
}

// intern is env but for onBase. A new environment becomes the base of
// those that follow (newJobRec would make it so when its job is stored;
// the rest of its entry is decoded before then).
func (s *shared) intern(env map[string]string) map[string]string {
	sum := envSum(env)
	if c, ok := s.envs[sum]; ok {
		s.lastEnv = c
		return c
	}
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[intern(s.strs, k)] = intern(s.strs, v)
	}
	s.envs[sum] = out
	s.lastEnv, s.specs.env = out, out
	return out
}

// envSum identifies an environment by its contents: SHA-256 over the
// sorted NAME=VALUE pairs (a name holds no NUL or '=', so the encoding is
// unambiguous).
func envSum(env map[string]string) [sha256.Size]byte {
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, k := range names {
		h.Write([]byte(k))
		h.Write([]byte{'='})
		h.Write([]byte(env[k]))
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

func (s *shared) size() int { return len(s.scripts) + len(s.strs) + len(s.envs) + len(s.byJSON) }

// prune forgets the copies no job of db uses any more, once the tables
// have doubled or half the jobs have left since the last prune: expired
// jobs (ExpireCmd, of which there were expired now) leave the state and
// their scripts and environments with them.
func (s *shared) prune(db *memdb.MemDB, expired int) {
	s.gone += expired
	if s.size() == 0 || (s.size() < 2*s.kept+1024 && 2*s.gone <= s.jobs) {
		return
	}
	fresh := newShared()
	eachSlot(db.Txn(false), func(_ uint64, j *jobRec) bool { // a task group's parts are its tasks'
		fresh.jobs++
		if sc := j.spec.Script; sc != "" {
			fresh.scripts[sc] = sc
		}
		if len(j.Env) > 0 {
			fresh.envs[envSum(j.Env)] = j.Env
			for k, v := range j.Env {
				fresh.strs[k], fresh.strs[v] = k, v
			}
		}
		return true
	})
	fresh.kept = fresh.size()
	fresh.specs = s.specs
	*s = *fresh
}
