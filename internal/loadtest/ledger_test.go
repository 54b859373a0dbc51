package loadtest

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestLedgerTally(t *testing.T) {
	l := NewLedger()
	send := func(phase, id string, status int) {
		l.Sent(phase, id)
		l.Answered(id, status)
	}
	for i := range 10 {
		send("max", fmt.Sprint("ok", i), 200)
	}
	send("max", "refused", 503)
	l.Sent("max", "timeout-stored")
	l.Answered("timeout-stored", 0)
	l.Sent("max", "timeout-lost")
	l.Answered("timeout-lost", 0)
	send("open", "other-phase", 200)

	for i := range 8 {
		l.Delivered(fmt.Sprint("ok", i)) // ok8 and ok9 are lost
	}
	l.Delivered("ok0") // one duplicate
	l.Delivered("ok0")
	l.Delivered("timeout-stored")
	l.Delivered("refused")    // refused yet delivered
	l.Delivered("never-sent") // not ours

	got := l.Tally("max")
	want := Tally{Accepted: 10, Delivered: 8, Lost: 2, Duplicated: 1, ExtraDeliveries: 2,
		Uncertain: 2, UncertainDelivered: 1, Unexpected: 2}
	if got != want {
		t.Errorf("tally\n got %+v\nwant %+v", got, want)
	}
	if got.OK() {
		t.Error("a tally with losses is not OK")
	}
	open := l.Tally("open")
	if open.Accepted != 1 || open.Lost != 1 || open.Unexpected != 1 {
		t.Errorf("open phase: %+v", open)
	}
}

func TestLedgerDeliveryBeforeAnswer(t *testing.T) {
	// The destination may see an event before the sender has read the
	// 200 that accepted it.
	l := NewLedger()
	l.Sent("p", "a")
	l.Delivered("a")
	l.Answered("a", 200)
	if got := l.Tally("p"); !got.OK() || got.Accepted != 1 || got.Delivered != 1 {
		t.Errorf("tally %+v", got)
	}
}

func TestLedgerWait(t *testing.T) {
	l := NewLedger()
	for i := range 3 {
		l.Sent("p", fmt.Sprint(i))
		l.Answered(fmt.Sprint(i), 200)
	}
	go func() {
		for i := range 3 {
			time.Sleep(20 * time.Millisecond)
			l.Delivered(fmt.Sprint(i))
		}
	}()
	got, _ := l.Wait(context.Background(), "p", 5*time.Second)
	if !got.OK() || got.Delivered != 3 {
		t.Fatalf("after waiting: %+v", got)
	}

	// Nothing arrives: Wait gives up after the quiet period.
	l.Sent("q", "lost")
	l.Answered("lost", 200)
	start := time.Now()
	got, waited := l.Wait(context.Background(), "q", 100*time.Millisecond)
	if got.Lost != 1 || waited < 100*time.Millisecond || time.Since(start) > 5*time.Second {
		t.Fatalf("waited %v for %+v", waited, got)
	}
}

// The lag runs from the 200 to the first delivery, for accepted events
// only; a delivery that overtakes its 200 counts as zero.
func TestLedgerLag(t *testing.T) {
	l := NewLedger()
	l.Sent("max", "a")
	l.Answered("a", 200)
	time.Sleep(20 * time.Millisecond)
	l.Delivered("a")
	l.Delivered("a") // a duplicate does not move the lag
	l.Sent("max", "early")
	l.Delivered("early")
	l.Answered("early", 200)
	l.Sent("max", "refused")
	l.Answered("refused", 503)
	l.Delivered("refused")
	l.Sent("max", "lost")
	l.Answered("lost", 200)
	l.Sent("open", "other")
	l.Answered("other", 200)
	l.Delivered("other")

	h := l.Lag("max")
	if h.Count() != 2 {
		t.Fatalf("%d lags, want 2 (a and early)", h.Count())
	}
	if h.Min() != 0 {
		t.Errorf("a delivery before its 200 lags %v, want 0", h.Min())
	}
	if h.Max() < 20*time.Millisecond || h.Max() > 5*time.Second {
		t.Errorf("lag of a is %v, want about 20ms", h.Max())
	}
}
