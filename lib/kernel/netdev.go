package kernel

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/gouml/gouml/lib/netdev"
	"golang.org/x/sys/unix"
)

// Network devices. The guest's network stack is the host kernel's, in the guest's own
// network namespace (stub.go): each ethN of the command line is a tap device inside that
// namespace, named ethN, and lib/netdev relays its frames to the transport the command line
// names (a uml_switch, mcast, ucast, the built-in NAT). The kernel makes the taps: it owns
// the guest's user namespace, so it has CAP_NET_ADMIN over the network namespace without
// any host privilege. Devices are made at every boot before init's first instruction and
// stopped at halt, so a reboot makes them again, as the real kernel's re-execution does.

// tunDevice is the host's tun/tap control device; the kernel's Landlock rules name it
// (jail.go), for the command line's devices and those mconsole plugs in later.
const tunDevice = "/dev/net/tun"

func init() {
	// The relays send batches with sendmmsg; were the guest table ever to refuse it again,
	// the kernel's own filter must still let it through.
	kernelNeeds[unix.SYS_SENDMMSG] = true
}

// netRules adds what the network devices need to the kernel's Landlock rules: the tun
// device (the transports' sockets are not file accesses Landlock restricts at the ABIs we
// know; the daemon transport's control socket is connected at each boot by path).
func netRules(rs *llRuleset, eth map[int]string, log func(string, uint64)) error {
	if _, err := os.Stat(tunDevice); err != nil {
		return nil // each device will say why it cannot be made
	}
	log(tunDevice, llRW)
	return rs.allow(tunDevice, llRW)
}

// startNet makes the machine's network devices in the namespace of the launcher initPid,
// printing what the real kernel prints for each, and starts their relays. A device that
// cannot be made is left out, as by the real kernel; the machine boots on.
func (k *Kernel) startNet(initPid int) {
	if len(k.cfg.Eth)+len(k.cfg.Vec) == 0 {
		return
	}
	say := func(s string) { fmt.Fprintln(k.cfg.Stderr, s) }
	// The real kernel configures devices transport by transport, in the order its
	// transports register, and each transport's devices in command-line order.
	idx := make([]int, 0, len(k.cfg.Eth))
	for n := range k.cfg.Eth {
		idx = append(idx, n)
	}
	sort.Slice(idx, func(i, j int) bool {
		oi, oj := netdev.Order(netdev.Kind(k.cfg.Eth[idx[i]])), netdev.Order(netdev.Kind(k.cfg.Eth[idx[j]]))
		return oi < oj || oi == oj && idx[i] < idx[j]
	})
	type dev struct {
		spec *netdev.Spec
		mac  [6]byte
		tr   *netdev.Transport
	}
	var devs []dev
	for _, n := range idx {
		s := netdev.Parse(n, k.cfg.Eth[n], say)
		if s == nil {
			continue
		}
		mac := s.MAC(say)
		say(fmt.Sprintf("Netdevice %d (%s) : ", n, netdev.FormatMAC(mac)))
		say(s.Backend())
		if s.Transport == netdev.Daemon || s.Transport == netdev.Slirp {
			say("")
		}
		var tr *netdev.Transport
		var err error
		switch {
		case s.Transport == netdev.TunTap:
			tr, err = hostTapTransport(s, say)
		case s.IPLink():
			tr, err = slirpTransport(s)
		default:
			tr, err = netdev.Open(s, mac)
		}
		if err != nil {
			say(err.Error())
			continue
		}
		if s.Transport == netdev.Vde {
			say("vde backend - connection opened")
		}
		devs = append(devs, dev{s, mac, tr})
	}
	// Vector devices after the ethN ones; the outer process said why any is missing.
	vidx := make([]int, 0, len(k.cfg.Vec))
	for n := range k.cfg.Vec {
		vidx = append(vidx, n)
	}
	sort.Ints(vidx)
	for _, n := range vidx {
		s, err := netdev.ParseVec(n, k.cfg.Vec[n])
		if err != nil {
			continue
		}
		tr, err := vecTransport(s)
		if err != nil {
			continue
		}
		devs = append(devs, dev{s, s.MAC(say), tr})
	}
	names := make([]string, len(devs))
	macs := make([][6]byte, len(devs))
	ipLink := make([]bool, len(devs))
	for i, d := range devs {
		names[i], macs[i], ipLink[i] = d.spec.Name(), d.mac, d.spec.IPLink()
	}
	taps, errs := makeTaps(initPid, names, macs, ipLink)
	helperDevs, gates := map[string]uint32{}, map[uint32][4]byte{}
	for i, d := range devs {
		if errs[i] != nil {
			say(fmt.Sprintf("linux: %s: %v", names[i], errs[i]))
			d.tr.Close()
			continue
		}
		r, err := netdev.Start(taps[i], d.tr)
		if err != nil {
			say(fmt.Sprintf("linux: %s: %v", names[i], err))
			taps[i].Close()
			d.tr.Close()
			continue
		}
		k.netMu.Lock()
		k.nets = append(k.nets, &netDevice{name: names[i], relay: r})
		k.netMu.Unlock()
		if d.spec.Transport == netdev.TunTap && d.spec.HostIf == "" {
			helperDevs[names[i]] = uint32(d.spec.Index)
			gates[uint32(d.spec.Index)], _ = netdev.Inet4(d.spec.Gate)
		}
	}
	if len(helperDevs) > 0 {
		w, err := startAddrWatch(initPid, helperDevs, gates, say)
		if err != nil {
			say(fmt.Sprintf("linux: following the addresses of the tuntap devices: %v", err))
		}
		k.netMu.Lock()
		k.addrWatch = w
		k.netMu.Unlock()
	}
}

// netDevice is a network device of the running machine.
type netDevice struct {
	name  string        // ethN
	relay *netdev.Relay // nil while a plugged device waits for init
}

// stopNet stops the relays (the switch sees the port go, the NAT its flows end).
func (k *Kernel) stopNet() {
	k.netMu.Lock()
	defer k.netMu.Unlock()
	if k.addrWatch != nil {
		k.addrWatch.stop() // its last hooks while the devices are still there
		k.addrWatch = nil
	}
	for _, d := range k.nets {
		if d.relay != nil {
			d.relay.Stop()
		}
	}
	k.nets = nil
}

// makeTaps creates one tap per name in the network namespace of pid, with the given MACs,
// left down as the real kernel leaves ethN until the guest configures it. It returns
// non-blocking fds of them, or why each could not be made.
func makeTaps(pid int, names []string, macs [][6]byte, ipLink []bool) ([]*os.File, []error) {
	taps := make([]*os.File, len(names))
	errs := make([]error, len(names))
	if len(names) == 0 {
		return taps, errs
	}
	err := inNetns(pid, func() error {
		for i, name := range names {
			taps[i], errs[i] = makeTap(name, macs[i], ipLink[i])
		}
		return nil
	})
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return taps, errs
}

// ifreq is struct ifreq: a name and, for the requests used here, flags or an address.
type ifreq struct {
	name [unix.IFNAMSIZ]byte
	data [24]byte
}

// makeTap opens /dev/net/tun in the calling thread's network namespace and attaches it to
// a new tap device of that name and MAC, or, for an IP link (slirp), a tun device, which
// has no MAC.
func makeTap(name string, mac [6]byte, ipLink bool) (*os.File, error) {
	fd, err := unix.Open(tunDevice, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tunDevice, err)
	}
	var r ifreq
	copy(r.name[:unix.IFNAMSIZ-1], name)
	// An Ethernet tap carries a virtio_net_hdr before each frame, so that the relay can
	// hand the guest several TCP segments as one (lib/netdev/gro.go); it offloads nothing
	// the other way, so what the guest sends stays whole, checksummed frames.
	kind := uint16(unix.IFF_TAP | unix.IFF_VNET_HDR)
	if ipLink {
		kind = unix.IFF_TUN
	}
	*(*uint16)(unsafe.Pointer(&r.data[0])) = kind | unix.IFF_NO_PI
	if err := ioctlIfreq(fd, unix.TUNSETIFF, &r); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF: %w", err)
	}
	if ipLink {
		return os.NewFile(uintptr(fd), name), nil
	}
	r.data = [24]byte{}
	*(*uint16)(unsafe.Pointer(&r.data[0])) = unix.ARPHRD_ETHER
	copy(r.data[2:], mac[:])
	if err := ioctlIfreq(fd, unix.SIOCSIFHWADDR, &r); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("setting the MAC: %w", err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

func ioctlIfreq(fd int, req uint, r *ifreq) error {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(r))); e != 0 {
		return e
	}
	return nil
}

// tapFDsEnv tells the kernel's stages which inherited fds are the host taps the outer
// process opened for ethN=tuntap,IFNAME: "N=FD,…", or "N=-ERRNO" where the open failed.
const tapFDsEnv = "GOUML_TAP_FDS"

// openHostTaps is the outer process's part of ethN=tuntap: a tap of the host. A named tap
// (ethN=tuntap,IFNAME) is opened here; attaching to it takes the host's permission (its
// owner, or CAP_NET_ADMIN over the host's network namespace), which only the outer process,
// as the user started it, holds: the kernel runs in a user namespace of its own, and a
// root-started kernel as an unprivileged uid. Without a name (ethN=tuntap,,MAC,GATE) uml_net
// makes one (nethelper.go), and helper, when not nil, is the kernel's end of the socket
// on which it asks for uml_net's address hooks; the outer process serves them until the
// kernel closes it (wg). first is the fd number the first returned file will have in the
// kernel.
func openHostTaps(eth map[int]string, first int, wg *sync.WaitGroup) (files []*os.File, env []string, helper *os.File) {
	idx := make([]int, 0, len(eth))
	for n := range eth {
		idx = append(idx, n)
	}
	sort.Ints(idx)
	var ents []string
	made := helperTaps{}
	for _, n := range idx {
		s := netdev.Parse(n, eth[n], func(string) {}) // the kernel prints the messages
		if s == nil || s.Transport != netdev.TunTap {
			continue
		}
		if s.HostIf == "" {
			tap, name, text, err := runTuntapUp(s.Gate)
			switch {
			case err != nil:
				ents = append(ents, helperTapEntry(n, -int(unix.EINVAL), "", "linux: "+err.Error()+"\n"))
			case tap == nil:
				ents = append(ents, helperTapEntry(n, -int(unix.EINVAL), "", text))
			default:
				ents = append(ents, helperTapEntry(n, first+len(files), name, text))
				files = append(files, tap)
				made[uint32(n)] = name
			}
			continue
		}
		fd, err := unix.Open(tunDevice, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err == nil {
			var r ifreq
			copy(r.name[:unix.IFNAMSIZ-1], s.HostIf)
			*(*uint16)(unsafe.Pointer(&r.data[0])) = unix.IFF_TAP | unix.IFF_NO_PI
			if err = ioctlIfreq(fd, unix.TUNSETIFF, &r); err != nil {
				unix.Close(fd)
			}
		}
		if errno, ok := err.(unix.Errno); ok {
			ents = append(ents, fmt.Sprintf("%d=-%d", n, int(errno)))
			continue
		}
		ents = append(ents, fmt.Sprintf("%d=%d", n, first+len(files)))
		files = append(files, os.NewFile(uintptr(fd), s.HostIf))
	}
	env = []string{tapFDsEnv + "=" + strings.Join(ents, ",")}
	if len(made) > 0 {
		sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			helper = os.NewFile(uintptr(sp[1]), "nethelper")
			env = append(env, fmt.Sprintf("%s=%d", netHelperEnv, first+len(files)))
			wg.Add(1)
			go serveAddrRequests(os.NewFile(uintptr(sp[0]), "nethelper"), made, wg)
		}
	}
	return files, env, helper
}

// hostTaps are the host taps of this run, adopted from the outer process once: a reboot
// uses them again.
var hostTaps struct {
	once  sync.Once
	files map[int]*os.File
	errs  map[int]unix.Errno
	names map[int]string // helper-made taps: the name uml_net gave
	texts map[int]string // … and what it said, printed at the first boot
}

// adoptHostTaps reads the outer process's tap entries (openHostTaps).
func adoptHostTaps() {
	hostTaps.files, hostTaps.errs = map[int]*os.File{}, map[int]unix.Errno{}
	hostTaps.names, hostTaps.texts = map[int]string{}, map[int]string{}
	for _, e := range strings.Split(os.Getenv(tapFDsEnv), ",") {
		k, v, ok := strings.Cut(e, "=")
		v, name, text := parseHelperTapValue(v)
		n, err1 := strconv.Atoi(k)
		fd, err2 := strconv.Atoi(v)
		switch {
		case !ok || err1 != nil || err2 != nil:
			continue
		case fd < 0:
			hostTaps.errs[n] = unix.Errno(-fd)
		default:
			unix.CloseOnExec(fd) // the launcher and helpers have no business with it
			unix.SetNonblock(fd, true)
			hostTaps.files[n] = os.NewFile(uintptr(fd), "tap")
		}
		if name != "" {
			hostTaps.names[n] = name
		}
		if text != "" {
			hostTaps.texts[n] = text
		}
	}
}

// hostTapTransport returns the transport of ethN=tuntap: the host tap the outer process
// opened, or uml_net made. say receives what uml_net said, the first time.
func hostTapTransport(s *netdev.Spec, say func(string)) (*netdev.Transport, error) {
	hostTaps.once.Do(adoptHostTaps)
	if t, ok := hostTaps.texts[s.Index]; ok {
		delete(hostTaps.texts, s.Index)
		say(strings.TrimRight(t, "\n"))
	}
	if f := hostTaps.files[s.Index]; f != nil {
		return netdev.OpenDevice(s, f)
	}
	if s.HostIf == "" {
		return nil, errors.New("tuntap_open_tramp : didn't receive a message")
	}
	if e, ok := hostTaps.errs[s.Index]; ok {
		return nil, fmt.Errorf("tuntap: TUNSETIFF %s failed, errno = %d", s.HostIf, int(e))
	}
	return nil, fmt.Errorf("tuntap: host tap %s was not opened", s.HostIf)
}

// handedFDs are host fds the outer process opened and handed in, named by device
// index in an environment variable ("N=FD,..."); adopted once: a reboot uses them again.
type handedFDs struct {
	env, name string
	once      sync.Once
	files     map[int]*os.File
}

func (h *handedFDs) get(index int) *os.File {
	h.once.Do(func() {
		h.files = map[int]*os.File{}
		for _, e := range strings.Split(os.Getenv(h.env), ",") {
			k, v, _ := strings.Cut(e, "=")
			n, err1 := strconv.Atoi(k)
			fd, err2 := strconv.Atoi(v)
			if err1 != nil || err2 != nil || fd < 3 {
				continue
			}
			unix.CloseOnExec(fd)
			unix.SetNonblock(fd, true)
			h.files[n] = os.NewFile(uintptr(fd), h.name)
		}
	})
	return h.files[index]
}

// slirpStreams are the streams to the slirp programs the outer process started.
var slirpStreams = &handedFDs{env: slirpFDsEnv, name: "slirp"}

// slirpTransport returns the transport of ethN=slirp,MAC,PROGRAM: the stream to the program.
func slirpTransport(s *netdev.Spec) (*netdev.Transport, error) {
	if f := slirpStreams.get(s.Index); f != nil {
		return netdev.OpenStream(s, f)
	}
	return nil, fmt.Errorf("slirp: the program '%s' is not running", s.Argv[0])
}
