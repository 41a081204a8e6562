package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"time"
)

// conn is a minimal HTTP/1.1 keep-alive client on one TCP connection. It
// costs far less CPU per request than net/http's client, which matters when
// the generator shares two cores with the server it measures.
type conn struct {
	addr    string
	host    string
	auth    string // Authorization header value, if any
	timeout time.Duration

	c    net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	body []byte // the last response body, reused
}

func newConn(addr string, timeout time.Duration) *conn {
	return &conn{addr: addr, host: addr, timeout: timeout}
}

func (c *conn) dial() error {
	nc, err := net.DialTimeout("tcp", c.addr, c.timeout)
	if err != nil {
		return err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c.c = nc
	c.br = bufio.NewReaderSize(nc, 32<<10)
	c.bw = bufio.NewWriterSize(nc, 64<<10)
	return nil
}

// close drops the connection; the next request dials again.
func (c *conn) close() {
	if c.c != nil {
		_ = c.c.Close()
		c.c = nil
	}
}

// do sends one request and reads its response. The returned body is valid
// until the next call. On any error the connection is closed.
func (c *conn) do(method, path, contentType string, body []byte) (int, []byte, error) {
	if c.c == nil {
		if err := c.dial(); err != nil {
			return 0, nil, err
		}
	}
	_ = c.c.SetDeadline(time.Now().Add(c.timeout))
	status, closeAfter, err := c.roundTrip(method, path, contentType, body)
	if err != nil || closeAfter {
		c.close()
	}
	return status, c.body, err
}

func (c *conn) roundTrip(method, path, contentType string, body []byte) (int, bool, error) {
	w := c.bw
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(path)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(c.host)
	w.WriteString("\r\nUser-Agent: syncload\r\n")
	if c.auth != "" {
		w.WriteString("Authorization: ")
		w.WriteString(c.auth)
		w.WriteString("\r\n")
	}
	if contentType != "" {
		w.WriteString("Content-Type: ")
		w.WriteString(contentType)
		w.WriteString("\r\n")
	}
	w.WriteString("Content-Length: ")
	w.WriteString(strconv.Itoa(len(body)))
	w.WriteString("\r\n\r\n")
	w.Write(body)
	if err := w.Flush(); err != nil {
		return 0, true, err
	}
	return c.readResponse()
}

var errMalformed = errors.New("malformed HTTP response")

func (c *conn) readResponse() (int, bool, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, true, err
	}
	// HTTP/1.1 202 Accepted
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, true, errMalformed
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, true, errMalformed
	}
	length, chunked, closeAfter := -1, false, line[7] == '0'
	for {
		h, err := c.br.ReadSlice('\n')
		if err != nil {
			return status, true, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return status, true, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return status, true, errMalformed
			}
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = asciiEqualFold(value, "chunked")
		case asciiEqualFold(name, "connection"):
			if asciiEqualFold(value, "close") {
				closeAfter = true
			}
		}
	}
	c.body = c.body[:0]
	switch {
	case status == 204 || status == 304 || (status >= 100 && status < 200):
	case chunked:
		if err := c.readChunked(); err != nil {
			return status, true, err
		}
	case length >= 0:
		if cap(c.body) < length {
			c.body = make([]byte, length)
		}
		c.body = c.body[:length]
		if _, err := io.ReadFull(c.br, c.body); err != nil {
			return status, true, err
		}
	default:
		b, err := io.ReadAll(c.br)
		c.body = b
		return status, true, err
	}
	return status, closeAfter, nil
}

func (c *conn) readChunked() error {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || n < 0 {
			return errMalformed
		}
		if n == 0 {
			// Trailers, then the empty line.
			for {
				t, err := c.br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(t, "\r\n")) == 0 {
					return nil
				}
			}
		}
		start := len(c.body)
		c.body = append(c.body, make([]byte, n)...)
		if _, err := io.ReadFull(c.br, c.body[start:]); err != nil {
			return err
		}
		if _, err := c.br.Discard(2); err != nil {
			return err
		}
	}
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
