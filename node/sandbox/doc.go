// Package sandbox runs one batch job in a libcontainer (runc v1.5.2) sandbox
// on a cgroup v1 host managed with cgroupfs (no systemd).
//
// # What a job sees
//
// A job runs in new PID, mount, UTS and IPC namespaces but shares the host's
// network namespace (it must reach the controller over unix sockets and TCP).
// Its root is the host's own "/", bind-mounted recursively, so the job sees
// the submit directory, $HOME, /usr and /dev exactly as the user would on
// the host, with the user's own permissions, as under Slurm. On top of that
// bind the job gets:
//
//   - a fresh /proc for its PID namespace;
//   - a private /tmp: a directory TmpRoot/<id>, mode 1777 and owned by the
//     job user, bind-mounted on /tmp and removed when the job ends;
//   - a private tmpfs on /dev/shm, so POSIX shared memory neither leaks
//     between jobs nor outlives the job.
//
// All of these mounts live only in the job's mount namespace: the root is
// made rslave before anything is mounted, so mount events propagate from the
// host into the job but never back, and they vanish with the namespace when
// the last process of the job exits.
//
// Resources are limited with cgroup v1 under /sys/fs/cgroup/<ctrl>/
// <CgroupParent>/<id>: memory (and memory+swap where the kernel has memsw),
// a CFS CPU quota, and a deny-all device list plus specconv.AllowedDevices.
//
// Non-root jobs run with no capabilities at all and with no_new_privs set;
// root jobs keep Docker's default capability set.
//
// # PID 1
//
// The job's own process is PID 1 of its namespace, and the kernel drops every
// signal sent to a namespace's init for which that process has no handler
// (SIGKILL and SIGSTOP excepted). A shell script without a trap therefore
// ignores SIGTERM. Job.Stop compensates: it sends SIGTERM to every process of
// the job, and if PID 1 neither catches nor ignores SIGTERM (so that outside
// a namespace SIGTERM would have killed it) it also stops PID 1 with SIGSTOP,
// so that a script cannot go on to its next command, and kills it as soon as
// the job's other processes have exited (or the grace period ends). Such a
// job ends with Signal 9.
//
// # The init re-exec
//
// libcontainer starts every sandbox by re-executing the current binary
// (/proc/self/exe) with the single argument "init". Every binary that uses
// this package (the node daemon, and test binaries) must therefore call Init
// at the very start of main (or TestMain) when os.Args[1] == "init", before
// doing anything else:
//
//	func main() {
//		if len(os.Args) > 1 && os.Args[1] == "init" {
//			sandbox.Init() // never returns
//		}
//		...
//	}
//
// The C part of that init (libcontainer/nsenter) runs as a constructor before
// the Go runtime starts; this package imports it, so it is linked into every
// binary that imports sandbox. Build with CGO_ENABLED=1.
//
// # Binary placement
//
// Before each start libcontainer protects the re-executed binary from being
// overwritten by the job by mounting a read-only overlayfs whose lower
// layers are the binary's directory and the container's state directory
// (Root/<id>). If the binary's directory is Root or an ancestor of Root,
// the two layers overlap, the overlay fails with "fsconfig create overlayfs:
// too many levels of symbolic links", and libcontainer silently falls back
// to copying the whole binary into a memfd on every start (about +8 ms and
// +7 ms of CPU per job). Runner.Start refuses such a placement with
// ErrBinaryAboveRoot: install the node binary in e.g. /usr/local/bin and
// keep Root in e.g. /run/shoal/sandbox. In tests the binary lives under
// /tmp/go-build*/ and Root under t.TempDir(), which do not overlap.
//
// # Leftovers
//
// A sandbox outlives a crashed daemon. Runner.Cleanup, called when the node
// starts, kills and removes every container, cgroup and private /tmp that no
// Job of this Runner owns.
package sandbox
