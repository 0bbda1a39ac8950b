package kernel

import (
	"io"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// trapTestIDs is where the test's getresuid writes: not on a stack, which moves when it grows
// (the address is handed over as a number, which does not make the variable escape).
var trapTestIDs [3]uint32

// TestTrapPathAllocs: the notification loop allocates nothing for a call whose handler does
// not (docs/architecture.md, "Notify"): getresuid, answered with one write into the caller,
// and getgroups(0, NULL), answered from the registers. The "guest" is this test's own thread
// (process_vm_writev may write into its own process); the answer goes to no listener.
func TestTrapPathAllocs(t *testing.T) {
	tid := unix.Gettid()
	pidfd, err := unix.PidfdOpen(tid, pidfdThread)
	if err != nil {
		t.Skipf("pidfd_open(PIDFD_THREAD): %v", err)
	}
	defer unix.Close(pidfd)
	cr := rootCred()
	cr.UID, cr.EUID, cr.SUID = 1, 2, 3
	k := &Kernel{cfg: Config{Stderr: io.Discard}, listener: -1,
		tasks: map[int]*Task{}, procs: map[int]*Process{}, logged: map[int]bool{}}
	k.tasks[tid] = &Task{Tid: tid, Proc: &Process{Tgid: unix.Getpid(), Cred: cr}, pidfd: pidfd, contNr: -1}

	ids := &trapTestIDs
	getresuid := seccompNotif{ID: 1, Pid: uint32(tid)}
	getresuid.Data.Nr = unix.SYS_GETRESUID
	for i := range ids {
		getresuid.Data.Args[i] = uint64(uintptr(unsafe.Pointer(&ids[i])))
	}
	getgroups := seccompNotif{ID: 2, Pid: uint32(tid)}
	getgroups.Data.Nr = unix.SYS_GETGROUPS

	c := new(Call)
	for name, n := range map[string]*seccompNotif{"getresuid": &getresuid, "getgroups(0, NULL)": &getgroups} {
		*ids = [3]uint32{}
		allocs := testing.AllocsPerRun(200, func() {
			if kept, _ := k.dispatch(n, c); kept {
				t.Fatalf("%s: the Call was kept", name)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, allocs)
		}
		if n == &getresuid && *ids != [3]uint32{1, 2, 3} {
			t.Errorf("getresuid wrote %v, want [1 2 3]", *ids)
		}
	}
}
