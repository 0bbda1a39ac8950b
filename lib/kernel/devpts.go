package kernel

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// The guest's pseudo-terminals come from a devpts instance of its own: stage 1 makes one
// (devpts may be mounted in a user namespace, and every mount of it is a new instance since
// Linux 4.7), so the guest's ptys are numbered from 0 whatever the host's hold, and nothing
// of the host's /dev/pts is reachable through it. /dev/ptmx opens the instance's ptmx and
// /dev/pts is the instance's root: the guest's fds are the host kernel's own ptys, with
// their line discipline, packet mode, TIOCGPTPEER and job control, all run natively on the
// fds. A guest that mounts devpts on /dev/pts (every distribution's early boot does) gets
// this instance with its options applied, as it gets its /proc.
//
// To the host every pty belongs to the kernel's uid 0; the guest owners of its ptys are kept
// here, as devpts sets them: the opener of ptmx (its fsuid, and its fsgid or the gid= option),
// with the mode= option. The instance is the host kernel's, so a guest cannot reach the host's
// terminal through it; TIOCSTI and its kind stay refused by the filter (filter.go).

// devptsEnv passes the instance to stage 2; stubDevptsEnv tells the launcher that its last
// tree fd is the instance (its Landlock layer lets guest processes open ptys there: the host
// opens the peer of a master for TIOCGPTPEER in the caller's own domain).
const (
	devptsEnv     = "GOUML_DEVPTS_FD"
	stubDevptsEnv = "GOUML_LAUNCHER_DEVPTS"
)

// ptyMajor is the major number of devpts slaves (UNIX98_PTY_SLAVE_MAJOR); ptmx is 5:2.
const ptyMajor = 136

// newDevpts makes the devpts instance (attached nowhere) and returns its mount fd. The host's
// modes are the loosest the guest may ask for; the guest's own are applied by the kernel.
func newDevpts() (int, error) {
	fs, err := unix.Fsopen("devpts", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fs)
	for k, v := range map[string]string{"ptmxmode": "0666", "mode": "0600"} {
		if err := unix.FsconfigSetString(fs, k, v); err != nil {
			return -1, err
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, err
	}
	return unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
}

// ptyState is what the kernel keeps of the guest's ptys: owners, and the options of the
// guest's devpts mount.
type ptyState struct {
	mu     sync.Mutex
	owners map[int][2]uint32 // pty number -> guest uid, gid
	opts   *devptsOptions    // the guest's mount's; nil: Linux's defaults
	once   sync.Once
	dev    uint64 // st_dev of the instance (0: none)
}

// devptsOptions are the options of a devpts mount that change what the guest sees.
type devptsOptions struct {
	setGID   bool
	gid      uint32
	mode     uint32 // of new slaves
	ptmxmode uint32 // of the instance's ptmx node
}

// defaultDevpts are Linux's defaults for a devpts mount without options.
var defaultDevpts = devptsOptions{mode: 0o600, ptmxmode: 0}

// parseDevptsOptions reads a devpts mount's data string as Linux does (uid= is accepted and,
// as the guest's owners are per pty here, has no effect).
func parseDevptsOptions(data string) (devptsOptions, error) {
	o := defaultDevpts
	for _, kv := range strings.Split(data, ",") {
		k, v, hasV := strings.Cut(kv, "=")
		switch k {
		case "", "newinstance", "rw", "ro", "nosuid", "nodev", "noexec", "relatime", "noatime", "strictatime":
			if hasV {
				return o, unix.EINVAL
			}
		case "gid", "uid":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return o, unix.EINVAL
			}
			if k == "gid" {
				o.setGID, o.gid = true, uint32(n)
			}
		case "mode", "ptmxmode":
			n, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				return o, unix.EINVAL
			}
			if k == "mode" {
				o.mode = uint32(n) & 0o777
			} else {
				o.ptmxmode = uint32(n) & 0o777
			}
		case "max":
			if _, err := strconv.ParseUint(v, 10, 32); err != nil {
				return o, unix.EINVAL
			}
		default:
			return o, unix.EINVAL
		}
	}
	return o, nil
}

// String is the options as /proc/mounts shows them.
func (o devptsOptions) String() string {
	s := ""
	if o.setGID {
		s = "gid=" + strconv.FormatUint(uint64(o.gid), 10) + ","
	}
	return s + fmt.Sprintf("mode=%03o,ptmxmode=%03o", o.mode, o.ptmxmode) // as Linux prints them
}

// devptsFD is the instance's mount fd (-1: none, as for a kernel made by a test).
func (k *Kernel) devptsFD() int {
	if k.cfg.trees.devpts <= 0 {
		return -1
	}
	return k.cfg.trees.devpts
}

// devptsDev is the st_dev of the instance (0: none).
func (k *Kernel) devptsDev() uint64 {
	p := &k.pty
	p.once.Do(func() {
		var st unix.Stat_t
		if fd := k.devptsFD(); fd >= 0 && unix.Fstat(fd, &st) == nil {
			p.dev = st.Dev
		}
	})
	return p.dev
}

// ptsPath reports whether a name under /dev is the guest's devpts (pts, pts/…).
func ptsPath(rest string) bool { return rest == "pts" || strings.HasPrefix(rest, "pts/") }

// openPtmx opens a new master: /dev/ptmx, or the instance's own ptmx node (/dev/pts/ptmx). Its
// slave gets the caller's fsuid and fsgid (or the mount's gid=) and the mount's mode=.
func (k *Kernel) openPtmx(c *Call, flags int) (int, error) {
	dir := k.devptsFD()
	if dir < 0 {
		return -1, unix.ENODEV
	}
	if flags&unix.O_PATH != 0 {
		return unix.Openat(dir, "ptmx", unix.O_PATH|unix.O_CLOEXEC, 0)
	}
	fd, err := unix.Openat(dir, "ptmx", flags&(unix.O_ACCMODE|unix.O_NONBLOCK)|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	cr := c.fsCred()
	o := k.ptyOptions()
	p := &k.pty
	p.mu.Lock()
	gid := cr.FSGID
	if o.setGID {
		gid = o.gid
	}
	if p.owners == nil {
		p.owners = map[int][2]uint32{}
	}
	p.owners[n] = [2]uint32{cr.FSUID, gid}
	p.mu.Unlock()
	unix.Fchmodat(dir, strconv.Itoa(n), o.mode, 0)
	return fd, nil
}

// setPtyOwner records a new owner of the guest's pty n (chown of its slave).
func (k *Kernel) setPtyOwner(n int, uid, gid uint32) {
	p := &k.pty
	p.mu.Lock()
	if p.owners == nil {
		p.owners = map[int][2]uint32{}
	}
	p.owners[n] = [2]uint32{uid, gid}
	p.mu.Unlock()
}

// openPts opens a name of the instance: sub is what follows /dev/pts ("" for the directory).
// The host resolves it beneath the instance, through no symlink (devpts has none).
func (k *Kernel) openPts(c *Call, sub string, flags int) (int, error) {
	dir := k.devptsFD()
	if dir < 0 {
		return -1, unix.ENOENT
	}
	sub = strings.Trim(sub, "/")
	if sub == "ptmx" && flags&unix.O_PATH == 0 {
		if !c.privileged() && !permits(c.fsCred(), &unix.Stat_t{Mode: unix.S_IFCHR | k.ptyOptions().ptmxmode}, accessWanted(flags)) {
			return -1, unix.EACCES
		}
		return k.openPtmx(c, flags)
	}
	if sub == "" {
		sub = "."
	}
	acc := flags&(unix.O_ACCMODE|unix.O_NONBLOCK|unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW) | unix.O_NOCTTY | unix.O_CLOEXEC
	if acc&unix.O_PATH != 0 {
		acc &= unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	}
	fd, err := openat2(dir, sub, &unix.OpenHow{Flags: uint64(acc),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV})
	if err != nil {
		return -1, err
	}
	if flags&unix.O_PATH == 0 && !c.privileged() {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, err
		}
		k.ptyStat(&st)
		if !permits(c.fsCred(), &st, accessWanted(flags)) {
			unix.Close(fd)
			return -1, unix.EACCES
		}
	}
	return fd, nil
}

// accessWanted is the permission an open's flags ask for.
func accessWanted(flags int) uint32 {
	switch flags & unix.O_ACCMODE {
	case unix.O_WRONLY:
		return mayWrite
	case unix.O_RDWR:
		return mayRead | mayWrite
	}
	return mayRead
}

// ptyOptions are the options of the guest's devpts mount.
func (k *Kernel) ptyOptions() devptsOptions {
	k.pty.mu.Lock()
	defer k.pty.mu.Unlock()
	if k.pty.opts == nil {
		return defaultDevpts
	}
	return *k.pty.opts
}

// mountDevpts applies a guest's devpts mount on /dev/pts: the instance is there already.
func (k *Kernel) mountDevpts(data string) error {
	o, err := parseDevptsOptions(data)
	if err != nil {
		return err
	}
	k.pty.mu.Lock()
	k.pty.opts = &o
	k.pty.mu.Unlock()
	return nil
}

// ptyStat makes the stat of a file of the instance what the guest's devpts shows: its guest
// owner and the modes of the guest's options. It reports whether st was one.
func (k *Kernel) ptyStat(st *unix.Stat_t) bool {
	dev := k.devptsDev()
	if dev == 0 || st.Dev != dev {
		return false
	}
	ptmxmode := k.ptyOptions().ptmxmode
	p := &k.pty
	p.mu.Lock()
	defer p.mu.Unlock()
	st.Uid, st.Gid = 0, 0
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
	case st.Rdev == unix.Mkdev(5, 2):
		st.Mode = unix.S_IFCHR | ptmxmode
	case unix.Major(st.Rdev) == ptyMajor:
		if o, ok := p.owners[int(unix.Minor(st.Rdev))]; ok {
			st.Uid, st.Gid = o[0], o[1]
		}
	}
	return true
}

// ptyName is the guest path of a file of the instance (for /proc's links and ttyname), ""
// when st is none of them.
func (k *Kernel) ptyName(st *unix.Stat_t) string {
	dev := k.devptsDev()
	if dev == 0 || st.Dev != dev {
		return ""
	}
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return "/dev/pts"
	case st.Rdev == unix.Mkdev(5, 2):
		return "/dev/ptmx" // a master: Linux names the node it was opened by
	}
	return "/dev/pts/" + strconv.Itoa(int(unix.Minor(st.Rdev)))
}
