package listen

import (
	"fmt"
	"io"
	"strings"
	"time"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// printLine writes one webhook: receive time, source, event type, provider
// event id, then the local URL's status and latency (or what went wrong).
func printLine(w io.Writer, ev *plugsv1.ListenEvent, r result) {
	outcome := "-"
	switch {
	case r.err != nil && r.forwarded:
		outcome = fmt.Sprintf("error %s  %s", oneLine(r.err.Error()), ms(r.latency))
	case r.err != nil:
		outcome = "not forwarded: " + oneLine(r.err.Error())
	case r.forwarded:
		outcome = fmt.Sprintf("%d  %s", r.status, ms(r.latency))
	}
	if r.note != "" {
		outcome += "  (" + r.note + ")"
	}
	if ev.GetUsageEvent().GetTest() {
		outcome += "  (test)"
	}
	at := "-"
	if t := ev.GetReceiveTime(); t != nil {
		at = t.AsTime().UTC().Format("2006-01-02T15:04:05.000Z")
	}
	fmt.Fprintf(w, "%s  %s  %-28s %-30s %s\n", at, dash(ev.GetSourceId()), dash(ev.GetEventType()), dash(ev.GetProviderEventId()), outcome)
}

func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps an error on its line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
