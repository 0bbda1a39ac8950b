package kernel_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gouml/gouml/lib/hostmeta"
	"github.com/gouml/gouml/lib/testenv"
)

// linkOwnerScript gives links owners and moves them: a rename in the directory and into
// another, a hard link of a link whose first name is then removed, a link renamed over a
// link, and a new link where an owned one was removed. (The exchange and the comparison
// with Linux are testdata/conform/link_owners.c's.)
const linkOwnerScript = "#!/bin/sh\nmkdir -p /w/sub && cd /w\n" +
	"ln -s x a && ln -s x b && ln -s x c && ln -s x d && ln -s x e\n" +
	"chown -h 2:3 a && chown -h 4:5 b && chown -h 6:7 c && chown -h 8:9 d && chown -h 10:11 e\n" +
	"mv a a2 && mv b sub/b && ln c hl && rm c && mv d e && ln -s x c\n" +
	"sync\n/bin/busybox poweroff -f\n"

// linkOwnerWant is what `ls -ln` shows of /w after the script, name by name.
var linkOwnerWant = map[string]string{"a2": "2 3", "sub/b": "4 5", "hl": "6 7", "e": "8 9", "c": "0 0"}

// lsOwners reads "NAME UID GID" for the links of an `ls -ln` listing of /w and /w/sub.
func lsOwners(out string) map[string]string {
	got := map[string]string{}
	dir := ""
	for _, l := range strings.Split(strings.ReplaceAll(out, "\r", ""), "\n") {
		if strings.HasSuffix(l, ":") {
			dir = strings.TrimPrefix(strings.TrimSuffix(l, ":"), "/w")
			dir = strings.TrimPrefix(dir, "/")
			continue
		}
		f := strings.Fields(l)
		if len(f) >= 11 && strings.HasPrefix(f[0], "l") && f[len(f)-2] == "->" {
			name := f[len(f)-3]
			if dir != "" {
				name = dir + "/" + name
			}
			got[name] = f[2] + " " + f[3]
		}
	}
	return got
}

func checkOwners(t *testing.T, what string, got map[string]string, out string) {
	t.Helper()
	for n, w := range linkOwnerWant {
		if got[n] != w {
			t.Errorf("%s: link %s owned by %q, want %q\n%s", what, n, got[n], w, out)
		}
	}
	for _, n := range []string{"a", "b", "d"} {
		if _, ok := got[n]; ok {
			t.Errorf("%s: %s is still there\n%s", what, n, out)
		}
	}
}

// TestLinkOwnersKept: the owners of symbolic links survive the calls that move them and a
// reboot, in a directory root (where the host directory holds them: lib/hostmeta) and in an
// image root (where the image holds them natively and write-back keeps them), as root and
// as an ordinary host user.
func TestLinkOwnersKept(t *testing.T) {
	t.Run("directory", func(t *testing.T) {
		for _, asUser := range []bool{false, true} {
			if asUser && os.Geteuid() != 0 {
				continue // already unprivileged
			}
			root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": linkOwnerScript,
				"/ls.sh": "#!/bin/sh\nls -lnR /w\n/bin/busybox poweroff -f\n"})
			umlDir := t.TempDir()
			if asUser {
				umlDir = unprivileged(t, root)
			}
			_, errs, status := run{asUser: asUser, timeout: 60 * time.Second, args: []string{"ubd0=" + root, "rw", "init=/t.sh", "uml_dir=" + umlDir}}.do(t)
			if status != 0 {
				t.Fatalf("status %d\n%s", status, errs)
			}
			// the host directory keeps them, and nothing for names that are gone
			for _, c := range []struct {
				dir, name string
				want      bool
				uid, gid  uint32
			}{{"w", "a2", true, 2, 3}, {"w/sub", "b", true, 4, 5}, {"w", "hl", true, 6, 7}, {"w", "e", true, 8, 9},
				{"w", "a", false, 0, 0}, {"w", "b", false, 0, 0}, {"w", "c", false, 0, 0}, {"w", "d", false, 0, 0}} {
				u, g, ok, err := hostmeta.LinkOwner(filepath.Join(root, c.dir), c.name)
				if err != nil || ok != c.want || u != c.uid || g != c.gid {
					t.Errorf("as user %v: host entry of %s/%s: %d:%d %v %v, want %d:%d %v", asUser, c.dir, c.name, u, g, ok, err, c.uid, c.gid, c.want)
				}
			}
			out, errs, status := run{asUser: asUser, timeout: 60 * time.Second, args: []string{"ubd0=" + root, "init=/ls.sh", "uml_dir=" + umlDir}}.do(t)
			if status != 0 {
				t.Fatalf("status %d\n%s", status, errs)
			}
			checkOwners(t, "after a reboot", lsOwners(out), out)
		}
	})
	t.Run("image", func(t *testing.T) {
		mkfs := testenv.Tool(t, "mkfs.ext4")
		debugfs := testenv.Tool(t, "debugfs")
		root := testenv.BusyboxRoot(t, map[string]string{"/t.sh": "#!/bin/sh\nls -ln /v\n" +
			strings.TrimPrefix(linkOwnerScript, "#!/bin/sh\n")})
		os.Mkdir(filepath.Join(root, "v"), 0o755)
		os.Symlink("x", filepath.Join(root, "v/owned"))
		hostRoot := os.Geteuid() == 0
		if hostRoot {
			os.Lchown(filepath.Join(root, "v/owned"), 12, 13)
		}
		img := filepath.Join(t.TempDir(), "root.img")
		if b, err := exec.Command(mkfs, "-q", "-d", root, img, "64M").CombinedOutput(); err != nil {
			t.Fatalf("mkfs: %v\n%s", err, b)
		}
		out, errs, status := run{timeout: 60 * time.Second, args: []string{"ubd0=" + img, "rw", "init=/t.sh", "uml_dir=" + t.TempDir()}}.do(t)
		if status != 0 {
			t.Fatalf("status %d\n%s", status, errs)
		}
		if hostRoot && !regexp.MustCompile(`(?m)^l\S+ +1 +12 +13 .* owned -> x`).MatchString(out) {
			t.Errorf("the image's link owned by 12:13 in the guest:\n%s", out)
		}
		got := map[string]string{}
		for n := range linkOwnerWant {
			b, _ := exec.Command(debugfs, "-R", "stat /w/"+n, img).CombinedOutput()
			if m := regexp.MustCompile(`User:\s+(\d+)\s+Group:\s+(\d+)`).FindSubmatch(b); m != nil {
				got[n] = string(m[1]) + " " + string(m[2])
			}
		}
		for _, n := range []string{"a", "b", "d"} {
			if b, _ := exec.Command(debugfs, "-R", "stat /w/"+n, img).CombinedOutput(); !strings.Contains(string(b), "not found") {
				got[n] = "?"
			}
		}
		checkOwners(t, "in the image after write-back", got, "")
	})
}
