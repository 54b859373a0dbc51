package api

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// A test event is signed as the provider signs now: with the newest secret
// that does not expire, which is the one a rotation added.
func TestActiveSecret(t *testing.T) {
	now := time.Now()
	at := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(now.Add(d)) }
	for _, c := range []struct {
		name    string
		secrets []*plugsv1.SigningSecret
		want    string
	}{
		{"none", nil, ""},
		{"one", []*plugsv1.SigningSecret{{Id: "a", Value: []byte("x")}}, "a"},
		{"rotated", []*plugsv1.SigningSecret{{Id: "a", Value: []byte("x"), ExpireTime: at(time.Hour)}, {Id: "b", Value: []byte("y")}}, "b"},
		{"two without expiry, newest wins", []*plugsv1.SigningSecret{{Id: "b", Value: []byte("y")}, {Id: "a", Value: []byte("x")}}, "b"},
		{"all expiring, the last to expire", []*plugsv1.SigningSecret{
			{Id: "b", Value: []byte("y"), ExpireTime: at(time.Minute)}, {Id: "a", Value: []byte("x"), ExpireTime: at(time.Hour)},
		}, "a"},
		{"expired", []*plugsv1.SigningSecret{{Id: "a", Value: []byte("x"), ExpireTime: at(-time.Second)}}, ""},
		{"empty", []*plugsv1.SigningSecret{{Id: "a"}}, ""},
	} {
		if got := activeSecret(c.secrets, now).GetId(); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
