package clickhouse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/syncwatch/syncwatch/digest"
)

// deliveryRow is a row of digest_deliveries as an insert writes it.
type deliveryRow struct {
	Digest      string `json:"digest"`
	Channel     string `json:"channel"`
	PeriodStart chTime `json:"period_start"`
	PeriodEnd   chTime `json:"period_end"`
	Generation  uint32 `json:"generation"`
	Kind        string `json:"kind"`
	Instance    string `json:"instance"`
	At          chTime `json:"at"`
	LeaseUntil  chTime `json:"lease_until"`
	Attempt     uint32 `json:"attempt"`
	Late        bool   `json:"late"`
	Error       string `json:"error"`
}

func toDeliveryRow(d digest.Delivery) deliveryRow {
	return deliveryRow{
		Digest: d.Digest, Channel: d.Channel, PeriodStart: chTime(d.PeriodStart), PeriodEnd: chTime(d.PeriodEnd),
		Generation: d.Generation, Kind: d.Kind, Instance: d.Instance, At: chTime(d.At), LeaseUntil: chTime(d.LeaseUntil),
		Attempt: d.Attempt, Late: d.Late, Error: d.Error,
	}
}

// readDelivery is a row of digest_deliveries as a SELECT answers it, with
// times in ISO 8601.
type readDelivery struct {
	Digest      string    `json:"digest"`
	Channel     string    `json:"channel"`
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	Generation  uint32    `json:"generation"`
	Kind        string    `json:"kind"`
	Instance    string    `json:"instance"`
	At          time.Time `json:"at"`
	LeaseUntil  time.Time `json:"lease_until"`
	Attempt     uint32    `json:"attempt"`
	Late        bool      `json:"late"`
	Error       string    `json:"error"`
}

func (r readDelivery) delivery() digest.Delivery {
	return digest.Delivery{
		Digest: r.Digest, Channel: r.Channel, PeriodStart: r.PeriodStart.UTC(), PeriodEnd: r.PeriodEnd.UTC(),
		Generation: r.Generation, Kind: r.Kind, Instance: r.Instance, At: r.At.UTC(), LeaseUntil: r.LeaseUntil.UTC(),
		Attempt: r.Attempt, Late: r.Late, Error: r.Error,
	}
}

const deliveryColumns = "digest, channel, period_start, period_end, generation, kind, instance, at, lease_until, attempt, late, error"

// insertDelivery appends one row under token: ClickHouse keeps the first
// insert of a token and drops any later one whole.
func (s *Store) insertDelivery(ctx context.Context, d digest.Delivery, token string) error {
	row, err := json.Marshal(toDeliveryRow(d))
	if err != nil {
		return fmt.Errorf("encode delivery: %w", err)
	}
	// The row is JSON that encoding/json wrote, so nothing in it can end
	// the statement; the token is hexadecimal.
	q := "INSERT INTO digest_deliveries (" + deliveryColumns + ") SETTINGS async_insert = 0, insert_deduplicate = 1, insert_deduplication_token = '" +
		token + "' FORMAT JSONEachRow\n" + string(row) + "\n"
	if err := s.eng.exec(ctx, q, nil); err != nil {
		return fmt.Errorf("record %s of digest %s to %s: %w", d.Kind, d.Digest, d.Channel, err)
	}
	return nil
}

func deliveryToken(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "digest-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// ClaimDelivery inserts the claim c unless a claim of its digest,
// channel, period and generation is there already, and returns the claim
// that is there: c itself when this caller won.
func (s *Store) ClaimDelivery(ctx context.Context, c digest.Delivery) (digest.Delivery, error) {
	if c.Kind != digest.KindClaim || c.Generation == 0 {
		return digest.Delivery{}, errors.New("claim delivery: want a claim of generation 1 or more")
	}
	start := formatTime(c.PeriodStart)
	token := deliveryToken("claim", c.Digest, c.Channel, start, strconv.FormatUint(uint64(c.Generation), 10))
	if err := s.insertDelivery(ctx, c, token); err != nil {
		return digest.Delivery{}, err
	}
	out, err := s.eng.selectRows(ctx, `SELECT `+deliveryColumns+` FROM digest_deliveries
WHERE digest = {digest:String} AND channel = {channel:String} AND period_start = {start:DateTime64(3, 'UTC')}
  AND generation = {generation:UInt32} AND kind = 'claim'
ORDER BY at, instance LIMIT 1`, Params{"digest": c.Digest, "channel": c.Channel, "start": c.PeriodStart, "generation": c.Generation})
	if err != nil {
		return digest.Delivery{}, fmt.Errorf("read claim of digest %s to %s: %w", c.Digest, c.Channel, err)
	}
	rows, err := decodeRows[readDelivery](out)
	if err != nil {
		return digest.Delivery{}, err
	}
	if len(rows) == 0 {
		return digest.Delivery{}, fmt.Errorf("claim of digest %s to %s: the claim just inserted is not there", c.Digest, c.Channel)
	}
	return rows[0].delivery(), nil
}

// RecordDelivery appends an attempt, sent or gave_up row. A repeat of
// the same row (a retry after an answer that got lost) is stored once.
func (s *Store) RecordDelivery(ctx context.Context, d digest.Delivery) error {
	if d.Kind == digest.KindClaim {
		return errors.New("record delivery: claims go through ClaimDelivery")
	}
	return s.insertDelivery(ctx, d, deliveryToken(d.Kind, d.Digest, d.Channel, formatTime(d.PeriodStart),
		strconv.FormatUint(uint64(d.Generation), 10), strconv.FormatUint(uint64(d.Attempt), 10), d.Instance))
}

// Deliveries returns the rows of digest's deliveries of the periods that
// start at or after since, in the order they happened.
func (s *Store) Deliveries(ctx context.Context, digestName string, since time.Time) ([]digest.Delivery, error) {
	out, err := s.eng.selectRows(ctx, `SELECT `+deliveryColumns+` FROM digest_deliveries
WHERE digest = {digest:String} AND period_start >= {since:DateTime64(3, 'UTC')}
ORDER BY period_start, channel, generation, at, kind`, Params{"digest": digestName, "since": since})
	if err != nil {
		return nil, fmt.Errorf("read deliveries of digest %s: %w", digestName, err)
	}
	rows, err := decodeRows[readDelivery](out)
	if err != nil {
		return nil, err
	}
	list := make([]digest.Delivery, len(rows))
	for i, r := range rows {
		list[i] = r.delivery()
	}
	return list, nil
}
