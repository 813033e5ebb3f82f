package daemon

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoal-batch/shoal/api"
)

// TestMemConsumableResources: AWS Batch's consumable resource operations
// in its shapes: root creates, updates and deletes, anyone lists and
// describes; bad input is refused with what would be right and nothing
// stored; a submit that names an unknown resource or more than there are
// is refused in Slurm's words.
func TestMemConsumableResources(t *testing.T) {
	mc := startMemController(t, Config{})
	mc.registerNode("n1")
	before := mc.c.fsm.State().Index()
	for _, tt := range []struct {
		who  peer
		op   string
		body string
		code string
		says string
	}{
		{alice, "createconsumableresource", `{"consumableResourceName":"db","totalQuantity":4}`, api.CodeForbidden, "create consumable resources"},
		{rootUser, "createconsumableresource", `{"consumableResourceName":"db"}`, api.CodeInvalid, "totalQuantity"},
		{rootUser, "createconsumableresource", `{"consumableResourceName":"db","totalQuantity":-1}`, api.CodeInvalid, "totalQuantity"},
		{rootUser, "createconsumableresource", `{"consumableResourceName":"d b","totalQuantity":1}`, api.CodeInvalid, "letters, digits"},
		{rootUser, "createconsumableresource", `{"consumableResourceName":"db","totalQuantity":1,"resourceType":"SOMETIMES"}`, api.CodeInvalid, "REPLENISHABLE or NON_REPLENISHABLE"},
		{rootUser, "updateconsumableresource", `{"consumableResource":"db","operation":"SET","quantity":1}`, api.CodeNotFound, "does not exist"},
		{rootUser, "describeconsumableresource", `{"consumableResource":"db"}`, api.CodeNotFound, "does not exist"},
	} {
		status, out := mc.awsCall(tt.who, tt.op, tt.body)
		if msg, _ := out["message"].(string); status != http.StatusBadRequest || out["code"] != tt.code || !strings.Contains(msg, tt.says) {
			t.Errorf("%s %s as uid %d: HTTP %d %v, want 400 %s saying %q", tt.op, tt.body, tt.who.uid, status, out, tt.code, tt.says)
		}
	}
	if after := mc.c.fsm.State().Index(); after != before {
		t.Fatalf("refused calls moved the raft index from %d to %d", before, after)
	}

	status, out := mc.awsCall(rootUser, "createconsumableresource", `{"consumableResourceName":"db","totalQuantity":4,"tags":{"team":"x"}}`)
	if status != http.StatusOK || out["consumableResourceName"] != "db" || out["consumableResourceArn"] != "arn:aws:batch:us-east-1:000000000000:consumable-resource/db" {
		t.Fatalf("createconsumableresource: HTTP %d %v", status, out)
	}
	if _, out := mc.awsCall(rootUser, "createconsumableresource", `{"consumableResourceName":"db","totalQuantity":4}`); out["code"] != api.CodeConflict {
		t.Errorf("create db twice: %v, want %s", out, api.CodeConflict)
	}
	mc.awsCall(rootUser, "createconsumableresource", `{"consumableResourceName":"dbx","totalQuantity":1}`)
	mc.awsCall(rootUser, "createconsumableresource", `{"consumableResourceName":"other","totalQuantity":1}`)
	status, out = mc.awsCall(rootUser, "updateconsumableresource", `{"consumableResource":"arn:aws:batch:us-east-1:000000000000:consumable-resource/db","operation":"ADD","quantity":2}`)
	if status != http.StatusOK || out["totalQuantity"] != 6.0 {
		t.Fatalf("update db ADD 2 (by ARN): HTTP %d %v, want total 6", status, out)
	}
	_, out = mc.awsCall(bob, "describeconsumableresource", `{"consumableResource":"db"}`)
	if out["totalQuantity"] != 6.0 || out["availableQuantity"] != 6.0 || out["inUseQuantity"] != 0.0 || out["resourceType"] != "REPLENISHABLE" || out["tags"].(map[string]any)["team"] != "x" {
		t.Errorf("describe db as bob: %v", out)
	}
	// List: a prefix filter, and pages.
	_, out = mc.awsCall(bob, "listconsumableresources", `{"filters":[{"name":"CONSUMABLE_RESOURCE_NAME","values":["DB*"]}],"maxResults":1}`)
	page, _ := out["consumableResources"].([]any)
	if len(page) != 1 || page[0].(map[string]any)["consumableResourceName"] != "db" || out["nextToken"] == nil {
		t.Fatalf("list DB* page 1: %v", out)
	}
	_, out = mc.awsCall(bob, "listconsumableresources", `{"filters":[{"name":"CONSUMABLE_RESOURCE_NAME","values":["DB*"]}],"maxResults":1,"nextToken":"`+out["nextToken"].(string)+`"}`)
	page, _ = out["consumableResources"].([]any)
	if len(page) != 1 || page[0].(map[string]any)["consumableResourceName"] != "dbx" || out["nextToken"] != nil {
		t.Fatalf("list DB* page 2: %v", out)
	}

	// Submits.
	for _, tt := range []struct {
		uses []api.LicenseUse
		says string
	}{
		{[]api.LicenseUse{{Name: "nosuch", Quantity: 1}}, "not a license"},
		{[]api.LicenseUse{{Name: "db", Quantity: 7}}, "6 in all"},
		{[]api.LicenseUse{{Name: "db", Quantity: 0}}, "at least 1"},
		{[]api.LicenseUse{{Name: "db", Quantity: 1}, {Name: "db", Quantity: 1}}, "twice"},
	} {
		status, e := mc.call(alice, api.PathSubmit, api.SubmitJobRequest{JobSpec: api.JobSpec{Command: []string{"true"}, Licenses: tt.uses}}, nil)
		if status != http.StatusBadRequest || e.Field != "licenses" || !strings.HasPrefix(e.Message, "Invalid license specification") || !strings.Contains(e.Message, tt.says) {
			t.Errorf("submit with %v: HTTP %d %+v, want 400 on field licenses saying %q", tt.uses, status, e, tt.says)
		}
	}
	// Job definitions: their resources are checked as a submit's, and
	// kept by name.
	_, out = mc.awsCall(alice, "registerjobdefinition", `{"jobDefinitionName":"d1","type":"script","containerProperties":{"command":["true"]},
		"consumableResourceProperties":{"consumableResourceList":[{"consumableResource":"nosuch","quantity":1}]}}`)
	if msg, _ := out["message"].(string); out["code"] != api.CodeInvalid || !strings.Contains(msg, "consumableResourceProperties") || !strings.Contains(msg, "nosuch") {
		t.Errorf("register a definition asking for nosuch: %v, want it refused naming the resource", out)
	}
	if status, out := mc.awsCall(alice, "registerjobdefinition", `{"jobDefinitionName":"d1","type":"script","containerProperties":{"command":["true"]},
		"consumableResourceProperties":{"consumableResourceList":[{"consumableResource":"arn:aws:batch:us-east-1:000000000000:consumable-resource/dbx","quantity":1}]}}`); status != http.StatusOK {
		t.Fatalf("register a definition asking for dbx by ARN: HTTP %d %v", status, out)
	}
	if d := mc.c.fsm.State().LatestJobDefinition("d1"); d == nil || d.ConsumableResourceProperties == nil || d.ConsumableResourceProperties.ConsumableResourceList[0].Name != "dbx" {
		t.Errorf("stored definition d1: %+v, want its resource dbx by name", d)
	}

	id := mc.submit(alice, api.JobSpec{Command: []string{"true"}, Held: true, Licenses: []api.LicenseUse{{Name: "db", Quantity: 2}}})
	if _, out := mc.awsCall(rootUser, "deleteconsumableresource", `{"consumableResource":"db"}`); out["code"] != api.CodeConflict {
		t.Errorf("delete db while job %d asks for it: %v, want %s", id, out, api.CodeConflict)
	}
	mc.mustCall(alice, api.PathCancel, api.StopJobRequest{ID: id, Reason: "x"}, nil)
	if status, out := mc.awsCall(rootUser, "deleteconsumableresource", `{"consumableResource":"db"}`); status != http.StatusOK {
		t.Errorf("delete db: HTTP %d %v", status, out)
	}
}

// waitLicense waits (on the FSM's change channel, no polling) until
// license name has total want.
func (mc *memController) waitLicense(name string, want int64) {
	mc.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		_, changed := mc.c.fsm.Changed()
		if l := mc.c.fsm.State().License(name); l != nil && l.Total == want {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			mc.t.Fatalf("license %s: never got total %d (has %+v)", name, want, mc.c.fsm.State().License(name))
		}
	}
}

// TestConfiguredLicenses: the agent's -licenses are created when the
// controller comes to lead; a bad list is refused with what is wrong.
func TestConfiguredLicenses(t *testing.T) {
	lics, err := ParseLicenseConfig("db:4,matlab")
	if err != nil {
		t.Fatal(err)
	}
	mc := startMemController(t, Config{Licenses: lics})
	mc.waitLicense("db", 4)
	mc.waitLicense("matlab", 1)
	// An operator's change lasts until a controller next comes to lead,
	// which sets the configured total again.
	mc.awsCall(rootUser, "updateconsumableresource", `{"consumableResource":"db","quantity":9}`)
	mc.waitLicense("db", 9)
	mc.c.configureLicenses(context.Background())
	mc.waitLicense("db", 4)
	for _, bad := range []string{"db:x", "d b:1", "db:0"} {
		if _, err := ParseLicenseConfig(bad); err == nil {
			t.Errorf("ParseLicenseConfig(%q): no error", bad)
		}
	}
	if l, err := ParseLicenseConfig(" "); err != nil || l != nil {
		t.Errorf("ParseLicenseConfig(blank) = %v, %v; want none", l, err)
	}
}
