package configclient

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/plugshq/plugs/dataplane/pipeline"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// CaptureSecret implements pipeline.SecretCapturer: it reports a secret a
// handshake delivered to the control plane, over the same connection and
// with the same credentials as the configuration stream. The control plane
// stores it and sends it to every data plane with the next revision.
func (c *Client) CaptureSecret(ctx context.Context, sourceID, secret string) error {
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.Token)
	_, err := plugsv1.NewConfigDiscoveryServiceClient(c.Conn).CaptureHandshakeSecret(ctx,
		&plugsv1.CaptureHandshakeSecretRequest{SourceId: sourceID, Secret: secret, Node: c.Node})
	switch status.Code(err) {
	case codes.OK:
		return nil
	case codes.FailedPrecondition, codes.NotFound, codes.InvalidArgument:
		return fmt.Errorf("%w: %s", pipeline.ErrSecretRefused, status.Convert(err).Message())
	}
	return fmt.Errorf("configclient: capture handshake secret: %w", err)
}
