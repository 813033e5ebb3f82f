// Package termsafe renders text that came from other users (job names,
// reasons, paths, error messages echoing them) safe to print on a
// terminal.
//
// A job name is chosen by whoever submits the job and is printed on
// everybody's terminal by squeue, sacct, shoal queue and the rest. Left
// raw, a newline in it forges a row of the table ("1 x\n2 FAKE bob
// RUNNING"), a carriage return overwrites the row it is on, and an escape
// sequence reprograms the reader's terminal (moves the cursor, retitles
// the window, on some terminals answers back as typed input). Slurm
// prints such names raw; shoal does not.
//
// The choice: every byte or character a terminal acts on instead of
// showing is replaced by a visible, Go-style escape, so the text stays on
// one line and the reader can still tell what was there:
//
//	\t \n \r                         as \t \n \r
//	other C0 controls and DEL         as \xHH   (ESC is \x1b)
//	C1 controls U+0080..U+009F        as \uHHHH (U+009B, CSI, is \u009b)
//	bidirectional overrides/isolates  as \uHHHH (U+202A..U+202E, U+2066..U+2069:
//	                                            they reorder what the reader sees)
//	a byte that is not UTF-8          as \xHH
//
// A backslash is left as it is: names with backslashes are ordinary and
// Slurm users expect to see them unchanged; the escapes are for reading,
// not for decoding back. Everything else, printable ASCII and printable
// Unicode alike, passes through untouched, and text with nothing to escape
// is returned without copying (squeue prints many thousands of cells).
//
// Raw job output (shoal logs) is the job's own data for its owner and is
// not passed through here.
package termsafe

import (
	"strconv"
	"unicode/utf8"
)

// String returns s with control characters, bidirectional overrides and
// invalid UTF-8 replaced by visible escapes (see the package comment).
func String(s string) string {
	i := firstUnsafe(s)
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	b = append(b, s[:i]...)
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			b = append(b, c)
			i++
			continue
		}
		if c < 0x80 {
			b = appendByteEscape(b, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			b = appendByteEscape(b, c)
		case unsafeRune(r):
			b = appendRuneEscape(b, r)
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return string(b)
}

// Safe reports whether s prints on a terminal as it is: String(s) == s.
func Safe(s string) bool { return firstUnsafe(s) < 0 }

// firstUnsafe is the index of the first byte of s that String changes,
// or -1.
func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		if c < 0x80 {
			return i
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n <= 1) || unsafeRune(r) {
			return i
		}
		i += n
	}
	return -1
}

// unsafeRune reports whether a (valid, non-ASCII) rune is one a terminal
// acts on: a C1 control or a bidirectional override or isolate.
func unsafeRune(r rune) bool {
	return (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

func appendByteEscape(b []byte, c byte) []byte {
	switch c {
	case '\t':
		return append(b, `\t`...)
	case '\n':
		return append(b, `\n`...)
	case '\r':
		return append(b, `\r`...)
	}
	const hex = "0123456789abcdef"
	return append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
}

func appendRuneEscape(b []byte, r rune) []byte {
	b = append(b, `\u`...)
	h := strconv.FormatInt(int64(r), 16)
	for i := len(h); i < 4; i++ {
		b = append(b, '0')
	}
	return append(b, h...)
}

// JSON makes encoding/json output safe for a terminal without changing
// the value it encodes. encoding/json already escapes C0 controls and
// replaces invalid UTF-8; it writes DEL, the C1 controls and the
// bidirectional overrides raw. Those can only occur inside JSON strings
// (everything structural is printable ASCII), where \uHHHH means the same
// character, so a decoder reads exactly what it would have read from the
// original. b is returned as it is when there is nothing to escape.
func JSON(b []byte) []byte {
	i := firstUnsafe(string(b))
	if i < 0 {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	out = append(out, b[:i]...)
	for i < len(b) {
		c := b[i]
		if c < 0x80 {
			if c == 0x7f {
				out = append(out, `\u007f`...)
			} else {
				out = append(out, c) // encoding/json escaped every C0 control
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if unsafeRune(r) || (r == utf8.RuneError && n <= 1) {
			// An invalid byte (not from encoding/json, which replaces
			// them) becomes U+FFFD, as encoding/json would have made it.
			out = appendRuneEscape(out, r)
		} else {
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}
