package kernel

import (
	"encoding/binary"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// uml_net's address hooks for helper-made taps (ethN=tuntap,,MAC,GATE; nethelper.go). The
// real kernel runs `uml_net 4 add TAP ADDR MASK` for each IPv4 address of the interface
// when it comes up and for each address added while it is up, and `del` for each address
// removed while up and for all of them when it goes down (docs/interfaces.md §4.1). The
// guest's interfaces are the host kernel's, in the guest's network namespace, so the kernel
// follows them with a netlink subscription there and asks the outer process, which alone
// may run the helper, for each hook. The guest chooses the addresses: uml_net checks them
// (it refuses host addresses and interfaces that are not the user's).

// netHelper is the kernel's end of the request socket, adopted once per run.
var netHelper struct {
	once sync.Once
	conn int // -1: none
	mu   sync.Mutex
}

func helperConn() int {
	netHelper.once.Do(func() {
		netHelper.conn = -1
		if fd, err := strconv.Atoi(os.Getenv(netHelperEnv)); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
			tv := unix.NsecToTimeval(int64(2 * helperTimeout))
			_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
			netHelper.conn = fd
		}
	})
	return netHelper.conn
}

// addrHook asks the outer process to run one hook and returns uml_net's text.
func addrHook(op byte, dev uint32, addr, mask [4]byte) string {
	conn := helperConn()
	if conn < 0 {
		return ""
	}
	netHelper.mu.Lock()
	defer netHelper.mu.Unlock()
	var req [addrReqLen]byte
	req[0] = op
	binary.LittleEndian.PutUint32(req[4:], dev)
	copy(req[8:], addr[:])
	copy(req[12:], mask[:])
	if _, err := unix.Write(conn, req[:]); err != nil {
		return ""
	}
	buf := make([]byte, helperTextMax+1)
	n, err := unix.Read(conn, buf)
	if err != nil || n <= 0 {
		return ""
	}
	return cText(buf[:n])
}

// ifAddr is one IPv4 address of a device.
type ifAddr struct {
	dev        uint32
	addr, mask [4]byte
}

// addrWatch follows the addresses of one boot's helper-made devices.
type addrWatch struct {
	devs  map[string]uint32  // interface name → device number
	gates map[uint32][4]byte // device number → the tap's address
	added map[ifAddr]bool    // hooks run and not undone
	say   func(string)
	sub   *os.File // the netlink subscription; closing it ends the watch
	done  chan struct{}
}

// startAddrWatch starts following the devices' addresses in the network namespace of pid.
func startAddrWatch(pid int, devs map[string]uint32, gates map[uint32][4]byte, say func(string)) (*addrWatch, error) {
	w := &addrWatch{devs: devs, gates: gates, added: map[ifAddr]bool{}, say: say, done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		defer close(w.done)
		// This thread is in the guest's network namespace for the watch's life (the dumps
		// below are made in it), then goes back (inNetns says why).
		runtime.LockOSThread()
		restore, err := joinNetns(pid)
		if err != nil {
			ready <- err
			return
		}
		if err := w.open(); err != nil {
			if restore() {
				runtime.UnlockOSThread()
			}
			ready <- err
			return
		}
		ready <- nil
		w.run()
		if restore() {
			runtime.UnlockOSThread()
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return w, nil
}

func (w *addrWatch) open() error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR}); err != nil {
		unix.Close(fd)
		return err
	}
	w.sub = os.NewFile(uintptr(fd), "netlink")
	return nil
}

// run brings the hooks in line with the devices at every change, until stop.
func (w *addrWatch) run() {
	rc, err := w.sub.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 1<<16)
	for {
		w.sync()
		err := rc.Read(func(fd uintptr) bool {
			got := false
			for {
				_, err := unix.Read(int(fd), buf)
				switch {
				case err == unix.EAGAIN:
					return got
				case err == unix.EINTR:
				case err != nil:
					return true // ENOBUFS: changes were lost, and sync catches up
				default:
					got = true
				}
			}
		})
		if err != nil {
			break // closed: the machine halts
		}
		// a burst of changes (ifconfig's address, mask and flags) is answered once
		time.Sleep(20 * time.Millisecond)
	}
	// The guest's addresses go with its namespace: undo every hook, as an interface going
	// down would.
	w.apply(map[ifAddr]bool{})
}

// stop ends the watch once its hooks are undone.
func (w *addrWatch) stop() {
	w.sub.Close()
	<-w.done
}

// sync reads the devices' state and runs the hooks that bring the host in line with it.
func (w *addrWatch) sync() {
	up := map[int32]uint32{} // interface index → device number, for devices that are up
	links, err := syscall.NetlinkRIB(unix.RTM_GETLINK, unix.AF_UNSPEC)
	if err != nil {
		return
	}
	msgs, _ := syscall.ParseNetlinkMessage(links)
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWLINK || len(m.Data) < unix.SizeofIfInfomsg {
			continue
		}
		ifi := (*unix.IfInfomsg)(ptrOf(m.Data))
		attrs, _ := syscall.ParseNetlinkRouteAttr(&m)
		for _, a := range attrs {
			if a.Attr.Type == unix.IFLA_IFNAME {
				if dev, ok := w.devs[cText(a.Value)]; ok && ifi.Flags&unix.IFF_UP != 0 {
					up[ifi.Index] = dev
				}
			}
		}
	}
	want := map[ifAddr]bool{}
	addrs, err := syscall.NetlinkRIB(unix.RTM_GETADDR, unix.AF_INET)
	if err != nil {
		return
	}
	msgs, _ = syscall.ParseNetlinkMessage(addrs)
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWADDR || len(m.Data) < unix.SizeofIfAddrmsg {
			continue
		}
		ifa := (*unix.IfAddrmsg)(ptrOf(m.Data))
		dev, ok := up[int32(ifa.Index)]
		if !ok || ifa.Prefixlen > 32 {
			continue
		}
		attrs, _ := syscall.ParseNetlinkRouteAttr(&m)
		for _, a := range attrs {
			if a.Attr.Type == unix.IFA_LOCAL && len(a.Value) == 4 {
				var mask [4]byte
				binary.BigEndian.PutUint32(mask[:], ^uint32(0)<<(32-uint(ifa.Prefixlen)))
				if ifa.Prefixlen == 0 {
					mask = [4]byte{}
				}
				want[ifAddr{dev, [4]byte(a.Value), mask}] = true
			}
		}
	}
	w.apply(want)
}

// apply runs del for each hook done and no longer wanted, then add for each new one.
func (w *addrWatch) apply(want map[ifAddr]bool) {
	for a := range w.added {
		if !want[a] {
			delete(w.added, a)
			w.print(addrHook(addrDel, a.dev, a.addr, a.mask))
		}
	}
	for a := range want {
		if !w.added[a] {
			if w.gates[a.dev] == a.addr {
				w.say("The tap IP address and the UML eth IP address must be different")
			}
			w.added[a] = true
			w.print(addrHook(addrAdd, a.dev, a.addr, a.mask))
		}
	}
}

func (w *addrWatch) print(text string) {
	for len(text) > 0 && text[len(text)-1] == '\n' {
		text = text[:len(text)-1]
	}
	if text != "" {
		w.say(text)
	}
}

func ptrOf(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }
