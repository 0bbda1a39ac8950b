# gouml — see README.md. Every directory under cmd/ is one program; every file under man/ is
# one man page, so adding a program needs no change here.
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
GO      ?= go
GOFLAGS ?= -trimpath
export CGO_ENABLED ?= 0

PROGRAMS := $(notdir $(patsubst %/,%,$(wildcard cmd/*/)))
MANPAGES := $(wildcard man/*.[0-9])

.PHONY: all build test run install bench fuzz clean check rootfs $(PROGRAMS)

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

install: build
	install -d $(DESTDIR)$(BINDIR)
	for p in $(PROGRAMS); do install -m 0755 bin/$$p $(DESTDIR)$(BINDIR)/$$p; done
	for m in $(MANPAGES); do s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done

bench: build
	./bench/run.sh

# Short runs of every fuzz target (FUZZTIME per target), then the guest syscall fuzzer
# (TestSyscallFuzz) for 30 × FUZZTIME.
FUZZTIME ?= 10s
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf bin build
