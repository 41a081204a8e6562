package digest

import (
	"context"
	"time"
)

// The kinds of rows in the ledger of deliveries.
const (
	// KindClaim says which instance sends a delivery, until its lease
	// ends.
	KindClaim = "claim"
	// KindAttempt records a failed attempt and extends the lease to the
	// next one.
	KindAttempt = "attempt"
	// KindSent, KindGaveUp and KindSkipped end a delivery: sent, refused
	// for good or failing past the retry time, or skipped because the
	// period had nothing to say.
	KindSent    = "sent"
	KindGaveUp  = "gave_up"
	KindSkipped = "skipped"
)

// Delivery is one row of the ledger: an event of the delivery of one
// digest, for one period, to one channel.
type Delivery struct {
	Digest      string
	Channel     string
	PeriodStart time.Time
	PeriodEnd   time.Time
	// Generation numbers the claims of a delivery: a claim whose
	// claimant went away (its lease ended without an end) is taken over
	// by the next generation.
	Generation uint32
	Kind       string
	Instance   string
	At         time.Time
	LeaseUntil time.Time
	Attempt    uint32
	Late       bool
	Error      string
}

// Ledger records the deliveries of digests so that each is sent once by
// one of many replicas, across restarts. *clickhouse.Store is one.
//
// The guarantee is "at most once per claim, at least once across
// crashes": a delivery is sent only by the instance whose claim the
// ledger kept for its generation, and only while its lease lasts, so two
// replicas never both send it; an instance that dies after its channel
// took the message and before the sent row landed leaves a claim whose
// lease ends, and the delivery is then sent again by whoever takes it
// over. Losing a digest is judged worse than repeating one.
type Ledger interface {
	// ClaimDelivery records claim c unless a claim of the same digest,
	// channel, period start and generation is recorded already, and
	// returns the claim that is: c itself when the caller won. Two
	// concurrent callers get the same answer.
	ClaimDelivery(ctx context.Context, c Delivery) (Delivery, error)
	// RecordDelivery appends an attempt, sent, gave_up or skipped row.
	RecordDelivery(ctx context.Context, d Delivery) error
	// Deliveries returns the rows of a digest's deliveries of the periods
	// that start at or after since, in the order they happened.
	Deliveries(ctx context.Context, digest string, since time.Time) ([]Delivery, error)
}

// unit names one delivery: a digest, a period, a channel.
type unit struct {
	digest, channel string
	start           time.Time
}

// state is what the ledger says of one delivery.
type state struct {
	done bool
	// sent is set when the delivery ended sent (by any instance).
	sent       bool
	claim      *Delivery // the latest generation's claim
	lease      time.Time // the latest lease of that claimant
	attempts   uint32
	firstClaim time.Time
}

// states folds the ledger's rows by delivery.
func states(rows []Delivery) map[unit]*state {
	out := map[unit]*state{}
	for i := range rows {
		r := &rows[i]
		u := unit{r.Digest, r.Channel, r.PeriodStart.UTC()}
		st := out[u]
		if st == nil {
			st = &state{}
			out[u] = st
		}
		switch r.Kind {
		case KindSent, KindGaveUp, KindSkipped:
			st.done = true
			st.sent = st.sent || r.Kind == KindSent
		case KindClaim:
			if st.firstClaim.IsZero() || r.At.Before(st.firstClaim) {
				st.firstClaim = r.At
			}
			if st.claim == nil || r.Generation > st.claim.Generation {
				st.claim = r
				st.lease = r.LeaseUntil
			}
		case KindAttempt:
			st.attempts++
		}
	}
	// A lease is extended by its claimant's later attempts.
	for i := range rows {
		r := &rows[i]
		st := out[unit{r.Digest, r.Channel, r.PeriodStart.UTC()}]
		if r.Kind == KindAttempt && st.claim != nil && r.Generation == st.claim.Generation && r.Instance == st.claim.Instance && r.LeaseUntil.After(st.lease) {
			st.lease = r.LeaseUntil
		}
	}
	return out
}
