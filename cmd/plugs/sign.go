package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/plugshq/plugs/templates"
	"github.com/plugshq/plugs/templates/sample"
)

// runSign prints a ready curl command that sends a body signed the way the
// template's provider signs it: to try a source without the provider. The
// template's sample gets a fresh event id each time, so it is never a
// duplicate of the last one.
func runSign(_ context.Context, args []string, stdout io.Writer) error {
	cl := newCommandLine("sign", "--template ID --secret SECRET --url URL [--body FILE] [flags]", `
Prints a curl command that sends a body signed the way the template's
provider signs it: the template's sample payload with a fresh event id, or
--body. To try a source without the provider.`)
	tplID := cl.own.String("template", "", "template id, for example stripe (see GET /v1/templates)")
	url := cl.own.String("url", "", "the source's webhook URL, http://127.0.0.1:8080/v1/ingest/webhook/SOURCE_ID with plugs dev")
	bodyFile := cl.own.String("body", "", "file holding the body to send; default the template's sample payload")
	var headers headerFlags
	cl.own.Var(&headers, "header", "extra header Name:value, for headers the mappings read (repeatable)")
	secret := new(string)
	secretVar(cl.settings, secret, "secret", "PLUGS_SIGN_SECRET", "the source's signing `secret` (PLUGS_SIGN_SECRET)")
	if err := cl.parse(args, stdout); err != nil {
		return err
	}
	if *tplID == "" || *secret == "" || *url == "" {
		return usageErr("--template, --secret and --url are required")
	}
	tpl, err := templates.MustBuiltin().Get(*tplID)
	if err != nil {
		return usageErr("%v", err)
	}
	var body []byte
	if *bodyFile != "" {
		if body, err = os.ReadFile(*bodyFile); err != nil {
			return err
		}
	}
	signed, err := sample.Sign(sample.Spec{Template: tpl, Secret: *secret, URL: *url, Body: body, Header: headers.header()}, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "curl -sS -X POST %s", shellQuote(signed.URL))
	names := make([]string, 0, len(signed.Header))
	for name := range signed.Header {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, v := range signed.Header[name] {
			fmt.Fprintf(stdout, " \\\n  -H %s", shellQuote(name+": "+v))
		}
	}
	fmt.Fprintf(stdout, " \\\n  --data-binary %s\n", shellQuote(string(signed.Body)))
	return nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// headerFlags collects repeated --header Name:value flags.
type headerFlags []string

func (h *headerFlags) String() string { return strings.Join(*h, ", ") }

func (h *headerFlags) Set(v string) error {
	if name, _, ok := strings.Cut(v, ":"); !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("want Name:value, got %q", v)
	}
	*h = append(*h, v)
	return nil
}

func (h *headerFlags) header() http.Header {
	out := http.Header{}
	for _, v := range *h {
		name, value, _ := strings.Cut(v, ":")
		out.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return out
}
