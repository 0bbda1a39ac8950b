// Package uroot builds a u-root userland (Go commands compiled into one busybox-style
// binary, u-root's init and a shell) with the mkuimage uimage package, and returns it as a
// cpio archive for mkrootfs to import.
//
// Building compiles Go code, so it needs the go command on PATH and either the module cache
// holding u-root v0.16.0 and its dependencies or access to a module proxy.
package uroot

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/u-root/gobusybox/src/pkg/golang"
	"github.com/u-root/mkuimage/uimage"
	"github.com/u-root/uio/llog"
)

// Version is the u-root release built.
const Version = "v0.16.0"

// DefaultCommands is u-root's core command set (what `u-root core` builds).
var DefaultCommands = []string{"github.com/u-root/u-root/cmds/core/*"}

// The build module: u-root pinned with every dependency's checksum, so that building needs no
// checksum database and gives the same result everywhere.
var (
	//go:embed module/go.mod.txt
	goMod []byte
	//go:embed module/go.sum.txt
	goSum []byte
)

// Options choose what to build.
type Options struct {
	// Commands are Go package paths or globs; short names ("ls") mean cmds/core/NAME.
	Commands []string
	Init     string // command linked to /init; default "init"
	Shell    string // default shell; default "gosh"
	Uinit    string // command linked to /bin/uinit, may be empty
	TempDir  string
	Log      io.Writer // build messages; nil discards them
}

// ErrNoGo is wrapped when the go command is missing.
var ErrNoGo = errors.New("u-root is compiled from Go source at build time: the go command is not on PATH (install Go, or use a directory or tarball source instead)")

// Build compiles the userland and writes a newc cpio archive to out.
func Build(out string, o Options) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return ErrNoGo
	}
	// The builder finds the toolchain through GOROOT, which a -trimpath binary (as `make`
	// builds) does not know; ask the go command on PATH.
	gorootOut, err := exec.Command(goBin, "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("%w (go env GOROOT: %v)", ErrNoGo, err)
	}
	goroot := strings.TrimSpace(string(gorootOut))
	work, err := os.MkdirTemp(o.TempDir, "mkrootfs-uroot-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	mod := filepath.Join(work, "mod")
	tmp := filepath.Join(work, "tmp")
	for _, d := range []string{mod, tmp} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), goMod, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(mod, "go.sum"), goSum, 0o644); err != nil {
		return err
	}
	cmds := o.Commands
	if len(cmds) == 0 {
		cmds = DefaultCommands
	}
	var pkgs []string
	for _, c := range cmds {
		if !strings.Contains(c, "/") {
			c = "github.com/u-root/u-root/cmds/core/" + c
		}
		pkgs = append(pkgs, c)
	}
	init, shell := o.Init, o.Shell
	if init == "" {
		init = "init"
	}
	if shell == "" {
		shell = "gosh"
	}
	env := golang.Default(golang.WithGOOS("linux"), golang.WithGOARCH("amd64"),
		golang.WithWorkingDir(mod), golang.WithMod(golang.ModReadonly))
	env.CgoEnabled = false
	env.GOROOT = goroot
	w := o.Log
	if w == nil {
		w = io.Discard
	}
	l := llog.New(slog.LevelInfo, func(format string, v ...any) { fmt.Fprintf(w, format+"\n", v...) })
	mods := []uimage.Modifier{
		uimage.WithReplaceEnv(env),
		uimage.WithTempDir(tmp),
		uimage.WithBusyboxCommands(pkgs...),
		uimage.WithInit(init),
		uimage.WithShell(shell),
		uimage.WithCPIOOutput(out),
		uimage.WithSkipLDD(),
	}
	if o.Uinit != "" {
		mods = append(mods, uimage.WithUinitCommand(o.Uinit))
	}
	if err := uimage.Create(l, mods...); err != nil {
		return fmt.Errorf("building u-root %s: %w", Version, err)
	}
	return nil
}
