// Command tput is the guests' side of bench/net: a TCP throughput meter small enough to
// copy into a busybox root (static, no libc). "tput -s :PORT" accepts one connection and
// prints "MBITS n BYTES n SECS n", timed from its first byte to EOF; "tput -c HOST:PORT -mb N"
// sends N MiB and closes.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func main() {
	serve := flag.String("s", "", "listen address: receive one stream and report")
	conn := flag.String("c", "", "address to send to")
	mb := flag.Int("mb", 256, "MiB to send")
	flag.Parse()
	var err error
	switch {
	case *serve != "":
		err = receive(*serve)
	case *conn != "":
		err = send(*conn, *mb)
	default:
		err = fmt.Errorf("give -s or -c")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tput:", err)
		os.Exit(1)
	}
}

func receive(addr string) error {
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return err
	}
	c, err := l.Accept()
	if err != nil {
		return err
	}
	buf := make([]byte, 256<<10)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	start := time.Now()
	m, err := io.CopyBuffer(io.Discard, c, buf)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	total := int64(n) + m
	fmt.Printf("MBITS %.1f BYTES %d SECS %.3f\n", float64(total)*8/secs/1e6, total, secs)
	return nil
}

func send(addr string, mb int) error {
	var c net.Conn
	var err error
	for i := 0; i < 100; i++ { // the receiver may not listen yet
		if c, err = net.Dial("tcp4", addr); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	buf := make([]byte, 256<<10)
	for sent := 0; sent < mb<<20; sent += len(buf) {
		if _, err := c.Write(buf); err != nil {
			return err
		}
	}
	return c.Close()
}
