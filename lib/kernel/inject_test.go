package kernel

import (
	"os/exec"
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestInjectFaultGivesUp checks that a call injected at a site that faults (a guest that
// unmapped its shim while one of its threads was traced) is given up, with the task's
// registers put back, instead of being stepped for ever.
func TestInjectFaultGivesUp(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := exec.Command("/bin/sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer func() {
		unix.Kill(pid, unix.SIGKILL)
		unix.PtraceDetach(pid)
		cmd.Wait()
	}()
	var ws unix.WaitStatus
	if _, err := wait4Tid(pid, &ws); err != nil || !ws.Stopped() {
		t.Fatalf("the child did not stop at its exec: %v %#x", err, uint32(ws))
	}
	var before unix.PtraceRegs
	if err := unix.PtraceGetRegs(pid, &before); err != nil {
		t.Fatal(err)
	}
	// page zero is never mapped: the syscall instruction cannot even be fetched
	if _, err := inject(pid, 0x1000, unix.SYS_GETPID); err != errInjectFault {
		t.Fatalf("inject at an unmapped site: %v, want %v", err, errInjectFault)
	}
	var after unix.PtraceRegs
	if err := unix.PtraceGetRegs(pid, &after); err != nil {
		t.Fatalf("the task did not stay in its stop: %v", err)
	}
	if after != before {
		t.Fatalf("registers not put back:\nbefore %+v\nafter  %+v", before, after)
	}
	// and it still runs from where it was: let it go and end it
	if err := unix.PtraceCont(pid, 0); err != nil {
		t.Fatal(err)
	}
}
