package api

// Accounts, users, associations and QOS: the site's account registry
// (Slurm's accounting database as sacctmgr edits it), kept in raft. An
// empty registry enforces nothing: jobs take any account label, as
// before the site defined accounts. Once an account exists, a job must
// name (or default to) an account its user is associated with.
const (
	// PathAccounts lists the registry (AccountsRequest, AccountsState).
	PathAccounts = "/shoal/v1/accounts/list"
	// PathAccountsAdd, PathAccountsModify and PathAccountsDelete change it
	// (AccountsChange, operators only). Add stores new records, Modify
	// replaces existing ones whole, Delete removes the named ones.
	PathAccountsAdd    = "/shoal/v1/accounts/add"
	PathAccountsModify = "/shoal/v1/accounts/modify"
	PathAccountsDelete = "/shoal/v1/accounts/delete"
	// PathShares answers sshare (SharesRequest, SharesResponse).
	PathShares = "/shoal/v1/accounts/shares"
	// PathPriority answers sprio (PriorityRequest, PriorityResponse).
	PathPriority = "/shoal/v1/jobs/priority"
)

// RootAccount is the top of the account tree, made with the first
// account a site adds (with user root in it), as slurmdbd makes it with
// a cluster.
const RootAccount = "root"

// NormalQOS is the QOS every registry has (Slurm's default QOS).
const NormalQOS = "normal"

// ErrInvalidAccount is Slurm's refusal of a job whose account is unknown
// or not one of its user's (AccountingStorageEnforce=associations).
const ErrInvalidAccount = "Invalid account or account/partition combination specified"

// Admin levels of a user (sacctmgr's AdminLevel).
const (
	AdminNone     = "None"
	AdminOperator = "Operator"
	AdminAdmin    = "Administrator"
)

// Account is a node of the account tree.
type Account struct {
	Name         string `json:"name"`
	Description  string `json:"description,omitempty"`
	Organization string `json:"organization,omitempty"`
	// Parent is the parent account ("" for root only).
	Parent string `json:"parent,omitempty"`
}

// AcctUser is a user the registry knows, with the account its jobs get
// when they name none.
type AcctUser struct {
	Name           string `json:"name"`
	DefaultAccount string `json:"defaultAccount"`
	AdminLevel     string `json:"adminLevel,omitempty"` // "" is AdminNone
}

// Limits are an association's or a QOS's limits; nil is unset (no
// limit), as Slurm prints a blank. MaxWall is in minutes; GrpTRES and
// MaxTRES are TRES strings (cpu=4,mem=8G,gres/gpu=1).
type Limits struct {
	MaxJobs       *int64 `json:"maxJobs,omitempty"`
	MaxSubmitJobs *int64 `json:"maxSubmitJobs,omitempty"`
	GrpJobs       *int64 `json:"grpJobs,omitempty"`
	GrpSubmitJobs *int64 `json:"grpSubmitJobs,omitempty"`
	MaxWall       *int64 `json:"maxWallMinutes,omitempty"`
	GrpTRES       string `json:"grpTRES,omitempty"`
	MaxTRES       string `json:"maxTRES,omitempty"`
}

// Association ties a user to an account (User ""): the account's own
// association, which carries the account's place in the fair-share tree.
type Association struct {
	Account string `json:"account"`
	User    string `json:"user,omitempty"`
	// Shares is the raw fair-share weight among its siblings (Slurm's
	// Fairshare=, default 1).
	Shares int64 `json:"shares"`
	Limits
	QOS        []string `json:"qos,omitempty"`
	DefaultQOS string   `json:"defaultQOS,omitempty"`
}

// QOS is a quality of service: a priority (the QOS factor of
// multifactor priority) and limits.
type QOS struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Priority    int64  `json:"priority"`
	Limits
	// MaxJobsPU and MaxSubmitPU are per-user limits.
	MaxJobsPU   *int64 `json:"maxJobsPerUser,omitempty"`
	MaxSubmitPU *int64 `json:"maxSubmitPerUser,omitempty"`
	// Preempt names the QOS whose running jobs this QOS's waiting jobs
	// may preempt (under PreemptType=preempt/qos), sorted.
	Preempt []string `json:"preempt,omitempty"`
	// PreemptMode is what becomes of this QOS's preempted jobs: CANCEL
	// or REQUEUE; "" (or OFF, as in Slurm) is the cluster's mode
	// (sacctmgr shows "cluster").
	PreemptMode string `json:"preemptMode,omitempty"`
	// PreemptExemptTime (seconds): a job of this QOS that has run less
	// than this is not preempted; nil: none.
	PreemptExemptTime *int64 `json:"preemptExemptTime,omitempty"`
	// GraceTime (seconds) is the time this QOS's preempted jobs get
	// between SIGTERM and SIGKILL (0: their queue's, else the node's).
	GraceTime int64 `json:"graceTime,omitempty"`
}

// MaxQOSGraceTime bounds a QOS's GraceTime (seconds): an hour, as a
// queue's GraceTime.
const MaxQOSGraceTime = 3600

// AssocUsage is the fair-share usage charged to a user's association:
// billing-weighted resource-seconds, decayed with the controller's
// half-life to At (epoch ms).
type AssocUsage struct {
	Account string  `json:"account"`
	User    string  `json:"user"`
	Raw     float64 `json:"raw"`
	At      int64   `json:"at"`
}

// AccountsRequest asks for the registry (everything; the client filters).
type AccountsRequest struct{}

// AccountsState is the registry, each list sorted by name (associations
// by account then user).
type AccountsState struct {
	Accounts     []Account     `json:"accounts,omitempty"`
	Users        []AcctUser    `json:"users,omitempty"`
	Associations []Association `json:"associations,omitempty"`
	QOS          []QOS         `json:"qos,omitempty"`
	Usage        []AssocUsage  `json:"usage,omitempty"`
}

// AccountsChange is records to add, replace (modify) or delete. For a
// delete only the names (an association's account and user) count.
type AccountsChange struct {
	Accounts     []Account     `json:"accounts,omitempty"`
	Users        []AcctUser    `json:"users,omitempty"`
	Associations []Association `json:"associations,omitempty"`
	QOS          []QOS         `json:"qos,omitempty"`
	// ResetUsage (modify): zero these associations' usage (sacctmgr
	// modify ... set RawUsage=0).
	ResetUsage []Association `json:"resetUsage,omitempty"`
}

// Empty reports whether c changes nothing.
func (c AccountsChange) Empty() bool {
	return len(c.Accounts)+len(c.Users)+len(c.Associations)+len(c.QOS)+len(c.ResetUsage) == 0
}

// SharesRequest asks for the fair-share tree (sshare); Users narrows the
// user rows to those users (accounts are always shown), none: all.
type SharesRequest struct {
	Users []string `json:"users,omitempty"`
}

// ShareRow is one association in the fair-share tree, in tree order.
type ShareRow struct {
	Account string `json:"account"`
	User    string `json:"user,omitempty"`
	Parent  string `json:"parent,omitempty"` // the parent account (for a user row: its account)
	Depth   int    `json:"depth"`
	// RawShares is -1 for root (Slurm prints none).
	RawShares    int64   `json:"rawShares"`
	NormShares   float64 `json:"normShares"`
	RawUsage     float64 `json:"rawUsage"`
	NormUsage    float64 `json:"normUsage"`
	EffectvUsage float64 `json:"effectvUsage"`
	FairShare    float64 `json:"fairShare"`
	// LevelFS is the level fair share of the fair-tree algorithm (shares
	// over usage among siblings); nil where there is none (root, the
	// classic algorithm). Infinite (no usage) is math.MaxFloat64: JSON
	// has no infinity.
	LevelFS *float64 `json:"levelFS,omitempty"`
}

// SharesResponse is sshare's answer.
type SharesResponse struct {
	Rows []ShareRow `json:"rows"`
	// FairTree says the rows are the fair-tree algorithm's (Slurm's
	// default), else the classic one's (PriorityFlags=NO_FAIR_TREE).
	FairTree bool `json:"fairTree,omitempty"`
}

// PriorityRequest asks for the priority factors of waiting jobs (sprio):
// all, or those of Jobs, Users or Queues.
type PriorityRequest struct {
	Jobs   []uint64 `json:"jobs,omitempty"`
	Users  []string `json:"users,omitempty"`
	Queues []string `json:"queues,omitempty"`
}

// PriorityWeights are the controller's multifactor weights
// (PriorityWeight*), all 0 under priority/basic.
type PriorityWeights struct {
	Age       int64 `json:"age"`
	FairShare int64 `json:"fairShare"`
	JobSize   int64 `json:"jobSize"`
	Partition int64 `json:"partition"`
	QOS       int64 `json:"qos"`
}

// JobPriority is one waiting job's priority and its weighted factors.
type JobPriority struct {
	JobID     uint64  `json:"jobId"`
	User      string  `json:"user"`
	Account   string  `json:"account,omitempty"`
	Queue     string  `json:"queue"`
	Priority  int64   `json:"priority"`
	Site      int64   `json:"site"`
	Age       float64 `json:"age"`
	FairShare float64 `json:"fairShare"`
	JobSize   float64 `json:"jobSize"`
	Partition float64 `json:"partition"`
	QOS       float64 `json:"qos"`
	Nice      int64   `json:"nice"`
	// Fixed: the priority was set by hand (sbatch --priority, scontrol
	// update Priority=): factors do not count.
	Fixed bool `json:"fixed,omitempty"`
}

// PriorityResponse is sprio's answer. Multifactor is false under
// priority/basic (all weights 0).
type PriorityResponse struct {
	Multifactor bool            `json:"multifactor"`
	Weights     PriorityWeights `json:"weights"`
	Jobs        []JobPriority   `json:"jobs"`
}
