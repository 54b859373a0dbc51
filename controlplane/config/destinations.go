package config

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/destination"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// DestinationConfig renders a stored destination for data planes, with its
// shared key opened. When it cannot be built completely it returns a
// *BuildError together with the destination without its shared key (and
// without a retry policy that does not decode): a data plane holding no
// earlier version routes events to it and keeps them queued, never
// delivers them unsigned.
func (s *Snapshotter) DestinationConfig(d *ent.Destination) (*plugsv1.DestinationConfig, error) {
	dc := &plugsv1.DestinationConfig{
		Id:              d.ID.String(),
		TenantId:        d.TenantID.String(),
		Url:             d.URL,
		SignatureStyle:  plugsv1.Destination_SIGNATURE_STYLE_STANDARD_WEBHOOKS,
		SignatureHeader: d.SignatureHeader,
		Status:          plugsv1.Destination_STATUS_ACTIVE,
		SourceIds:       d.SourceIds,
		Timeout:         durationpb.New(time.Duration(d.TimeoutMs) * time.Millisecond),
		MaxConcurrency:  int32(d.MaxConcurrency),
		Revision:        d.Revision,
	}
	if d.SignatureStyle == destination.SignatureStyleHub {
		dc.SignatureStyle = plugsv1.Destination_SIGNATURE_STYLE_HUB
	}
	if d.Status == destination.StatusPaused {
		dc.Status = plugsv1.Destination_STATUS_PAUSED
	}
	if len(d.RetryPolicy) > 0 {
		rp := &plugsv1.RetryPolicy{}
		if err := proto.Unmarshal(d.RetryPolicy, rp); err != nil {
			return dc, &BuildError{Cause: CauseSettingUnreadable, Err: fmt.Errorf("destination %s: retry policy: %w", d.ID, err)}
		}
		dc.RetryPolicy = rp
	}
	key, err := s.Keyring.Open(d.KeyID, d.SharedKeyCiphertext, secrets.DestinationBinding(d.TenantID.String(), d.ID.String()))
	if err != nil {
		return dc, keyError(fmt.Sprintf("destination %s: shared key", d.ID), d.KeyID, err)
	}
	dc.SharedKey = key
	return dc, nil
}
