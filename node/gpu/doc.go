// Package gpu finds a node's NVIDIA GPUs through NVML and hands them out to
// jobs, each GPU to one job at a time.
//
// The NVML calls sit behind Library: NVML is the real one (go-nvml, which
// loads libnvidia-ml.so.1 at Init and needs cgo), Fake stands in for it in
// tests with any number of GPUs and MIG instances. Discover turns a
// Library into Info; a host without the driver or without GPUs is a node
// with no GPUs, never an error. Only the node daemon calls Discover: the
// commands users type link this package but never initialise NVML.
//
// Allocator is the node-local half of GPU scheduling. The controller counts
// GPUs (a node's capacity and what its jobs hold) and places a job only
// where enough are free; the node picks which ones when the job starts and
// takes them back once the job's sandbox is gone, before it reports the
// end. So the controller's count of a node's held GPUs is never below the
// node's, and a job placed there always finds its GPUs free.
//
// Devices have Slurm types (TypeName of the model, "h200"; a MIG instance's
// profile, "1g.18gb"): the controller counts them by type too, and
// Allocate gives a job devices of the types it asked for. A GPU in MIG mode
// is handed out as its MIG instances (Schedulable), each with the
// capability device nodes ResolveMIGCaps reads. FindDriver lists the
// driver's user-space files that image jobs given GPUs get bound in.
package gpu
