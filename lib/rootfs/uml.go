package rootfs

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/gouml/gouml/lib/rootfs/fstree"
)

// umlSetup adds what a guest needs to come up under UML: device nodes the kernel and init
// open before anything can create them, /etc/fstab for the root device, a console for
// busybox-style inits, a getty on the console for sysvinit, the hostname (and /etc/hosts
// naming it), network configuration and root's password.
func (c *Config) umlSetup(t *fstree.Tree) error {
	put := func(p string, mode uint32, content string) error {
		in := &fstree.Inode{Mode: fstree.TypeReg | mode, Size: int64(len(content)), Data: fstree.Bytes(content),
			Mtime: c.Now, Atime: c.Now, Ctime: c.Now, Origin: "mkrootfs"}
		_, err := t.Put(p, in)
		return err
	}
	exists := func(p string) bool { _, err := t.Lookup(p); return err == nil }
	read := func(p string) string {
		n, err := t.Lookup(p)
		if err != nil || n.Inode.Type() != fstree.TypeReg || n.Inode.Data == nil || n.Inode.Size > 1<<20 {
			return ""
		}
		rc, err := n.Inode.Data.Open()
		if err != nil {
			return ""
		}
		defer rc.Close()
		b := make([]byte, n.Inode.Size)
		_, _ = io.ReadFull(rc, b)
		return string(b)
	}
	// Device nodes: the console must exist before a devtmpfs is mounted, and ubda is the
	// root device of an image.
	if n, err := t.Lookup("/dev"); err != nil || n.Inode.IsDir() {
		for _, d := range []struct {
			name         string
			typ, mode    uint32
			major, minor uint32
		}{
			{"console", fstree.TypeChr, 0o600, 5, 1},
			{"null", fstree.TypeChr, 0o666, 1, 3},
			{"zero", fstree.TypeChr, 0o666, 1, 5},
			{"tty", fstree.TypeChr, 0o666, 5, 0},
			{"tty0", fstree.TypeChr, 0o620, 4, 0},
			{"random", fstree.TypeChr, 0o666, 1, 8},
			{"urandom", fstree.TypeChr, 0o666, 1, 9},
			{"ubda", fstree.TypeBlk, 0o660, 98, 0},
		} {
			p := "/dev/" + d.name
			if exists(p) {
				continue
			}
			if _, err := t.Put(p, &fstree.Inode{Mode: d.typ | d.mode, Major: d.major, Minor: d.minor,
				Mtime: c.Now, Atime: c.Now, Ctime: c.Now, Origin: "mkrootfs"}); err != nil {
				return err
			}
		}
	}
	for _, d := range []string{"/proc", "/sys", "/tmp", "/root", "/etc"} {
		if !exists(d) {
			mode := uint32(0o755)
			if d == "/tmp" {
				mode = 0o1777
			} else if d == "/root" {
				mode = 0o700
			}
			if _, err := t.Put(d, &fstree.Inode{Mode: fstree.TypeDir | mode, Mtime: c.Now, Atime: c.Now, Ctime: c.Now}); err != nil {
				return err
			}
		}
	}
	// fstab: keep a configured one; replace a missing or "UNCONFIGURED" (debootstrap) one.
	if fst := read("/etc/fstab"); !exists("/etc/fstab") || strings.Contains(fst, "UNCONFIGURED") {
		var b strings.Builder
		b.WriteString("# written by mkrootfs for User-Mode Linux\n")
		switch c.Format {
		case "dir":
			b.WriteString("/dev/root\t/\thostfs\tdefaults\t0 0\n")
		case "cpio":
			// an initramfs is already mounted as the root
		default:
			fmt.Fprintf(&b, "/dev/ubda\t/\t%s\tdefaults\t0 1\n", c.Format)
		}
		b.WriteString("proc\t/proc\tproc\tdefaults\t0 0\nsysfs\t/sys\tsysfs\tdefaults\t0 0\n")
		if err := put("/etc/fstab", 0o644, b.String()); err != nil {
			return err
		}
	}
	// A "docker export" tarball has /etc/hostname and /etc/hosts as empty files (the
	// container engine mounts its own over them): empty counts as missing.
	hostname, had := c.Hostname, strings.TrimSpace(read("/etc/hostname"))
	if n, err := t.Lookup("/etc/hostname"); hostname == "" && (err != nil || n.Inode.Type() == fstree.TypeReg && had == "") {
		hostname = "gouml"
	}
	if hostname != "" {
		if err := put("/etc/hostname", 0o644, hostname+"\n"); err != nil {
			return err
		}
	} else {
		hostname = had
	}
	if hosts := read("/etc/hosts"); c.Hostname != "" || strings.TrimSpace(hosts) == "" {
		if n, err := t.Lookup("/etc/hosts"); err != nil || n.Inode.Type() == fstree.TypeReg {
			if err := put("/etc/hosts", 0o644, hostsWithName(hosts, hostname)); err != nil {
				return err
			}
		}
	}
	// u-root puts its init at /init, where an initramfs kernel looks; a kernel booting from
	// a disk or hostfs looks in /sbin/init, /etc/init, /bin/init, then /bin/sh.
	if n, err := t.Lookup("/init"); err == nil && n.Inode.Type() != fstree.TypeDir &&
		!exists("/sbin/init") && !exists("/etc/init") && !exists("/bin/init") {
		if _, err := t.Put("/sbin/init", &fstree.Inode{Mode: fstree.TypeLink | 0o777, Target: "../init",
			Mtime: c.Now, Atime: c.Now, Ctime: c.Now, Origin: "mkrootfs"}); err != nil {
			return err
		}
	}
	// An initramfs kernel runs /init.
	if c.Format == "cpio" && !exists("/init") {
		for _, p := range []string{"/sbin/init", "/etc/init", "/bin/init"} {
			if exists(p) {
				if _, err := t.Put("/init", &fstree.Inode{Mode: fstree.TypeLink | 0o777, Target: p[1:],
					Mtime: c.Now, Atime: c.Now, Ctime: c.Now, Origin: "mkrootfs"}); err != nil {
					return err
				}
				break
			}
		}
	}
	// A busybox-style root gets an inittab that brings up a shell on the console.
	if exists("/bin/busybox") && !exists("/etc/inittab") && !exists("/init") {
		inittab := "# written by mkrootfs for User-Mode Linux\n" +
			"::sysinit:/bin/mount -t proc proc /proc\n" +
			"::sysinit:/bin/mount -o remount,rw /\n" +
			"::sysinit:/bin/hostname -F /etc/hostname\n"
		if c.Net != "" {
			inittab += "::sysinit:/sbin/ifup -a\n"
		}
		inittab += "::respawn:-/bin/sh\n::shutdown:/bin/umount -a -r\n"
		if err := put("/etc/inittab", 0o644, inittab); err != nil {
			return err
		}
	}
	// A sysvinit root (Debian's sysvinit-core) gets a getty on the console.
	if err := c.sysvSetup(t, read, exists, put); err != nil {
		return err
	}
	if c.Net != "" {
		iface := "auto lo\niface lo inet loopback\n\nauto eth0\n"
		if c.Net == "dhcp" {
			iface += "iface eth0 inet dhcp\n"
		} else {
			spec := strings.TrimPrefix(c.Net, "static:")
			addr, gw, _ := strings.Cut(spec, ",")
			pfx, err := netip.ParsePrefix(addr)
			if err != nil {
				return fmt.Errorf("--net %s: %v", c.Net, err)
			}
			iface += fmt.Sprintf("iface eth0 inet static\n\taddress %s\n", pfx)
			if gw != "" {
				if _, err := netip.ParseAddr(gw); err != nil {
					return fmt.Errorf("--net %s: gateway: %v", c.Net, err)
				}
				iface += "\tgateway " + gw + "\n"
			}
		}
		if err := put("/etc/network/interfaces", 0o644, iface); err != nil {
			return err
		}
	}
	if c.DNS != "" {
		if _, err := netip.ParseAddr(c.DNS); err != nil {
			return fmt.Errorf("--dns %s: %v", c.DNS, err)
		}
		if err := put("/etc/resolv.conf", 0o644, "nameserver "+c.DNS+"\n"); err != nil {
			return err
		}
	}
	if c.RootPassword != "" || c.RootHash != "" {
		if err := c.setRootPassword(t, read, exists, put); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) setRootPassword(t *fstree.Tree, read func(string) string, exists func(string) bool, put func(string, uint32, string) error) error {
	hash := c.RootHash
	if hash == "" {
		hash = SHA512Crypt(c.RootPassword, "")
	}
	if !exists("/etc/passwd") {
		if err := put("/etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\n"); err != nil {
			return err
		}
	}
	if !exists("/etc/group") {
		if err := put("/etc/group", 0o644, "root:x:0:\n"); err != nil {
			return err
		}
	}
	days := c.Now.Unix() / 86400
	line := fmt.Sprintf("root:%s:%d:0:99999:7:::", hash, days)
	var lines []string
	found := false
	for _, l := range strings.Split(strings.TrimRight(read("/etc/shadow"), "\n"), "\n") {
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "root:") {
			l, found = line, true
		}
		lines = append(lines, l)
	}
	if !found {
		lines = append([]string{line}, lines...)
	}
	gid := uint32(0)
	mode := uint32(0o600)
	if n, err := t.Lookup("/etc/shadow"); err == nil {
		gid, mode = n.Inode.GID, n.Inode.Mode&0o7777
	}
	if err := put("/etc/shadow", mode, strings.Join(lines, "\n")+"\n"); err != nil {
		return err
	}
	n, _ := t.Lookup("/etc/shadow")
	n.Inode.GID = gid
	// busybox and Debian read the 'x' in /etc/passwd as "look in /etc/shadow"
	pw := read("/etc/passwd")
	if strings.HasPrefix(pw, "root::") || strings.Contains(pw, "\nroot::") {
		pw = strings.Replace(pw, "root::", "root:x:", 1)
		if err := put("/etc/passwd", 0o644, pw); err != nil {
			return err
		}
	}
	return nil
}
