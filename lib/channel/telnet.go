package channel

// The telnet protocol of the port: channel's built-in server (RFC 854, 855; options: binary
// 856, echo 857, suppress-go-ahead 858, window size 1073). The real kernel leaves this to
// in.telnetd; gouml speaks it itself, so no telnetd need be installed.

// Telnet commands and the options the server knows.
const (
	tSE   = 240
	tNOP  = 241
	tIP   = 244 // interrupt process: becomes ^C for the guest
	tSB   = 250
	tWILL = 251
	tWONT = 252
	tDO   = 253
	tDONT = 254
	tIAC  = 255

	OptBinary = 0
	OptEcho   = 1
	OptSGA    = 3
	OptNAWS   = 31
)

// maxSB bounds a subnegotiation: a client that never ends one cannot grow memory.
const maxSB = 64

// Telnet is the server side of one connection's option negotiation and data stream. Feed
// takes bytes from the client and gives back the data bytes for the terminal and the
// replies for the client; it never fails, whatever the client sends. The server offers to
// echo and to suppress go-ahead (the guest's line discipline echoes, as with in.telnetd),
// offers and asks for binary mode, and asks for the window size (NAWS).
type Telnet struct {
	state  int
	opt    byte // the command (WILL/WONT/DO/DONT) whose option byte comes next
	sb     []byte
	sbOver bool
	cr     bool // the last data byte was a CR: in NVT mode a LF or NUL after it is dropped

	us, him               [256]bool // options in effect on our side, on the client's
	askedUs, askedHim     [256]bool // requests of ours not answered yet
	winCols, winRows      uint16
	winSet, winChangedNow bool
}

const (
	sData = iota
	sIAC
	sOpt // after WILL/WONT/DO/DONT
	sSB
	sSBIAC
)

// Start returns the server's opening requests: WILL ECHO, WILL SGA, DO SGA, WILL BINARY,
// DO BINARY, DO NAWS.
func (t *Telnet) Start() []byte {
	var out []byte
	for _, o := range []byte{OptEcho, OptSGA, OptBinary} {
		t.askedUs[o] = true
		out = append(out, tIAC, tWILL, o)
	}
	for _, o := range []byte{OptSGA, OptBinary, OptNAWS} {
		t.askedHim[o] = true
		out = append(out, tIAC, tDO, o)
	}
	return out
}

// supportedUs reports whether the server agrees to do an option itself.
func supportedUs(o byte) bool { return o == OptEcho || o == OptSGA || o == OptBinary }

// supportedHim reports whether the server lets the client do an option.
func supportedHim(o byte) bool { return o == OptSGA || o == OptBinary || o == OptNAWS }

// Feed processes bytes from the client. It appends the terminal's data to data and the
// replies to reply, and returns both.
func (t *Telnet) Feed(in, data, reply []byte) ([]byte, []byte) {
	var cmd byte
	for _, b := range in {
		switch t.state {
		case sData:
			if b == tIAC {
				t.state = sIAC
				continue
			}
			if t.cr && !t.him[OptBinary] && (b == '\n' || b == 0) {
				t.cr = false // CR LF and CR NUL are one Enter key: CR, as in.telnetd gives it
				continue
			}
			t.cr = b == '\r'
			data = append(data, b)
		case sIAC:
			t.state = sData
			switch b {
			case tIAC:
				t.cr = false
				data = append(data, tIAC)
			case tWILL, tWONT, tDO, tDONT:
				t.opt, t.state = b, sOpt
			case tSB:
				t.sb, t.sbOver, t.state = t.sb[:0], false, sSB
			case tIP:
				t.cr = false
				data = append(data, 3)
			}
		case sOpt:
			cmd, t.state = t.opt, sData
			reply = t.negotiate(cmd, b, reply)
		case sSB:
			if b == tIAC {
				t.state = sSBIAC
				continue
			}
			t.sbByte(b)
		case sSBIAC:
			switch b {
			case tIAC:
				t.sbByte(tIAC)
				t.state = sSB
			case tSE:
				t.endSB()
				t.state = sData
			default:
				// a broken subnegotiation: drop it and read b as a command
				t.state = sIAC
				data, reply = t.Feed([]byte{b}, data, reply)
			}
		}
	}
	return data, reply
}

func (t *Telnet) sbByte(b byte) {
	if len(t.sb) >= maxSB {
		t.sbOver = true
		return
	}
	t.sb = append(t.sb, b)
}

func (t *Telnet) endSB() {
	if t.sbOver || len(t.sb) != 5 || t.sb[0] != OptNAWS || !t.him[OptNAWS] {
		return
	}
	cols := uint16(t.sb[1])<<8 | uint16(t.sb[2])
	rows := uint16(t.sb[3])<<8 | uint16(t.sb[4])
	t.winCols, t.winRows, t.winSet, t.winChangedNow = cols, rows, true, true
}

// negotiate answers WILL/WONT/DO/DONT for option o, never acknowledging a state that is
// already in effect (RFC 854's rule against negotiation loops).
func (t *Telnet) negotiate(cmd, o byte, reply []byte) []byte {
	switch cmd {
	case tWILL:
		asked := t.askedHim[o]
		t.askedHim[o] = false
		switch {
		case t.him[o]:
		case supportedHim(o):
			t.him[o] = true
			if !asked {
				reply = append(reply, tIAC, tDO, o)
			}
		case !asked:
			reply = append(reply, tIAC, tDONT, o)
		}
	case tWONT:
		asked := t.askedHim[o]
		t.askedHim[o] = false
		if t.him[o] {
			t.him[o] = false
			if !asked {
				reply = append(reply, tIAC, tDONT, o)
			}
		}
	case tDO:
		asked := t.askedUs[o]
		t.askedUs[o] = false
		switch {
		case t.us[o]:
		case supportedUs(o):
			t.us[o] = true
			if !asked {
				reply = append(reply, tIAC, tWILL, o)
			}
		case !asked:
			reply = append(reply, tIAC, tWONT, o)
		}
	case tDONT:
		asked := t.askedUs[o]
		t.askedUs[o] = false
		if t.us[o] {
			t.us[o] = false
			if !asked {
				reply = append(reply, tIAC, tWONT, o)
			}
		}
	}
	return reply
}

// Window returns the window size the client last reported (NAWS) and whether it changed
// since the last call.
func (t *Telnet) Window() (cols, rows uint16, set, changed bool) {
	changed, t.winChangedNow = t.winChangedNow, false
	return t.winCols, t.winRows, t.winSet, changed
}

// Enabled reports whether option o is in effect on the server's side (us) or the
// client's (him).
func (t *Telnet) Enabled(o byte) (us, him bool) { return t.us[o], t.him[o] }

// Escape returns p as telnet data: every IAC byte doubled.
func Escape(dst, p []byte) []byte {
	for _, b := range p {
		if b == tIAC {
			dst = append(dst, tIAC)
		}
		dst = append(dst, b)
	}
	return dst
}
