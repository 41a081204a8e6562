package collector

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

func TestEventSetWindow(t *testing.T) {
	s := newEventSet(10)
	add := func(id string) bool { isNew, _, _ := s.add(id, "", nil); return isNew }
	for i := range 5 {
		if !add(fmt.Sprint(i)) {
			t.Fatalf("%d is new", i)
		}
	}
	if add("0") {
		t.Fatal("0 was seen")
	}
	// Ten more ids push the first five out of the window.
	for i := 5; i < 15; i++ {
		add(fmt.Sprint(i))
	}
	if !add("0") {
		t.Fatal("an id older than the window is still remembered")
	}
	if add("14") || add("10") {
		t.Fatal("recent ids were forgotten")
	}

	// A claimed id is pending until settled: remembered when its report
	// was spooled, forgotten when it was not.
	ok, failed := newClaim(), newClaim()
	if isNew, _, _ := s.add("a", "run-a", ok); !isNew {
		t.Fatal("a is new")
	}
	if isNew, _, _ := s.add("b", "", failed); !isNew {
		t.Fatal("b is new")
	}
	if isNew, rid, p := s.add("a", "", nil); isNew || p != ok || rid != "run-a" {
		t.Fatalf("a retry of a pending id: new %v, run %q, claim %p, want run-a and %p", isNew, rid, p, ok)
	}
	s.settle(ok, true)
	s.settle(failed, false)
	s.settle(failed, true) // settling twice changes nothing
	if !ok.wait(context.Background()) || failed.wait(context.Background()) {
		t.Fatal("claims report the wrong outcome")
	}
	if isNew, rid, p := s.add("a", "", nil); isNew || p != nil || rid != "run-a" {
		t.Fatal("a spooled id is not a plain duplicate")
	}
	if !add("b") {
		t.Fatal("an id whose report was not spooled is still remembered")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if newClaim().wait(ctx) {
		t.Fatal("waiting with a cancelled context reports success")
	}
}

// The dedup window keeps its own copy of each id: an id decoded by go-json
// points into the whole item, which the window must not keep alive.
func TestEventSetCopiesIDs(t *testing.T) {
	item := []byte(`{"event_id":"ev-kept-1","message":"` + strings.Repeat("x", 4096) + `"}`)
	w, ok := fastDecode(item)
	if !ok {
		t.Fatal("fast decode declined a plain item")
	}
	s := newEventSet(10)
	if isNew, _, _ := s.add(w.EventID, "", nil); !isNew {
		t.Fatal("a new id was not new")
	}
	for k := range s.cur {
		if unsafe.StringData(k) == unsafe.StringData(w.EventID) {
			t.Fatal("the window keeps the decoded string, and with it the whole item")
		}
		if k != w.EventID {
			t.Fatalf("kept %q, want %q", k, w.EventID)
		}
	}
}
