package deploy

import (
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	corev1 "k8s.io/api/core/v1"
)

// chartDir is the Helm chart, rendered here with Helm's own engine as
// `helm template` renders it, and linted as `helm lint` lints it.
const chartDir = "helm/plugs"

// chartCase is one way to install the chart.
type chartCase struct {
	name, release, namespace string
	values                   map[string]any
	// external are the Secrets the values name, which exist beside the
	// release rather than in it.
	external []string
}

func chartCases() []chartCase {
	return []chartCase{
		{
			// Everything in the release: credentials and certificate given
			// as values, the bundled NATS cluster.
			name: "bundled", release: "plugs", namespace: "plugs",
			values: map[string]any{
				"publicURL":      "https://hooks.example.com",
				"postgresql":     map[string]any{"url": "postgres://plugs:pw@db:5432/plugs"},
				"masterKey":      map[string]any{"value": "master-key"},
				"dataplaneToken": map[string]any{"value": "dp-token"},
				"snapshotKey":    map[string]any{"value": "snapshot-key"},
				"tls":            map[string]any{"cert": "PEM", "key": "PEM", "ca": "PEM"},
			},
		},
		{
			// Everything by reference: existing Secrets, a NATS cluster run
			// elsewhere, another release name and namespace, an image
			// pinned by digest.
			name: "by reference", release: "billing", namespace: "payments",
			values: map[string]any{
				"publicURL":      "https://in.billing.example.com",
				"image":          map[string]any{"digest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
				"postgresql":     map[string]any{"existingSecret": "billing-db", "existingSecretKey": "url"},
				"masterKey":      map[string]any{"existingSecret": "billing-keys"},
				"dataplaneToken": map[string]any{"existingSecret": "billing-keys"},
				"snapshotKey":    map[string]any{"existingSecret": "billing-keys"},
				"tls":            map[string]any{"existingSecret": "billing-cp-tls"},
				"nats":           map[string]any{"enabled": false, "url": "nats://nats-0.nats:4222,nats://nats-1.nats:4222"},
			},
			external: []string{"billing-db", "billing-keys", "billing-cp-tls"},
		},
	}
}

// render renders the chart as helm template does and decodes every object
// strictly.
func render(t *testing.T, c chartCase) *manifests {
	t.Helper()
	out, err := renderChart(c.release, c.namespace, c.values)
	if err != nil {
		t.Fatalf("%s: helm template: %v", c.name, err)
	}
	m := newManifests()
	m.namespace = c.namespace
	for _, name := range c.external {
		m.external[name] = true
	}
	names := slices.Sorted(maps.Keys(out))
	for _, name := range names {
		if strings.HasSuffix(name, "NOTES.txt") {
			continue
		}
		m.files = append(m.files, name)
		for i, doc := range docSeparator.Split(out[name], -1) {
			if len(strings.TrimSpace(string(stripComments([]byte(doc))))) == 0 {
				continue
			}
			if err := m.add(name, []byte(doc)); err != nil {
				t.Fatalf("%s: %s, document %d: %v", c.name, name, i+1, err)
			}
		}
	}
	return m
}

func renderChart(release, namespace string, values map[string]any) (map[string]string, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, err
	}
	vals, err := util.ToRenderValues(ch, values, common.ReleaseOptions{Name: release, Namespace: namespace, IsInstall: true}, nil)
	if err != nil {
		return nil, err
	}
	return engine.Render(ch, vals)
}

// TestChartLints runs helm lint's rules on the chart with each case's
// values: anything at warning or above fails.
func TestChartLints(t *testing.T) {
	for _, c := range chartCases() {
		res := lint.RunAll(chartDir, c.values, c.namespace)
		for _, msg := range res.Messages {
			if msg.Severity >= support.WarningSev {
				t.Errorf("%s: %s", c.name, msg.Error())
			}
		}
	}
}

// TestChartObjects checks the rendered chart as the manifests are checked:
// strict decoding, restricted pods, references that resolve, the binary's
// environment, planes that agree, a NATS cluster Plugs dials.
func TestChartObjects(t *testing.T) {
	for _, c := range chartCases() {
		t.Run(c.name, func(t *testing.T) {
			m := render(t, c)
			for _, o := range m.objects {
				if o.meta.Namespace != c.namespace {
					t.Errorf("%s: %s %s is in namespace %q, want the release's %q", o.file, o.kind, o.meta.Name, o.meta.Namespace, c.namespace)
				}
			}
			want := []string{"controlplane", "dataplane"}
			if got := slices.Sorted(maps.Keys(m.planes(t))); !slices.Equal(got, want) {
				t.Fatalf("planes %v, want %v", got, want)
			}
			checkPodsRestricted(t, m)
			checkReferences(t, m)
			checkEnvironment(t, m)
			checkPlanes(t, m)
			checkNATS(t, m)
		})
	}
}

// TestChartMatchesManifests keeps the chart and deploy/kubernetes in step:
// each plane's container has the same ports, probes, security contexts and
// settings in both (the chart adds PLUGS_MEMORY_LIMIT, a value of its own).
func TestChartMatchesManifests(t *testing.T) {
	k := load(t)
	chart := render(t, chartCases()[0])
	kp, cp := k.planes(t), chart.planes(t)
	for _, plane := range []string{"controlplane", "dataplane"} {
		a, b := kp[plane], cp[plane]
		ac, bc := a.Spec.Template.Spec.Containers[0], b.Spec.Template.Spec.Containers[0]
		if !reflect.DeepEqual(ac.Ports, bc.Ports) {
			t.Errorf("%s: ports %v in the manifests, %v in the chart", plane, ac.Ports, bc.Ports)
		}
		for _, p := range []struct {
			name string
			a, b *corev1.Probe
		}{{"startup", ac.StartupProbe, bc.StartupProbe}, {"readiness", ac.ReadinessProbe, bc.ReadinessProbe}, {"liveness", ac.LivenessProbe, bc.LivenessProbe}} {
			if !reflect.DeepEqual(p.a, p.b) {
				t.Errorf("%s: %s probe %v in the manifests, %v in the chart", plane, p.name, p.a, p.b)
			}
		}
		if !reflect.DeepEqual(ac.SecurityContext, bc.SecurityContext) || !reflect.DeepEqual(a.Spec.Template.Spec.SecurityContext, b.Spec.Template.Spec.SecurityContext) {
			t.Errorf("%s: the security contexts differ", plane)
		}
		if !reflect.DeepEqual(ac.Args, bc.Args) || !reflect.DeepEqual(ac.Lifecycle, bc.Lifecycle) || !reflect.DeepEqual(ac.Resources, bc.Resources) {
			t.Errorf("%s: args, lifecycle or resources differ", plane)
		}
		if a.Spec.Template.Spec.TerminationGracePeriodSeconds == nil || b.Spec.Template.Spec.TerminationGracePeriodSeconds == nil ||
			*a.Spec.Template.Spec.TerminationGracePeriodSeconds != *b.Spec.Template.Spec.TerminationGracePeriodSeconds {
			t.Errorf("%s: terminationGracePeriodSeconds differ", plane)
		}
		ae, be := envNames(ac, "GOMEMLIMIT"), envNames(bc, "GOMEMLIMIT", "PLUGS_MEMORY_LIMIT")
		if !slices.Equal(ae, be) {
			t.Errorf("%s: settings %v in the manifests, %v in the chart", plane, ae, be)
		}
	}
}

// TestChartRefusesIncompleteValues: a value the planes cannot run without
// fails the install, naming it, rather than rendering pods that crash.
func TestChartRefusesIncompleteValues(t *testing.T) {
	for _, c := range []struct {
		drop, want string
		set        map[string]any
	}{
		{drop: "publicURL", want: "publicURL"},
		{drop: "tls", want: "tls: set existingSecret"},
		{drop: "masterKey", want: "masterKey: set existingSecret"},
		{drop: "postgresql", want: "postgresql: set existingSecret"},
		{set: map[string]any{"nats": map[string]any{"enabled": false}}, want: "nats.url"},
		{set: map[string]any{"tls": map[string]any{"cert": "PEM", "key": "PEM"}}, want: "tls"},
	} {
		values := maps.Clone(chartCases()[0].values)
		delete(values, c.drop)
		maps.Copy(values, c.set)
		_, err := renderChart("plugs", "plugs", values)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("without %s%v: %v, want an error naming %q", c.drop, c.set, err, c.want)
		}
	}
}

// envNames are a container's variable names, sorted, without those left
// out.
func envNames(c corev1.Container, leaveOut ...string) []string {
	var out []string
	for _, e := range c.Env {
		if !slices.Contains(leaveOut, e.Name) {
			out = append(out, e.Name)
		}
	}
	sort.Strings(out)
	return out
}
