package rootfs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/gouml/gouml/lib/hostmeta"
	"github.com/gouml/gouml/lib/rootfs/fstree"
	"github.com/gouml/gouml/lib/testenv"
	"golang.org/x/sys/unix"
)

// bootImage boots the real UML kernel with an image as its root block device (testenv.UML
// always adds hostfs arguments, so image roots get this small runner in the same style).
func bootImage(t *testing.T, img, init string, timeout time.Duration) string {
	t.Helper()
	kernel := testenv.Tool(t, "linux.uml")
	umlDir := t.TempDir()
	args := []string{"mem=128M", "ubd0=" + img, "root=/dev/ubda", "rw", "con0=fd:0,fd:1", "con=null",
		"ssl=null", "uml_dir=" + umlDir + "/", "umid=" + testenv.Umid(t)}
	if init != "" {
		args = append(args, "init="+init)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kernel, args...)
	cmd.Dir = t.TempDir()
	var out testenv.SafeBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); !testenv.HaltedCleanly(t, err, out.String()) {
		t.Fatalf("linux.uml %s: %v\n--- console ---\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// openTempDir returns a temporary directory that any user may write in.
func openTempDir(t *testing.T) string {
	d := t.TempDir()
	for p := d; p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o777|os.ModeSticky); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// mkrootfs runs our built program, optionally as another user, and returns its output.
func mkrootfs(t *testing.T, asUser string, args ...string) (string, error) {
	t.Helper()
	bin := testenv.Program(t, "mkrootfs")
	var cmd *exec.Cmd
	if asUser != "" {
		// x/tools (linked in through the u-root builder) makes a cache directory when the
		// program starts: give the user one.
		cache := openTempDir(t)
		cmd = exec.Command("runuser", append([]string{"-u", asUser, "--", "env", "XDG_CACHE_HOME=" + cache, bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustMkrootfs(t *testing.T, args ...string) string {
	t.Helper()
	out, err := mkrootfs(t, "", args...)
	if err != nil {
		t.Fatalf("mkrootfs %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func fsck(t *testing.T, img string) {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "e2fsck"), "-fn", img).CombinedOutput()
	if err != nil {
		t.Fatalf("e2fsck -fn %s: %v\n%s", img, err, out)
	}
}

// tarOf tars a directory with the host's tar, preserving what GNU tar preserves.
func tarOf(t *testing.T, dir, out string) {
	t.Helper()
	if b, err := exec.Command("tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-C", dir, "-cf", out, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, b)
	}
}

const poweroffSh = "/bin/busybox poweroff -f\n"

func TestBusyboxImageBootsOnRealUML(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nmount -t proc proc /proc\necho ROOTDEV=$(awk '$2==\"/\"{print $1\" \"$3}' /proc/mounts | tail -1)\n" +
			"umount /dev\nls -ln /dev/ubda /dev/console\ncat /etc/hostname\necho BOOT-OK\n" + poweroffSh,
	})
	dir := t.TempDir()
	tarball := filepath.Join(dir, "bb.tar")
	tarOf(t, root, tarball)
	for _, format := range []string{"ext4", "ext2"} {
		t.Run(format, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "root.img")
			out := mustMkrootfs(t, "-q", "-t", format, "--hostname", "bbguest", "-o", img, tarball)
			if out != "" {
				t.Fatalf("-q printed %q", out)
			}
			fsck(t, img)
			con := bootImage(t, img, "/t.sh", 60*time.Second)
			// This kernel mounts ext2 with its ext4 driver (CONFIG_EXT4_USE_FOR_EXT2).
			for _, want := range []string{"ROOTDEV=/dev/root ext", "BOOT-OK", "bbguest"} {
				if !strings.Contains(con, want) {
					t.Errorf("console lacks %q\n%s", want, con)
				}
			}
			// devtmpfs is unmounted first: these are the nodes from our image
			if !regexp.MustCompile(`brw-rw----\s+1 0\s+0\s+98,\s+0 .*/dev/ubda`).MatchString(con) {
				t.Errorf("/dev/ubda is not block device 98,0 owned by root:\n%s", con)
			}
		})
	}
}

// TestBusyboxDirectoryRootOnRealUML boots a directory output as a hostfs root.
func TestBusyboxDirectoryRootOnRealUML(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": "#!/bin/sh\necho DIR-OK $(cat /etc/hostname)\n" + poweroffSh})
	out := filepath.Join(t.TempDir(), "guest")
	mustMkrootfs(t, "-q", "-t", "dir", "-o", out, root)
	u := &testenv.UML{Root: out, Init: "/t.sh"}
	if con := u.Run(t); !strings.Contains(con, "DIR-OK gouml") {
		t.Fatalf("guest did not run:\n%s", con)
	}
}

// fixture builds a tarball with everything the importer must carry: a root-owned setuid
// file, device nodes, hard links, fast and slow symlinks, a FIFO, xattrs, odd owners.
func fixture(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Date(2023, 6, 10, 12, 0, 0, 0, time.UTC)
	add := func(h *tar.Header, data string) {
		h.ModTime = mt
		h.Format = tar.FormatPAX
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if data != "" {
			tw.Write([]byte(data))
		}
	}
	add(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "./usr/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "./usr/bin/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "./usr/bin/passwd", Typeflag: tar.TypeReg, Mode: 0o4755}, strings.Repeat("passwd binary ", 5000))
	add(&tar.Header{Name: "./usr/bin/chfn", Typeflag: tar.TypeLink, Linkname: "./usr/bin/passwd"}, "")
	add(&tar.Header{Name: "./usr/bin/wall", Typeflag: tar.TypeReg, Mode: 0o2755, Gid: 5}, "wall")
	add(&tar.Header{Name: "./usr/bin/ping", Typeflag: tar.TypeReg, Mode: 0o755, PAXRecords: map[string]string{
		"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
		"SCHILY.xattr.user.note":           "hello"}}, "ping")
	add(&tar.Header{Name: "./bin", Typeflag: tar.TypeSymlink, Linkname: "usr/bin"}, "")
	add(&tar.Header{Name: "./usr/bin/long", Typeflag: tar.TypeSymlink, Linkname: strings.Repeat("very-long-target/", 8) + "end"}, "")
	add(&tar.Header{Name: "./dev/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "./dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}, "")
	add(&tar.Header{Name: "./dev/sda1", Typeflag: tar.TypeBlock, Mode: 0o660, Gid: 6, Devmajor: 8, Devminor: 1}, "")
	add(&tar.Header{Name: "./dev/big", Typeflag: tar.TypeChar, Mode: 0o600, Devmajor: 259, Devminor: 65537}, "")
	add(&tar.Header{Name: "./run/initctl", Typeflag: tar.TypeFifo, Mode: 0o600}, "")
	add(&tar.Header{Name: "./home/user/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 1000, Gid: 1000}, "")
	add(&tar.Header{Name: "./home/user/notes", Typeflag: tar.TypeReg, Mode: 0o640, Uid: 1000, Gid: 100000}, "mine")
	// a user's symbolic link, and a hard link of the link itself
	add(&tar.Header{Name: "./home/user/link", Typeflag: tar.TypeSymlink, Linkname: "notes", Uid: 1000, Gid: 1001}, "")
	add(&tar.Header{Name: "./home/user/link2", Typeflag: tar.TypeLink, Linkname: "./home/user/link"}, "")
	add(&tar.Header{Name: "./etc/shadow", Typeflag: tar.TypeReg, Mode: 0o640, Gid: 42}, "root:*:19000:0:99999:7:::\n")
	add(&tar.Header{Name: "./etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}, "root:x:0:0:root:/root:/bin/sh\n")
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "fixture.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// debugfsStat returns one line per path: the fields of `debugfs stat` that the round trip
// must keep.
func debugfsListing(t *testing.T, img string, paths []string) string {
	t.Helper()
	dbg := testenv.Tool(t, "debugfs")
	var b strings.Builder
	re := regexp.MustCompile(`Type: (\S+( special)?)\s+Mode:\s+(\d+).*\n.*\nUser:\s+(\d+)\s+Group:\s+(\d+).*Size: (\d+)\n.*\nLinks: (\d+)`)
	for _, p := range paths {
		out, err := exec.Command(dbg, "-R", "stat "+p, img).CombinedOutput()
		if err != nil {
			t.Fatalf("debugfs stat %s: %v\n%s", p, err, out)
		}
		m := re.FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("debugfs stat %s: unexpected output\n%s", p, out)
		}
		extra := ""
		if i := strings.Index(string(out), "Device major/minor number: "); i >= 0 {
			extra = strings.Fields(string(out)[i+len("Device major/minor number: "):])[0]
		}
		if i := strings.Index(string(out), "Fast link dest: "); i >= 0 {
			extra = strings.TrimSpace(strings.SplitN(string(out)[i+len("Fast link dest: "):], "\n", 2)[0])
		}
		fmt.Fprintf(&b, "%s %s %s %s:%s size=%s links=%s %s\n", p, m[1], m[3], m[4], m[5], m[6], m[7], extra)
	}
	return b.String()
}

var fixturePaths = []string{"/usr/bin/passwd", "/usr/bin/chfn", "/usr/bin/wall", "/usr/bin/ping", "/bin",
	"/usr/bin/long", "/dev/null", "/dev/sda1", "/dev/big", "/run/initctl", "/home/user", "/home/user/notes", "/home/user/link", "/home/user/link2", "/etc/shadow"}

const fixtureWant = `/usr/bin/passwd regular 04755 0:0 size=70000 links=2 
/usr/bin/chfn regular 04755 0:0 size=70000 links=2 
/usr/bin/wall regular 02755 0:5 size=4 links=1 
/usr/bin/ping regular 0755 0:0 size=4 links=1 
/bin symlink 0777 0:0 size=7 links=1 "usr/bin"
/usr/bin/long symlink 0777 0:0 size=139 links=1 
/dev/null character special 0666 0:0 size=0 links=1 01:03
/dev/sda1 block special 0660 0:6 size=0 links=1 08:01
/dev/big character special 0600 0:0 size=0 links=1 259:65537
/run/initctl FIFO 0600 0:0 size=0 links=1 
/home/user directory 0750 1000:1000 size=4096 links=2 
/home/user/notes regular 0640 1000:100000 size=4 links=1 
/home/user/link symlink 0777 1000:1001 size=5 links=2 "notes"
/home/user/link2 symlink 0777 1000:1001 size=5 links=2 "notes"
/etc/shadow regular 0640 0:42 size=26 links=1 
`

// TestTarballRoundTripThroughDebugfs: tarball -> image -> debugfs keeps names, modes, owners,
// link targets, hard links, device numbers and xattrs; e2fsck is clean.
func TestTarballRoundTripThroughDebugfs(t *testing.T) {
	tarball := fixture(t)
	for _, format := range []string{"ext4", "ext2"} {
		t.Run(format, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "img")
			mustMkrootfs(t, "-q", "--no-uml", "-t", format, "-o", img, tarball)
			fsck(t, img)
			if got := debugfsListing(t, img, fixturePaths); got != fixtureWant {
				t.Errorf("debugfs sees:\n%s\nwant:\n%s", got, fixtureWant)
			}
			dbg := testenv.Tool(t, "debugfs")
			out, _ := exec.Command(dbg, "-R", "ea_list /usr/bin/ping", img).CombinedOutput()
			if !strings.Contains(string(out), "security.capability (20) = 01 00 00 02 00 20") || !strings.Contains(string(out), `user.note (5) = "hello"`) {
				t.Errorf("xattrs lost:\n%s", out)
			}
			out, _ = exec.Command(dbg, "-R", "cat /usr/bin/long", img).CombinedOutput()
			if !strings.Contains(string(out), strings.Repeat("very-long-target/", 8)+"end") {
				t.Errorf("slow symlink target lost:\n%s", out)
			}
			// rdump the whole tree and compare file contents with the tarball's
			rd := t.TempDir()
			if b, err := exec.Command(dbg, "-R", "rdump / "+rd, img).CombinedOutput(); err != nil {
				t.Fatalf("rdump: %v\n%s", err, b)
			}
			if b, _ := os.ReadFile(filepath.Join(rd, "usr/bin/passwd")); string(b) != strings.Repeat("passwd binary ", 5000) {
				t.Errorf("passwd content differs after rdump (%d bytes)", len(b))
			}
		})
	}
}

// TestDirectoryOutputXattrScheme checks the user.gouml.* attributes an ordinary user gets
// and that importing the directory again restores the same image.
func TestDirectoryOutputXattrScheme(t *testing.T) {
	tarball := fixture(t)
	u := testUser(t)
	parent := openTempDir(t)
	out := filepath.Join(parent, "guest")
	if b, err := mkrootfs(t, u, "-q", "--no-uml", "-t", "dir", "-o", out, tarball); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	get := func(p, name string) string {
		b, err := exec.Command("getfattr", "--only-values", "-n", name, filepath.Join(out, p)).Output()
		if err != nil {
			return readXattrGo(t, filepath.Join(out, p), name)
		}
		return string(b)
	}
	for _, c := range []struct{ path, name, want string }{
		{"usr/bin/passwd", XattrMode, "104755"},
		{"usr/bin/passwd", XattrUID, "0"},
		{"dev/sda1", XattrMode, "60660"},
		{"dev/sda1", XattrGID, "6"},
		{"dev/sda1", XattrRdev, "8:1"},
		{"dev/big", XattrRdev, "259:65537"},
		{"home/user/notes", XattrGID, "100000"},
		{"usr/bin/ping", "user.note", "hello"},
		// kept as the emulator keeps a guest's security.* (lib/hostmeta), so the guest sees it
		{"usr/bin/ping", hostmeta.XattrKept + "security.capability", "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"},
		{"home/user", hostmeta.LinkAttr("link"), "1000:1001"},
		{"home/user", hostmeta.LinkAttr("link2"), "1000:1001"},
	} {
		if got := get(c.path, c.name); got != c.want {
			t.Errorf("%s %s = %q, want %q", c.path, c.name, got, c.want)
		}
	}
	if st, err := os.Stat(filepath.Join(out, "usr/bin/passwd")); err != nil || st.Mode()&os.ModeSetuid != 0 {
		t.Errorf("host copy of a setuid file must not be setuid: %v %v", st.Mode(), err)
	}
	// the directory imports back to the same image
	img := filepath.Join(t.TempDir(), "img")
	mustMkrootfs(t, "-q", "--no-uml", "-o", img, out)
	fsck(t, img)
	if got := debugfsListing(t, img, fixturePaths); got != fixtureWant {
		t.Errorf("directory -> image:\n%s\nwant:\n%s", got, fixtureWant)
	}
}

func readXattrGo(t *testing.T, p, name string) string {
	v, err := getXattr(p, name)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(v)
}

// testUser returns an unprivileged user to run mkrootfs as, creating one if needed.
func testUser(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to an unprivileged user")
	}
	if _, err := exec.LookPath("runuser"); err != nil {
		t.Skip("runuser not found")
	}
	const name = "gouml-test"
	if _, err := user.Lookup(name); err != nil {
		if b, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v\n%s", err, b)
		}
	}
	return name
}

// TestUnprivilegedBuildMatchesRoot: an ordinary user produces the same image contents.
func TestUnprivilegedBuildMatchesRoot(t *testing.T) {
	u := testUser(t)
	tarball := fixture(t)
	for p := filepath.Dir(tarball); p != os.TempDir(); p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
	parent := openTempDir(t)
	asRoot := filepath.Join(parent, "root.img")
	asUser := filepath.Join(parent, "user.img")
	mustMkrootfs(t, "-q", "-o", asRoot, tarball)
	if b, err := mkrootfs(t, u, "-q", "-o", asUser, tarball); err != nil {
		t.Fatalf("as %s: %v\n%s", u, err, b)
	}
	fsck(t, asUser)
	a := debugfsListing(t, asRoot, fixturePaths)
	b := debugfsListing(t, asUser, fixturePaths)
	if a != b || a != fixtureWant {
		t.Errorf("root built:\n%s\nuser built:\n%s", a, b)
	}
	ra, rb := rdumpTree(t, asRoot), rdumpTree(t, asUser)
	if ra != rb {
		t.Errorf("file trees differ:\nroot:\n%s\nuser:\n%s", ra, rb)
	}
}

// rdumpTree lists every path of an image with its debugfs "ls -l" metadata.
func rdumpTree(t *testing.T, img string) string {
	t.Helper()
	dbg := testenv.Tool(t, "debugfs")
	var lines []string
	var walk func(dir string)
	walk = func(dir string) {
		out, err := exec.Command(dbg, "-R", "ls -l "+dir, img).CombinedOutput()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			f := strings.Fields(l)
			if len(f) < 9 || f[len(f)-1] == "." || f[len(f)-1] == ".." {
				continue
			}
			name := f[len(f)-1]
			// path, mode, uid, gid, size (not times: files mkrootfs adds carry the build time)
			lines = append(lines, fmt.Sprintf("%s/%s %s %s %s %s", strings.TrimSuffix(dir, "/"), name, f[1], f[3], f[4], f[5]))
			if strings.HasPrefix(f[1], "4") && name != "lost+found" {
				walk(strings.TrimSuffix(dir, "/") + "/" + name)
			}
		}
	}
	walk("/")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestErrorsAreOneLine(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "bad.tar.gz")
	os.WriteFile(corrupt, []byte("\x1f\x8b\x08\x00garbage-not-gzip"), 0o644)
	notTar := filepath.Join(dir, "text")
	os.WriteFile(notTar, bytes.Repeat([]byte("hello world\n"), 100), 0o644)
	big := filepath.Join(dir, "big")
	os.WriteFile(big, bytes.Repeat([]byte{1}, 8<<20), 0o644)
	img := filepath.Join(dir, "out.img")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", img, filepath.Join(dir, "missing")}, "source " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{[]string{"-o", img, corrupt}, "corrupt or unsupported tarball"},
		{[]string{"-o", img, notTar}, "corrupt or unsupported tarball"},
		{[]string{"-o", img, "--size", "4M", "--add", big + ":/big", "--no-uml", fixture(t)}, "image too small"},
		{[]string{"-o", "/proc/nonexistent/dir/x.img", fixture(t)}, "output /proc/nonexistent/dir/x.img: cannot create directory /proc/nonexistent/dir: no such file or directory"},
		{[]string{"-o", "/proc/x.img", fixture(t)}, "cannot write in /proc"},
		{[]string{"-o", filepath.Join(dir, "new/sub/x.img"), filepath.Join(dir, "missing")}, "no such file or directory"},
	} {
		out, err := mkrootfs(t, "", c.args...)
		if err == nil {
			t.Errorf("mkrootfs %v succeeded", c.args)
			continue
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 1 || !strings.HasPrefix(out, "mkrootfs: ") || !strings.Contains(out, c.want) {
			t.Errorf("mkrootfs %v: want one line with %q, got:\n%s", c.args, c.want, out)
		}
		if _, err := os.Stat(img); err == nil {
			t.Fatalf("a failed build left %s behind", img)
		}
		if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
			t.Fatalf("a failed build left the output's new parent directory behind")
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.Contains(e.Name(), "mkrootfs") {
				t.Errorf("a failed build left %s behind", e.Name())
			}
		}
	}
}

// slowTest skips a test that takes minutes unless GOUML_SLOW_TESTS=1 (run them with a long
// -timeout: go test's default of 10 minutes is too short for them on a busy 2-core machine).
func slowTest(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("GOUML_SLOW_TESTS") != "1" || testing.Short() {
		t.Skipf("%s; set GOUML_SLOW_TESTS=1 and -timeout 30m to run", why)
	}
}

// TestURootOnRealUML builds the default guest (u-root, compiled here: needs go and the module
// cache or a proxy, and takes 2-10 minutes depending on the machine's load; make test's
// -timeout 40m leaves room for it), boots it as a hostfs directory, then
// imports that directory into an ext4 image and boots it via ubd0=.
func TestURootOnRealUML(t *testing.T) {
	if testing.Short() {
		t.Skip("builds u-root from source (2-10 minutes); skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not on PATH: u-root cannot be built")
	}
	uinit := filepath.Join(t.TempDir(), "uinit")
	os.WriteFile(uinit, []byte("#!/bbin/gosh\necho UROOT-OK $(cat /etc/hostname)\nls /bbin/init\npoweroff\n"), 0o755)
	dir := filepath.Join(t.TempDir(), "uroot")
	out, err := mkrootfs(t, "", "-t", "dir", "-o", dir, "--add", uinit+":/bin/uinit", "--hostname", "ur")
	if err != nil {
		t.Fatalf("mkrootfs u-root: %v\n%s", err, out)
	}
	if !strings.Contains(out, "directory,") {
		t.Errorf("no summary line:\n%s", out)
	}
	con := (&testenv.UML{Root: dir, Timeout: 120 * time.Second}).Run(t)
	if !strings.Contains(con, "UROOT-OK ur") || !strings.Contains(con, "Welcome to u-root") {
		t.Fatalf("u-root directory guest did not run uinit:\n%s", con)
	}
	img := filepath.Join(t.TempDir(), "uroot.img")
	mustMkrootfs(t, "-q", "-o", img, dir)
	fsck(t, img)
	con = bootImage(t, img, "", 120*time.Second)
	if !strings.Contains(con, "UROOT-OK ur") {
		t.Fatalf("u-root image guest did not run uinit:\n%s", con)
	}
}

// TestDebianMinbaseTarballOnRealUML: a Debian bookworm minbase made by the real debootstrap,
// tarred with GNU tar, imported from the tarball into an ext4 image, boots to /bin/bash;
// /usr/bin/passwd is root's and setuid, dpkg works.
func TestDebianMinbaseTarballOnRealUML(t *testing.T) {
	slowTest(t, "debootstrap downloads ~40 MB from a Debian mirror: 2-5 minutes")
	if os.Geteuid() != 0 {
		t.Skip("debootstrap needs root")
	}
	dbs := testenv.Tool(t, "debootstrap")
	mirror := os.Getenv("GOUML_DEBIAN_MIRROR")
	if mirror == "" {
		mirror = "http://deb.debian.org/debian"
	}
	work := t.TempDir()
	root := filepath.Join(work, "deb")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if b, err := exec.CommandContext(ctx, dbs, "--variant=minbase", "bookworm", root, mirror).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("debootstrap bookworm from %s failed (no network to the mirror?): %v\n%s", mirror, err, lastLines(string(b), 10))
		if testenv.Required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	tarball := filepath.Join(work, "deb.tar.gz")
	if b, err := exec.Command("tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-C", root, "-czf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, b)
	}
	os.RemoveAll(root)
	script := filepath.Join(work, "t.sh")
	os.WriteFile(script, []byte("#!/bin/bash\nmount -t proc proc /proc\nls -l /usr/bin/passwd\n"+
		"dpkg -s coreutils | grep -E '^(Package|Status):'\necho DEBIAN-OK\necho o > /proc/sysrq-trigger\nsleep 10\n"), 0o755)
	img := filepath.Join(work, "deb.img")
	out := mustMkrootfs(t, "-o", img, "--add", script+":/t.sh", "--root-password", "secret", tarball)
	t.Log(out)
	fsck(t, img)
	con := bootImage(t, img, "/t.sh", 120*time.Second)
	for _, re := range []string{`-rwsr-xr-x 1 root root \d+ .* /usr/bin/passwd`, `Package: coreutils`,
		`Status: install ok installed`, `DEBIAN-OK`} {
		if !regexp.MustCompile(re).MatchString(con) {
			t.Errorf("console lacks %s\n%s", re, lastLines(con, 30))
		}
	}
	// the root password landed hashed in /etc/shadow, keeping shadow's group
	dbg := testenv.Tool(t, "debugfs")
	b, _ := exec.Command(dbg, "-R", "cat /etc/shadow", img).Output()
	if !regexp.MustCompile(`(?m)^root:\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}:`).Match(b) {
		t.Errorf("root password not set:\n%s", b)
	}
	if strings.Contains(string(b), "secret") {
		t.Errorf("password stored in clear")
	}
	st, _ := exec.Command(dbg, "-R", "stat /etc/shadow", img).Output()
	if !regexp.MustCompile(`Mode:\s+0640`).Match(st) || !regexp.MustCompile(`Group:\s+42`).Match(st) {
		t.Errorf("/etc/shadow lost its mode or group:\n%s", st)
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// TestCPIOInitramfsOnRealUML: a busybox root written as a newc cpio boots as the real
// kernel's initramfs (initrd=), and reads back with the same metadata.
func TestCPIOInitramfsOnRealUML(t *testing.T) {
	root := testenv.BusyboxRoot(t, map[string]string{
		"/t.sh": "#!/bin/sh\nmount -t proc proc /proc\necho ROOT=$(awk '$2==\"/\"{print $3}' /proc/mounts | head -1)\necho CPIO-OK\n" + poweroffSh})
	dir := t.TempDir()
	cp := filepath.Join(dir, "initrd.cpio")
	out := mustMkrootfs(t, "-t", "cpio", "-o", cp, root, "--add", filepath.Join(root, "t.sh")+":/init")
	if !strings.Contains(out, "cpio initramfs") {
		t.Errorf("summary: %q", out)
	}
	kernel := testenv.Tool(t, "linux.uml")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kernel, "mem=128M", "initrd="+cp, "con0=fd:0,fd:1", "con=null", "ssl=null",
		"uml_dir="+t.TempDir()+"/", "umid="+testenv.Umid(t))
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	con, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(con), "CPIO-OK") || !strings.Contains(string(con), "ROOT=rootfs") {
		t.Fatalf("initramfs guest: %v\n%s", err, lastLines(string(con), 30))
	}
	// The fixture's metadata survives tarball -> cpio -> our reader.
	fx := filepath.Join(dir, "fx.cpio")
	mustMkrootfs(t, "-q", "--no-uml", "-t", "cpio", "-o", fx, fixture(t))
	img := filepath.Join(dir, "fx.img")
	mustMkrootfs(t, "-q", "--no-uml", "-o", img, fx)
	fsck(t, img)
	// /home/user's size differs only if its directory blocks do; everything else must match
	if got := debugfsListing(t, img, fixturePaths); got != fixtureWant {
		t.Errorf("tarball -> cpio -> image:\n%s\nwant:\n%s", got, fixtureWant)
	}
}

// TestCompressedTarballs: gzip, xz and zstd (and bzip2 when the host can make one) are
// recognised by content and give the same image as the plain tarball.
func TestCompressedTarballs(t *testing.T) {
	plain := fixture(t)
	data, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writers := map[string]func(io.Writer) (io.WriteCloser, error){
		"gz":  func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriter(w), nil },
		"xz":  func(w io.Writer) (io.WriteCloser, error) { return xz.NewWriter(w) },
		"zst": func(w io.Writer) (io.WriteCloser, error) { return zstd.NewWriter(w) },
	}
	var names []string
	for ext, mk := range writers {
		var b bytes.Buffer
		w, err := mk(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
		p := filepath.Join(dir, "f.tar."+ext)
		os.WriteFile(p, b.Bytes(), 0o644)
		names = append(names, p)
	}
	if bz := testenv.OptionalTool(t, "bzip2"); bz != "" {
		p := filepath.Join(dir, "f.tar")
		os.WriteFile(p, data, 0o644)
		if err := exec.Command(bz, "-k", p).Run(); err == nil {
			names = append(names, p+".bz2")
		}
	}
	sort.Strings(names)
	for _, p := range names {
		t.Run(filepath.Base(p), func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "img")
			mustMkrootfs(t, "-q", "--no-uml", "-o", img, p)
			if got := debugfsListing(t, img, fixturePaths); got != fixtureWant {
				t.Errorf("%s:\n%s\nwant:\n%s", p, got, fixtureWant)
			}
		})
	}
}

// TestUMLSetupFiles: the files mkrootfs adds for a guest, and what it keeps.
func TestUMLSetupFiles(t *testing.T) {
	img := filepath.Join(t.TempDir(), "img")
	mustMkrootfs(t, "-q", "-o", img, "--hostname", "h1", "--root-password", "pw",
		"--net", "static:10.0.0.2/24,10.0.0.1", "--dns", "10.0.0.1", fixture(t))
	fsck(t, img)
	dbg := testenv.Tool(t, "debugfs")
	cat := func(p string) string {
		b, _ := exec.Command(dbg, "-R", "cat "+p, img).Output()
		return string(b)
	}
	for p, want := range map[string]string{
		"/etc/hostname":           "^h1\n$",
		"/etc/fstab":              `(?m)^/dev/ubda\t/\text4\tdefaults\t0 1$`,
		"/etc/network/interfaces": `iface eth0 inet static\n\taddress 10.0.0.2/24\n\tgateway 10.0.0.1\n`,
		"/etc/resolv.conf":        "^nameserver 10.0.0.1\n$",
		"/etc/shadow":             `^root:\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}:\d+:0:99999:7:::\n$`,
		"/etc/passwd":             "^root:x:0:0:root:/root:/bin/sh\n$",
		"/etc/hosts":              "^127\\.0\\.0\\.1\tlocalhost\n127\\.0\\.1\\.1\th1\n",
	} {
		if got := cat(p); !regexp.MustCompile(want).MatchString(got) {
			t.Errorf("%s = %q, want /%s/", p, got, want)
		}
	}
	// /etc/shadow keeps the archive's mode and group; device nodes are added
	want := "/etc/shadow regular 0640 0:42 size=131 links=1 \n/dev/console character special 0600 0:0 size=0 links=1 05:01\n/dev/ubda block special 0660 0:0 size=0 links=1 98:00\n"
	if got := debugfsListing(t, img, []string{"/etc/shadow", "/dev/console", "/dev/ubda"}); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if cat("/etc/inittab") != "" {
		t.Errorf("an inittab was added to a root without busybox")
	}
}

// TestImportLegacyEmulatorXattrs: a directory root the first emulator version wrote to
// (owners in user.gouml.owner, device nodes as user.gouml.dev) imports with those owners
// and devices.
func TestImportLegacyEmulatorXattrs(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "owned")
	d := filepath.Join(dir, "port")
	os.WriteFile(f, []byte("x"), 0o640)
	os.WriteFile(d, nil, 0o600)
	if err := unix.Setxattr(f, "user.gouml.owner", []byte("1000:100"), 0); err != nil {
		t.Skipf("no user xattrs here: %v", err)
	}
	unix.Setxattr(d, "user.gouml.dev", []byte("c:1:4"), 0)
	tr := fstree.New(time.Unix(0, 0))
	if err := ImportDir(tr, dir, "/", func(string) {}); err != nil {
		t.Fatal(err)
	}
	n, err := tr.Lookup("/owned")
	if err != nil || n.Inode.UID != 1000 || n.Inode.GID != 100 {
		t.Fatalf("owned: %v %+v", err, n)
	}
	n, err = tr.Lookup("/port")
	if err != nil || n.Inode.Mode != fstree.TypeMask&unix.S_IFCHR|0o600 || n.Inode.Major != 1 || n.Inode.Minor != 4 {
		t.Fatalf("port: %v %o %d:%d", err, n.Inode.Mode, n.Inode.Major, n.Inode.Minor)
	}
	os.WriteFile(d, nil, 0o600)
	unix.Setxattr(d, "user.gouml.dev", []byte("q:1"), 0)
	if err := ImportDir(fstree.New(time.Unix(0, 0)), dir, "/", func(string) {}); err == nil || !strings.Contains(err.Error(), "bad user.gouml.dev") {
		t.Fatalf("a bad legacy attribute: %v", err)
	}
}
