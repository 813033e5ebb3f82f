// Package enterdir links, into every binary that starts jobs, the step
// between libcontainer's init and a non-root job: a C constructor that,
// when the binary is executed as
//
//	<binary> shoal-enter-workdir DIR PROGRAM ARGS...
//
// changes into DIR and executes PROGRAM, before the Go runtime starts.
//
// Why: libcontainer's init makes the working directory it is given
// (MkdirAll) and changes into it while it still runs as root, inside the
// job's root. A path that a user's mount or a swapped directory leads
// elsewhere would have root make directories wherever the user's symlink
// points. So a non-root job's init is given no working directory: it
// executes this binary (its own, through /proc/self/exe) once it runs as
// the job's user, with the job's credentials and no capabilities, and
// the directory is entered as the user would enter it from a shell.
//
// PROGRAM is looked up as Go's exec.LookPath (which libcontainer uses)
// does: as given if it holds a slash, else in the PATH of the job's
// environment, whose relative entries, and entries that fail, are passed
// over. Failures are written
// to standard error, which is the job's, and end the job with env(1)'s
// codes: 125 for the directory, 126 for a program that cannot be
// executed, 127 for one not found.
package enterdir

/*
#cgo CFLAGS: -Wall
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MARKER "shoal-enter-workdir"

static void fail(int code, const char *what, const char *name, int err)
{
	dprintf(2, "shoal: %s \"%s\": %s\n", what, name, strerror(err));
	_exit(code);
}

static const char *path_of(char **envp)
{
	for (; envp && *envp; envp++)
		if (strncmp(*envp, "PATH=", 5) == 0)
			return *envp + 5;
	return "";
}

#ifndef __GLIBC__
#error "enter_workdir reads argc, argv and envp as glibc passes them to constructors"
#endif

// glibc calls constructors with the program's argc, argv and envp. Before
// any other (priority 101): runc's nsexec constructor in the same binary
// would otherwise act on what the job's environment holds.
__attribute__((constructor(101))) static void enter_workdir(int argc, char **argv, char **envp)
{
	if (argc < 4 || strcmp(argv[1], MARKER) != 0)
		return;
	const char *dir = argv[2];
	char **args = argv + 3;
	const char *name = args[0];
	if (chdir(dir) < 0)
		fail(125, "enter working directory", dir, errno);
	if (name[0] == '\0')
		fail(127, "exec", name, ENOENT);
	if (strchr(name, '/')) {
		execve(name, args, envp);
		fail(errno == ENOENT ? 127 : 126, "exec", name, errno);
	}
	int denied = 0;
	char file[PATH_MAX];
	for (const char *p = path_of(envp), *end; ; p = end + 1) {
		end = strchrnul(p, ':');
		size_t n = end - p;
		// An empty or relative entry means the working directory, which
		// exec.LookPath refuses to run from.
		if (n > 0 && p[0] == '/' && n + 1 + strlen(name) < sizeof(file)) {
			memcpy(file, p, n);
			file[n] = '/';
			strcpy(file + n + 1, name);
			execve(file, args, envp);
			// As exec.LookPath, go on past any entry that fails, but
			// not past a file that is there and is no program.
			if (errno == ENOEXEC)
				fail(126, "exec", file, errno);
			if (errno == EACCES)
				denied = 1;
		}
		if (*end == '\0')
			break;
	}
	if (denied)
		fail(126, "exec", name, EACCES);
	dprintf(2, "shoal: exec \"%s\": executable file not found in $PATH\n", name);
	_exit(127);
}
*/
import "C"

// Marker is the first argument that makes a binary that links this
// package enter a directory and execute a program (see the package
// documentation).
const Marker = "shoal-enter-workdir"

// Args are the arguments that start argv in dir through bin, a binary
// that links this package (for a job's init: "/proc/self/exe").
func Args(bin, dir string, argv []string) []string {
	return append([]string{bin, Marker, dir}, argv...)
}
