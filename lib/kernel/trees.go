package kernel

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Trees a guest may mount besides its root and ubd devices: host directories for hostfs
// (hostfs.go) and tmpfs instances (tmpfs.go). The kernel is confined by Landlock to what
// stage 1 named before it restricted itself, and a detached mount is checked only up to its
// own top: every such tree must therefore exist, with a rule on its top, before stage 1
// restricts itself. Stage 1 opens them (hostfs directories the command line names; a fixed
// number of detached tmpfs instances), adds their rules and passes the fds on; the launcher
// gets them too, for the guest's Landlock layer (read and run files of them).

const (
	hostfsEnv  = "GOUML_HOSTFS_FDS" // stage 2: fds of the host directories hostfs may mount
	tmpfsEnv   = "GOUML_TMPFS_FDS"  // stage 2: fds of the tmpfs instances guest mounts use
	sysfsEnv   = "GOUML_SYSFS_FD"   // stage 2: the tmpfs behind the /sys listing
	tmpfsSlots = 8                  // tmpfs mounts a guest may have at once
	// stubTreesFD is the launcher's first fd of the trees above (hostfs directories, then
	// tmpfs roots); stubTreesEnv says how many.
	stubTreesFD  = 6
	stubTreesEnv = "GOUML_LAUNCHER_TREES"
)

// extraTrees are the trees stage 1 prepared.
type extraTrees struct {
	hostDirs []int // O_PATH fds of host directories
	tmpfs    []int // mount fds of detached tmpfs instances
	devpts   int   // mount fd of the guest's devpts instance (devpts.go); 0: none
	sys      int   // root of the tmpfs behind the /sys listing (sysfs.go); 0: none
}

// prepareTrees is stage 1's part: open the hostfs directories and make the tmpfs instances.
func prepareTrees(hostfs string, words []string, mem uint64) (extraTrees, error) {
	var t extraTrees
	for _, d := range hostfsDirs(hostfs, words) {
		fd, err := unix.Open(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // gone since it was named: nothing to mount
		}
		t.hostDirs = append(t.hostDirs, fd)
	}
	for i := 0; i < tmpfsSlots; i++ {
		fd, err := newTmpfs(tmpfsDefaultSize(mem))
		if err != nil {
			return t, fmt.Errorf("tmpfs: %w", err)
		}
		t.tmpfs = append(t.tmpfs, fd)
	}
	fd, err := newDevpts()
	if err != nil {
		return t, fmt.Errorf("devpts: %w", err)
	}
	t.devpts = fd
	if t.sys, err = detachedTmpfs(); err != nil {
		return t, fmt.Errorf("tmpfs for /sys: %w", err)
	}
	return t, nil
}

// env passes the trees to stage 2 (the fds stay open across its exec).
func (t extraTrees) env() []string {
	list := func(fds []int) string {
		s := make([]string, len(fds))
		for i, fd := range fds {
			unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0)
			s[i] = strconv.Itoa(fd)
		}
		return strings.Join(s, ",")
	}
	env := []string{hostfsEnv + "=" + list(t.hostDirs), tmpfsEnv + "=" + list(t.tmpfs)}
	if t.devpts > 0 {
		env = append(env, devptsEnv+"="+list([]int{t.devpts}))
	}
	if t.sys > 0 {
		env = append(env, sysfsEnv+"="+list([]int{t.sys}))
	}
	return env
}

// all lists every tree's fd.
func (t extraTrees) all() []int { return append(append([]int{}, t.hostDirs...), t.tmpfs...) }

// treesFromEnv is stage 2's part.
func treesFromEnv() extraTrees {
	parse := func(s string) []int {
		var out []int
		for _, f := range strings.Split(s, ",") {
			if n, err := strconv.Atoi(f); err == nil && n > 2 {
				unix.FcntlInt(uintptr(n), unix.F_SETFD, unix.FD_CLOEXEC)
				out = append(out, n)
			}
		}
		return out
	}
	t := extraTrees{hostDirs: parse(os.Getenv(hostfsEnv)), tmpfs: parse(os.Getenv(tmpfsEnv))}
	if d := parse(os.Getenv(devptsEnv)); len(d) == 1 {
		t.devpts = d[0]
	}
	if d := parse(os.Getenv(sysfsEnv)); len(d) == 1 {
		t.sys = d[0]
	}
	return t
}

// launcherFiles are copies of the trees' fds for the launcher (its fds from stubTreesFD
// on), the devpts instance last; the caller closes them once it started.
func (t extraTrees) launcherFiles() []*os.File {
	var out []*os.File
	fds := t.all()
	if t.devpts > 0 {
		fds = append(fds, t.devpts)
	}
	for _, fd := range fds {
		if d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3); err == nil {
			out = append(out, os.NewFile(uintptr(d), "tree"))
		}
	}
	return out
}

// hostIDs returns the host uid and gid that the kernel's uid and gid 0 are.
func hostIDs() (uint32, uint32) {
	id := func(file string) uint32 {
		b, err := os.ReadFile(file)
		if err != nil {
			return 0
		}
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) == 3 && f[0] == "0" {
				if n, err := strconv.ParseUint(f[1], 10, 32); err == nil {
					return uint32(n)
				}
			}
		}
		return 0
	}
	return id("/proc/self/uid_map"), id("/proc/self/gid_map")
}

// hostfsDirs are the host directories hostfs mounts may reach: the hostfs= directory when
// one is given (every mount lies below it, as on the real kernel), otherwise the existing
// directories that the command line's own words name by absolute path — the words the
// kernel hands to init (Netkit's hosthome=/home/u, hostlab=/path/to/lab), not its own
// options (uml_dir=, ubdN=, con=…), which name the machine's plumbing.
func hostfsDirs(hostfs string, words []string) []string {
	var cands []string
	if hostfs != "" {
		cands = []string{hostfs}
	} else {
		for _, w := range words {
			if _, v, ok := strings.Cut(w, "="); ok {
				w = v
			}
			for _, p := range strings.Split(w, ",") {
				if strings.HasPrefix(p, "/") {
					cands = append(cands, p)
				}
			}
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range cands {
		real, err := filepath.EvalSymlinks(p)
		if err != nil || seen[real] {
			continue
		}
		if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
			continue
		}
		seen[real] = true
		out = append(out, real)
	}
	return out
}
