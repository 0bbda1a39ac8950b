package kernel

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// /proc's own part, besides the pid directories and the links self, thread-self and net, is
// one declarative tree: what a file reads, whether and how it is written (the sysctls), and
// the directories, which are listed from the same tree (`ls /proc/sys/kernel`). procFile,
// sysctlWriter and the listings all look a name up here; adding a file is adding a node.

// procNode is a file or directory of the tree.
type procNode struct {
	name  string
	read  func(k *Kernel) ([]byte, error) // a file's contents when opened
	write func(k *Kernel, v string)       // a sysctl's effect of a write; nil: read-only
	kids  []*procNode                     // a directory's entries (a directory has no read)
}

func (n *procNode) dir() bool { return n.read == nil }

// perm is the mode procfs gives the node.
func (n *procNode) perm() uint32 {
	switch {
	case n.dir():
		return 0o555
	case n.write != nil:
		return 0o644
	}
	return 0o444
}

func procDir(name string, kids ...*procNode) *procNode {
	return &procNode{name: name, kids: kids}
}

func procRO(name string, read func(k *Kernel) ([]byte, error)) *procNode {
	return &procNode{name: name, read: read}
}

func procText(name, text string) *procNode {
	return procRO(name, func(*Kernel) ([]byte, error) { return []byte(text), nil })
}

// procTree is /proc's tree (the pid directories and their links are procfs's: proc.go).
var procTree *procNode

func init() {
	procTree = procDir("",
		procRO("cmdline", func(k *Kernel) ([]byte, error) { return []byte(k.cfg.CmdLine + "\n"), nil }),
		procRO("partitions", func(k *Kernel) ([]byte, error) { return k.procPartitions(), nil }),
		procRO("swaps", func(k *Kernel) ([]byte, error) { return k.procSwaps(), nil }),
		procRO("meminfo", (*Kernel).meminfo),
		procRO("uptime", func(k *Kernel) ([]byte, error) {
			up := k.uptime().Seconds()
			return []byte(fmt.Sprintf("%.2f %.2f\n", up, up)), nil
		}),
		procText("version", "Linux version "+Release+" (gouml) "+Version+"\n"),
		procRO("mounts", func(k *Kernel) ([]byte, error) { return k.mounts(), nil }),
		procText("filesystems", "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\nnodev\tdevpts\nnodev\tmqueue\n"+
			"nodev\thostfs\n\text4\n\text3\n\text2\n"),
		procRO("cpuinfo", func(*Kernel) ([]byte, error) { return os.ReadFile("/proc/cpuinfo") }),
		procRO("stat", func(*Kernel) ([]byte, error) { return os.ReadFile("/proc/stat") }),
		procRO("loadavg", (*Kernel).loadavg),
		procDir("sys",
			procDir("kernel",
				&procNode{name: "hostname", read: func(k *Kernel) ([]byte, error) {
					k.syncSysctls()
					h, _ := k.uts.get()
					return []byte(h + "\n"), nil
				}, write: func(k *Kernel, v string) {
					// like the sysctl: the text up to the newline, at most 64 bytes
					v, _, _ = strings.Cut(v, "\n")
					if len(v) <= 64 {
						k.uts.set(&v, nil)
					}
				}},
				&procNode{name: "domainname", read: func(k *Kernel) ([]byte, error) {
					k.syncSysctls()
					_, d := k.uts.get()
					return []byte(d + "\n"), nil
				}},
				procText("osrelease", Release+"\n"),
				procText("ostype", "Linux\n"),
				&procNode{name: "ctrl-alt-del", read: func(k *Kernel) ([]byte, error) {
					k.syncSysctls()
					if k.cadOff.Load() {
						return []byte("0\n"), nil
					}
					return []byte("1\n"), nil
				}, write: func(k *Kernel, v string) {
					// like proc_dointvec: the number written; 0 means "signal init" (cad)
					if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
						k.cadOff.Store(n == 0)
					}
				}},
			),
			netSysctlTree(),
		),
	)
}

// procLookup returns the node of a path below /proc ("" = the top), nil if there is none.
func procLookup(rel string) *procNode {
	n := procTree
	if rel == "" || rel == "/" {
		return n
	}
	for _, name := range strings.Split(strings.Trim(rel, "/"), "/") {
		var next *procNode
		for _, kid := range n.kids {
			if kid.name == name {
				next = kid
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// fillProcDir makes the listing directory dir hold exactly node's entries (k.procMu held).
func fillProcDir(node *procNode, dir int) {
	want := map[string]*procNode{}
	for _, kid := range node.kids {
		want[kid.name] = kid
	}
	dup, err := unix.Dup(dir)
	if err != nil {
		return
	}
	d := os.NewFile(uintptr(dup), "proc")
	have, _ := d.ReadDir(-1)
	d.Close()
	for _, e := range have {
		if kid, ok := want[e.Name()]; ok && kid.dir() == e.IsDir() {
			delete(want, e.Name())
		} else if node != procTree || !procfsOwned(e.Name()) {
			removeAt(dir, e.Name())
		}
	}
	for name, kid := range want {
		if kid.dir() {
			unix.Mkdirat(dir, name, kid.perm())
			continue
		}
		if fd, err := unix.Openat(dir, name, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, kid.perm()); err == nil {
			unix.Close(fd)
		}
	}
}

// procfsOwned: an entry of /proc's top that mirrors the guest's procfs (a pid directory, or
// one of the links self, thread-self, net), not the tree's.
func procfsOwned(name string) bool {
	if _, err := strconv.Atoi(name); err == nil {
		return true
	}
	return name == "self" || name == "thread-self" || name == "net"
}

// meminfo is /proc/meminfo of a machine of mem= bytes, with what its processes and tmpfs
// files hold (memStat).
func (k *Kernel) meminfo() ([]byte, error) {
	total := k.cfg.Mem / 1024
	f := k.memStat()
	free, anon, shmem := f.free/1024, f.anon/1024, f.shmem/1024
	return []byte(fmt.Sprintf("MemTotal:       %8d kB\nMemFree:        %8d kB\nMemAvailable:   %8d kB\n"+
		"Buffers:               0 kB\nCached:         %8d kB\nSwapCached:            0 kB\n"+
		"SwapTotal:             0 kB\nSwapFree:              0 kB\nAnonPages:      %8d kB\nShmem:          %8d kB\n",
		total, free, free, shmem, anon, shmem)), nil
}
