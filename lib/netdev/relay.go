package netdev

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/gouml/gouml/lib/netdev/vnet"
	"github.com/gouml/gouml/lib/vswitch"
	"golang.org/x/sys/unix"
)

// Frame limits. The real kernel accepts frames of up to 1526 bytes from its transports
// (ETH_MAX_PACKET + ETH_HEADER_OTHER, docs/interfaces.md §3.1); longer ones, and ones too
// short to hold an Ethernet header, are dropped in both directions.
const (
	MaxFrame = vnet.MaxFrame
	minFrame = 14
	// bufSize leaves room to tell a frame that is too long from one that fits.
	bufSize = 2048
	// batch is how many frames one system call moves at most.
	batch = 64
)

// Stats counts a device's traffic. Drops are frames lost to a full queue on the way,
// a transport error or a bad length: the relay never waits for the guest or the wire.
type Stats struct {
	TxFrames, TxDrops atomic.Uint64 // guest → transport
	RxFrames, RxDrops atomic.Uint64 // transport → guest
	// RxMerged counts the frames from the transport that reached the guest merged with
	// others into one GSO frame (gro.go).
	RxMerged atomic.Uint64
	// TxWaits counts the times a full socket made the relay hold frames back.
	TxWaits atomic.Uint64
	// TxSuper and RxSuper count the TCPv4 GSO frames that crossed an extended transport
	// whole (ext.go), each counted once in TxFrames or RxFrames too.
	TxSuper, RxSuper atomic.Uint64
}

// Relay moves frames between a tap device and a transport: one goroutine per direction.
type Relay struct {
	Stats
	tap     *os.File
	tapRC   syscall.RawConn
	tr      *Transport
	deliver func([]byte) // the NAT's input; nil: frames from the tap go to the socket
	slipOut []byte       // the SLIP encoding of the packet being sent (fromTap's)
	// vnet: the tap was made with IFF_VNET_HDR; every frame read or written starts with
	// a struct virtio_net_hdr, and frames from the wire are merged where they can be
	// (gro.go).
	vnet  bool
	merge merger // fromWire's
	// ext: the daemon transport is extended (ext.go): each datagram is the tap's virtio
	// header and frame as they are, a TSO send of up to 64 KiB crossing as one.
	ext bool
	// The goroutines wait in poll(2) on their fd and stopFD, an eventfd that Stop makes
	// readable: a wake-up goes straight to the thread that moves the frames, not through
	// the runtime's poller and scheduler (one context switch fewer per batch in each
	// direction, which on a busy machine is most of a frame's latency). tapFD and wireFD
	// stay valid until the goroutines have ended: Stop closes them only then.
	stopFD, tapFD, wireFD int
	stopOnce              sync.Once
	// txMu makes reading a batch from the tap and sending it one step, so that frames
	// leave in the order the guest sent them whichever goroutine moves them; tx is the
	// batch's buffers.
	txMu sync.Mutex
	tx   *frames
	gso  gsoState // the send offloads' (tso.go; txMu)
	// sent and read: the frames of tx from sent to read are read from the tap and wait
	// for room in the socket (txMu). The socket's queue, not the guest, waits: while it is
	// full, fromTap reads no more and the tap's own queue fills and drops, as a NIC's ring
	// does. Dropping at the socket instead lost a TCP window's worth at every burst that
	// found the switch not running (bench/net: 5 % of the frames at a load of 15).
	sent, read int
	// kickFD is an eventfd by which fromWire, which never waits for the socket, hands
	// frames it could not send to fromTap.
	kickFD int
	wg     sync.WaitGroup
}

// Start starts relaying between tap (the guest's ethN, a non-blocking fd of /dev/net/tun
// attached with IFF_TAP|IFF_NO_PI) and the transport. The relay owns both from now on.
func Start(tap *os.File, tr *Transport) (*Relay, error) {
	rc, err := tap.SyscallConn()
	if err != nil {
		return nil, err
	}
	return start(tap, rc, tr, hasVnetHdr(rc))
}

// start is Start for a tap that does (withHdr) or does not put a virtio_net_hdr before
// each frame (tests give a stand-in that does).
func start(tap *os.File, rc syscall.RawConn, tr *Transport, withHdr bool) (*Relay, error) {
	r := &Relay{tap: tap, tapRC: rc, tr: tr, vnet: withHdr, tapFD: -1, wireFD: -1}
	_ = rc.Control(func(fd uintptr) { r.tapFD = int(fd) })
	if r.vnet && tunSetOffload(r.tapFD) == nil {
		r.gso.init()
	}
	if r.vnet && tr.extOffered && !tr.ext {
		// Our switch offers to carry the tap's frames as they are: asked before the
		// relay starts, as it changes the data socket.
		if err := tr.extend(); err != nil {
			return nil, err
		}
	}
	r.ext = r.vnet && tr.ext
	if r.ext {
		r.gso.big = nil // tap reads go straight into 64 KiB slots (readTap)
	}
	r.tx = r.newFrames(tr.to, extTxBatch)
	var err error
	r.stopFD, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, err
	}
	r.kickFD, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(r.stopFD)
		return nil, err
	}
	if tr.rc != nil {
		_ = tr.rc.Control(func(fd uintptr) { r.wireFD = int(fd) })
	}
	if tr.gw != nil {
		// The gateway emits frames from its own goroutines; each is written to the tap at
		// once (a tap write never waits).
		r.deliver = tr.gw.AttachPort(func(frame []byte) error {
			r.toTap(frame)
			return nil
		}).Deliver
	} else if tr.stream != nil {
		r.wg.Add(1)
		go r.fromStream()
	} else {
		r.wg.Add(1)
		go r.fromWire()
	}
	r.wg.Add(1)
	go r.fromTap()
	return r, nil
}

// Stop ends the relay and closes the tap and the transport; it returns once both
// goroutines have.
func (r *Relay) Stop() {
	r.stopOnce.Do(func() {
		one := [8]byte{1} // eventfd's counter is a native (little-endian) uint64
		_, _ = unix.Write(r.stopFD, one[:])
		r.wg.Wait()
		r.tap.Close()
		r.tr.Close() // stops the gateway, closes the socket
		unix.Close(r.stopFD)
		unix.Close(r.kickFD)
	})
}

// wait blocks until fd is readable (or has an error or hang-up to report); false: Stop
// was called.
func (r *Relay) wait(fd int) bool { return r.poll(fd, unix.POLLIN, -1) }

// poll blocks until fd has one of events (or an error or hang-up to report), or, if
// kick is not -1, until kick is readable, which it then empties; false: Stop was called.
func (r *Relay) poll(fd int, events int16, kick int) bool {
	pfd := [3]unix.PollFd{{Fd: int32(r.stopFD), Events: unix.POLLIN}, {Fd: int32(fd), Events: events},
		{Fd: int32(kick), Events: unix.POLLIN}} // a negative fd is skipped
	for {
		_, _, e := unix.Syscall(unix.SYS_POLL, uintptr(unsafe.Pointer(&pfd[0])), 3, ^uintptr(0))
		switch {
		case e == unix.EINTR:
			continue
		case e != 0 || pfd[0].Revents != 0:
			return false
		}
		if pfd[2].Revents != 0 {
			var b [8]byte
			_, _ = unix.Read(kick, b[:])
		}
		return true
	}
}

// lockShortSlice locks the calling goroutine, which moves frames, to its thread for good
// (the thread ends with it) and asks the host's scheduler for a short slice for that
// thread (vswitch.ShortSlice): each frame between two guests is a chain of wake-ups.
func lockShortSlice() {
	runtime.LockOSThread()
	vswitch.ShortSlice()
}

// hasVnetHdr reports whether the tap was made with IFF_VNET_HDR.
func hasVnetHdr(rc syscall.RawConn) bool {
	var r struct {
		name  [unix.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	var e syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, e = unix.Syscall(unix.SYS_IOCTL, fd, unix.TUNGETIFF, uintptr(unsafe.Pointer(&r)))
	}); err != nil || e != 0 {
		return false // not a tap (a test's stand-in)
	}
	return r.flags&unix.IFF_VNET_HDR != 0
}

// frames is a batch of frame buffers with the headers recvmmsg/sendmmsg use, allocated
// once per direction. Each frame starts off bytes into its buffer: room for the tap's
// virtio_net_hdr, which stays zero in frames from the wire (a frame as it is). On an
// extended transport the datagram is the header and the frame (wire 0); else the frame
// alone (wire off).
type frames struct {
	bufs        []byte // count × size
	size, count int
	off, wire   int
	lens        [batch]int // frame lengths
	iovs        [batch]unix.Iovec
	msgs        [batch]mmsghdr
	// the frames of a batch from the wire that reach the guest, and the same with the
	// room before them
	out, full [batch][]byte
}

// mmsghdr is struct mmsghdr.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

// newFrames makes a batch for the relay's tap and wire: of batch frames of bufSize bytes,
// or on an extended transport of extCount frames of up to 64 KiB.
func (r *Relay) newFrames(to []byte, extCount int) *frames {
	f := &frames{size: bufSize, count: batch, off: r.hdrLen(), wire: r.hdrLen()}
	if r.ext {
		f.size, f.count, f.wire = maxGSO, extCount, 0
	}
	f.bufs = make([]byte, f.count*f.size)
	for i := range f.msgs[:f.count] {
		f.iovs[i].Base = &f.bufs[i*f.size+f.wire]
		f.iovs[i].SetLen(f.size - f.wire)
		f.msgs[i].hdr.Iov = &f.iovs[i]
		f.msgs[i].hdr.Iovlen = 1
		if to != nil {
			f.msgs[i].hdr.Name = &to[0]
			f.msgs[i].hdr.Namelen = uint32(len(to))
		}
	}
	return f
}

func (f *frames) buf(i int) []byte { return f.bufs[i*f.size : (i+1)*f.size] }

// frame is the i'th frame read from the tap.
func (f *frames) frame(i int) []byte { return f.buf(i)[f.off : f.off+f.lens[i]] }

// hdrLen is the size of what the tap puts before each frame.
func (r *Relay) hdrLen() int {
	if r.vnet {
		return vnetHdrLen
	}
	return 0
}

// fromTap reads the guest's frames, as many as are queued up to a batch, and sends them
// with one sendmmsg (or hands them to the NAT).
func (r *Relay) fromTap() {
	defer r.wg.Done()
	lockShortSlice()
	for {
		r.txMu.Lock()
		empty, done := r.tapBatch(true)
		r.txMu.Unlock()
		if done || empty && !r.poll(r.tapFD, unix.POLLIN, r.kickFD) {
			return
		}
	}
}

// tapBatch sends the frames still waiting, then reads a batch of frames from the tap and
// sends them; empty: the tap had no more (or the socket has no room for what is in hand:
// fromTap is kicked), done: the tap is gone or Stop was called. wait: wait for room in the
// socket (only fromTap does). The caller holds txMu.
func (r *Relay) tapBatch(wait bool) (empty, done bool) {
	if ok, stop := r.send(wait); !ok {
		return true, stop
	}
	f, off := r.tx, r.tx.off
	n := 0
	for n < f.count {
		if r.gso.n > 0 {
			k, fits := r.segmentPending(f, n)
			if !fits {
				break // the batch goes first
			}
			n += k
			continue
		}
		m, err := r.readTap(f.buf(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			// EAGAIN: the tap is empty; anything else: the device is gone (its
			// namespace ended).
			empty, done = true, err != unix.EAGAIN
			break
		}
		if r.ext {
			// The frame goes with its header as it is; the switch checks it again.
			s, err := vnet.Check(f.buf(n)[:m])
			if err != nil {
				r.TxDrops.Add(1)
				continue
			}
			if s.GSO() {
				r.TxSuper.Add(1)
			}
			f.lens[n] = m - off
			n++
			continue
		}
		// A virtio_net_hdr of zeros: a whole frame, checksummed. Else an offload (tso.go).
		if off > 0 && (f.buf(n)[0]|f.buf(n)[1] != 0 || m > bufSize) {
			whole, ok := r.offloaded(f.buf(n), m)
			if !ok {
				r.TxDrops.Add(1)
			}
			if !whole {
				continue
			}
		}
		if m-off < r.minLen() || m-off > MaxFrame {
			r.TxDrops.Add(1)
			continue
		}
		f.lens[n] = m - off
		n++
	}
	if n > 0 {
		r.sent, r.read = 0, n
		if ok, stop := r.send(wait); !ok {
			return true, done || stop
		}
	}
	return empty, done
}

// send passes on the frames of r.tx from r.sent to r.read. A socket with no room makes it
// wait, if wait, or else kick fromTap; ok: all went (or were dropped: a transport error,
// another transport's full queue); stop: Stop was called while it waited.
func (r *Relay) send(wait bool) (ok, stop bool) {
	if r.sent == r.read {
		return true, false
	}
	if r.deliver == nil && r.tr.stream == nil && r.tr.dev == nil {
		for !r.sendSocket() {
			r.TxWaits.Add(1)
			if !wait {
				one := [8]byte{1}
				_, _ = unix.Write(r.kickFD, one[:])
				return false, false
			}
			if !r.poll(r.wireFD, unix.POLLOUT, -1) {
				r.TxDrops.Add(uint64(r.read - r.sent))
				r.sent = r.read
				return false, true
			}
		}
	} else {
		r.sendOther(r.tx, r.read)
	}
	r.sent, r.read = 0, 0
	return true, false
}

// sendOther passes n frames on to a transport other than a socket; what it does not take
// at once is dropped.
func (r *Relay) sendOther(f *frames, n int) {
	if r.deliver != nil {
		for i := 0; i < n; i++ {
			r.deliver(f.frame(i))
		}
		r.TxFrames.Add(uint64(n))
		return
	}
	if r.tr.stream != nil {
		r.sendStream(f, n)
		return
	}
	if r.tr.dev != nil {
		_ = r.tr.rc.Control(func(fd uintptr) {
			for i := 0; i < n; i++ {
				if _, err := unix.Write(int(fd), f.frame(i)); err != nil {
					r.TxDrops.Add(1) // the host tap is down, or its queue full
					continue
				}
				r.TxFrames.Add(1)
			}
		})
		return
	}
}

// sendSocket sends the frames of r.tx from r.sent to r.read with sendmmsg; false: the
// socket has no room for the next one.
func (r *Relay) sendSocket() bool {
	f := r.tx
	for i := r.sent; i < r.read; i++ {
		f.iovs[i].SetLen(f.lens[i] + f.off - f.wire)
	}
	defer func() {
		for i := 0; i < f.count; i++ {
			f.iovs[i].SetLen(f.size - f.wire)
		}
	}()
	for r.sent < r.read {
		k, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(r.wireFD), uintptr(unsafe.Pointer(&f.msgs[r.sent])),
			uintptr(r.read-r.sent), unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
		runtime.KeepAlive(f)
		switch {
		case e == unix.EINTR:
		case e == unix.EAGAIN || e == unix.ENOBUFS:
			return false
		case e != 0:
			// Peer gone (ECONNREFUSED), unreachable …: this frame is lost, try the rest.
			r.TxDrops.Add(1)
			r.sent++
		default:
			r.sent += int(k)
			r.TxFrames.Add(uint64(k))
		}
	}
	return true
}

// fromWire receives frames from the transport's socket in batches and writes each to the
// tap.
func (r *Relay) fromWire() {
	defer r.wg.Done()
	lockShortSlice()
	f := r.newFrames(nil, extRxBatch)
	for {
		n, empty := 0, false
		if r.tr.dev != nil {
			n = readFrames(r.wireFD, f)
			empty = n < f.count
		} else {
			for i := range f.msgs {
				f.msgs[i].n = 0
				f.msgs[i].hdr.Flags = 0
			}
			k, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(r.wireFD), uintptr(unsafe.Pointer(&f.msgs[0])), uintptr(f.count),
				unix.MSG_DONTWAIT, 0, 0)
			runtime.KeepAlive(f)
			switch e {
			case 0:
				n = int(k)
				empty = n < f.count
			case unix.EINTR:
			default:
				// EAGAIN; or an error queued on the socket (ECONNREFUSED …), which this
				// call took: wait, the poll returns at once if more is there.
				empty = true
			}
		}
		if n == 0 {
			if empty && !r.wait(r.wireFD) {
				return
			}
			continue
		}
		k := 0
		for i := 0; i < n; i++ {
			m := int(f.msgs[i].n)
			if r.ext {
				k += r.fromExt(f, i, k, m)
				continue
			}
			full := f.buf(i)[:f.off+min(m, bufSize-f.off)]
			frame := full[f.off:]
			switch {
			case m < minFrame || m > MaxFrame || f.msgs[i].hdr.Flags&unix.MSG_TRUNC != 0:
				r.RxDrops.Add(1)
			case r.tr.spec.Transport == Mcast && [6]byte(frame[6:12]) == r.tr.self:
				// our own frame, looped back by the host: not for the guest
			default:
				f.out[k], f.full[k] = frame, full
				k++
			}
		}
		r.toGuest(f, k)
		// Writing to the tap ran the guest's receive path, which has often queued
		// answers (TCP's ACKs, the next segments of a window that opened, an echo reply):
		// send them now, rather than after the tap's own goroutine has been scheduled,
		// unless it is at it already.
		if k > 0 && r.txMu.TryLock() {
			r.tapBatch(false)
			r.txMu.Unlock()
		}
		if empty && !r.wait(r.wireFD) {
			return
		}
	}
}

// toGuest writes the k frames of f.out to the tap, merged where they can be.
func (r *Relay) toGuest(f *frames, k int) {
	if !r.vnet {
		for i := 0; i < k; i++ {
			r.toTap(f.out[i])
		}
		return
	}
	_ = r.tapRC.Control(func(fd uintptr) {
		r.merge.groups(f.out[:k], func(i, j int, merged bool) {
			var err error
			if merged {
				err = r.merge.writeMerged(int(fd), f.out[:], i, j)
			} else {
				err = writeFrame(int(fd), f.full[i])
			}
			if err != nil {
				r.RxDrops.Add(uint64(j - i))
				return
			}
			r.RxFrames.Add(uint64(j - i))
			if merged {
				r.RxMerged.Add(uint64(j - i))
			}
		})
	})
	for i := 0; i < k; i++ {
		f.out[i], f.full[i] = nil, nil
	}
}

// writeFrame writes one frame (with what the tap wants before it) to the tap fd.
func writeFrame(fd int, b []byte) error {
	for {
		_, err := unix.Write(fd, b)
		if err != unix.EINTR {
			return err
		}
	}
}

// readFrames reads frames from a device that gives one per read, until it has none left or
// the batch is full, recording their lengths where recvmmsg would.
func readFrames(fd int, f *frames) int {
	n := 0
	for n < f.count {
		m, err := unix.Read(fd, f.buf(n)[f.off:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			break
		}
		f.msgs[n].n = uint32(m)
		f.msgs[n].hdr.Flags = 0
		n++
	}
	return n
}

// toTap writes one frame to the guest; a frame the tap refuses (the interface is down) is
// dropped.
func (r *Relay) toTap(frame []byte) {
	if len(frame) < r.minLen() || len(frame) > MaxFrame {
		r.RxDrops.Add(1)
		return
	}
	var werr error
	if err := r.tapRC.Control(func(fd uintptr) {
		if !r.vnet {
			werr = writeFrame(int(fd), frame)
			return
		}
		// A zero virtio_net_hdr, then the frame.
		var zero [vnetHdrLen]byte
		iov := [2]unix.Iovec{{Base: &zero[0]}, {Base: &frame[0]}}
		iov[0].SetLen(vnetHdrLen)
		iov[1].SetLen(len(frame))
		for {
			_, _, e := unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), 2)
			if e != unix.EINTR {
				if e != 0 {
					werr = e
				}
				return
			}
		}
	}); err != nil || werr != nil {
		r.RxDrops.Add(1)
		return
	}
	r.RxFrames.Add(1)
}

// minLen is the shortest frame the guest's device takes or gives: an Ethernet header, or
// for an IP link one byte (the host kernel judges the rest).
func (r *Relay) minLen() int {
	if r.tr.stream != nil {
		return 1
	}
	return minFrame
}

// sendStream writes n packets to the SLIP stream. A write that the stream does not take
// whole loses the rest of its packet, which the far end drops at the next END (each packet
// starts with one).
func (r *Relay) sendStream(f *frames, n int) {
	_ = r.tr.rc.Control(func(fd uintptr) {
		for i := 0; i < n; i++ {
			pkt := f.frame(i)
			if len(pkt) > MaxPacket {
				r.TxDrops.Add(1)
				continue
			}
			r.slipOut = SLIPEncode(r.slipOut[:0], pkt)
			w, err := unix.Write(int(fd), r.slipOut)
			for err == unix.EINTR {
				w, err = unix.Write(int(fd), r.slipOut)
			}
			if err != nil || w < len(r.slipOut) {
				r.TxDrops.Add(1) // the program is slow, or gone
				continue
			}
			r.TxFrames.Add(1)
		}
	})
}

// fromStream reads the SLIP stream from the slirp program and writes each packet to the
// guest's tun device. The program's end of the stream closing ends it.
func (r *Relay) fromStream() {
	defer r.wg.Done()
	var dec SLIPDecoder
	buf := make([]byte, 1<<16)
	deliver := func(p []byte) { r.toTap(p) }
	for {
		n, err := unix.Read(r.wireFD, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			if !r.wait(r.wireFD) {
				return
			}
			continue
		case err != nil || n == 0:
			return // the program's end closed
		}
		before := dec.Dropped
		dec.Feed(buf[:n], deliver)
		r.RxDrops.Add(dec.Dropped - before)
	}
}
