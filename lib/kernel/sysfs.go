package kernel

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/gouml/gouml/lib/ubd"
	"golang.org/x/sys/unix"
)

// The guest's /sys: one declarative tree, built from the machine's state at each access (its
// network devices, asked of the guest's namespace: sysnet.go; its ubd devices; the device
// registry's character devices), laid out as linux.uml lays its sysfs out (the same paths
// and links: /sys/class/net/eth0 -> ../../devices/platform/uml-netdev.0/net/eth0). Like
// /proc, /sys is always there (mounting sysfs on /sys succeeds without changing anything).
//
// The tree is mirrored into a tmpfs attached nowhere that stage 1 made (trees.go): its
// directories, its links with their targets, and an empty 4 KiB placeholder per attribute
// (sysfs's size). The host resolves a guest path there, following the tree's own links and
// never leaving the tmpfs; the node found decides what the open gets: a directory fd (getdents
// runs natively), or the attribute's contents in a read-only memfd. Every attribute is
// read-only, and opening one for writing is EACCES, as sysfs refuses a write to an attribute
// that has no store.

// sysNode is a file, link or directory of /sys.
type sysNode struct {
	name string
	read func() ([]byte, error) // an attribute's contents (nil and no link: a directory)
	link string                 // a symlink's target
	kids []*sysNode
}

func (n *sysNode) dir() bool { return n.read == nil && n.link == "" }

func sysDirNode(name string, kids ...*sysNode) *sysNode { return &sysNode{name: name, kids: kids} }
func sysfsLink(name, target string) *sysNode            { return &sysNode{name: name, link: target} }
func sysAttr(name, text string) *sysNode {
	return &sysNode{name: name, read: func() ([]byte, error) { return []byte(text), nil }}
}

// sysErr is an attribute whose read fails (sysfs shows the file; reading it says why).
func sysErr(name string, err error) *sysNode {
	return &sysNode{name: name, read: func() ([]byte, error) { return nil, err }}
}

// child returns the kid of that name, adding a directory when there is none.
func (n *sysNode) child(name string) *sysNode {
	for _, k := range n.kids {
		if k.name == name {
			return k
		}
	}
	d := sysDirNode(name)
	n.kids = append(n.kids, d)
	return d
}

// at returns the directory at a slash-separated path below n, making the missing ones.
func (n *sysNode) at(p string) *sysNode {
	for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
		if name != "" {
			n = n.child(name)
		}
	}
	return n
}

// lookup returns the node at a path below n (nil: none).
func (n *sysNode) lookup(p string) *sysNode {
	for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
		if name == "" {
			continue
		}
		var next *sysNode
		for _, k := range n.kids {
			if k.name == name {
				next = k
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// sysTree builds the guest's /sys as it is now.
func (k *Kernel) sysTree() *sysNode {
	t := sysDirNode("")
	for _, d := range []string{"block", "bus", "class/net", "class/block", "class/mem", "class/tty", "dev/block",
		"dev/char", "devices/platform", "devices/virtual", "devices/system/cpu", "firmware", "fs/cgroup",
		"kernel/mm", "kernel/security", "kernel/debug", "module", "power"} {
		// (no kernel/config: it exists when configfs does, and Debian's mount-configfs
		// mounts one there when it sees it)
		t.at(d)
	}
	k.sysBlock(t)
	k.sysChar(t)
	k.sysNet(t)
	cpus := sysCPUs()
	cpu := t.at("devices/system/cpu")
	for _, f := range []string{"online", "possible", "present"} {
		cpu.kids = append(cpu.kids, sysAttr(f, cpus+"\n"))
	}
	kern := t.at("kernel")
	kern.kids = append(kern.kids, sysAttr("uevent_seqnum", "0\n"), sysAttr("uevent_helper", "\n"),
		sysAttr("fscaps", "1\n"), sysAttr("profiling", "0\n"))
	return t
}

// sysBlock adds the ubd devices and their partitions (those /proc/partitions shows).
func (k *Kernel) sysBlock(t *sysNode) {
	for _, b := range k.disks() {
		d := b.dev
		name := d.Name
		// diskseq counts the disks made: every configured unit before this one, the root's too
		seq := 1
		for u := 0; u < b.unit; u++ {
			if k.ubdUnit(u) {
				seq++
			}
		}
		dir := "devices/platform/uml-blkdev." + strconv.Itoa(b.unit) + "/block/" + name
		n := t.at(dir)
		minor := b.unit * 16
		n.kids = append(n.kids, sysAttr("dev", d.SysfsDev()), sysAttr("size", d.SysfsSize()), sysAttr("ro", d.SysfsRO()),
			sysAttr("removable", "0\n"), sysAttr("range", "16\n"), sysAttr("ext_range", "256\n"),
			sysAttr("hidden", "0\n"), sysAttr("serial", d.SysfsSerial()),
			sysAttr("diskseq", strconv.Itoa(seq)+"\n"),
			sysAttr("uevent", "MAJOR="+strconv.Itoa(ubd.Major)+"\nMINOR="+strconv.Itoa(minor)+"\nDEVNAME="+name+
				"\nDEVTYPE=disk\nDISKSEQ="+strconv.Itoa(seq)+"\n"),
			sysfsLink("subsystem", "../../../../../class/block"))
		t.at("block").kids = append(t.at("block").kids, sysfsLink(name, "../"+dir))
		t.at("class/block").kids = append(t.at("class/block").kids, sysfsLink(name, "../../"+dir))
		t.at("dev/block").kids = append(t.at("dev/block").kids, sysfsLink(strconv.Itoa(ubd.Major)+":"+strconv.Itoa(minor), "../../"+dir))
		for _, p := range d.Partitions() {
			pn := p.Name()
			pd := sysDirNode(pn, sysAttr("dev", strconv.Itoa(ubd.Major)+":"+strconv.Itoa(p.Minor())+"\n"),
				sysAttr("size", strconv.FormatInt(p.Size()/ubd.SectorSize, 10)+"\n"),
				sysAttr("start", strconv.FormatInt(p.Start/ubd.SectorSize, 10)+"\n"),
				sysAttr("partition", strconv.Itoa(p.Number)+"\n"), sysAttr("ro", d.SysfsRO()),
				sysAttr("uevent", "MAJOR="+strconv.Itoa(ubd.Major)+"\nMINOR="+strconv.Itoa(p.Minor())+"\nDEVNAME="+pn+
					"\nDEVTYPE=partition\nPARTN="+strconv.Itoa(p.Number)+"\n"))
			n.kids = append(n.kids, pd)
			t.at("class/block").kids = append(t.at("class/block").kids, sysfsLink(pn, "../../"+dir+"/"+pn))
			t.at("dev/block").kids = append(t.at("dev/block").kids, sysfsLink(strconv.Itoa(ubd.Major)+":"+strconv.Itoa(p.Minor()), "../../"+dir+"/"+pn))
		}
	}
}

// sysChar adds the registry's character devices (devices/virtual/mem, …/tty).
func (k *Kernel) sysChar(t *sysNode) {
	for _, d := range charDevices {
		class := "mem"
		if d.num.major != 1 {
			class = "tty"
		}
		num := strconv.Itoa(int(d.num.major)) + ":" + strconv.Itoa(int(d.num.minor))
		dir := "devices/virtual/" + class + "/" + d.name
		mode := ""
		if d.perm != 0o600 {
			mode = "DEVMODE=" + fmt.Sprintf("%04o", d.perm) + "\n" // the devnode's mode, when it sets one
		}
		t.at(dir).kids = append(t.at(dir).kids, sysAttr("dev", num+"\n"),
			sysAttr("uevent", "MAJOR="+strconv.Itoa(int(d.num.major))+"\nMINOR="+strconv.Itoa(int(d.num.minor))+"\nDEVNAME="+d.name+"\n"+mode),
			sysfsLink("subsystem", "../../../../class/"+class))
		t.at("class/" + class).kids = append(t.at("class/"+class).kids, sysfsLink(d.name, "../../"+dir))
		t.at("dev/char").kids = append(t.at("dev/char").kids, sysfsLink(num, "../../"+dir))
	}
}

// sysNet adds the guest's network devices: ethN as the real kernel's uml-netdev.N, the rest
// (lo, devices the guest made) as virtual ones.
func (k *Kernel) sysNet(t *sysNode) {
	links, err := k.guestLinks()
	if err != nil {
		k.debugf("/sys/class/net: %v", err)
		return
	}
	for _, l := range links {
		dir := "devices/virtual/net/" + l.name
		if n, ok := strings.CutPrefix(l.name, "eth"); ok && k.cfg.Eth[atoiOr(n, -1)] != "" {
			dir = "devices/platform/uml-netdev." + n + "/net/" + l.name
		}
		t.at(dir).kids = append(t.at(dir).kids, netAttrs(l)...)
		t.at("class/net").kids = append(t.at("class/net").kids, sysfsLink(l.name, "../../"+dir))
	}
}

// ubdUnit: ubd unit u is one of the machine's disks (a device, or the root's image).
func (k *Kernel) ubdUnit(u int) bool {
	if k.cfg.rootImage != nil && k.cfg.rootImage.unit == u {
		return true
	}
	for _, b := range k.cfg.UBDs {
		if b.unit == u {
			return true
		}
	}
	return false
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil || strconv.Itoa(n) != s {
		return def
	}
	return n
}

// sysCPUs is the cpu list of online/possible/present: the host's CPUs, which the guest's
// threads run on (the cpu lines of /proc/stat, which the guest reads too).
func sysCPUs() string {
	b, _ := os.ReadFile("/proc/stat")
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if len(l) > 3 && strings.HasPrefix(l, "cpu") && l[3] >= '0' && l[3] <= '9' {
			n++
		}
	}
	if n <= 1 {
		return "0"
	}
	return "0-" + strconv.Itoa(n-1)
}

// sysListing returns the fd of the listings' tmpfs (-1: none).
func (k *Kernel) sysListing() int {
	if k.cfg.trees.sys <= 0 {
		return -1
	}
	return k.cfg.trees.sys
}

// syncSys makes the listing directory dir hold exactly node's entries, recursively.
func syncSys(dir int, node *sysNode) {
	want := map[string]*sysNode{}
	for _, kid := range node.kids {
		want[kid.name] = kid
	}
	dup, err := unix.Dup(dir)
	if err != nil {
		return
	}
	d := os.NewFile(uintptr(dup), "sys")
	have, _ := d.ReadDir(-1)
	d.Close()
	for _, e := range have {
		kid, ok := want[e.Name()]
		switch {
		case !ok:
			removeAt(dir, e.Name())
		case kid.dir() != e.IsDir(), kid.link != "" && e.Type()&os.ModeSymlink == 0, kid.read != nil && !e.Type().IsRegular():
			removeAt(dir, e.Name())
		case kid.link != "":
			b := make([]byte, 4096)
			if n, err := unix.Readlinkat(dir, e.Name(), b); err != nil || string(b[:n]) != kid.link {
				removeAt(dir, e.Name())
			}
		}
	}
	for _, kid := range node.kids {
		if !validName(kid.name) {
			continue
		}
		switch {
		case kid.link != "":
			unix.Symlinkat(kid.link, dir, kid.name)
		case kid.read != nil:
			if fd, err := unix.Openat(dir, kid.name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o444); err == nil {
				unix.Ftruncate(fd, 4096)
				unix.Close(fd)
			}
		default:
			unix.Mkdirat(dir, kid.name, 0o755)
			if sub, err := unix.Openat(dir, kid.name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err == nil {
				syncSys(sub, kid)
				unix.Close(sub)
			}
		}
	}
}

// sysMemfdName names the memfds of /sys attributes (statfs tells them by it).
const sysMemfdName = "gouml-sys"

// openSys opens a path below /sys (rest: special's).
func (k *Kernel) openSys(c *Call, rest string, flags int) (int, error) {
	top := k.sysListing()
	if top < 0 {
		return -1, unix.ENOENT
	}
	// the listing stays as this open found it until the host resolved the path in it
	k.sysMu.Lock()
	tree := k.sysTree()
	syncSys(top, tree)
	rel := strings.Trim(rest, "/")
	if rel == "" {
		rel = "."
	}
	how := uint64(unix.O_PATH | unix.O_CLOEXEC)
	if flags&unix.O_NOFOLLOW != 0 {
		how |= unix.O_NOFOLLOW
	}
	fd, err := openat2(top, rel, &unix.OpenHow{Flags: how,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV})
	k.sysMu.Unlock()
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, err
	}
	switch {
	case flags&unix.O_PATH != 0:
		if flags&unix.O_DIRECTORY != 0 && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			unix.Close(fd)
			return -1, unix.ENOTDIR
		}
		return fd, nil
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		unix.Close(fd)
		return -1, unix.ELOOP
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		defer unix.Close(fd)
		if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_CREAT != 0 {
			return -1, unix.EISDIR
		}
		return unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|flags&unix.O_NONBLOCK, 0)
	}
	defer unix.Close(fd)
	if flags&unix.O_DIRECTORY != 0 {
		return -1, unix.ENOTDIR
	}
	if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
		return -1, unix.EACCES // no attribute here takes a write
	}
	p, err := os.Readlink(selfFD(fd)) // where the host's resolution ended, inside the tmpfs
	if err != nil {
		return -1, err
	}
	n := tree.lookup(path.Clean(p))
	if n == nil || n.read == nil {
		return -1, unix.ENOENT
	}
	data, err := n.read()
	if err == unix.EINVAL {
		// The open succeeds and the read fails, as sysfs's show does: an epoll fd has no
		// read and answers every read with EINVAL (a carrier of a device that is down).
		return unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	}
	if err != nil {
		return -1, err
	}
	return memfdNamed(sysMemfdName, data)
}

// readlinkSys reads a link of /sys.
func (k *Kernel) readlinkSys(c *Call, rest string) (string, error) {
	fd, err := k.openSys(c, rest, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	b := make([]byte, 4096)
	n, err := unix.Readlinkat(fd, "", b)
	if err != nil {
		return "", unix.EINVAL
	}
	return string(b[:n]), nil
}

// sysfsStatfs is statfs of /sys as Linux fills it.
var sysfsStatfs = unix.Statfs_t{Type: unix.SYSFS_MAGIC, Bsize: 4096, Frsize: 4096, Namelen: 255,
	Flags: 0x20 | unix.ST_NOSUID | unix.ST_NODEV | unix.ST_NOEXEC | unix.ST_RELATIME}

// sysStat makes the stat of a listing entry what sysfs shows: root's, directories and links
// of size 0, attributes of 4096 (the placeholders' size already). It reports whether st was
// one.
func (k *Kernel) sysStat(st *unix.Stat_t) bool {
	top := k.sysListing()
	if top < 0 {
		return false
	}
	var t unix.Stat_t
	if unix.Fstat(top, &t) != nil || t.Dev != st.Dev {
		return false
	}
	st.Uid, st.Gid = 0, 0
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		st.Size, st.Blocks = 0, 0
	}
	return true
}
