package ratelimit

import (
	"testing"
	"time"
)

// A key's budget allows its burst, then refuses until it refills; every
// key has its own; refusals are reported at once, then at most once per
// interval with the count since the last report.
func TestBudget(t *testing.T) {
	b := NewBudget(1, 3, time.Minute)
	now := time.Unix(1_700_000_000, 0)
	for i := range 3 {
		if ok, _, _ := b.Spend("a", now); !ok {
			t.Fatalf("spend %d of the burst refused", i+1)
		}
	}
	ok, retry, report := b.Spend("a", now)
	if ok || retry != time.Second || report != 1 {
		t.Fatalf("past the burst: ok %v, retry after %v, report %d; want refused, 1s, 1", ok, retry, report)
	}
	for i := range 5 {
		if ok, _, report := b.Spend("a", now.Add(time.Duration(i)*time.Millisecond)); ok || report != 0 {
			t.Fatalf("refusal %d within the report interval: ok %v, report %d", i+2, ok, report)
		}
	}
	if ok, _, _ := b.Spend("b", now); !ok {
		t.Fatal("another key refused")
	}
	// Refilled: one more is allowed.
	if ok, _, _ := b.Spend("a", now.Add(time.Second)); !ok {
		t.Fatal("refused after the refill time")
	}
	// A minute after the first report, the next refusal reports the five
	// refused since and itself.
	later := now.Add(time.Minute)
	for range 3 {
		b.Spend("a", later) // the refilled burst
	}
	if ok, _, report := b.Spend("a", later); ok || report != 6 {
		t.Fatalf("report after the interval: ok %v, report %d; want refused, 6", ok, report)
	}
}

func TestNoBudget(t *testing.T) {
	var b *Budget = NewBudget(0, 10, 0)
	if b != nil {
		t.Fatal("a zero rate made a budget")
	}
	for range 1000 {
		if ok, _, _ := b.Spend("a", time.Now()); !ok {
			t.Fatal("no budget refused")
		}
	}
}
