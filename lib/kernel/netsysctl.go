package kernel

import (
	"fmt"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// /proc/sys/net: the guest's network stack is the host kernel's, in the guest's network
// namespace, so its sysctls are the host's files as seen from that namespace. A read or a
// write is done by a thread of the kernel that joins the namespace for it (the files show
// the namespace of whoever opens them); the host's /proc is the kernel's to read and write
// (its Landlock rules). Only the sysctls listed here are offered (the tree is static); the
// ones routers and labs set.
var netSysctls = []string{
	"core/somaxconn",
	"ipv4/ip_forward",
	"ipv4/ip_default_ttl",
	"ipv4/icmp_echo_ignore_all",
	"ipv4/icmp_echo_ignore_broadcasts",
	"ipv4/conf/all/forwarding",
	"ipv4/conf/all/rp_filter",
	"ipv4/conf/all/proxy_arp",
	"ipv4/conf/all/accept_redirects",
	"ipv4/conf/all/send_redirects",
	"ipv4/conf/default/forwarding",
	"ipv4/conf/default/rp_filter",
	"ipv4/conf/default/proxy_arp",
	"ipv6/conf/all/forwarding",
	"ipv6/conf/all/disable_ipv6",
	"ipv6/conf/default/forwarding",
	"ipv6/conf/default/disable_ipv6",
}

// netSysctlTree is /proc/sys/net's part of the /proc tree.
func netSysctlTree() *procNode {
	top := procDir("net")
	for _, p := range netSysctls {
		dir := top
		parts := strings.Split(p, "/")
		for _, name := range parts[:len(parts)-1] {
			var next *procNode
			for _, kid := range dir.kids {
				if kid.name == name {
					next = kid
				}
			}
			if next == nil {
				next = procDir(name)
				dir.kids = append(dir.kids, next)
			}
			dir = next
		}
		file := "/proc/sys/net/" + p
		dir.kids = append(dir.kids, &procNode{name: path.Base(p),
			read: func(k *Kernel) ([]byte, error) {
				k.syncSysctls()
				var b []byte
				err := k.inGuestNet(func() (e error) { b, e = os.ReadFile(file); return })
				return b, err
			},
			write: func(k *Kernel, v string) {
				// like the host's sysctl (the guest's root may set it), whose errors a
				// write through the pipe cannot report, as proc_dointvec's bad values
				_ = k.inGuestNet(func() error {
					// no O_TRUNC: the kernel's Landlock rules do not grant truncation
					f, err := os.OpenFile(file, os.O_WRONLY, 0)
					if err != nil {
						return err
					}
					defer f.Close()
					_, err = f.WriteString(v)
					return err
				})
			}})
	}
	return top
}

// inGuestNet runs fn on a thread in the network namespace of the guest's init.
func (k *Kernel) inGuestNet(fn func() error) error {
	k.mu.Lock()
	init := k.initTgid
	k.mu.Unlock()
	if init <= 0 {
		return unix.ENOENT
	}
	return inNetns(init, fn)
}

// inNetns runs fn on a thread that joins the network namespace of pid and goes back to the
// kernel's before it is unlocked. A thread that cannot go back stays locked and ends with its
// goroutine — unless it is the main thread, which the runtime keeps (wedged) and whose
// namespace /proc/self/net shows: hence the way back.
func inNetns(pid int, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restore, err := joinNetns(pid)
		if err != nil {
			done <- err
			return
		}
		err = fn()
		if restore() {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}

// joinNetns moves the calling (locked) thread into the network namespace of pid; restore
// moves it back and reports whether it could.
func joinNetns(pid int) (restore func() bool, err error) {
	own, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("the kernel's network namespace: %w", err)
	}
	ns, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(own)
		return nil, fmt.Errorf("the guest's network namespace: %w", err)
	}
	err = unix.Setns(ns, unix.CLONE_NEWNET)
	unix.Close(ns)
	if err != nil {
		unix.Close(own)
		return nil, fmt.Errorf("joining the guest's network namespace: %w", err)
	}
	return func() bool {
		ok := unix.Setns(own, unix.CLONE_NEWNET) == nil
		unix.Close(own)
		return ok
	}, nil
}
