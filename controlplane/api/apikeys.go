package api

import (
	"context"
	"log/slog"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/controlplane/auth"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/apikey"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// APIKeys implements plugs.v1.ApiKeyService.
type APIKeys struct {
	plugsv1.UnimplementedApiKeyServiceServer
	Client *ent.Client
	Log    *slog.Logger
}

func apiKeyToProto(k *ent.APIKey) *plugsv1.ApiKey {
	out := &plugsv1.ApiKey{
		Id:          k.ID.String(),
		DisplayName: k.DisplayName,
		Prefix:      k.Prefix,
		CreateTime:  timestamppb.New(k.CreateTime),
	}
	if k.LastUsedTime != nil {
		out.LastUsedTime = timestamppb.New(*k.LastUsedTime)
	}
	return out
}

// CreateApiKey implements plugs.v1.ApiKeyService.
func (a *APIKeys) CreateApiKey(ctx context.Context, req *plugsv1.CreateApiKeyRequest) (*plugsv1.CreateApiKeyResponse, error) {
	if utf8.RuneCountInString(req.GetDisplayName()) > 200 {
		return nil, invalid("display_name", "must be at most 200 characters")
	}
	vw, _ := viewer.FromContext(ctx)
	k, token, err := auth.CreateAPIKey(ctx, a.Client, vw.TenantID, req.GetDisplayName())
	if err != nil {
		return nil, internal(ctx, a.log(), "create API key", err)
	}
	return &plugsv1.CreateApiKeyResponse{ApiKey: apiKeyToProto(k), Token: token}, nil
}

// ListApiKeys implements plugs.v1.ApiKeyService.
func (a *APIKeys) ListApiKeys(ctx context.Context, req *plugsv1.ListApiKeysRequest) (*plugsv1.ListApiKeysResponse, error) {
	size, after, err := idPage(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	q := a.Client.APIKey.Query().Order(ent.Asc(apikey.FieldID)).Limit(size + 1)
	if after != uuid.Nil {
		q = q.Where(apikey.IDGT(after))
	}
	rows, err := q.All(ctx)
	if err != nil {
		return nil, internal(ctx, a.log(), "list API keys", err)
	}
	resp := &plugsv1.ListApiKeysResponse{}
	rows, resp.NextPageToken = trimPage(rows, size, func(k *ent.APIKey) string { return k.ID.String() })
	for _, k := range rows {
		resp.ApiKeys = append(resp.ApiKeys, apiKeyToProto(k))
	}
	return resp, nil
}

// DeleteApiKey implements plugs.v1.ApiKeyService.
func (a *APIKeys) DeleteApiKey(ctx context.Context, req *plugsv1.DeleteApiKeyRequest) (*emptypb.Empty, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	n, err := a.Client.APIKey.Delete().Where(apikey.ID(id)).Exec(ctx)
	if err != nil {
		return nil, internal(ctx, a.log(), "delete API key", err)
	}
	if n == 0 {
		return nil, notFound("api key", id.String())
	}
	return &emptypb.Empty{}, nil
}

func (a *APIKeys) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}
