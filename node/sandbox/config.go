package sandbox

import (
	"fmt"
	"math"
	"os"
	"path"
	"slices"

	"github.com/opencontainers/cgroups"
	devices "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"golang.org/x/sys/unix"
)

// cpuPeriod is the CFS period in microseconds (the kernel's default).
const cpuPeriod = 100000

// rootCaps is what a root job keeps: Docker's default capability set.
var rootCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// deviceRules is deny-all followed by libcontainer's default allow list
// (/dev/null, zero, full, random, urandom, tty, ptmx, pts, mknod).
var deviceRules = func() []*devices.Rule {
	rules := []*devices.Rule{{
		Type:        devices.WildcardDevice,
		Major:       devices.Wildcard,
		Minor:       devices.Wildcard,
		Permissions: "rwm",
		Allow:       false,
	}}
	for _, d := range specconv.AllowedDevices {
		rules = append(rules, &d.Rule)
	}
	return rules
}()

// hostDevice looks up a device node for Spec.Devices: its type and numbers
// for the device cgroup rule, its mode and owner for the node an image
// job's /dev gets. The job may read and write it, not mknod.
func hostDevice(path string) (*devices.Device, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, fmt.Errorf("device %s: %w", path, err)
	}
	var typ devices.Type
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = devices.CharDevice
	case unix.S_IFBLK:
		typ = devices.BlockDevice
	default:
		return nil, fmt.Errorf("device %s: not a character or block device", path)
	}
	return &devices.Device{
		Rule: devices.Rule{
			Type:        typ,
			Major:       int64(unix.Major(st.Rdev)),
			Minor:       int64(unix.Minor(st.Rdev)),
			Permissions: "rw",
			Allow:       true,
		},
		Path:     path,
		FileMode: os.FileMode(st.Mode &^ unix.S_IFMT),
		Uid:      st.Uid,
		Gid:      st.Gid,
	}, nil
}

// haveMemsw reports whether the job's swap can be limited: on cgroup v1
// whether the kernel accounts memory+swap (memory.memsw.*; absent when
// booted with swapaccount=0). On v2 libcontainer turns a swap limit equal
// to the memory limit into memory.swap.max 0, and skips it where the
// kernel has no swap controller.
var haveMemsw = func() bool {
	if cgroups.IsCgroup2UnifiedMode() {
		return true
	}
	_, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
	return err == nil
}()

// cgroupPath is the job's cgroup, relative to every hierarchy's root.
func (r *Runner) cgroupPath(id string) string {
	return path.Join("/", r.CgroupParent, id)
}

// config builds the libcontainer configuration of one job; rootfs is the
// skeleton directory (mounts from hostMounts) or an image job's overlay
// (mounts from imageMounts), followed by the spec's own mounts.
func (r *Runner) config(spec *Spec, hostname, rootfs string, mounts []*configs.Mount) *configs.Config {
	// Deny-all and the defaults, then the job's own devices (a fresh
	// slice: deviceRules is shared by every job).
	res := &cgroups.Resources{Devices: slices.Clip(deviceRules)}
	for _, d := range spec.devices {
		res.Devices = append(res.Devices, &d.Rule)
	}
	if spec.MemoryBytes > 0 {
		res.Memory = spec.MemoryBytes
		if haveMemsw {
			res.MemorySwap = spec.MemoryBytes
		}
	}
	if spec.PidsMax > 0 {
		// pids.max, on cgroup v1 and v2 alike.
		res.PidsLimit = &spec.PidsMax
	}
	if spec.CPUs > 0 {
		res.CpuPeriod = cpuPeriod
		res.CpuQuota = max(1000, int64(math.Ceil(spec.CPUs*cpuPeriod)))
	}

	caps := &configs.Capabilities{} // non-root: nothing at all, not even ambient
	if spec.UID == 0 {
		caps = &configs.Capabilities{Bounding: rootCaps, Permitted: rootCaps, Effective: rootCaps}
	}
	oomScoreAdj := 0 // do not inherit the daemon's OOM protection

	var devs []*devices.Device
	if spec.Rootfs != "" {
		// Created in the job's tmpfs /dev (a host job's /dev is the
		// host's, where the nodes exist already).
		devs = append(slices.Clip(imageDevices), spec.devices...)
	}
	return &configs.Config{
		Rootfs:     rootfs,
		Readonlyfs: spec.Rootfs != "" && spec.ReadonlyRootfs,
		Devices:    devs,
		// Applied to / of the new mount namespace before anything is
		// mounted: mount events may propagate in, never out.
		RootPropagation: unix.MS_SLAVE | unix.MS_REC,
		Hostname:        hostname,
		Namespaces: configs.Namespaces{
			{Type: configs.NEWNS},
			{Type: configs.NEWUTS},
			{Type: configs.NEWIPC},
			{Type: configs.NEWPID},
			// No NEWNET: jobs use the host network.
		},
		Mounts: mounts,
		Cgroups: &cgroups.Cgroup{
			Path:      r.cgroupPath(spec.ID),
			Resources: res,
		},
		Capabilities:    caps,
		NoNewPrivileges: spec.UID != 0,
		OomScoreAdj:     &oomScoreAdj,
	}
}
