package exporter

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"testing"
)

// TestGzipSplicer checks that written and spliced pieces, in any order,
// empty or repetitive, make one gzip member that compress/gzip and the
// gzip tool (zlib's inflate) read back as their concatenation.
func TestGzipSplicer(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 20))
	piece := func() []byte {
		// Repetitive text, so that the compressor refers back far and
		// often, and random bytes now and then.
		var b bytes.Buffer
		for range rng.IntN(3000) {
			if rng.IntN(10) == 0 {
				b.WriteByte(byte(rng.Uint32()))
				continue
			}
			fmt.Fprintf(&b, "metric_%d{label=\"%d\"} %d\n", rng.IntN(5), rng.IntN(50), rng.IntN(3))
		}
		return b.Bytes()
	}
	for i := range 40 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			var out, want bytes.Buffer
			fw, err := flate.NewWriter(nil, flate.DefaultCompression)
			if err != nil {
				t.Fatal(err)
			}
			z := newGzipSplicer(&out, fw)
			for range rng.IntN(12) {
				p := piece()
				want.Write(p)
				if rng.IntN(2) == 0 {
					if _, err := z.Write(p); err != nil {
						t.Fatal(err)
					}
					continue
				}
				var d bytes.Buffer
				pw, _ := flate.NewWriter(&d, flate.BestSpeed)
				if _, err := pw.Write(p); err != nil {
					t.Fatal(err)
				}
				if err := pw.Flush(); err != nil {
					t.Fatal(err)
				}
				if err := z.splice(p, d.Bytes()); err != nil {
					t.Fatal(err)
				}
			}
			if err := z.Close(); err != nil {
				t.Fatal(err)
			}

			r := bytes.NewReader(out.Bytes())
			zr, err := gzip.NewReader(r)
			if err != nil {
				t.Fatal(err)
			}
			zr.Multistream(false)
			got, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("read back %d bytes, want %d", len(got), want.Len())
			}
			if r.Len() != 0 {
				t.Fatalf("%d bytes after the member", r.Len())
			}

			cmd := exec.Command("gzip", "-dc")
			cmd.Stdin = bytes.NewReader(out.Bytes())
			got, err = cmd.Output()
			if err != nil {
				t.Fatalf("gzip -dc: %v", err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("gzip -dc read back %d bytes, want %d", len(got), want.Len())
			}
		})
	}
}
