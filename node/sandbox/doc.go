// Package sandbox runs one batch job in a libcontainer (runc v1.5.2) sandbox
// on a cgroup v1 or v2 host managed with cgroupfs (no systemd).
//
// # What a job sees
//
// A job runs in new PID, mount, UTS and IPC namespaces but shares the host's
// network namespace (it must reach the controller over unix sockets and TCP).
// It sees the host's file system with its user's own permissions, as under
// Slurm: the submit directory, $HOME, /usr, /dev (device access is still
// filtered by the device cgroup), and so on. On top of that it gets:
//
//   - a fresh /proc for its PID namespace;
//   - a private /tmp: a tmpfs of Spec.TmpBytes, mode 0700 and owned by the
//     job user, in the job's mount namespace only (no other user can reach
//     it), charged to the job's memory cgroup (it cannot fill a disk) and
//     gone when the job ends. A working directory under the host's /tmp is
//     bound into it at its own path, so that (and only that) stays
//     visible;
//   - a private tmpfs on /dev/shm, so POSIX shared memory neither leaks
//     between jobs nor outlives the job.
//
// # How: the host's root, bound onto a skeleton
//
// libcontainer cannot use "/" itself as the rootfs: it bind-mounts the
// rootfs onto itself and pivot_roots into it through a descriptor opened by
// path, and a mount stacked on "/" is invisible to a lookup of "/", so
// pivot_root gets the current root and fails with EBUSY (and NoPivotRoot's
// MS_MOVE of "/" onto "/" fails with ELOOP). Nor does it take a mount whose
// destination is "/" ("on the top of rootfs"). So the rootfs is an empty
// skeleton directory, Root/.rootfs, and the supervisor starts the init from
// a thread of its own with a private mount namespace in which the host's
// "/" is bound, recursively, onto the skeleton (bindHostRoot): the init's
// namespace is a copy of that thread's, so the job sees the host's whole
// tree, submounts included, through that one bind, and the host's table
// never shows it. On it go a fresh /proc, /tmp and /dev/shm and the host's
// /dev, as above. A file a root job creates directly in "/" is the host's,
// and a root job can rename the host's top-level entries (they are no
// longer mountpoints in the job); a root job could already change
// anything below them.
//
// A host job with a mount onto a new top-level entry (see Mounts) gets the
// skeleton itself instead, with every top-level entry of the host's "/"
// bound onto it (directories recursively, with their submounts), except
// /proc, /tmp and /dev; top-level symlinks such as bin -> usr/bin are
// recreated in the skeleton, and the new entry is made there, never in the
// host's "/". The entries are re-read at every Start. That costs the init
// a mount, with libcontainer's path checks, for each entry: ~0.4 ms of CPU
// each on a 2-core VM, ~20 of them.
//
// All of these mounts live only in the job's mount namespace, whose root
// libcontainer makes rslave before mounting anything: host mount events
// propagate into the job (from host mounts that are shared; on this
// project's VMs they are all private), the job's never out, and they vanish
// with the namespace when the job's last process exits. None ever shows in
// the host's /proc/self/mountinfo (but see the next two sections).
//
// # Mounts
//
// Spec.Mounts bind host paths into a job (AWS Batch volumes), for host and
// image jobs alike, recursively, nosuid and nodev, read-only (submounts
// too) if asked. A user must not gain
// through a mount what the user cannot reach on the host (a directory
// below one only root may enter), and libcontainer's init mounts a source
// by path, as root, later. So Start looks each source up with the job
// user's file-system credentials (an O_PATH open on a thread with the
// user's fsuid, fsgid and groups), bind-mounts that open file at
// TmpRoot/<id>/mnt/<n> in the host's mount table (a private mount, in a
// root-only directory no user can rename anything in), and gives
// libcontainer that path. (Passing /proc/<pid>/fd/<n> instead does not
// work: mount(2) refuses to bind a mount of another mount namespace,
// EINVAL.) A host job's mount target must not create anything in a host
// directory: it must exist there, or be a new top-level entry (made in the
// skeleton, where it stays, empty), or lie under /tmp (the private one).
// No target may lie in an earlier mount's target: it would be looked up
// through that mount's source, the user's.
//
// libcontainer's init looks a target up by path, as root, after Start's
// checks, and makes it if it is missing by then: a user who swapped a
// directory of the path for a symlink in between would have root make a
// file wherever it led. So a host job whose root is the host's "/" gets
// its mounts onto the host's own paths from the supervisor instead
// (mountInRoot): on the thread the init is started from, it copies each
// source (open_tree) before anything is mounted there, binds the host's
// "/" onto the skeleton, then opens each target inside that root
// (openat2 RESOLVE_IN_ROOT, no magic links) with the user's credentials,
// refuses one that leads to the root itself or into the sandbox's own
// /proc, /dev, /sys or /tmp, and mounts onto that open file: nothing is
// created, and the user's trees lie inside the job's root only, never
// over a path the supervisor or libcontainer use as root. These mounts
// come before the sandbox's own (which they cannot reach); the others
// after. A job on the skeleton (a mount onto a new top-level entry) may
// mount only onto new top-level entries (made in the skeleton, root's)
// and under /tmp, which libcontainer mounts.
//
// # Image jobs
//
// With Spec.Rootfs set (an image the node has unpacked) the job's root is
// that image instead of the host: nothing of the host is visible but what
// Mounts name, and Stdout/Stderr (host files opened before the start).
// The image directory is never written: Start mounts, in the host's mount
// table, an overlay at TmpRoot/<id>/rootfs with the image as its lower
// layer and TmpRoot/<id>/upper as the job's own writable layer (root and
// mode of the image's "/"), and makes the working directory exist in it
// (Dockerfile WORKDIR semantics, symlinks resolved inside the image).
// libcontainer pivot_roots into the overlay; Wait unmounts it and removes
// the layer. Many jobs share one image directory (index=off); none sees
// another's writes. On top come a fresh /proc, a tmpfs /dev that
// libcontainer fills with its default nodes (null, zero, full, random,
// urandom, tty; the /dev/fd symlinks; ptmx, which points at an absent
// /dev/pts), as runc does (no bind of the host's /dev, so its device setup
// runs, and on the job's own tmpfs), a private /dev/shm, /sys read-only and
// the private /tmp. ReadonlyRootfs remounts the root read-only once all
// that is mounted (the overlay is there all the same, so libcontainer's
// mountpoints never land in the image). The job runs as Spec.UID/GID
// whatever the image's /etc/passwd says. No /etc/resolv.conf or /etc/hosts
// is provided (the job shares the host's network, with the image's files).
//
// The overlay and the binds of mount sources and of a working directory
// under /tmp are the only mounts made in the host's
// mount table, under TmpRoot (root-only), and only while the job runs. If
// TmpRoot is on a shared mount (systemd makes "/" shared) their mount and
// unmount events propagate to its peers and slaves, among them the running
// host jobs' namespaces; an unmount held busy there falls back to a lazy
// one.
//
// The bind of the host's /dev is load-bearing beyond showing the devices:
// without a bind on /dev, libcontainer "sets up" /dev itself (mknod, the
// /dev/fd symlinks, /dev/ptmx replaced by a symlink to pts/ptmx), and here
// that /dev would be the host's devtmpfs.
//
// # Files opened as the job's user
//
// No root process follows a path the user chose. Start opens the outputs
// (Spec.Stdout, Stderr) and a host job's working directory with the job
// user's fsuid, fsgid and groups (OpenAsUser; asUser), so the kernel
// checks every lookup against the user's permissions. None of these
// lookups (nor a mount source's) follows a magic link of /proc, which
// would skip those checks: /proc/self/cwd, /proc/<pid>/root or fd/N,
// /dev/fd/N, /dev/stdin, or a user's symlink to one, is refused with the
// path (openNoMagic: openat2 with RESOLVE_NO_MAGICLINKS, or, on a kernel
// without it, a walk that follows no symlink of /proc), and so is a
// relative path, which would start from the daemon's own directory.
// An output that is
// a final symlink, a FIFO, a socket, a directory or a device other than
// /dev/null is refused with the path and what it is, as is an output,
// input or mount source on a kernel interface file system (/proc, /sys,
// cgroupfs, ...), whose permission checks look at the effective uid,
// root's, or at capabilities, not at the file-system uid; the open is
// non-blocking, so nothing the user names can hang the daemon. Each of
// these lookups runs on a goroutine of its own, and Start gives up on one
// that has not returned after Runner.StartCheckTimeout (a path on an NFS
// or FUSE mount whose server is gone), naming the path (noanswer.go): the
// lookup's thread stays blocked in the kernel until the file system
// answers or is unmounted, and what it opened then is closed. An
// existing file keeps its owner and mode: libcontainer's init fchowns
// the container's stdio to the job's uid when the owner differs (runc's
// fixStdioPermissions), so a file the job's uid does not own is written
// through a pipe and a relay in the job's supervisor instead (writing
// with the user's credentials and no capabilities), which Wait
// waits for.
//
// libcontainer's init makes its working directory and enters it as root,
// so a job that does not run as root gets none: the init executes its own
// binary again once it runs as the job's user, and a C constructor
// (package enterdir) enters the directory, at its canonical path, and
// executes the job's program, before any Go runtime starts (about one
// exec, ~1 ms of CPU). Before the init is released, its supervisor
// resolves the directory and the program as the user inside the job's
// root, so that what would fail there fails the start with the reason,
// and gives up after Runner.StartCheckTimeout on a lookup that hangs (a
// PATH entry on a dead NFS server), ending it with its own exit (see
// workdir.go). In an image job the binary runs inside the image, so it
// must be linked statically there (as `make build` links shoal-sandbox);
// with a dynamically linked one, an image job that mounts no directory of
// the user's has its init enter the directory as root, in the job's own
// layer, and one that mounts one is refused. Everyone must be allowed to
// execute the binary (Check refuses it otherwise).
//
// # Resources and credentials
//
// cgroup v1 under /sys/fs/cgroup/<ctrl>/<CgroupParent>/<id> in every
// hierarchy, or on a v2 host /sys/fs/cgroup/<CgroupParent>/<id>: memory
// (and no swap beyond it where the kernel accounts swap), a CFS CPU quota,
// a pids limit (Spec.PidsMax), and a deny-all device list plus specconv.AllowedDevices and the Spec's
// Devices (on v2 libcontainer builds an eBPF device filter from the same
// rules). OOM kills are read from memory.oom_control (v1) or memory.events
// (v2), and Job.Usage from memory.max_usage_in_bytes and cpuacct.usage (v1)
// or memory.peak and cpu.stat (v2), before the cgroup is removed.
// Non-root jobs run with no capabilities at all (not even ambient ones) and
// with no_new_privs; root jobs keep Docker's default capability set. The
// umask is 022; oom_score_adj is 0 whatever the daemon's.
//
// # PID 1 and Stop
//
// The job's own process is PID 1 of its namespace, and the kernel drops
// every signal sent to a namespace's init for which that process has no
// handler (SIGKILL and SIGSTOP excepted): a shell script without a trap
// ignores SIGTERM. Job.Stop therefore sends SIGTERM to every other process
// of the job and, if PID 1 neither catches nor ignores SIGTERM (so that
// outside a namespace SIGTERM would have killed it), stops PID 1 with
// SIGSTOP, so that a script cannot go on to its next command, and SIGKILLs
// it as soon as the job's other processes have exited, or when the grace
// period ends. Such a job ends with Signal 9. When PID 1 exits, the kernel
// kills whatever is left in the namespace, daemonized processes included.
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
// Importing this package also locks the main goroutine to the main thread
// (runtime.LockOSThread in an init function): for each start libcontainer
// setns(2)es a locked thread into the container's mount namespace and lets
// the runtime destroy it, and the one thread the runtime cannot destroy is
// the main thread, which it parks forever, keeping that container's mount
// namespace alive and making /proc/self/mountinfo of the whole process show
// the container's mounts. Do not call runtime.UnlockOSThread in main.
//
// # Binary placement
//
// Before each start libcontainer protects the re-executed binary from being
// overwritten by the job with a read-only overlayfs whose lower layers are
// the binary's directory and the container's state directory (Root/<id>).
// If the binary's directory is Root or an ancestor of Root, the layers
// overlap, the overlay fails ("fsconfig create overlayfs: too many levels
// of symbolic links"), and libcontainer silently falls back to copying the
// whole binary into a memfd on every start (about +8 ms and +7 ms of CPU per
// job). Runner.Start refuses such a placement with ErrBinaryAboveRoot:
// install the node binary in e.g. /usr/local/bin and keep Root in e.g.
// /run/shoal/sandbox. Test binaries live under /tmp/go-build*/ and a test's
// Root under t.TempDir(), which do not overlap; a binary built with
// "go test -c -o /tmp/x.test" would be refused.
//
// The re-executed binary is the daemon's own unless Runner.Supervisor names
// another: shoal-sandbox (cmd/shoal-sandbox, SupervisorName), which holds
// this package and libcontainer alone and is much cheaper to start, twice a
// job (the supervisor, then libcontainer's init from the supervisor's
// /proc/self/exe). It is opened once, must be changeable by root alone, and
// must be the same build (Go, dependencies, a digest of this package's
// source); the same placement rule holds for its directory.
//
// # Supervisors: jobs outlive the daemon
//
// The daemon does not create the container itself. Start prepares the
// job (outputs and working directory opened as the user, host-side
// mounts, the libcontainer config) and hands it to a supervisor: this
// binary re-executed (as "init", with _SHOAL_SHIM=1 in its environment, so
// every main that dispatches libcontainer's init reaches Init), in a
// session of its own, one per job, as containerd's shim is. The supervisor
// creates the container and starts its init, which is therefore its
// child, not the daemon's; checks the working directory and the program;
// tells the daemon the init's pid; the daemon releases the init (Exec, as
// `runc start` does, from the container's saved state). The supervisor waits
// for the init, writes how the job ended (exit code, signal, OOM kills,
// usage, read from the cgroup before it goes) to Root/.shim/<id>/exit.json,
// destroys the container, removes the job directory, copies the last of
// any relayed output (the relays live in the supervisor), and exits.
// Job.Wait reads that record; Job.Forget removes it once the daemon has
// reported the end. Stop and Signal work from the daemon on the container
// as libcontainer saved it, except a stop's SIGKILL when the grace period
// ends (or once only a SIGSTOPped PID 1 is left): the daemon hands that to
// the supervisor through a fifo, Root/.shim/<id>/ctl, so that a stop under
// way finishes even if the daemon exits or dies meanwhile.
//
// When the daemon stops (SIGTERM, kill -9, an upgrade), the supervisors
// and their jobs run on. Runner.Recover, when the next daemon starts,
// finds them again by Root/.shim/<id>/shim.json (the supervisor's and the
// init's pids, with their start times against pid reuse): running ones
// (the end is seen through a pidfd of the supervisor) and ended ones (the
// record), as Jobs whose Wait reports as if the daemon had never left. A
// service manager must not kill the supervisors with the daemon (systemd:
// KillMode=process).
//
// A job's start pays for one more execution of the binary than before
// (the supervisor's): see BenchmarkStartWait.
//
// # Leftovers
//
// Runner.Recover and Runner.Cleanup kill and remove every container,
// cgroup, job directory (private /tmp, image layer, mount binds: unmounted
// first) and supervisor that no Job of this Runner owns: a supervisor
// that died without a record, a container without a supervisor, an init
// that was never released (its daemon died between Start and Exec: the
// job never ran).
package sandbox
