package guestmem

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The tests read and write this process's own memory, which process_vm_readv allows.

func addr(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&b[0]))) }

func TestReadWrite(t *testing.T) {
	pid := os.Getpid()
	src := []byte("hello, guest")
	got := make([]byte, len(src))
	if err := Read(pid, addr(src), got); err != nil || string(got) != string(src) {
		t.Fatalf("Read: %q, %v", got, err)
	}
	dst := make([]byte, 5)
	if err := Write(pid, addr(dst), []byte("abcde")); err != nil || string(dst) != "abcde" {
		t.Fatalf("Write: %q, %v", dst, err)
	}
	if err := Read(pid, 0, got); !errors.Is(err, unix.EFAULT) {
		t.Errorf("Read at 0: %v, want EFAULT", err)
	}
	if err := Read(pid, 1<<47-4096, got); !errors.Is(err, unix.EFAULT) {
		t.Errorf("Read of an unmapped page: %v, want EFAULT", err)
	}
	runtime.KeepAlive(src)
}

func TestReadString(t *testing.T) {
	pid := os.Getpid()
	s := []byte("/etc/passwd\x00junk")
	if got, err := ReadString(pid, addr(s), 4095); err != nil || got != "/etc/passwd" {
		t.Errorf("ReadString: %q, %v", got, err)
	}
	if _, err := ReadString(pid, addr(s), 5); !errors.Is(err, unix.ENAMETOOLONG) {
		t.Errorf("ReadString past max: %v, want ENAMETOOLONG", err)
	}
	// longer than the first chunk: read on in page-bounded chunks
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'a' + byte(i%26)
	}
	long[4500] = 0
	if got, err := ReadString(pid, addr(long), 4500); err != nil || got != string(long[:4500]) {
		t.Errorf("ReadString of 4500 bytes: %d bytes, %v", len(got), err)
	}
	if _, err := ReadString(pid, addr(long), 4499); !errors.Is(err, unix.ENAMETOOLONG) {
		t.Errorf("ReadString of 4500 bytes, max 4499: %v, want ENAMETOOLONG", err)
	}
	if got, err := ReadString(pid, addr(long[4400:]), 100); err != nil || got != string(long[4400:4500]) {
		t.Errorf("ReadString of exactly max: %q, %v", got, err)
	}
	// a string that ends right before an unmapped page still reads
	page, err := unix.Mmap(-1, 0, 2*4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(page)
	unix.Mprotect(page[4096:], unix.PROT_NONE)
	copy(page[4096-4:], "abc\x00")
	if got, err := ReadString(pid, addr(page)+4096-4, 100); err != nil || got != "abc" {
		t.Errorf("ReadString at a page's end: %q, %v", got, err)
	}
	copy(page[4096-3:], "abc")
	if _, err := ReadString(pid, addr(page)+4096-3, 100); !errors.Is(err, unix.EFAULT) {
		t.Errorf("ReadString running into an unmapped page: %v, want EFAULT", err)
	}
}

func TestReadPtrs(t *testing.T) {
	pid := os.Getpid()
	ptrs := []uint64{1, 2, 3, 0, 9}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&ptrs[0])), 8*len(ptrs))
	got, err := ReadPtrs(pid, addr(b), 10)
	if err != nil || len(got) != 3 || got[2] != 3 {
		t.Errorf("ReadPtrs: %v, %v", got, err)
	}
	if _, err := ReadPtrs(pid, addr(b), 1); !errors.Is(err, unix.E2BIG) {
		t.Errorf("ReadPtrs past max: %v, want E2BIG", err)
	}
	runtime.KeepAlive(ptrs)
}

func TestStatus(t *testing.T) {
	tgid, ppid := TgidPpid(os.Getpid())
	if tgid != os.Getpid() || ppid != os.Getppid() {
		t.Errorf("TgidPpid: %d %d, want %d %d", tgid, ppid, os.Getpid(), os.Getppid())
	}
	old := unix.Umask(0o027)
	defer unix.Umask(old)
	if got := Umask(os.Getpid()); got != 0o027 {
		t.Errorf("Umask: %o, want 027", got)
	}
	if tgid, _ := TgidPpid(1 << 30); tgid != 0 {
		t.Errorf("TgidPpid of no task: %d", tgid)
	}
}

// WriteU32s writes in order and stops at the first address that faults, as getresuid's
// put_user calls do.
func TestWriteU32s(t *testing.T) {
	pid := os.Getpid()
	var ids [3]uint32
	a := func(i int) uint64 { return uint64(uintptr(unsafe.Pointer(&ids[i]))) }
	if err := WriteU32s(pid, []uint64{a(0), a(1), a(2)}, []uint32{7, 8, 9}); err != nil || ids != [3]uint32{7, 8, 9} {
		t.Fatalf("WriteU32s: %v, %v", ids, err)
	}
	ids = [3]uint32{}
	if err := WriteU32s(pid, []uint64{a(0), 1<<47 - 4096, a(2)}, []uint32{1, 2, 3}); !errors.Is(err, unix.EFAULT) || ids != [3]uint32{1, 0, 0} {
		t.Errorf("unmapped second address: %v, %v; want [1 0 0], EFAULT", ids, err)
	}
	ids = [3]uint32{}
	if err := WriteU32s(pid, []uint64{a(0), a(1), 0}, []uint32{4, 5, 6}); !errors.Is(err, unix.EFAULT) || ids != [3]uint32{4, 5, 0} {
		t.Errorf("NULL third address: %v, %v; want [4 5 0], EFAULT", ids, err)
	}
	runtime.KeepAlive(&ids)
}

// The trap path reads and writes guest memory for most calls: no allocation.
func TestNoAllocs(t *testing.T) {
	pid := os.Getpid()
	buf := make([]byte, 64)
	var ids [3]uint32
	addrs := []uint64{uint64(uintptr(unsafe.Pointer(&ids[0]))), uint64(uintptr(unsafe.Pointer(&ids[1]))), uint64(uintptr(unsafe.Pointer(&ids[2])))}
	vals := []uint32{1, 2, 3}
	n := testing.AllocsPerRun(100, func() {
		if Read(pid, addr(buf), buf[:32]) != nil || Write(pid, addr(buf[32:]), buf[:32]) != nil ||
			WriteU32s(pid, addrs, vals) != nil {
			t.Fatal("failed")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per Read+Write+WriteU32s, want 0", n)
	}
	path := []byte("/usr/share/zoneinfo/Europe/Paris\x00")
	n = testing.AllocsPerRun(100, func() {
		if s, err := ReadString(pid, addr(path), 4095); err != nil || s != "/usr/share/zoneinfo/Europe/Paris" {
			t.Fatalf("ReadString: %q, %v", s, err)
		}
	})
	if n > 1 {
		t.Errorf("%v allocations per short ReadString, want 1 (the string)", n)
	}
	runtime.KeepAlive(&ids)
}

// TestSyscallSite reads the site of a thread blocked in read(2) on a pipe: its number, and a
// stack pointer and instruction pointer that are this process's.
func TestSyscallSite(t *testing.T) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	tids := make(chan int)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tids <- unix.Gettid()
		var b [1]byte
		unix.Read(p[0], b[:])
		unix.Close(p[0])
		close(done)
	}()
	tid := <-tids
	var s Site
	var err error
	for i := 0; i < 2000; i++ { // until the thread is in its read
		if s, err = SyscallSite(tid); err == nil && s.Nr == unix.SYS_READ {
			break
		}
		time.Sleep(time.Millisecond)
	}
	unix.Write(p[1], []byte{0})
	<-done
	if err != nil || s.Nr != unix.SYS_READ || s.SP == 0 || s.PC == 0 {
		t.Fatalf("SyscallSite: %+v %v, want read with its stack and instruction pointers", s, err)
	}
	if _, err := SyscallSite(1 << 30); err != ErrGone {
		t.Errorf("SyscallSite of no task: %v, want ErrGone", err)
	}
}

// FuzzParseSite: any content of /proc/TID/syscall gives a site or an error, never a panic,
// and a site only for nine fields whose first is a call number.
func FuzzParseSite(f *testing.F) {
	for _, s := range []string{
		"0 0x3 0x7ffd2c5c 0x1 0x0 0x0 0x0 0x7ffd2c50 0x4a5b1c\n",
		"running\n", "-1 0x7ffd2c50 0x4a5b1c\n", "", "2 0x1 0x2 0x3 0x4 0x5 0x6 0xffffffffffffffff 0x0",
		"257 0xffffff9c 0x7f 0x80000 0x0 0x0 0x0 0x10000000000000000 0x1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		site, err := parseSite(s)
		if err == nil && (len(strings.Fields(s)) != 9 || site.Nr < 0) {
			t.Errorf("parseSite(%q) = %+v without error", s, site)
		}
	})
}

func TestParseUmask(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\n", 0o022, true},
		{"Name:\tx\nUmask:\t0777\n", 0o777, true},
		{"Name:\tx\nUmask:\t0000", 0, true},
		{"Name:\tUmask: 0777\nUmask:\t0027\n", 0o027, true},
		{"Name:\tx\nState:\tR\n", 0, false},
		{"Umask:\t0089\n", 0, false},
		{"Umask:\t\n", 0, false},
		{"Umask:\t077777777777777777777\n", 0, false},
		{"", 0, false},
	} {
		got, ok := parseUmask([]byte(c.in))
		if got != c.want || ok != c.ok {
			t.Errorf("parseUmask(%q) = %o, %v; want %o, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// FuzzParseUmask: a status head never makes the parser panic, and what it accepts is a
// permission mask.
func FuzzParseUmask(f *testing.F) {
	f.Add([]byte("Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\n"))
	f.Add([]byte("Umask:\t7777777\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, ok := parseUmask(b); ok && m&^0o777 != 0 {
			t.Fatalf("parseUmask(%q) = %o", b, m)
		}
	})
}
