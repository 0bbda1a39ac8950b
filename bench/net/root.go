package main

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// guestScript is every guest's init. A server runs one iperf3 test and ends; a client
// pings its peer (when PING is set), then runs iperf3 against it. Each writes /result and
// waits for /done, so that both machines stay up until the bench has read both.
const guestScript = `#!/bin/sh
mount -t proc proc /proc
ifconfig lo up
ifconfig eth0 $IP netmask 255.255.255.0 up
if [ "$ROLE" = server ]; then
  iperf3 -s -1 -p $PORT > /r 2>&1
else
  : > /r
  if [ -n "$PING" ]; then
    i=0; until ping -c 1 -W 1 $PEER >/dev/null 2>&1 || [ $i -ge 60 ]; do i=$((i+1)); done
    ping -c 20 -i 0.2 $PEER | tail -1 > /r
  fi
  i=0; until iperf3 -c $PEER -p $PORT -t $SECS -f m >> /r 2>&1 || [ $i -ge 20 ]; do i=$((i+1)); sleep 0.5; done
fi
cat /proc/net/dev >> /r
mv /r /result
while [ ! -e /done ]; do sleep 0.2; done
poweroff -f
`

// makeRoot fills dir with a busybox root holding the host's iperf3 and the shared
// libraries it loads, at their host paths, so that both kernels run the same program.
func makeRoot(dir string) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox not found: apt-get install busybox-static")
	}
	ip, err := exec.LookPath("iperf3")
	if err != nil {
		return fmt.Errorf("iperf3 not found: apt-get install iperf3")
	}
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	files, err := elfClosure(ip)
	if err != nil {
		return err
	}
	files[bb] = "bin/busybox"
	files[ip] = "bin/iperf3"
	for src, dst := range files {
		if err := copyFile(src, filepath.Join(dir, dst)); err != nil {
			return err
		}
	}
	for _, a := range []string{"sh", "mount", "ifconfig", "ping", "tail", "mv", "sleep", "poweroff", "cat"} {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "t.sh"), []byte(guestScript), 0o755)
}

// libDirs are where the dynamic loader of a Debian amd64 system finds libraries.
var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib"}

// elfClosure maps the program's interpreter and every library it needs, transitively, to
// their paths inside the root (the host's, without the leading slash).
func elfClosure(prog string) (map[string]string, error) {
	files := map[string]string{}
	todo := []string{prog}
	for len(todo) > 0 {
		p := todo[0]
		todo = todo[1:]
		f, err := elf.Open(p)
		if err != nil {
			return nil, err
		}
		libs, err := f.ImportedLibraries()
		for _, ph := range f.Progs {
			if ph.Type == elf.PT_INTERP {
				b := make([]byte, ph.Filesz)
				if _, err := ph.ReadAt(b, 0); err == nil && len(b) > 1 {
					interp := string(b[:len(b)-1])
					files[interp] = interp[1:]
				}
			}
		}
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		for _, l := range libs {
			found := ""
			for _, d := range libDirs {
				if _, err := os.Stat(filepath.Join(d, l)); err == nil {
					found = filepath.Join(d, l)
					break
				}
			}
			if found == "" {
				return nil, fmt.Errorf("%s: library %s not found", p, l)
			}
			if _, ok := files[found]; !ok {
				files[found] = found[1:]
				todo = append(todo, found)
			}
		}
	}
	return files, nil
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}
