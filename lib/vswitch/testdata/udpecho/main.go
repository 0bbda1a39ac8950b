// Command udpecho is a guest-side UDP server for the switch's NAT tests (the guests'
// busybox nc has no UDP mode): it answers each datagram with "echo:" + the payload, sent
// from the same socket to the sender, and logs every datagram on standard output. A "quit"
// datagram is answered and ends it.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	port := flag.Int("port", 5556, "UDP port to serve")
	n := flag.Int("n", 50, "at most this many datagrams are answered")
	timeout := flag.Duration("timeout", 90*time.Second, "give up after this long")
	flag.Parse()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: *port})
	if err != nil {
		fmt.Println("UDPECHO-ERROR", err)
		os.Exit(1)
	}
	fmt.Println("UDPECHO-READY")
	c.SetDeadline(time.Now().Add(*timeout))
	buf := make([]byte, 2048)
	for i := 0; i < *n; i++ {
		m, from, err := c.ReadFromUDP(buf)
		if err != nil {
			fmt.Println("UDPECHO-ERROR", err)
			os.Exit(1)
		}
		fmt.Printf("UDPECHO-GOT %q from %s\n", buf[:m], from)
		if _, err := c.WriteToUDP(append([]byte("echo:"), buf[:m]...), from); err != nil {
			fmt.Println("UDPECHO-ERROR", err)
			os.Exit(1)
		}
		if string(buf[:m]) == "quit" {
			break
		}
	}
	fmt.Println("UDPECHO-DONE")
}
