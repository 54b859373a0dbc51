package main

import (
	"io"
	"strings"
	"testing"
)

// The receipts' byte limits read sizes or none, from flags, the
// environment or the settings file; the data plane gives the streams
// none as no limit, and plugs dev smaller defaults than a data plane.
func TestReceiptLimitFlags(t *testing.T) {
	t.Setenv("PLUGS_UNVERIFIED_RECEIPT_STREAM_MAX_BYTES", "none")
	t.Setenv("PLUGS_REJECTED_RATE_LIMIT", "2.5")
	cl := newCommandLine("dataplane", "[flags]", "")
	var f dpFlags
	f.register(cl.settings, ":8080", false)
	if err := cl.parse([]string{"--receipt-stream-max-bytes", "512MiB"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	o := f.streamOptions()
	if o.ReceiptMaxBytes != 512<<20 || o.UnverifiedReceiptMaxBytes != -1 || f.rejectedRate != 2.5 || f.rejectedBurst != 10 {
		t.Fatalf("stream limits %d and %d, rejected rate %v burst %d", o.ReceiptMaxBytes, o.UnverifiedReceiptMaxBytes, f.rejectedRate, f.rejectedBurst)
	}

	cl = newCommandLine("dev", "[flags]", "")
	var cp cpFlags
	var dev dpFlags
	cp.register(cl.settings, "./.plugs", "127.0.0.1:9090", "127.0.0.1:8081", "")
	dev.register(cl.settings, "127.0.0.1:8080", true)
	t.Setenv("PLUGS_RECEIPT_INDEX_MAX_BYTES", "lots")
	file := writeSettings(t, "unverified-receipt-index-max-bytes: 1GiB\n")
	err := cl.parse([]string{"--config", file}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `"lots" is not a size`) {
		t.Fatalf("a size that is not one: %v", err)
	}
	if cp.unverifiedIndexMax != 1<<30 || cp.receiptIndexMax != defaultReceiptIndexMax || dev.receiptStreamMax != 1<<30 || dev.unverifiedStreamMax != 0 {
		t.Fatalf("index limits %d and %d, dev stream limit %d", cp.receiptIndexMax, cp.unverifiedIndexMax, dev.receiptStreamMax)
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "none", 8 << 30: "8GiB", 256 << 20: "256MiB", 4096: "4KiB", 1000: "1000B"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
