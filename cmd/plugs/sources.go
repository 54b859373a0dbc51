package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// runSources is plugs sources: the tenant's webhook sources over the
// control plane's gRPC API.
func runSources(ctx context.Context, args []string, stdout io.Writer) error {
	return runVerbs(ctx, "sources", []verb{
		{"list", "list the sources, oldest first", sourcesList},
		{"get", "get ID: show one source, with its webhook URL", sourcesGet},
		{"create", "create a source from a provider template and its signing secret", sourcesCreate},
		{"delete", "delete ID: delete a source and its secrets", sourcesDelete},
	}, args, stdout)
}

func sourcesList(ctx context.Context, args []string, stdout io.Writer) error {
	c := newClientCmd("sources list", "[flags]", "Lists the tenant's sources, oldest first, following every page.")
	pageSize := c.pageSize()
	if err := c.parse(args, stdout); err != nil {
		return err
	}
	return callList(ctx, c, stdout, 0,
		func(ctx context.Context, conn *grpc.ClientConn, token string) ([]*plugsv1.Source, string, error) {
			resp, err := plugsv1.NewSourceServiceClient(conn).ListSources(ctx, &plugsv1.ListSourcesRequest{PageSize: int32(*pageSize), PageToken: token})
			return resp.GetSources(), resp.GetNextPageToken(), err
		},
		[]string{"ID", "NAME", "TEMPLATE", "METRIC", "STATUS", "EVENT TYPES", "REVISION"},
		func(s *plugsv1.Source) []string {
			return []string{s.GetId(), s.GetDisplayName(), s.GetTemplateId(), s.GetMetricId(), enumWord(s.GetStatus()),
				strings.Join(s.GetEventFilter().GetEventTypes(), ","), fmt.Sprint(s.GetRevision())}
		})
}

func sourcesGet(ctx context.Context, args []string, stdout io.Writer) error {
	c := newClientCmd("sources get", "ID [flags]", "Shows one source: its settings, the URL to give the provider and its secrets' fingerprints.")
	if err := c.parse(args, stdout, "ID"); err != nil {
		return err
	}
	return callOne(ctx, c, stdout, func(ctx context.Context, conn *grpc.ClientConn) (*plugsv1.Source, error) {
		return plugsv1.NewSourceServiceClient(conn).GetSource(ctx, &plugsv1.GetSourceRequest{Id: c.args[0]})
	}, sourceFields)
}

func sourcesCreate(ctx context.Context, args []string, stdout io.Writer) error {
	c := newClientCmd("sources create", "--name NAME --template ID --secret-file FILE [flags]", `
Creates a source from a provider template (plugs templates list names them)
with its signing secret, and prints it with the webhook URL to give the
provider. The secret comes from --secret, --secret-file or
PLUGS_SOURCE_SECRET; it is never shown again, only its fingerprint. A
template whose provider hands the secret over in a handshake (asana,
notion) takes none: the first handshake delivers it.`)
	name := c.fs.String("name", "", "name for people (required)")
	template := c.fs.String("template", "", "provider template id, for example stripe (required)")
	secret := c.secret("secret", "PLUGS_SOURCE_SECRET", "the provider's signing secret")
	metric := c.fs.String("metric", "", "billing metric the source's usage events count towards")
	eventTypes := c.fs.String("event-types", "", "event types to keep, comma-separated: exact names or prefix.* wildcards; empty keeps every event")
	if err := c.parse(args, stdout); err != nil {
		return err
	}
	if *name == "" || *template == "" {
		return usageErr("--name and --template are required (see -h)")
	}
	sec, err := secret.get()
	if err != nil {
		return err
	}
	src := &plugsv1.Source{DisplayName: *name, TemplateId: *template, MetricId: *metric, Secret: sec}
	if types := splitList(*eventTypes); len(types) > 0 {
		src.EventFilter = &plugsv1.EventFilter{EventTypes: types}
	}
	return callOne(ctx, c, stdout, func(ctx context.Context, conn *grpc.ClientConn) (*plugsv1.Source, error) {
		return plugsv1.NewSourceServiceClient(conn).CreateSource(ctx, &plugsv1.CreateSourceRequest{Source: src})
	}, sourceFields)
}

func sourcesDelete(ctx context.Context, args []string, stdout io.Writer) error {
	c := newClientCmd("sources delete", "ID [flags]", "Deletes a source and its secrets; its webhook URL answers 404 from then on.")
	if err := c.parse(args, stdout, "ID"); err != nil {
		return err
	}
	return callOne(ctx, c, stdout, func(ctx context.Context, conn *grpc.ClientConn) (*emptypb.Empty, error) {
		return plugsv1.NewSourceServiceClient(conn).DeleteSource(ctx, &plugsv1.DeleteSourceRequest{Id: c.args[0]})
	}, deleted("source", c.args[0]))
}

// deleted is the table of a delete's answer.
func deleted(kind, id string) func(*emptypb.Empty) []field {
	return func(*emptypb.Empty) []field { return []field{{"deleted", kind + " " + id}} }
}

// publicCell shows a public secret in a table cell: whole when it is one
// short line (a topic ARN, a webhook id), otherwise its start (a PEM key;
// the JSON output has it whole).
func publicCell(v string) string {
	v = strings.Join(strings.Fields(strings.ReplaceAll(v, "-----BEGIN PUBLIC KEY-----", "")), "")
	if len(v) > 48 {
		v = v[:45] + "..."
	}
	return "[" + v + "]"
}

// sourceFields are the lines of one source's table.
func sourceFields(s *plugsv1.Source) []field {
	secrets := make([]string, len(s.GetSecrets()))
	for i, sec := range s.GetSecrets() {
		secrets[i] = sec.GetFingerprint()
		if v := sec.GetPublicValue(); v != "" {
			// Not secret (a public key, a topic ARN): shown, one line.
			secrets[i] += " " + publicCell(v)
		}
		if sec.GetExpireTime() != nil {
			secrets[i] += " (expires " + timeCell(sec.GetExpireTime()) + ")"
		}
	}
	return []field{
		{"id", s.GetId()},
		{"name", s.GetDisplayName()},
		{"template", s.GetTemplateId()},
		{"metric", s.GetMetricId()},
		{"status", enumWord(s.GetStatus())},
		{"webhook url", s.GetWebhookUrl()},
		{"event types", strings.Join(s.GetEventFilter().GetEventTypes(), ",")},
		{"secrets", strings.Join(secrets, ", ")},
		{"revision", fmt.Sprint(s.GetRevision())},
		{"data planes", fmt.Sprintf("%d of %d connected run this revision", s.GetDataPlanesCurrent(), s.GetDataPlanesConnected())},
		{"created", timeCell(s.GetCreateTime())},
		{"updated", timeCell(s.GetUpdateTime())},
	}
}
