package kernel

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// The kernel runs in a user namespace of its own, in which the host user is uid 0. Guest
// processes live in PID, mount, IPC and network namespaces that this user namespace owns
// (stub.go), and they share the user namespace with the kernel: Linux lets a process reach
// another's /proc/PID/fd magic links (which execve and chdir are pointed at, sys_exec.go)
// only within one user namespace. `linux` as started by the user is a thin outer process:
// it re-executes itself inside the namespace, forwards the signals that stop a machine,
// and exits as the inner one does. Its pid is the one in the umid directory's pid file.

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

// runInUserns re-executes `linux` with args in a new user namespace and returns its exit
// status. Every fd the outer process inherited stays open under its number in the inner
// one (con0=fd:N and friends name them).
func runInUserns(args []string, stdin, stdout *os.File, stderr io.Writer) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "linux: %v\n", err)
		return 1
	}
	cmd := exec.Command(self, args...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), usernsEnv+"="+strconv.Itoa(os.Getpid()))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.ExtraFiles = inheritedFiles()
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Pdeathsig:   syscall.SIGKILL, // the caller's thread is locked (cmd/linux): it never exits first
		Cloneflags:  unix.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "linux: starting the kernel in a new user namespace: %v (gouml needs unprivileged user namespaces: check sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone and kernel.apparmor_restrict_unprivileged_userns)\n", err)
		return 1
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		// die the same way, so that a caller's wait sees what happened
		signal.Reset(ws.Signal())
		unix.Kill(os.Getpid(), ws.Signal())
		return 128 + int(ws.Signal())
	}
	if err != nil && cmd.ProcessState == nil {
		fmt.Fprintf(stderr, "linux: %v\n", err)
		return 1
	}
	return cmd.ProcessState.ExitCode()
}

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
