package gpu

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// DriverFile is one file of the host's NVIDIA driver that a container-image
// job given GPUs gets, read-only: Source on the host, Target in the image.
type DriverFile struct {
	Source string `json:"source"`
	Target string `json:"target"`
}

// LibDir is where an image job finds the driver's libraries: NVIDIA's CUDA
// images put it on LD_LIBRARY_PATH, and the sandbox does for the others.
const LibDir = "/usr/local/nvidia/lib64"

// DriverLibs are the driver's user-space libraries (by soname prefix) that
// CUDA programs and NVML users load, the "compute" and "utility" sets of
// nvidia-container-toolkit: CUDA and its JIT, NVML, OpenCL, the allocator.
var DriverLibs = []string{
	"libcuda.so", "libcudadebugger.so", "libnvidia-ml.so", "libnvidia-ptxjitcompiler.so",
	"libnvidia-nvvm.so", "libnvidia-gpucomp.so", "libnvidia-cfg.so", "libnvidia-allocator.so",
	"libnvidia-opencl.so", "libnvidia-fatbinaryloader.so", "libnvidia-compiler.so",
	"libnvidia-pkcs11.so", "libnvidia-pkcs11-openssl3.so",
}

// DriverBins are the driver's programs an image job gets in /usr/bin.
var DriverBins = []string{"nvidia-smi", "nvidia-debugdump", "nvidia-cuda-mps-control", "nvidia-cuda-mps-server"}

// DriverBinDirs are where FindDriver looks for DriverBins.
var DriverBinDirs = []string{"/usr/bin", "/usr/local/nvidia/bin", "/usr/local/bin", "/bin"}

// ldconfigArch is how `ldconfig -p` marks this architecture's 64-bit
// libraries, "(libc6,x86-64)"; 32-bit ones are left out.
func ldconfigArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86-64"
	case "arm64":
		return "AArch64"
	case "ppc64le":
		return "64bit"
	}
	return runtime.GOARCH
}

// ParseLdconfig picks the driver's libraries out of `ldconfig -p` output
// (lines "\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1"):
// those of DriverLibs with a version suffix (the soname programs load, not
// the development link), of arch, first one per name. Each goes to
// LibDir/<name> in the image.
func ParseLdconfig(out []byte, arch string) []DriverFile {
	var files []DriverFile
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, rest, ok := strings.Cut(line, " ")
		if !ok || seen[name] {
			continue
		}
		tags, src, ok := strings.Cut(rest, " => ")
		if !ok || !strings.Contains(tags, ","+arch) || !filepath.IsAbs(src) {
			continue
		}
		for _, lib := range DriverLibs {
			if v, ok := strings.CutPrefix(name, lib+"."); ok && v != "" {
				files = append(files, DriverFile{Source: src, Target: LibDir + "/" + name})
				seen[name] = true
				break
			}
		}
	}
	return files
}

// FindDriver lists the host driver's files an image job given GPUs gets:
// the libraries the loader knows (`ldconfig -p`, where libnvidia-ml.so.1,
// which NVML loaded, is found too) and the programs of DriverBins in
// binDirs, each bound at /usr/bin/<name>. None on a host without the
// driver, with one log line; a GPU job in an image then sees its devices
// but has no driver to use them with.
func FindDriver(binDirs []string, log *slog.Logger) []DriverFile {
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var files []DriverFile
	out, err := exec.CommandContext(ctx, "ldconfig", "-p").Output()
	if err != nil {
		// Debian keeps ldconfig in /sbin, off some PATHs.
		out, err = exec.CommandContext(ctx, "/sbin/ldconfig", "-p").Output()
	}
	if err != nil {
		log.Warn("list the loader's libraries: image jobs get no NVIDIA driver libraries", "err", err)
	} else {
		files = ParseLdconfig(out, ldconfigArch())
	}
	files = append(files, findBins(binDirs)...)
	if len(files) == 0 {
		log.Info("no NVIDIA driver files found: image jobs given GPUs get none")
	} else {
		log.Info("NVIDIA driver files for image jobs", "count", len(files))
	}
	return files
}

// findBins finds each of DriverBins in the first of dirs that has it.
func findBins(dirs []string) []DriverFile {
	var files []DriverFile
	for _, name := range DriverBins {
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				files = append(files, DriverFile{Source: p, Target: "/usr/bin/" + name})
				break
			}
		}
	}
	return files
}
