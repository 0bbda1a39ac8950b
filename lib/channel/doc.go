// Package channel is the host side of User-Mode Linux console and serial lines: the
// channels a `conN=` or `sslN=` option names (docs/interfaces.md §5). The option syntax is
// parsed by lib/cmdline; this package opens what it names on the host: host
// pseudo-terminals (pts), host terminals (tty:DEV) and the built-in telnet server of the
// port: channel (Ports, Conn, Telnet), and has the real kernel's messages for them.
// The kernel (lib/kernel) connects each line's guest terminal to these.
package channel

import (
	"fmt"
	"io"
)

var errEOF = io.EOF

// LineName is how the real kernel names a line in its messages: "Virtual console" for
// conN, "Serial line" for sslN.
func LineName(kind string) string {
	if kind == "ssl" {
		return "Serial line"
	}
	return "Virtual console"
}

// Announce is the real kernel's boot line for a line given a host terminal, e.g.
// "Virtual console 1 assigned device '/dev/pts/0'".
func Announce(kind string, n int, dev string) string {
	return fmt.Sprintf("%s %d assigned device '%s'", LineName(kind), n, dev)
}
