package runs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Fingerprint identifies an error group: the fingerprint of a run's
// message (synclog.Fingerprint). Users see it in one notation everywhere,
// the API's JSON, CSV and Markdown, the console and Grafana: 16 lowercase
// hexadecimal digits, zero-padded ("00c0ffee12345678").
type Fingerprint uint64

// String is the fingerprint's notation: 16 lowercase hexadecimal digits.
func (f Fingerprint) String() string { return fmt.Sprintf("%016x", uint64(f)) }

// ParseFingerprint reads the notation of String: 1 to 16 hexadecimal
// digits, either case.
func ParseFingerprint(s string) (Fingerprint, error) {
	if s == "" || len(s) > 16 {
		return 0, fmt.Errorf("fingerprint %q: must be 16 hexadecimal digits", s)
	}
	n, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("fingerprint %q: must be 16 hexadecimal digits", s)
	}
	return Fingerprint(n), nil
}

// MarshalJSON writes the fingerprint as a string in its notation.
func (f Fingerprint) MarshalJSON() ([]byte, error) {
	return []byte(`"` + f.String() + `"`), nil
}

// UnmarshalJSON reads a string in the fingerprint's notation, as the API
// answers it, or a number, as ClickHouse's rows hold it.
func (f *Fingerprint) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("fingerprint: %w", err)
		}
		v, err := ParseFingerprint(s)
		if err != nil {
			return err
		}
		*f = v
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("fingerprint %s: must be a string of 16 hexadecimal digits or an unsigned integer", b)
	}
	*f = Fingerprint(n)
	return nil
}
