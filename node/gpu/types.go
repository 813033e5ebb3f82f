package gpu

import (
	"strings"
)

// brandWords are leading words of NVML model names that no site puts in a
// Slurm GPU type.
var brandWords = map[string]bool{"nvidia": true, "tesla": true, "geforce": true, "quadro": true}

// seriesWords are words that name a series, not a model: the word after
// them is the model, and the type is both ("RTX 4090" is rtx4090).
var seriesWords = map[string]bool{"rtx": true, "gtx": true, "titan": true, "gt": true}

// suffixWords tell models of one number apart ("GTX 1080 Ti", "RTX 6000
// Ada Generation"): kept after the model.
var suffixWords = map[string]bool{"ti": true, "super": true, "ada": true}

// TypeName derives the Slurm GPU type from an NVML model name, the short
// name sites write in gres.conf (Type=a100), rather than Slurm's AutoDetect
// name (the whole model, "nvidia_a100-sxm4-80gb"). The rule: lower-case the
// name and split it into words at spaces and '-'; drop leading brand
// words (NVIDIA, Tesla, GeForce, Quadro); the first word left is the type,
// joined with the next when it names a series (RTX, GTX, TITAN, GT) and
// with a suffix (Ti, Super, Ada) that follows; what remains (form factor,
// memory size: "SXM4-80GB", "80GB HBM3", "PCIe", "NVL") is dropped; only
// letters, digits and '.' are kept. So:
//
//	NVIDIA H200                 h200
//	NVIDIA H100 80GB HBM3       h100
//	NVIDIA A100-SXM4-80GB       a100
//	Tesla V100-SXM2-16GB        v100
//	NVIDIA GeForce RTX 4090     rtx4090
//	NVIDIA RTX A6000            rtxa6000
//	NVIDIA GeForce GTX 1080 Ti  gtx1080ti
//
// A name that leaves nothing gives "": GPUs of no type, which only jobs
// that ask for any GPU get.
func TypeName(model string) string {
	words := strings.FieldsFunc(strings.ToLower(model), func(r rune) bool { return r == ' ' || r == '-' || r == '_' })
	for len(words) > 0 && brandWords[words[0]] {
		words = words[1:]
	}
	if len(words) == 0 {
		return ""
	}
	name := words[0]
	rest := words[1:]
	if seriesWords[name] && len(rest) > 0 {
		name += rest[0]
		rest = rest[1:]
	}
	for len(rest) > 0 && suffixWords[rest[0]] {
		name += rest[0]
		rest = rest[1:]
	}
	return cleanType(name)
}

// cleanType keeps the letters, digits and '.' of s.
func cleanType(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' {
			return r
		}
		return -1
	}, s)
}

// MIGProfile reads the profile from an NVML MIG device name, "NVIDIA H200
// MIG 1g.18gb" → "1g.18gb": the Slurm type of a MIG instance, as sites
// write it in gres.conf (Type=1g.18gb). "" if the name has no "MIG" word.
func MIGProfile(name string) string {
	words := strings.Fields(name)
	for i, w := range words {
		if w == "MIG" && i+1 < len(words) {
			return cleanType(strings.ToLower(words[i+1]))
		}
	}
	return ""
}
