package slurm_test

import (
	"context"
	"strings"
	"testing"

	"github.com/shoal-batch/shoal/api"
)

// TestSacctmgrQOSPreempt sets a QOS's preemption settings through
// sacctmgr against a real controller: add with them, Preempt+= and -=,
// the mode, grace and exempt times shown by show qos in 22.05's columns;
// and refuses, leaving the registry as it was, a QOS preempting itself or
// in a loop, an unknown QOS, SUSPEND, and Preempt= mixed with +=.
func TestSacctmgrQOSPreempt(t *testing.T) {
	sock, cl := startAgent(t)
	for _, args := range [][]string{{"add", "account", "physics"}, {"add", "qos", "scavenger"}, {"add", "qos", "standby"}} {
		if rc, out, errs := run(t, sock, "", "sacctmgr", append([]string{"-i"}, args...)...); rc != 0 {
			t.Fatalf("sacctmgr %v: exit %d: %s%s", args, rc, out, errs)
		}
	}
	want(t, sock, "", 0, " Adding QOS(s)\n  urgent\n Settings\n  Description    = urgent\n  GraceTime                = 20\n"+
		"  Preempt                  = scavenger\n  PreemptMode              = CANCEL\n  Priority                 = 100\n", "",
		"sacctmgr", "-i", "add", "qos", "urgent", "Preempt=scavenger", "PreemptMode=cancel", "GraceTime=20", "Priority=100")
	want(t, sock, "", 0, " Modified qos...\n  urgent\n", "",
		"sacctmgr", "-i", "modify", "qos", "urgent", "set", "Preempt+=standby")
	want(t, sock, "", 0, " Modified qos...\n  scavenger\n", "",
		"sacctmgr", "-i", "modify", "qos", "where", "name=scavenger", "set", "PreemptMode=requeue", "GraceTime=30", "PreemptExemptTime=10")
	show := []string{"-n", "-P", "show", "qos", "format=name,preempt,preemptmode,preemptexempttime,gracetime,priority"}
	wantShow := "normal||cluster||00:00:00|0\nscavenger||requeue|00:10:00|00:00:30|0\nstandby||cluster||00:00:00|0\nurgent|scavenger,standby|cancel||00:00:20|100\n"
	want(t, sock, "", 0, wantShow, "", "sacctmgr", show...)

	// Refusals: nothing changes.
	for _, c := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"modify", "qos", "urgent", "set", "Preempt=urgent"}, " Error with request: QOS Preemption loop detected\n"},
		{[]string{"modify", "qos", "standby", "set", "Preempt=urgent"}, " Error with request: QOS Preemption loop detected\n"},
		{[]string{"modify", "qos", "urgent", "set", "Preempt+=gold"}, "sacctmgr: error: You gave a bad qos 'gold'. Valid QOS's are normal,scavenger,standby,urgent\n"},
		{[]string{"modify", "qos", "urgent", "set", "Preempt=standby", "Preempt+=normal"},
			"sacctmgr: error: You can't set qos equal to something and then add or subtract from it in the same line\n"},
		{[]string{"modify", "qos", "scavenger", "set", "PreemptMode=suspend"},
			" Bad Preempt Mode given: suspend\n shoal's PreemptMode values are OFF (the cluster's mode), CANCEL and REQUEUE: it does not suspend or gang-schedule jobs\n"},
		{[]string{"modify", "qos", "scavenger", "set", "GraceTime=soon"}, "sacctmgr: error: Invalid value for GraceTime (soon)\n"},
		{[]string{"modify", "qos", "scavenger", "set", "PreemptExemptTime=1:2:3:4"},
			" Bad PreemptExemptTime format: 1:2:3:4 (give minutes, MM:SS, HH:MM:SS or D-HH:MM:SS; -1 clears it)\n"},
		{[]string{"modify", "qos", "scavenger", "set", "MaxJobs+=3"}, " shoal's sacctmgr does not take MaxJobs+=3: give the whole value with MaxJobs=\n"},
	} {
		want(t, sock, "", 1, "", c.wantErr, "sacctmgr", append([]string{"-i"}, c.args...)...)
	}
	want(t, sock, "", 0, wantShow, "", "sacctmgr", show...)

	// The controller refuses what a client did not check.
	err := cl.Call(context.Background(), api.PathAccountsModify, api.AccountsChange{QOS: []api.QOS{{Name: "standby", Preempt: []string{"standby"}}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "QOS Preemption loop detected: qos standby may not preempt itself") {
		t.Fatalf("a QOS preempting itself, sent straight to the controller: %v, want the loop refused", err)
	}

	// Preempt-=, PreemptMode=off (the cluster's), the exempt time
	// cleared, and a deleted QOS leaving the lists.
	want(t, sock, "", 0, " Modified qos...\n  urgent\n", "", "sacctmgr", "-i", "modify", "qos", "urgent", "set", "Preempt-=scavenger")
	want(t, sock, "", 0, " Modified qos...\n  scavenger\n", "",
		"sacctmgr", "-i", "modify", "qos", "scavenger", "set", "PreemptMode=off", "PreemptExemptTime=-1", "GraceTime=-1")
	want(t, sock, "", 0, " Deleting QOS(s)...\n  standby\n", "", "sacctmgr", "-i", "delete", "qos", "standby")
	want(t, sock, "", 0, "normal||cluster||00:00:00|0\nscavenger||cluster||00:00:00|0\nurgent||cancel||00:00:20|100\n", "", "sacctmgr", show...)

	// The default listing has 22.05's columns.
	rc, out, _ := run(t, sock, "", "sacctmgr", "show", "qos")
	if rc != 0 || !strings.HasPrefix(out, "      Name   Priority  GraceTime    Preempt   PreemptExemptTime PreemptMode ") {
		t.Errorf("sacctmgr show qos: exit %d, header %q; want 22.05's Name, Priority, GraceTime, Preempt, PreemptExemptTime, PreemptMode", rc, strings.SplitN(out, "\n", 2)[0])
	}

	// scontrol show config names the controller's preemption.
	rc, out, _ = run(t, sock, "", "scontrol", "show", "config")
	if rc != 0 || !strings.Contains(out, "PreemptMode             = CANCEL\n") || !strings.Contains(out, "PreemptType             = preempt/partition_prio\n") {
		t.Errorf("scontrol show config: exit %d, want PreemptMode CANCEL and PreemptType preempt/partition_prio:\n%s", rc, out)
	}
}
