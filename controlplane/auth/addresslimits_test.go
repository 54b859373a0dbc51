package auth

import (
	"context"
	"fmt"
	"testing"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Callers cycling through addresses cannot grow the buckets past the
// bound.
func TestAddressLimitsStayBounded(t *testing.T) {
	a := &AddressLimits{Limit: &plugsv1.RateLimit{RequestsPerSecond: 0.001, Burst: 2}, MaxAddresses: 100}
	for range 2 {
		a.failed("198.51.100.1")
	}
	if a.check(context.Background(), "198.51.100.1") == nil {
		t.Fatal("an address past its burst was not refused")
	}
	for i := range 1000 {
		a.failed(fmt.Sprintf("2001:db8:%x::1", i))
	}
	if n := len(a.buckets); n > 100 {
		t.Fatalf("%d buckets kept, bound 100", n)
	}
	if a.check(context.Background(), "203.0.113.7") != nil {
		t.Fatal("an address never seen was refused")
	}
}

// IPv6 callers count by /64, IPv4 ones by address.
func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":               "192.0.2.1",
		"::ffff:192.0.2.1":        "192.0.2.1",
		"2001:db8:1:2:3:4:5:6":    "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:4:5:6": "2001:db8:1:2::/64",
		"not an address":          "not an address",
	} {
		if got := addressKey(in); got != want {
			t.Errorf("addressKey(%q) = %q, want %q", in, got, want)
		}
	}
}
