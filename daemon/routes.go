package daemon

import (
	"fmt"
	"net/http"

	"github.com/hashicorp/raft"

	"github.com/shoal-batch/shoal/api"
	"github.com/shoal-batch/shoal/api/reply"
)

// routeTable is every API operation with who may call it and the largest
// body it takes: the one place authorization is declared. guard enforces
// it before a handler runs; what a handler checks on top is about the
// object (a job's owner), never about the kind of caller.
func (c *Controller) routeTable() []route {
	native := func(path string, a access, limit int64, serve serveFunc) route {
		return route{path: path, access: a, limit: limit, serve: serve}
	}
	aws := func(op string, a access, serve serveFunc) route {
		return route{path: "/v1/" + op, access: a, limit: bodySmall, aws: true, serve: serve}
	}
	operator := func(path, what string, limit int64, serve serveFunc) route {
		return route{path: path, access: asOperator, limit: limit, serve: serve, what: what}
	}
	awsOperator := func(op, what string, serve serveFunc) route {
		rt := aws(op, asOperator, serve)
		rt.what = what
		return rt
	}
	return []route{
		native(api.PathHealth, anyone, bodySmall, c.health),

		native(api.PathSubmit, asUser, bodySubmit, withClientToken(endpoint(c.submit), reply.Error)),
		native(api.PathSubmitBatch, asUser, bodySubmitBatch, withClientToken(endpoint(c.submitBatch), reply.Error)),
		native(api.PathListJobs, asUser, bodySmall, endpoint(c.listJobsJSON)),
		native(api.PathCancel, asUser, bodySmall, endpoint(c.cancelJob)),
		native(api.PathTerminate, asUser, bodySmall, endpoint(c.terminateJob)),
		native(api.PathStopJobs, asUser, bodySubmit, endpoint(c.stopJobs)),
		native(api.PathSignal, asUser, bodySmall, endpoint(c.signalJob)),
		native(api.PathStepStart, asUser, bodySmall, endpoint(c.startStep)),
		native(api.PathStepEnd, asUser, bodySmall, endpoint(c.endStep)),
		native(api.PathStepSignal, asUser, bodySmall, endpoint(c.signalStep)),
		native(api.PathWait, asUser, bodySmall, endpoint(c.waitJob)),
		native(api.PathExplain, asUser, bodySmall, endpoint(c.explainJob)),
		native(api.PathWatch, asUser, bodySmall, endpoint(c.watchJobs)),
		native(api.PathLogs, asUser, bodySmall, endpoint(c.jobLogs)),
		native(api.PathHold, asUser, bodySmall, endpoint(c.holdJobs)),
		native(api.PathUpdateJob, asUser, bodySmall, endpoint(c.updateJob)),
		native(api.PathTopJobs, asUser, bodySmall, endpoint(c.topJobs)),
		native(api.PathClusterInfo, asUser, bodySmall, endpoint(c.clusterInfo)),
		native(api.PathNodes, asUser, bodySmall, endpoint(c.listNodes)),
		native(api.PathImageList, asUser, bodySmall, endpoint(c.listImages)),
		native(api.PathCronPut, asUser, bodySubmit, endpoint(c.cronPut)),
		native(api.PathCronDelete, asUser, bodySmall, endpoint(c.cronDelete)),
		native(api.PathCronPause, asUser, bodySmall, endpoint(c.cronPause)),
		native(api.PathCronList, asUser, bodySmall, endpoint(c.cronList)),
		native(api.PathCrontabGet, asUser, bodySmall, endpoint(c.crontabGet)),
		native(api.PathCrontabPut, asUser, bodySubmitBatch, endpoint(c.crontabPut)),
		native(api.PathAccounts, asUser, bodySmall, endpoint(c.listAccounts)),
		native(api.PathShares, asUser, bodySmall, endpoint(c.shares)),
		native(api.PathPriority, asUser, bodySmall, endpoint(c.priorityFactors)),

		operator(api.PathUpdateNode, "change a node's state", bodySmall, endpoint(c.updateNode)),
		operator(api.PathAccountsAdd, "add accounts, users or qos", bodySmall, endpoint(c.addAccounts)),
		operator(api.PathAccountsModify, "modify accounts, users or qos", bodySmall, endpoint(c.modifyAccounts)),
		operator(api.PathAccountsDelete, "delete accounts, users or qos", bodySmall, endpoint(c.deleteAccounts)),
		operator(api.PathKeys, "manage access keys", bodySmall, endpoint(c.keys)),
		operator(api.PathImageLoad, "load images", bodyImage, c.loadImage),
		operator(api.PathOperatorPeers, "list raft peers", bodySmall, endpoint(c.peers)),
		operator(api.PathOperatorAddPeer, "add raft peers", bodySmall, endpoint(c.operatorAddPeer)),
		operator(api.PathOperatorRemove, "remove raft peers", bodySmall, endpoint(c.operatorRemovePeer)),
		operator(api.PathSnapshotSave, "save snapshots", bodySmall, c.snapshotSave),
		operator(api.PathSnapshotRestore, "restore snapshots", bodySnapshot, c.snapshotRestore),
		operator(api.PathJoinTokenRotate, "rotate the node join token", bodySmall, endpoint(c.rotateJoinToken)),
		native(api.PathClusterJoin, anyone, bodySmall, endpoint(c.clusterJoin)),

		operator(api.PathDeleteNode, "delete nodes", bodySmall, endpoint(c.deleteNode)),

		// The join token registers a new node name and nothing else; a
		// registered node proves itself with its credential (identify).
		native(api.PathNodeRegister, asNode, bodySmall, endpoint(c.registerNode)),
		native(api.PathNodeWork, asNode, bodySmall, credentialed(endpoint(c.nodeWork))),
		native(api.PathNodeBeat, asNode, bodySmall, credentialed(endpoint(c.nodeHeartbeat))),
		native(api.PathNodeEvents, asNode, bodySmall, credentialed(endpoint(c.nodeEvents))),
		native(api.PathImageFetch, asNode, maxFetchRequest, credentialed(c.fetchImage)),

		// AWS Batch's REST operations, at their real paths.
		aws("registerjobdefinition", asUser, awsEndpoint(c.registerJobDef)),
		aws("describejobdefinitions", asUser, awsEndpoint(c.describeJobDefs)),
		aws("deregisterjobdefinition", asUser, awsEndpoint(c.deregisterJobDef)),
		awsOperator("createcomputeenvironment", "create compute environments", awsEndpoint(c.createCE)),
		awsOperator("updatecomputeenvironment", "update compute environments", awsEndpoint(c.updateCE)),
		aws("describecomputeenvironments", asUser, awsEndpoint(c.describeCEs)),
		awsOperator("createjobqueue", "create job queues", awsEndpoint(c.createQueue)),
		awsOperator("updatejobqueue", "update job queues", awsEndpoint(c.updateQueue)),
		aws("describejobqueues", asUser, awsEndpoint(c.describeQueues)),
		awsOperator("deletejobqueue", "delete job queues", awsEndpoint(c.deleteQueue)),
		awsOperator("deletecomputeenvironment", "delete compute environments", awsEndpoint(c.deleteCE)),
		aws("submitjob", asUser, withClientToken(awsEndpoint(c.submitJob), writeAWSError)),
		aws("listjobs", asUser, awsEndpoint(c.listAWSJobs)),
		aws("describejobs", asUser, awsEndpoint(c.describeAWSJobs)),
		aws("canceljob", asUser, awsEndpoint(c.cancelAWSJob)),
		aws("terminatejob", asUser, awsEndpoint(c.terminateAWSJob)),
		awsOperator("createconsumableresource", "create consumable resources", awsEndpoint(c.createConsumableResource)),
		awsOperator("updateconsumableresource", "update consumable resources", awsEndpoint(c.updateConsumableResource)),
		awsOperator("deleteconsumableresource", "delete consumable resources", awsEndpoint(c.deleteConsumableResource)),
		aws("describeconsumableresource", asUser, awsEndpoint(c.describeConsumableResource)),
		aws("listconsumableresources", asUser, awsEndpoint(c.listConsumableResources)),
		awsOperator("createschedulingpolicy", "create scheduling policies", awsEndpoint(c.createSchedulingPolicy)),
		awsOperator("updateschedulingpolicy", "update scheduling policies", awsEndpoint(c.updateSchedulingPolicy)),
		awsOperator("deleteschedulingpolicy", "delete scheduling policies", awsEndpoint(c.deleteSchedulingPolicy)),
		aws("describeschedulingpolicies", asUser, awsEndpoint(c.describeSchedulingPolicies)),
		aws("listschedulingpolicies", asUser, awsEndpoint(c.listSchedulingPolicies)),

		native("/", identified, bodySmall, notFound),
	}
}

// credentialed serves a node route to node daemons that proved who they
// are (their credential, or root on the unix socket), never to the bare
// join token.
func credentialed(serve serveFunc) serveFunc {
	return func(w http.ResponseWriter, r *http.Request, who caller) {
		if who.joiner {
			reply.Error(w, errJoinOnly())
			return
		}
		serve(w, r, who)
	}
}

func (c *Controller) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range c.routeTable() {
		if !noBarrier[rt.path] {
			rt.serve = c.consistent(rt) // reads are current unless ?stale=true (forward.go)
		}
		mux.Handle(rt.path, c.guard(rt))
	}
	return mux
}

// health answers anyone, by GET or POST: the controller serves, its
// version, and who leads.
func (c *Controller) health(w http.ResponseWriter, r *http.Request, _ caller) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		reply.Error(w, api.Errorf(api.CodeInvalid, "%s %s: use GET or POST", r.Method, r.URL.Path))
		return
	}
	addr, id := c.raft.raft.LeaderWithID()
	resp := api.HealthResponse{Status: "ok", Version: Version, IsLeader: c.raft.raft.State() == raft.Leader}
	if id != "" {
		resp.Leader = fmt.Sprintf("%s (%s)", id, addr)
	}
	reply.JSON(w, http.StatusOK, resp)
}

// actingUID is the uid a job command carries to the FSM, whose ownership
// check lets uid 0 touch any job: operators act as root there.
func (who caller) actingUID() uint32 {
	if who.operator {
		return 0
	}
	return who.uid
}
