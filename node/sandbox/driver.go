package sandbox

import (
	"path"
	"strings"
)

// DriverMounts adds the host driver's files (Source on the host, Target in
// the image) to an image job's spec, as nvidia-container-toolkit does:
// each bound read-only (their sources are the node's choice, looked up as
// root: NodeSource), and libDir, where the libraries among them go, put
// first on the job's LD_LIBRARY_PATH (the image's own path kept after
// it). It does nothing for a host job, which sees the host's driver where
// it is, or for no files.
func DriverMounts(spec *Spec, files []Mount, libDir string) {
	if spec.Rootfs == "" || len(files) == 0 {
		return
	}
	for _, f := range files {
		spec.Mounts = append(spec.Mounts, Mount{Source: f.Source, Target: f.Target, ReadOnly: true, NodeSource: true})
	}
	for i, kv := range spec.Env {
		if v, ok := strings.CutPrefix(kv, "LD_LIBRARY_PATH="); ok {
			for _, d := range strings.Split(v, ":") {
				if path.Clean(d) == libDir {
					return
				}
			}
			if v != "" {
				v = ":" + v
			}
			spec.Env[i] = "LD_LIBRARY_PATH=" + libDir + v
			return
		}
	}
	spec.Env = append(spec.Env, "LD_LIBRARY_PATH="+libDir)
}
