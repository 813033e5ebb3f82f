package raftfsm

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"slices"
	"sync"

	"github.com/shoal-batch/shoal/api"
)

// A submit's compact encoding. A SubmitCmd in JSON costs the leader a
// reflective encode and every replica a reflective decode of some 60
// fields a job, most of them empty: a tenth of the controller's CPU per
// sbatch each, and garbage (decode state, one string per field read) that
// sets how far the heap grows in a burst of submits. OpSubmitBin carries
// the same command in a binary form written and read field by field:
//
//	version byte (1), flags byte (bit 0: a client token follows)
//	[token: uvarint UID, string Token, string Hash]
//	varint Now
//	uvarint jobs, each: uvarint mask of the fields present, then those
//	  fields in bit order (binJobFields): strings as uvarint length and
//	  bytes, integers as varints, booleans by their bit alone, lists as
//	  a uvarint count and the items; an environment or script the same
//	  as the last one written in the entry by a bit alone (bEnvPrev,
//	  bScriptPrev)
//	uvarint arrays, each: uvarint Job, uvarint count and varint indexes,
//	  varint MaxRunning
//	string: the Ended list in JSON ("" when none: it is rare)
//
// A field is present when JSON would carry it: a list or map marked
// omitempty when it has items, Command when it is not nil; so a job reads
// back as a JSON round trip would give it. OpSubmit (JSON) entries of
// older logs and snapshots still apply.
//
// OpBatchBin frames several entries as one: each a uvarint length and the
// entry (its op byte and body), so a batch is neither validated nor
// compacted as JSON (OpBatch, of older logs, still applies).
const (
	OpBatchBin  Op = 72
	OpSubmitBin Op = 73
)

const submitBinVersion = 1

// Field bits of a job in OpSubmitBin: never renumber.
const (
	bName = iota
	bQueue
	bQueues
	bCommand
	bScript
	bEnv
	bDir
	bStdout
	bStderr
	bStdin
	bAppendOutput
	bCPUs
	bMemoryMB
	bGPUs
	bGPUTypes
	bPriority
	bNice
	bDependsOn
	bDependAny
	bKeepOnInvalidDep
	bHeld
	bBeginAt
	bTmpMB
	bTimeLimit
	bNoRequeue
	bLimitWarnSignal
	bLimitWarnSeconds
	bLimitWarnBatch
	bJobDefinition
	bParameters
	bImage
	bMounts
	bReadonlyRootfs
	bRetryAttempts
	bRetryRules
	bDeadlineAt
	bTags
	bAccount
	bQOS
	bComment
	bSubmitHost
	bLicenses
	bShareIdentifier
	bSchedulingPriority
	bUser
	bUID
	bGID
	bGroups
	bStatusReason
	// bEnvPrev, bScriptPrev: the job's environment (script) is the one
	// written last before it in this entry (bEnv, bScript), not written
	// again: a sweep's thousand jobs of one shell's environment make an
	// entry of one environment, not a thousand.
	bEnvPrev
	bScriptPrev
	binJobFields
)

// SubmitToken is the client token of a submit (SubmitOnceCmd's, without
// the command).
type SubmitToken struct {
	UID   uint32
	Token string
	Hash  string
}

// EncodeSubmit frames a submit as a log entry: OpSubmitBin, or, with a
// token, the same made idempotent (as OpSubmitOnce). A job with a field a
// new job never has (an id, a state, a placement: what Apply sets) has no
// compact form: such a command is framed in JSON, as Encode would.
func EncodeSubmit(c *SubmitCmd, token *SubmitToken) ([]byte, error) {
	for i := range c.Jobs {
		if !binEncodable(&c.Jobs[i]) {
			if token != nil {
				return Encode(OpSubmitOnce, SubmitOnceCmd{Submit: *c, UID: token.UID, Token: token.Token, Hash: token.Hash})
			}
			return Encode(OpSubmit, c)
		}
	}
	n := 64
	for i := range c.Jobs {
		n += binSize(&c.Jobs[i])
	}
	e := binEnc{b: make([]byte, 0, n)}
	e.b = append(e.b, byte(OpSubmitBin), submitBinVersion)
	if token != nil {
		e.b = append(e.b, 1)
		e.uint(uint64(token.UID))
		e.str(token.Token)
		e.str(token.Hash)
	} else {
		e.b = append(e.b, 0)
	}
	e.int(c.Now)
	e.uint(uint64(len(c.Jobs)))
	for i := range c.Jobs {
		e.job(&c.Jobs[i])
	}
	e.uint(uint64(len(c.Arrays)))
	for _, a := range c.Arrays {
		e.int(int64(a.Job))
		e.uint(uint64(len(a.Indexes)))
		for _, x := range a.Indexes {
			e.int(int64(x))
		}
		e.int(int64(a.MaxRunning))
	}
	if len(c.Ended) > 0 {
		raw, err := json.Marshal(c.Ended)
		if err != nil {
			return nil, fmt.Errorf("encode submit: ended jobs: %w", err)
		}
		e.bytes(raw)
	} else {
		e.uint(0)
	}
	return e.b, nil
}

// binEncodable reports whether j has only the fields a submit's compact
// form carries (TestSubmitBinEveryField holds this to api.Job's fields).
func binEncodable(j *api.Job) bool {
	return j.ID == 0 && j.State == "" && j.Array == nil && j.WaitReason == "" && j.EstimatedStartAt == 0 &&
		!j.HeldByAdmin && !j.PriorityFixed && j.SignalRequests == nil && j.Steps == nil && j.NextStep == 0 &&
		j.ComputeEnvironment == "" && j.Attempts == nil && j.AttemptsDropped == 0 && j.Node == "" && j.Attempt == 0 && j.ExitCode == nil &&
		j.ExitSignal == 0 && j.Cause == "" && !j.StopRequested && j.StopReason == "" && j.StopCause == "" &&
		j.StopGraceSeconds == 0 && !j.RequeueRequested && j.CreatedAt == 0 && j.RunnableAt == 0 &&
		j.StartedAt == 0 && j.StoppedAt == 0 && j.Usage == nil && j.RAMSpace == nil && !j.Redacted
}

// binSize is about the size of j's compact form, a little over for most
// jobs: the entry is made at its size once, not grown.
func binSize(j *api.Job) int {
	n := 128 + len(j.Name) + len(j.Queue) + len(j.Script) + len(j.Dir) + len(j.Stdout) + len(j.Stderr) + len(j.Stdin) +
		len(j.User) + len(j.StatusReason) + len(j.Comment) + len(j.SubmitHost) + len(j.Image) + 4*len(j.Groups) + 12*len(j.DependsOn)
	for _, s := range j.Command {
		n += 2 + len(s)
	}
	for _, m := range []map[string]string{j.Env, j.Parameters, j.Tags} {
		for k, v := range m {
			n += 4 + len(k) + len(v)
		}
	}
	return n
}

type binEnc struct {
	b []byte
	// lastEnv and lastScript are the environment and script written last
	// (a later job's that equal them are not written again).
	lastEnv    map[string]string
	lastScript string
}

func (e *binEnc) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *binEnc) int(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *binEnc) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *binEnc) bytes(s []byte) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *binEnc) strs(l []string) {
	e.uint(uint64(len(l)))
	for _, s := range l {
		e.str(s)
	}
}

// strMap writes a map's pairs in name order: the same map, the same bytes.
func (e *binEnc) strMap(m map[string]string) {
	p := namesPool.Get().(*[]string)
	names := (*p)[:0]
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	e.uint(uint64(len(names)))
	for _, k := range names {
		e.str(k)
		e.str(m[k])
	}
	clear(names) // keeps no strings alive in the pool
	*p = names[:0]
	namesPool.Put(p)
}

// namesPool holds the slices strMap sorts names in.
var namesPool = sync.Pool{New: func() any { s := make([]string, 0, 64); return &s }}

func (e *binEnc) job(j *api.Job) {
	var mask uint64
	set := func(bit int, on bool) {
		if on {
			mask |= 1 << bit
		}
	}
	set(bName, j.Name != "")
	set(bQueue, j.Queue != "")
	set(bQueues, len(j.Queues) > 0)
	set(bCommand, j.Command != nil)
	sameScript := j.Script != "" && j.Script == e.lastScript
	sameEnv := len(j.Env) > 0 && maps.Equal(j.Env, e.lastEnv)
	set(bScript, j.Script != "" && !sameScript)
	set(bScriptPrev, sameScript)
	set(bEnv, len(j.Env) > 0 && !sameEnv)
	set(bEnvPrev, sameEnv)
	set(bDir, j.Dir != "")
	set(bStdout, j.Stdout != "")
	set(bStderr, j.Stderr != "")
	set(bStdin, j.Stdin != "")
	set(bAppendOutput, j.AppendOutput)
	set(bCPUs, j.Resources.CPUs != 0)
	set(bMemoryMB, j.Resources.MemoryMB != 0)
	set(bGPUs, j.Resources.GPUs != 0)
	set(bGPUTypes, j.Resources.GPUTypes != "")
	set(bPriority, j.Priority != 0)
	set(bNice, j.Nice != 0)
	set(bDependsOn, len(j.DependsOn) > 0)
	set(bDependAny, j.DependAny)
	set(bKeepOnInvalidDep, j.KeepOnInvalidDep)
	set(bHeld, j.Held)
	set(bBeginAt, j.BeginAt != 0)
	set(bTmpMB, j.TmpMB != 0)
	set(bTimeLimit, j.TimeLimit != 0)
	set(bNoRequeue, j.NoRequeue)
	set(bLimitWarnSignal, j.LimitWarnSignal != 0)
	set(bLimitWarnSeconds, j.LimitWarnSeconds != 0)
	set(bLimitWarnBatch, j.LimitWarnBatch)
	set(bJobDefinition, j.JobDefinition != "")
	set(bParameters, len(j.Parameters) > 0)
	set(bImage, j.Image != "")
	set(bMounts, len(j.Mounts) > 0)
	set(bReadonlyRootfs, j.ReadonlyRootfs)
	set(bRetryAttempts, j.RetryAttempts != 0)
	set(bRetryRules, len(j.RetryRules) > 0)
	set(bDeadlineAt, j.DeadlineAt != 0)
	set(bTags, len(j.Tags) > 0)
	set(bAccount, j.Account != "")
	set(bQOS, j.QOS != "")
	set(bComment, j.Comment != "")
	set(bSubmitHost, j.SubmitHost != "")
	set(bLicenses, len(j.Licenses) > 0)
	set(bShareIdentifier, j.ShareIdentifier != "")
	set(bSchedulingPriority, j.SchedulingPriority != 0)
	set(bUser, j.User != "")
	set(bUID, j.UID != 0)
	set(bGID, j.GID != 0)
	set(bGroups, len(j.Groups) > 0)
	set(bStatusReason, j.StatusReason != "")
	e.uint(mask)
	for m := mask; m != 0; m &= m - 1 {
		switch bits.TrailingZeros64(m) {
		case bName:
			e.str(j.Name)
		case bQueue:
			e.str(j.Queue)
		case bQueues:
			e.strs(j.Queues)
		case bCommand:
			e.strs(j.Command)
		case bScript:
			e.str(j.Script)
			e.lastScript = j.Script
		case bEnv:
			e.strMap(j.Env)
			e.lastEnv = j.Env
		case bDir:
			e.str(j.Dir)
		case bStdout:
			e.str(j.Stdout)
		case bStderr:
			e.str(j.Stderr)
		case bStdin:
			e.str(j.Stdin)
		case bCPUs:
			e.int(int64(j.Resources.CPUs))
		case bMemoryMB:
			e.int(j.Resources.MemoryMB)
		case bGPUs:
			e.int(int64(j.Resources.GPUs))
		case bGPUTypes:
			e.str(string(j.Resources.GPUTypes))
		case bPriority:
			e.int(j.Priority)
		case bNice:
			e.int(j.Nice)
		case bDependsOn:
			e.uint(uint64(len(j.DependsOn)))
			for _, d := range j.DependsOn {
				e.uint(d.JobID)
				e.str(string(d.Type))
			}
		case bBeginAt:
			e.int(j.BeginAt)
		case bTmpMB:
			e.int(j.TmpMB)
		case bTimeLimit:
			e.int(j.TimeLimit)
		case bLimitWarnSignal:
			e.int(int64(j.LimitWarnSignal))
		case bLimitWarnSeconds:
			e.int(int64(j.LimitWarnSeconds))
		case bJobDefinition:
			e.str(j.JobDefinition)
		case bParameters:
			e.strMap(j.Parameters)
		case bImage:
			e.str(j.Image)
		case bMounts:
			e.uint(uint64(len(j.Mounts)))
			for _, m := range j.Mounts {
				e.str(m.Source)
				e.str(m.Target)
				e.uint(b2u(m.ReadOnly))
			}
		case bRetryAttempts:
			e.int(int64(j.RetryAttempts))
		case bRetryRules:
			e.uint(uint64(len(j.RetryRules)))
			for _, r := range j.RetryRules {
				e.str(r.OnExitCode)
				e.str(r.OnStatusReason)
				e.str(r.OnReason)
				e.str(r.Action)
			}
		case bDeadlineAt:
			e.int(j.DeadlineAt)
		case bTags:
			e.strMap(j.Tags)
		case bAccount:
			e.str(j.Account)
		case bQOS:
			e.str(j.QOS)
		case bComment:
			e.str(j.Comment)
		case bSubmitHost:
			e.str(j.SubmitHost)
		case bLicenses:
			e.uint(uint64(len(j.Licenses)))
			for _, l := range j.Licenses {
				e.str(l.Name)
				e.int(l.Quantity)
			}
		case bShareIdentifier:
			e.str(j.ShareIdentifier)
		case bSchedulingPriority:
			e.int(j.SchedulingPriority)
		case bUser:
			e.str(j.User)
		case bUID:
			e.uint(uint64(j.UID))
		case bGID:
			e.uint(uint64(j.GID))
		case bGroups:
			e.uint(uint64(len(j.Groups)))
			for _, g := range j.Groups {
				e.uint(uint64(g))
			}
		case bStatusReason:
			e.str(j.StatusReason)
		}
		// Booleans (AppendOutput, DependAny, ...) are their bit alone.
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// binDec reads an OpSubmitBin body. A malformed one can only come from a
// bug (the leader wrote it): it panics with fatal, as an undecodable JSON
// command does.
type binDec struct {
	b   []byte
	off int
	// sh, when set, holds the shared scripts and environments: those
	// already held are not copied out of the entry again.
	sh *shared
	// lastEnv and lastScript are the last read (bEnvPrev, bScriptPrev).
	lastEnv    map[string]string
	lastScript string
	haveScript bool
}

func (d *binDec) fail(what string) {
	panic(fatal(fmt.Sprintf("raftfsm: decode submit: %s at byte %d of %d", what, d.off, len(d.b))))
}

func (d *binDec) uint() uint64 {
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad unsigned integer")
	}
	d.off += n
	return v
}

func (d *binDec) int() int64 {
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad integer")
	}
	d.off += n
	return v
}

// intn reads an int (a Go int of 64 bits on every platform shoal runs on;
// refused where it would not fit).
func (d *binDec) intn() int {
	v := d.int()
	if v < math.MinInt || v > math.MaxInt {
		d.fail("integer out of range")
	}
	return int(v)
}

func (d *binDec) u32() uint32 {
	v := d.uint()
	if v > math.MaxUint32 {
		d.fail("uint32 out of range")
	}
	return uint32(v)
}

// count reads a list's length, refusing one longer than the bytes left
// could hold (each item takes at least one byte).
func (d *binDec) count() int {
	v := d.uint()
	if v > uint64(len(d.b)-d.off) {
		d.fail("list longer than the entry")
	}
	return int(v)
}

func (d *binDec) raw() []byte {
	n := d.count()
	s := d.b[d.off : d.off+n]
	d.off += n
	return s
}

func (d *binDec) str() string { return string(d.raw()) }

func (d *binDec) strs() []string {
	out := make([]string, d.count())
	for i := range out {
		out[i] = d.str()
	}
	return out
}

func (d *binDec) strMap() map[string]string {
	n := d.count()
	m := make(map[string]string, n)
	for range n {
		k := d.str()
		m[k] = d.str()
	}
	return m
}

// script reads a script, the shared copy when one is held (looked up by
// the entry's bytes: no copy made).
func (d *binDec) script() string {
	raw := d.raw()
	if d.sh != nil {
		if s, ok := d.sh.scripts[string(raw)]; ok {
			return s
		}
	}
	return string(raw)
}

// env reads an environment: the shared map that its bytes were read as
// before, if any (shared.envBin), else a new one.
func (d *binDec) env() map[string]string {
	start := d.off
	n := d.count()
	for range 2 * n { // skip to the end: the bytes identify it
		d.off += d.count()
	}
	if d.off > len(d.b) {
		d.fail("environment longer than the entry")
	}
	raw := d.b[start:d.off]
	if d.sh != nil {
		return d.sh.envBin(raw, func() map[string]string { return (&binDec{b: raw}).strMap() })
	}
	return (&binDec{b: raw}).strMap()
}

// job reads one job into j.
func (d *binDec) job(j *api.Job) {
	mask := d.uint()
	if mask>>binJobFields != 0 {
		d.fail(fmt.Sprintf("job fields %#x unknown to this controller (upgrade it)", mask))
	}
	for m := mask; m != 0; m &= m - 1 {
		switch bits.TrailingZeros64(m) {
		case bName:
			j.Name = d.str()
		case bQueue:
			j.Queue = d.str()
		case bQueues:
			j.Queues = d.strs()
		case bCommand:
			j.Command = d.strs()
		case bScript:
			j.Script = d.script()
			d.lastScript, d.haveScript = j.Script, true
		case bEnv:
			j.Env = d.env()
			d.lastEnv = j.Env
		case bScriptPrev:
			if !d.haveScript {
				d.fail("a script the same as one before it, with none before it")
			}
			j.Script = d.lastScript
		case bEnvPrev:
			if d.lastEnv == nil {
				d.fail("an environment the same as one before it, with none before it")
			}
			j.Env = d.lastEnv
		case bDir:
			j.Dir = d.str()
		case bStdout:
			j.Stdout = d.str()
		case bStderr:
			j.Stderr = d.str()
		case bStdin:
			j.Stdin = d.str()
		case bAppendOutput:
			j.AppendOutput = true
		case bCPUs:
			j.Resources.CPUs = d.intn()
		case bMemoryMB:
			j.Resources.MemoryMB = d.int()
		case bGPUs:
			j.Resources.GPUs = d.intn()
		case bGPUTypes:
			j.Resources.GPUTypes = api.GPUCounts(d.str())
		case bPriority:
			j.Priority = d.int()
		case bNice:
			j.Nice = d.int()
		case bDependsOn:
			j.DependsOn = make([]api.Dependency, d.count())
			for i := range j.DependsOn {
				j.DependsOn[i] = api.Dependency{JobID: d.uint(), Type: api.DependencyType(d.str())}
			}
		case bDependAny:
			j.DependAny = true
		case bKeepOnInvalidDep:
			j.KeepOnInvalidDep = true
		case bHeld:
			j.Held = true
		case bBeginAt:
			j.BeginAt = d.int()
		case bTmpMB:
			j.TmpMB = d.int()
		case bTimeLimit:
			j.TimeLimit = d.int()
		case bNoRequeue:
			j.NoRequeue = true
		case bLimitWarnSignal:
			j.LimitWarnSignal = d.intn()
		case bLimitWarnSeconds:
			j.LimitWarnSeconds = d.intn()
		case bLimitWarnBatch:
			j.LimitWarnBatch = true
		case bJobDefinition:
			j.JobDefinition = d.str()
		case bParameters:
			j.Parameters = d.strMap()
		case bImage:
			j.Image = d.str()
		case bMounts:
			j.Mounts = make([]api.Mount, d.count())
			for i := range j.Mounts {
				j.Mounts[i] = api.Mount{Source: d.str(), Target: d.str(), ReadOnly: d.uint() != 0}
			}
		case bReadonlyRootfs:
			j.ReadonlyRootfs = true
		case bRetryAttempts:
			j.RetryAttempts = d.intn()
		case bRetryRules:
			j.RetryRules = make([]api.RetryRule, d.count())
			for i := range j.RetryRules {
				j.RetryRules[i] = api.RetryRule{OnExitCode: d.str(), OnStatusReason: d.str(), OnReason: d.str(), Action: d.str()}
			}
		case bDeadlineAt:
			j.DeadlineAt = d.int()
		case bTags:
			j.Tags = d.strMap()
		case bAccount:
			j.Account = d.str()
		case bQOS:
			j.QOS = d.str()
		case bComment:
			j.Comment = d.str()
		case bSubmitHost:
			j.SubmitHost = d.str()
		case bLicenses:
			j.Licenses = make([]api.LicenseUse, d.count())
			for i := range j.Licenses {
				j.Licenses[i] = api.LicenseUse{Name: d.str(), Quantity: d.int()}
			}
		case bShareIdentifier:
			j.ShareIdentifier = d.str()
		case bSchedulingPriority:
			j.SchedulingPriority = d.int()
		case bUser:
			j.User = d.str()
		case bUID:
			j.UID = d.u32()
		case bGID:
			j.GID = d.u32()
		case bGroups:
			j.Groups = make([]uint32, d.count())
			for i := range j.Groups {
				j.Groups[i] = d.u32()
			}
		case bStatusReason:
			j.StatusReason = d.str()
		}
	}
}

// submitBin is a decoded OpSubmitBin body.
type submitBin struct {
	body  submitBody
	token *SubmitToken
}

// decodeSubmitBin reads an OpSubmitBin body (sh: the shared table, or nil).
func decodeSubmitBin(body []byte, sh *shared) submitBin {
	d := &binDec{b: body, sh: sh}
	if len(body) < 2 {
		d.fail("short entry")
	}
	if body[0] != submitBinVersion {
		panic(fatal(fmt.Sprintf("raftfsm: submit encoding version %d unknown to this controller (upgrade it)", body[0])))
	}
	var out submitBin
	d.off = 2
	if body[1]&1 != 0 {
		out.token = &SubmitToken{UID: d.u32(), Token: d.str(), Hash: d.str()}
	}
	out.body.Now = d.int()
	jobs := make([]api.Job, d.count()) // one block: the records copy what they keep
	out.body.Jobs = make([]*api.Job, len(jobs))
	for i := range jobs {
		d.job(&jobs[i])
		out.body.Jobs[i] = &jobs[i]
	}
	if n := d.count(); n > 0 {
		out.body.Arrays = make([]ArraySpec, n)
		for i := range out.body.Arrays {
			a := &out.body.Arrays[i]
			a.Job = d.intn()
			a.Indexes = make([]int, d.count())
			for k := range a.Indexes {
				a.Indexes[k] = d.intn()
			}
			a.MaxRunning = d.intn()
		}
	}
	if raw := d.raw(); len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.body.Ended); err != nil {
			d.fail(fmt.Sprintf("ended jobs: %v", err))
		}
	}
	if d.off != len(body) {
		d.fail("bytes after the command")
	}
	return out
}

// submitBinary applies an OpSubmitBin command.
func (w writer) submitBinary(body []byte) Result {
	var sh *shared
	if w.out != nil {
		sh = w.out.shared
	}
	c := decodeSubmitBin(body, sh)
	if c.token != nil {
		return w.submitOnceBody(*c.token, c.body)
	}
	return w.submitJobs(c.body)
}

// EncodeBatchBin frames several encoded entries as one OpBatchBin entry.
func encodeBatchBin(entries [][]byte) ([]byte, error) {
	n := 1
	for i, e := range entries {
		if len(e) == 0 {
			return nil, fmt.Errorf("encode batch: entry %d is empty", i)
		}
		n += binary.MaxVarintLen64 + len(e)
	}
	b := make([]byte, 1, n)
	b[0] = byte(OpBatchBin)
	for _, e := range entries {
		b = binary.AppendUvarint(b, uint64(len(e)))
		b = append(b, e...)
	}
	return b, nil
}

// decodeBatchBin splits an OpBatchBin body into its commands (slices of
// body).
func decodeBatchBin(idx uint64, body []byte) []Command {
	var cmds []Command
	for off := 0; off < len(body); {
		n, k := binary.Uvarint(body[off:])
		if k <= 0 || n == 0 || n > uint64(len(body)-off-k) {
			panic(fatal(fmt.Sprintf("raftfsm: decode batch at index %d: bad entry length at byte %d", idx, off)))
		}
		e := body[off+k : off+k+int(n)]
		cmds = append(cmds, Command{Op: Op(e[0]), Body: e[1:]})
		off += k + int(n)
	}
	return cmds
}

// envBin is envJSON for an environment as OpSubmitBin writes it (raw, its
// bytes; decode reads them): the same environment, the same bytes (names
// in order), so a sweep's jobs decode their shared environment once. Its
// key is not JSON's: 0xff is never JSON's first byte.
func (s *shared) envBin(raw []byte, decode func() map[string]string) map[string]string {
	return s.envOf([]byte{0xff}, raw, decode)
}
