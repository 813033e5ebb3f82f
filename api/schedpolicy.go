package api

// AWS Batch's fair-share scheduling policies. A job queue that names one
// (JobQueue.SchedulingPolicyArn) is a fair-share queue: its jobs carry a
// share identifier, and the scheduler orders them so that each share
// gets compute in inverse proportion to its weight factor, counting what
// each share used recently (vCPU-seconds, decayed), then by scheduling
// priority within a share, then in submit order (sched/awsfairshare.go).

// SchedulingPolicy is AWS Batch's SchedulingPolicyDetail, stored by name.
type SchedulingPolicy struct {
	Name            string            `json:"name"`
	FairsharePolicy *FairsharePolicy  `json:"fairsharePolicy,omitempty"`
	Tags            map[string]string `json:"tags,omitempty"`
	CreatedAt       int64             `json:"createdAt,omitempty"`
}

// FairsharePolicy is AWS Batch's FairsharePolicy.
type FairsharePolicy struct {
	// ShareDecaySeconds is how far back usage counts: usage halves every
	// ShareDecaySeconds (0: DefaultShareDecaySeconds, AWS's minimum
	// window). At most MaxShareDecaySeconds.
	ShareDecaySeconds int64 `json:"shareDecaySeconds"`
	// ComputeReservation (0-99) holds (ComputeReservation/100)^active
	// of the queue's vCPUs for share identifiers not yet active, where
	// active counts the shares with unfinished jobs in the queue.
	ComputeReservation int64 `json:"computeReservation"`
	// ShareDistribution weighs shares; one not listed weighs 1.
	ShareDistribution []ShareAttributes `json:"shareDistribution,omitempty"`
}

// ShareAttributes is AWS Batch's: a share identifier, or a prefix of
// them ending in *, and its weight factor (0.0001-999.9999; 0: 1). A
// LOWER weight gets MORE compute: a share of weight 0.125 gets 8 times
// the compute of a share of weight 1.
type ShareAttributes struct {
	ShareIdentifier string  `json:"shareIdentifier"`
	WeightFactor    float64 `json:"weightFactor,omitempty"`
}

// Bounds of a fair-share policy and of what jobs say about their share
// (AWS Batch's).
const (
	DefaultShareDecaySeconds  int64   = 600
	MaxShareDecaySeconds      int64   = 604800
	MaxComputeReservation     int64   = 99
	MinWeightFactor           float64 = 0.0001
	MaxWeightFactor           float64 = 999.9999
	MaxShareIdentifierLen             = 255
	MaxSchedulingPriority     int64   = 9999
	MaxShareDistribution              = 500
	MaxActiveShareIdentifiers         = 500
)

// HalfLife is the policy's decay half-life in seconds.
func (p *FairsharePolicy) HalfLife() int64 {
	if p == nil || p.ShareDecaySeconds <= 0 {
		return DefaultShareDecaySeconds
	}
	return p.ShareDecaySeconds
}

// Weight is the weight factor of share id: the entry that names it, else
// the longest prefix entry (NAME*) that matches it, else 1.
func (p *FairsharePolicy) Weight(id string) float64 {
	if p == nil {
		return 1
	}
	best, bestLen := 0.0, -1
	for _, s := range p.ShareDistribution {
		w := s.WeightFactor
		if w <= 0 {
			w = 1
		}
		if s.ShareIdentifier == id {
			return w
		}
		if n := len(s.ShareIdentifier) - 1; n >= 0 && s.ShareIdentifier[n] == '*' && len(id) >= n && id[:n] == s.ShareIdentifier[:n] && n > bestLen {
			best, bestLen = w, n
		}
	}
	if bestLen >= 0 {
		return best
	}
	return 1
}

// ShareUsage is what one share of a fair-share queue has used: vCPU-
// seconds, decayed (by the queue's policy) to At (epoch ms).
type ShareUsage struct {
	Queue string  `json:"queue"`
	Share string  `json:"shareIdentifier"`
	Raw   float64 `json:"rawUsage"`
	At    int64   `json:"at"`
}

// AWSCreateSchedulingPolicyRequest is AWS Batch's CreateSchedulingPolicyRequest.
type AWSCreateSchedulingPolicyRequest struct {
	Name            string            `json:"name"`
	FairsharePolicy *FairsharePolicy  `json:"fairsharePolicy,omitempty"`
	Tags            map[string]string `json:"tags,omitempty"`
}

// AWSSchedulingPolicyResponse is AWS Batch's CreateSchedulingPolicyResponse.
type AWSSchedulingPolicyResponse struct {
	Name string `json:"name"`
	ARN  string `json:"arn"`
}

// AWSUpdateSchedulingPolicyRequest is AWS Batch's UpdateSchedulingPolicyRequest.
type AWSUpdateSchedulingPolicyRequest struct {
	ARN             string           `json:"arn"`
	FairsharePolicy *FairsharePolicy `json:"fairsharePolicy,omitempty"`
}

// AWSSchedulingPolicyARNRequest is AWS Batch's DeleteSchedulingPolicyRequest.
type AWSSchedulingPolicyARNRequest struct {
	ARN string `json:"arn"`
}

// AWSDescribeSchedulingPoliciesRequest is AWS Batch's DescribeSchedulingPoliciesRequest.
type AWSDescribeSchedulingPoliciesRequest struct {
	ARNs []string `json:"arns"`
}

// SchedulingPolicyDetail is AWS Batch's SchedulingPolicyDetail.
type SchedulingPolicyDetail struct {
	Name            string            `json:"name"`
	ARN             string            `json:"arn"`
	FairsharePolicy *FairsharePolicy  `json:"fairsharePolicy,omitempty"`
	Tags            map[string]string `json:"tags,omitempty"`
}

// AWSDescribeSchedulingPoliciesResponse is AWS Batch's DescribeSchedulingPoliciesResponse.
type AWSDescribeSchedulingPoliciesResponse struct {
	SchedulingPolicies []SchedulingPolicyDetail `json:"schedulingPolicies"`
}

// AWSListSchedulingPoliciesRequest is AWS Batch's ListSchedulingPoliciesRequest.
type AWSListSchedulingPoliciesRequest struct {
	MaxResults int    `json:"maxResults,omitempty"`
	NextToken  string `json:"nextToken,omitempty"`
}

// SchedulingPolicyListingDetail is AWS Batch's SchedulingPolicyListingDetail.
type SchedulingPolicyListingDetail struct {
	ARN string `json:"arn"`
}

// AWSListSchedulingPoliciesResponse is AWS Batch's ListSchedulingPoliciesResponse.
type AWSListSchedulingPoliciesResponse struct {
	SchedulingPolicies []SchedulingPolicyListingDetail `json:"schedulingPolicies"`
	NextToken          string                          `json:"nextToken,omitempty"`
}

// SchedulingPolicyName is the name in a scheduling policy's ARN (the part
// after the last '/'), or ref itself.
func SchedulingPolicyName(ref string) string {
	for i := len(ref) - 1; i >= 0; i-- {
		if ref[i] == '/' {
			return ref[i+1:]
		}
	}
	return ref
}

// ValidShareIdentifier reports whether id is a share identifier AWS Batch
// accepts: 1 to 255 letters, digits, hyphens and underscores, with
// prefix (a policy's entry, not a job's) a trailing '*' too.
func ValidShareIdentifier(id string, prefix bool) bool {
	if prefix && len(id) > 1 && id[len(id)-1] == '*' {
		id = id[:len(id)-1]
	}
	if len(id) == 0 || len(id) > MaxShareIdentifierLen {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Check refuses a policy AWS Batch would refuse, saying what would be
// right: shareDecaySeconds 0 to 604800, computeReservation 0 to 99,
// weight factors 0.0001 to 999.9999, at most 500 share identifiers, none
// twice and none that another's prefix (NAME*) covers.
func (p *FairsharePolicy) Check() *Error {
	if p == nil {
		return nil
	}
	if p.ShareDecaySeconds < 0 || p.ShareDecaySeconds > MaxShareDecaySeconds {
		return Errorf(CodeInvalid, "fairsharePolicy.shareDecaySeconds %d: give 0 (the default window, %d seconds) to %d", p.ShareDecaySeconds, DefaultShareDecaySeconds, MaxShareDecaySeconds).WithField("fairsharePolicy.shareDecaySeconds")
	}
	if p.ComputeReservation < 0 || p.ComputeReservation > MaxComputeReservation {
		return Errorf(CodeInvalid, "fairsharePolicy.computeReservation %d: give 0 to %d", p.ComputeReservation, MaxComputeReservation).WithField("fairsharePolicy.computeReservation")
	}
	if len(p.ShareDistribution) > MaxShareDistribution {
		return Errorf(CodeInvalid, "fairsharePolicy.shareDistribution has %d entries: at most %d", len(p.ShareDistribution), MaxShareDistribution).WithField("fairsharePolicy.shareDistribution")
	}
	for i, s := range p.ShareDistribution {
		if !ValidShareIdentifier(s.ShareIdentifier, true) {
			return Errorf(CodeInvalid, "fairsharePolicy.shareDistribution[%d].shareIdentifier %q: use 1 to %d letters, digits, hyphens and underscores, optionally followed by * (a prefix)", i, s.ShareIdentifier, MaxShareIdentifierLen).WithField("fairsharePolicy.shareDistribution")
		}
		if s.WeightFactor != 0 && (s.WeightFactor < MinWeightFactor || s.WeightFactor > MaxWeightFactor) {
			return Errorf(CodeInvalid, "fairsharePolicy.shareDistribution[%d] (%s): weightFactor %g: give %g to %g (default 1; lower gets more compute)", i, s.ShareIdentifier, s.WeightFactor, MinWeightFactor, MaxWeightFactor).WithField("fairsharePolicy.shareDistribution")
		}
		for k := 0; k < i; k++ {
			if a, b := p.ShareDistribution[k].ShareIdentifier, s.ShareIdentifier; a == b || covers(a, b) || covers(b, a) {
				return Errorf(CodeInvalid, "fairsharePolicy.shareDistribution: %s and %s overlap: each share identifier may be matched by one entry only", a, b).WithField("fairsharePolicy.shareDistribution")
			}
		}
	}
	return nil
}

// covers reports whether the prefix entry a (NAME*) matches entry b.
func covers(a, b string) bool {
	n := len(a) - 1
	if n < 0 || a[n] != '*' {
		return false
	}
	b = trimStar(b)
	return len(b) >= n && b[:n] == a[:n]
}

func trimStar(s string) string {
	if n := len(s) - 1; n >= 0 && s[n] == '*' {
		return s[:n]
	}
	return s
}
