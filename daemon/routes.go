package daemon

import (
	"net/http"

	"github.com/shoal-batch/shoal/api"
)

func (c *Controller) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(api.PathSubmit, endpoint(c, c.submit))
	mux.Handle(api.PathSubmitBatch, endpoint(c, c.submitBatch))
	mux.Handle(api.PathListJobs, endpoint(c, c.listJobs))
	mux.Handle(api.PathCancel, endpoint(c, c.cancelJob))
	mux.Handle(api.PathTerminate, endpoint(c, c.terminateJob))
	mux.Handle(api.PathSignal, endpoint(c, c.signalJob))
	mux.Handle(api.PathWait, endpoint(c, c.waitJob))
	mux.Handle(api.PathLogs, endpoint(c, c.jobLogs))
	mux.Handle(api.PathHold, endpoint(c, c.holdJobs))
	mux.Handle(api.PathUpdateJob, endpoint(c, c.updateJob))
	mux.Handle(api.PathUpdateNode, endpoint(c, c.updateNode))
	mux.Handle(api.PathClusterInfo, endpoint(c, c.clusterInfo))
	mux.Handle(api.PathNodes, endpoint(c, c.listNodes))
	mux.Handle(api.PathNodeRegister, endpoint(c, c.registerNode))
	mux.Handle(api.PathNodeWork, endpoint(c, c.nodeWork))
	mux.Handle(api.PathNodeEvents, endpoint(c, c.nodeEvents))
	// AWS Batch's REST operations, at their real paths.
	for path, h := range map[string]http.Handler{
		"registerjobdefinition":       awsEndpoint(c, c.registerJobDef),
		"describejobdefinitions":      awsEndpoint(c, c.describeJobDefs),
		"deregisterjobdefinition":     awsEndpoint(c, c.deregisterJobDef),
		"createcomputeenvironment":    awsEndpoint(c, c.createCE),
		"updatecomputeenvironment":    awsEndpoint(c, c.updateCE),
		"describecomputeenvironments": awsEndpoint(c, c.describeCEs),
		"createjobqueue":              awsEndpoint(c, c.createQueue),
		"updatejobqueue":              awsEndpoint(c, c.updateQueue),
		"describejobqueues":           awsEndpoint(c, c.describeQueues),
		"submitjob":                   awsEndpoint(c, c.submitJob),
		"listjobs":                    awsEndpoint(c, c.listAWSJobs),
		"describejobs":                awsEndpoint(c, c.describeAWSJobs),
		"canceljob":                   awsEndpoint(c, c.cancelAWSJob),
		"terminatejob":                awsEndpoint(c, c.terminateAWSJob),
	} {
		mux.Handle("/v1/"+path, h)
	}
	mux.Handle(api.PathKeys, endpoint(c, c.keys))
	mux.HandleFunc(api.PathImageLoad, c.loadImage)
	mux.Handle(api.PathImageList, endpoint(c, c.listImages))
	mux.HandleFunc(api.PathImageFetch, c.fetchImage)
	mux.HandleFunc("/", notFound)
	return mux
}
