package egress

import (
	"fmt"
	"net/netip"
)

// blocked4 are the IPv4 ranges that never leave the operator's own network
// or are not unicast destinations at all (IANA's special-purpose registry,
// RFC 6890 and its updates).
var blocked4 = mustPrefixes(
	"0.0.0.0/8",       // "this network"
	"10.0.0.0/8",      // private
	"100.64.0.0/10",   // shared address space (CGNAT)
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local (cloud metadata lives here)
	"172.16.0.0/12",   // private
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // documentation
	"192.88.99.0/24",  // 6to4 relay anycast, deprecated (RFC 7526)
	"192.168.0.0/16",  // private
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation
	"203.0.113.0/24",  // documentation
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, broadcast
)

// globalUnicast is the only IPv6 space IANA allocates public unicast
// addresses from (RFC 4291 §2.4, RFC 3587). Everything outside it is
// refused: the unspecified and loopback addresses, IPv4-compatible
// (::a.b.c.d, deprecated by RFC 4291 §2.5.5.1) and IPv4-translated
// (::ffff:0:a.b.c.d, RFC 2765) addresses, local-use NAT64 (64:ff9b:1::/48,
// RFC 8215, whose translator is by definition on the operator's network),
// discard (100::/64), SRv6 SIDs (5f00::/16), unique local (fc00::/7),
// link-local (fe80::/10), site-local (fec0::/10) and multicast (ff00::/8).
var globalUnicast = netip.MustParsePrefix("2000::/3")

// blocked6 are the ranges inside globalUnicast that are not reachable
// destinations.
var blocked6 = mustPrefixes(
	"2001:2::/48",   // benchmarking (RFC 5180)
	"2001:10::/28",  // ORCHID, deprecated (RFC 4843)
	"2001:db8::/32", // documentation (RFC 3849)
	"3fff::/20",     // documentation (RFC 9637)
)

// Prefixes of the IPv6 mechanisms that carry an IPv4 address inside an
// IPv6 one. A packet to such an address ends up at the IPv4 address (a
// NAT64 translator, a 6to4 or Teredo relay, an ISATAP router does the
// rest), so the IPv4 address is checked as if it had been dialled.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052 well-known prefix
	teredo    = netip.MustParsePrefix("2001::/32")    // RFC 4380
	sixToFour = netip.MustParsePrefix("2002::/16")    // RFC 3056
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// Check returns nil when ip is a public unicast address, and otherwise an
// error wrapping ErrForbiddenAddress that says why. An IPv6 zone
// ("fe80::1%eth0") is ignored: the address is checked without it, and a
// zone never makes an address acceptable. The operator's allowlist is not
// consulted; Guard.CheckAddr does that.
func Check(ip netip.Addr) error {
	ip = ip.WithZone("").Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if !ip.IsValid() {
		return fmt.Errorf("%w: not an IP address", ErrForbiddenAddress)
	}
	if ip.Is4() {
		return check4(ip, "")
	}
	if nat64.Contains(ip) {
		// RFC 6052 §3.1: the well-known prefix only ever carries global
		// IPv4 addresses; the translator reaches whatever it carries.
		return check4(last32(ip), "NAT64 address "+ip.String()+" carries ")
	}
	if !globalUnicast.Contains(ip) {
		return fmt.Errorf("%w: %s is not a global unicast address", ErrForbiddenAddress, ip)
	}
	for _, p := range blocked6 {
		if p.Contains(ip) {
			return fmt.Errorf("%w: %s is in %s", ErrForbiddenAddress, ip, p)
		}
	}
	b := ip.As16()
	switch {
	case teredo.Contains(ip):
		// RFC 4380 §4: the Teredo server's address in bits 32-63, the
		// client's public address in bits 96-127, every bit inverted.
		if err := check4(v4(b[4:8], 0), "Teredo address "+ip.String()+" names server "); err != nil {
			return err
		}
		if err := check4(v4(b[12:16], 0xff), "Teredo address "+ip.String()+" names client "); err != nil {
			return err
		}
	case sixToFour.Contains(ip):
		// RFC 3056 §2: 2002:V4ADDR::/48.
		if err := check4(v4(b[2:6], 0), "6to4 address "+ip.String()+" carries "); err != nil {
			return err
		}
	}
	// RFC 5214 §6.1: an ISATAP interface identifier is 0000:5efe or
	// 0200:5efe (the universal/local bit, and the group bit beside it, may
	// be set) followed by the IPv4 address, under any /64 prefix.
	if b[8]&^0x03 == 0 && b[9] == 0 && b[10] == 0x5e && b[11] == 0xfe {
		return check4(last32(ip), "ISATAP address "+ip.String()+" carries ")
	}
	return nil
}

// check4 refuses a blocked IPv4 address; context says where it was found.
func check4(ip netip.Addr, context string) error {
	for _, p := range blocked4 {
		if p.Contains(ip) {
			return fmt.Errorf("%w: %s%s (in %s)", ErrForbiddenAddress, context, ip, p)
		}
	}
	return nil
}

// last32 is the IPv4 address in the last 32 bits of an IPv6 address.
func last32(ip netip.Addr) netip.Addr {
	b := ip.As16()
	return v4(b[12:16], 0)
}

// v4 reads an IPv4 address from four bytes, each XORed with mask.
func v4(b []byte, mask byte) netip.Addr {
	return netip.AddrFrom4([4]byte{b[0] ^ mask, b[1] ^ mask, b[2] ^ mask, b[3] ^ mask})
}
