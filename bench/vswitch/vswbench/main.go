// Command vswbench measures a uml_switch: two fake guests attach over the daemon transport
// (the real protocol: v3 request, 110-byte abstract data addresses), learn each other's MAC,
// then one sends unicast frames to the other as fast as the switch takes them for a fixed
// time. It prints "frames_sent frames_received seconds" for the receiver's first-to-last
// frame window. With -direct the two sockets talk to each other without a switch (native).
package main

import (
	"flag"
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gouml/gouml/lib/vswitch"
	"golang.org/x/sys/unix"
)

type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

const batch = 64

func main() {
	ctl := flag.String("ctl", "", "switch control socket")
	size := flag.Int("size", 64, "frame size in bytes")
	dur := flag.Duration("t", 3*time.Second, "sending time")
	direct := flag.Bool("direct", false, "no switch: send straight to the receiver's socket")
	flag.Parse()
	if *ctl == "" || *size < 14 || *size > 65000 {
		fmt.Fprintln(os.Stderr, "usage: vswbench -ctl CTL [-size N] [-t DUR] [-direct]")
		os.Exit(2)
	}
	a, err := vswitch.Dial(*ctl, 3, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "vswbench:", err)
		os.Exit(1)
	}
	b, err := vswitch.Dial(*ctl, 3, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "vswbench:", err)
		os.Exit(1)
	}
	ma, mb := vswitch.MAC{0xfe, 0xfd, 0, 0, 0, 0xa}, vswitch.MAC{0xfe, 0xfd, 0, 0, 0, 0xb}
	bc := vswitch.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	// Learn both addresses, and drain the floods.
	buf := make([]byte, 70000)
	_ = a.Send(vswitch.Frame(bc, ma, []byte("learn a")))
	_, _ = b.Recv(buf, time.Second)
	_ = b.Send(vswitch.Frame(bc, mb, []byte("learn b")))
	_, _ = a.Recv(buf, time.Second)

	dst := a.SwitchTo.Marshal()
	if *direct {
		dst = b.Addr.Marshal()
	}
	frame := vswitch.Frame(mb, ma, make([]byte, *size-14))

	var received atomic.Int64
	var first, last atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // receiver: batched, never the bottleneck
		defer close(done)
		bufs := make([][]byte, batch)
		iovs := make([]unix.Iovec, batch)
		msgs := make([]mmsghdr, batch)
		for i := range bufs {
			bufs[i] = make([]byte, 2048+*size)
			iovs[i].Base = &bufs[i][0]
			iovs[i].SetLen(len(bufs[i]))
			msgs[i].hdr.Iov = &iovs[i]
			msgs[i].hdr.Iovlen = 1
		}
		tv := unix.NsecToTimeval(int64(300 * time.Millisecond))
		_ = unix.SetsockoptTimeval(b.FD(), unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		for {
			n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(b.FD()), uintptr(unsafe.Pointer(&msgs[0])), batch, unix.MSG_WAITFORONE, 0, 0)
			if e != 0 {
				select {
				case <-stop:
					return
				default:
					continue
				}
			}
			now := time.Now().UnixNano()
			if received.Add(int64(n)) == int64(n) {
				first.Store(now)
			}
			last.Store(now)
		}
	}()

	iovs := make([]unix.Iovec, batch)
	msgs := make([]mmsghdr, batch)
	for i := range msgs {
		iovs[i].Base = &frame[0]
		iovs[i].SetLen(len(frame))
		msgs[i].hdr = unix.Msghdr{Name: &dst[0], Namelen: vswitch.SockaddrLen, Iov: &iovs[i], Iovlen: 1}
	}
	var sent int64
	end := time.Now().Add(*dur)
	for time.Now().Before(end) {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(a.FD()), uintptr(unsafe.Pointer(&msgs[0])), batch, 0, 0, 0)
		if e != 0 {
			if e == unix.EINTR || e == unix.EAGAIN {
				continue
			}
			fmt.Fprintln(os.Stderr, "vswbench: sendmmsg:", e)
			os.Exit(1)
		}
		sent += int64(n)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	<-done
	secs := float64(last.Load()-first.Load()) / 1e9
	fmt.Printf("%d %d %.6f\n", sent, received.Load(), secs)
}
