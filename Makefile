# gouml — see README.md. Every directory under cmd/ is one program; every file under man/ is
# one man page, so adding a program needs no change here.
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
# Helpers the kernel runs by a fixed path (port-helper), as Debian installs them.
UMLLIBDIR ?= $(PREFIX)/lib/uml
# install-system: the init script, its defaults, ifupdown hooks and systemd units.
SYSCONFDIR ?= /etc
UNITDIR ?= /lib/systemd/system
# INSTALL_MODES=yes makes uml_net setuid root, group uml-net, mode 4754, as Debian's package
# does (the group must exist: addgroup --system uml-net). Packagers building as non-root
# (fakeroot) say INSTALL_MODES=no and set the mode at installation time instead (the Debian
# package does it with dpkg-statoverride in its postinst).
INSTALL_MODES ?= yes
GO      ?= go
GOFLAGS ?= -trimpath
export CGO_ENABLED ?= 0

PROGRAMS := $(notdir $(patsubst %/,%,$(wildcard cmd/*/)))
MANPAGES := $(wildcard man/*.[0-9])

.PHONY: all build test run install install-system bench fuzz clean check rootfs dist deb deb-test $(PROGRAMS)

all: build

build: $(PROGRAMS)

$(PROGRAMS):
	@mkdir -p bin
	$(GO) build $(GOFLAGS) -o bin/$@ ./cmd/$@

test:
	./scripts/test.sh

# staticcheck's version is pinned: a newer one may bring new checks, which is a change of ours.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# The main job: boot the default guest (u-root, as a directory root) on this terminal.
run: build rootfs
	./scripts/run.sh

# The default guest: u-root's core commands and init, built without root, as a directory
# root (for linux ubd0=build/rootfs, and hostfs roots of the real UML) and as an ext4 image
# made from it (for linux.uml ubd0=build/rootfs.img). Rebuilt only when missing.
rootfs: build/rootfs/init build/rootfs.img

build/rootfs/init: | bin/mkrootfs
	bin/mkrootfs -t dir -f -o build/rootfs

build/rootfs.img: build/rootfs/init
	bin/mkrootfs -o $@ build/rootfs

bin/mkrootfs:
	$(MAKE) mkrootfs

# Every program into BINDIR but port-helper (UMLLIBDIR, where the kernel runs it from); the
# kernel also answers to linux.uml, the name of Debian's real kernel, which scripts use.
install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UMLLIBDIR)
	for p in $(filter-out port-helper,$(PROGRAMS)); do install -m 0755 bin/$$p $(DESTDIR)$(BINDIR)/$$p; done
	install -m 0755 bin/port-helper $(DESTDIR)$(UMLLIBDIR)/port-helper
	ln -sf linux $(DESTDIR)$(BINDIR)/linux.uml
	for m in $(MANPAGES); do s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
ifeq ($(INSTALL_MODES),yes)
	@getent group uml-net >/dev/null || { echo "make install: no group uml-net for uml_net:" \
		"addgroup --system uml-net, or INSTALL_MODES=no" >&2; exit 1; }
	chown root:uml-net $(DESTDIR)$(BINDIR)/uml_net
	chmod 4754 $(DESTDIR)$(BINDIR)/uml_net
endif

# What uml-utilities installs besides programs: the boot-time uml_switch (init script, its
# settings, systemd units) and the ifupdown hooks for tunctl_user and uml_proxy_arp.
install-system:
	install -d $(DESTDIR)$(SYSCONFDIR)/init.d $(DESTDIR)$(SYSCONFDIR)/default \
		$(DESTDIR)$(SYSCONFDIR)/network/if-pre-up.d $(DESTDIR)$(SYSCONFDIR)/network/if-up.d \
		$(DESTDIR)$(UNITDIR)
	install -m 0755 etc/init.d/uml-utilities $(DESTDIR)$(SYSCONFDIR)/init.d/
	install -m 0644 etc/default/uml-utilities $(DESTDIR)$(SYSCONFDIR)/default/
	install -m 0755 etc/network/if-pre-up.d/uml-utilities $(DESTDIR)$(SYSCONFDIR)/network/if-pre-up.d/
	install -m 0755 etc/network/if-up.d/uml-utilities $(DESTDIR)$(SYSCONFDIR)/network/if-up.d/
	install -m 0644 etc/systemd/*.service $(DESTDIR)$(UNITDIR)/

# A source tarball with the Go modules vendored, the same bytes for the same commit: the
# files of HEAD plus vendor/, sorted, owned by 0:0, dated at the commit, gzip without a name
# or time stamp. Written to build/gouml-VERSION.tar.gz.
dist:
	./scripts/dist.sh

# The Debian packages (see debian/README.Debian), into build/deb/, checked with lintian.
deb:
	./scripts/deb.sh

# Installs the packages built by make deb into scratch Debian bookworm trees (as root):
# see pkg/deb.
deb-test: deb
	GOUML_DEB_TEST=1 $(GO) test -count=1 -v -timeout 30m ./pkg/deb

bench: build
	./bench/run.sh

# Short runs of every fuzz target (FUZZTIME per target), then the guest syscall fuzzer
# (TestSyscallFuzz) for 30 × FUZZTIME.
FUZZTIME ?= 10s
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf bin build
