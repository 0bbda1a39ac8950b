package kernel

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// The kernel runs in a user namespace of its own, in which the host user (or, started by
// root, an unprivileged host uid) is uid 0; guest processes run in a user namespace below
// it (stub.go). `linux` as started by the user is a thin outer process (jail.go): it
// re-executes itself inside the namespace, forwards the signals that stop a machine, and
// exits as the inner one does. Its pid is the one in the umid directory's pid file.

// usernsEnv marks the inner process; its value is the outer process's pid.
const usernsEnv = "GOUML_USERNS_OUTER"

// outerPid returns the pid of the process the user started (for the pid file).
func outerPid() int {
	if n, err := strconv.Atoi(os.Getenv(usernsEnv)); err == nil && n > 0 {
		return n
	}
	return os.Getpid()
}

// inUserns reports whether this is the inner process.
func inUserns() bool { return os.Getenv(usernsEnv) != "" }

// inheritedFiles returns the fds above 2 that the outer process inherited (every fd Go
// opens itself is close-on-exec), indexed for exec.Cmd.ExtraFiles.
func inheritedFiles() []*os.File {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var out []*os.File
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 || fd > 1024 {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue
		}
		for len(out) < fd-2 {
			out = append(out, nil)
		}
		out[fd-3] = os.NewFile(uintptr(fd), "fd"+e.Name())
	}
	return out
}
