package exporter

import (
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"io"
)

// gzipSplicer writes one gzip member (RFC 1952) whose DEFLATE stream
// (RFC 1951) interleaves what Write compresses with blocks compressed
// beforehand (splice). Both end each run with a sync flush, which ends on
// a byte boundary with a non-final block, and a compressor starts afresh
// after a splice, so that no block refers back across a splice: any gzip
// reader reads the result as one ordinary member.
type gzipSplicer struct {
	w  io.Writer
	fw *flate.Writer
	// used is set when fw has compressed data since its last reset, and
	// pending when some of it is not flushed yet.
	used, pending bool
	crc, size     uint32
	err           error
}

// newGzipSplicer starts a member on w; fw compresses what Write is given.
func newGzipSplicer(w io.Writer, fw *flate.Writer) *gzipSplicer {
	fw.Reset(w)
	z := &gzipSplicer{w: w, fw: fw}
	// A member's header: DEFLATE, no name, no time, unknown OS, as
	// compress/gzip writes it.
	header := [10]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}
	_, z.err = w.Write(header[:])
	return z
}

// Write compresses p.
func (z *gzipSplicer) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if z.used && !z.pending {
		// A splice came after the compressor's last data: its window is
		// no longer what precedes in the stream.
		z.fw.Reset(z.w)
	}
	z.used, z.pending = true, true
	n, err := z.fw.Write(p)
	z.crc = crc32.Update(z.crc, crc32.IEEETable, p[:n])
	z.size += uint32(n)
	z.err = err
	return n, err
}

// splice adds raw, compressed beforehand into deflated: DEFLATE blocks,
// none final, ending with a sync flush, from a fresh compressor.
func (z *gzipSplicer) splice(raw, deflated []byte) error {
	if err := z.flush(); err != nil {
		return err
	}
	if _, err := z.w.Write(deflated); err != nil {
		z.err = err
		return err
	}
	z.crc = crc32.Update(z.crc, crc32.IEEETable, raw)
	z.size += uint32(len(raw))
	return nil
}

// flush ends the compressor's run on a byte boundary.
func (z *gzipSplicer) flush() error {
	if z.err != nil {
		return z.err
	}
	if z.pending {
		z.pending = false
		z.err = z.fw.Flush()
	}
	return z.err
}

// Close ends the DEFLATE stream with an empty final block and the member
// with its trailer: the CRC-32 and the size modulo 2³² of the data.
func (z *gzipSplicer) Close() error {
	if err := z.flush(); err != nil {
		return err
	}
	var tail [10]byte
	// An empty final block with fixed Huffman codes: BFINAL 1, BTYPE 01
	// and the end-of-block code, 10 bits.
	tail[0], tail[1] = 0x03, 0x00
	binary.LittleEndian.PutUint32(tail[2:], z.crc)
	binary.LittleEndian.PutUint32(tail[6:], z.size)
	_, z.err = z.w.Write(tail[:])
	return z.err
}
