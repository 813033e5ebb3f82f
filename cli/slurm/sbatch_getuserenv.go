package slurm

import "strings"

// validGetUserEnv reports whether Slurm's sbatch takes v as
// --get-user-env's [timeout][mode] (slurm_opt.c, arg_set_get_user_env): a
// number as strtol reads it (leading white space, a sign), then nothing or
// a mode, S or L in either case (what follows the mode is not looked at).
// With no number strtol reads nothing, so v itself must then be empty or
// start with the mode: "S" and "10L" are taken, "abc", "10x" and " " are
// not.
func validGetUserEnv(v string) bool {
	rest := strings.TrimLeft(v, " \t\n\v\f\r")
	if rest != "" && (rest[0] == '+' || rest[0] == '-') {
		rest = rest[1:]
	}
	end := strings.TrimLeft(rest, "0123456789")
	if len(end) == len(rest) { // no number: strtol ends where it began
		end = v
	}
	return end == "" || strings.IndexByte("sSlL", end[0]) >= 0
}
