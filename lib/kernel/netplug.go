package kernel

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/gouml/gouml/lib/netdev"
	"golang.org/x/sys/unix"
)

// Network devices plugged in and out of a running machine by the management console
// (uml_mconsole config ethN=SPEC, remove ethN), answered as the real kernel answers
// (docs/interfaces.md §2.5): a spec it cannot parse is error 1 with no text, a device that
// exists is "Device already configured", a transport that cannot be opened still answers OK
// (the device is just not made, and the reason goes where kernel messages go).

// errDevExists and the others are the answers' texts.
const (
	mcDevExists   = "Device already configured"
	mcDevNotExist = "Device doesn't exist"
	mcDevOpen     = "Device is currently open"
)

// plugNet makes device ethN with spec in the running machine. It returns the error text and
// code to answer, "" and 0 for OK.
func (k *Kernel) plugNet(n int, spec string) (string, int32) {
	name := "eth" + strconv.Itoa(n)
	var msgs []string
	say := func(s string) { msgs = append(msgs, s) }
	stderr := k.cfg.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	s := netdev.Parse(n, spec, say)
	k.netMu.Lock()
	for _, d := range k.nets {
		if d.name == name {
			k.netMu.Unlock()
			return mcDevExists, -int32(unix.EINVAL)
		}
	}
	k.netMu.Unlock()
	if s == nil {
		for _, m := range msgs {
			fmt.Fprintln(stderr, m)
		}
		return "", 1
	}
	report := func(s string) { fmt.Fprintln(stderr, s); k.log.add(6, s) }
	if s.Transport == netdev.TunTap || s.IPLink() {
		// a host tap is opened, a slirp program run, by the outer process, at start only
		report(name + ": " + s.Transport + " devices can only be given on the command line")
		return "", 0
	}
	mac := s.MAC(report)
	tr, err := netdev.Open(s, mac)
	if err != nil {
		report(fmt.Sprintf("%s: %v", name, err))
		return "", 0
	}
	// The name is taken from now on: a second config of it is "already configured", a
	// remove takes the reservation back.
	dev := &netDevice{name: name}
	k.netMu.Lock()
	k.nets = append(k.nets, dev)
	k.netMu.Unlock()
	k.mu.Lock()
	init := k.initTgid
	k.mu.Unlock()
	if init > 0 {
		k.attachNet(dev, n, s, mac, tr, init, report)
		return "", 0
	}
	// The management console answers from the machine's first moment, before init exists
	// (a script may plug a device as soon as the socket appears, and the real kernel answers
	// at once): the device goes into init's namespace once there is one.
	go func() {
		for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
			k.mu.Lock()
			init = k.initTgid
			k.mu.Unlock()
			if init > 0 || time.Now().After(deadline) || k.dying.Load() || k.loopDone == nil {
				break
			}
		}
		if init <= 0 {
			k.dropNet(dev)
			tr.Close()
			if !k.dying.Load() {
				report(name + ": the machine has no init to plug it into")
			}
			return
		}
		k.attachNet(dev, n, s, mac, tr, init, report)
	}()
	return "", 0
}

// attachNet makes the tap of the reserved device dev in the namespace of init and starts
// its relay, unless the device was removed (or the machine stopped) meanwhile.
func (k *Kernel) attachNet(dev *netDevice, n int, s *netdev.Spec, mac [6]byte, tr *netdev.Transport, init int, report func(string)) {
	name := dev.name
	taps, errs := makeTaps(init, []string{name}, [][6]byte{mac}, []bool{false})
	if errs[0] != nil {
		report(fmt.Sprintf("%s: %v", name, errs[0]))
		k.dropNet(dev)
		tr.Close()
		return
	}
	r, err := netdev.Start(taps[0], tr)
	if err != nil {
		report(fmt.Sprintf("%s: %v", name, err))
		k.dropNet(dev)
		taps[0].Close()
		tr.Close()
		return
	}
	k.netMu.Lock()
	kept := false
	for _, d := range k.nets {
		kept = kept || d == dev
	}
	if kept {
		dev.relay = r
	}
	k.netMu.Unlock()
	if !kept {
		r.Stop() // removed, or the machine stopped, while it was being made
		return
	}
	report(fmt.Sprintf("Netdevice %d (%s) : %s", n, netdev.FormatMAC(mac), strings.TrimSpace(s.Backend())))
}

// dropNet takes the reservation of dev back.
func (k *Kernel) dropNet(dev *netDevice) {
	k.netMu.Lock()
	defer k.netMu.Unlock()
	for i, d := range k.nets {
		if d == dev {
			k.nets = append(k.nets[:i], k.nets[i+1:]...)
			return
		}
	}
}

// unplugNet removes device name: its relay stops and its tap goes with the last fd. A
// device the guest has up is refused, as the real kernel refuses it (the guest must take
// it down first).
func (k *Kernel) unplugNet(name string) (string, int32) {
	k.netMu.Lock()
	defer k.netMu.Unlock()
	for i, d := range k.nets {
		if d.name == name {
			k.mu.Lock()
			init := k.initTgid
			k.mu.Unlock()
			if init > 0 && interfaceUp(init, name) {
				return mcDevOpen, -int32(unix.EBUSY)
			}
			if d.relay != nil { // nil: still waiting for init, which attachNet sees
				d.relay.Stop()
			}
			k.nets = append(k.nets[:i], k.nets[i+1:]...)
			return "", 0
		}
	}
	return mcDevNotExist, -int32(unix.ENODEV)
}

// interfaceUp reports whether interface name is up in the network namespace of pid (false
// when that cannot be read: the namespace is going away).
func interfaceUp(pid int, name string) bool {
	up := false
	_ = inNetns(pid, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		var r ifreq
		copy(r.name[:unix.IFNAMSIZ-1], name)
		if err := ioctlIfreq(fd, unix.SIOCGIFFLAGS, &r); err != nil {
			return err
		}
		up = *(*uint16)(unsafe.Pointer(&r.data[0]))&unix.IFF_UP != 0
		return nil
	})
	return up
}
