package deploy

import (
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// plugsImage is the image name the manifests use for the plugs binary;
// the kustomization points it at a registry.
const plugsImage = "plugs"

// TestKustomizationsListEveryManifest checks that `kubectl apply -k` deploys
// every manifest but the example Secrets, and that what it lists exists.
func TestKustomizationsListEveryManifest(t *testing.T) {
	m := load(t)
	root, ok := m.kustomizations["."]
	if !ok {
		t.Fatal("no kubernetes/kustomization.yaml")
	}
	listed := map[string]bool{}
	var walk func(dir string, k *kustomization)
	walk = func(dir string, k *kustomization) {
		for _, r := range k.Resources {
			p := filepath.Join(dir, r)
			if sub, ok := m.kustomizations[p]; ok {
				walk(p, sub)
				continue
			}
			if !slices.Contains(m.files, p) {
				t.Errorf("%s/kustomization.yaml lists %s, which is neither a manifest nor a directory with a kustomization", dir, r)
			}
			listed[p] = true
		}
	}
	walk(".", root)
	for _, f := range m.files {
		switch {
		case filepath.Base(f) == "kustomization.yaml":
		case f == "secrets.example.yaml":
			// Secret values never come from the repository.
			if listed[f] {
				t.Error("the kustomization deploys secrets.example.yaml, placeholder secrets included")
			}
		case !listed[f]:
			t.Errorf("%s is not listed by any kustomization", f)
		}
	}
	var images []string
	for _, img := range root.Images {
		images = append(images, img.Name)
	}
	for _, w := range m.workloads() {
		for _, c := range w.pod.Spec.Containers {
			if strings.HasPrefix(c.Image, plugsImage) && !slices.Contains(images, c.Image) {
				t.Errorf("%s %s: image %q is not set by the kustomization's images", w.kind, w.name, c.Image)
			}
		}
	}
}

// TestPodsAreRestricted checks every pod against the restricted Pod
// Security Standard the namespace enforces, and that each container has
// probes and bounded resources.
func TestPodsAreRestricted(t *testing.T) { checkPodsRestricted(t, load(t)) }

func checkPodsRestricted(t *testing.T, m *manifests) {
	t.Helper()
	for _, w := range m.workloads() {
		what := w.kind + " " + w.name
		if len(w.selector.MatchLabels) == 0 || len(w.selector.MatchExpressions) > 0 {
			t.Errorf("%s: the selector should be matchLabels only", what)
		}
		if !labelsMatch(w.selector.MatchLabels, w.pod.Labels) {
			t.Errorf("%s: the selector %v does not match its pods' labels %v", what, w.selector.MatchLabels, w.pod.Labels)
		}
		spec := &w.pod.Spec
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken should be false", what)
		}
		if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
			t.Errorf("%s: enableServiceLinks should be false (service links inject *_PORT variables)", what)
		}
		psc := spec.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
			t.Errorf("%s: the pod should set runAsNonRoot", what)
		}
		if psc == nil || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
			t.Errorf("%s: the pod should set a non-zero runAsUser", what)
		}
		if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: the pod should use the RuntimeDefault seccomp profile", what)
		}
		volumes := map[string]bool{}
		for _, v := range spec.Volumes {
			volumes[v.Name] = true
			if v.HostPath != nil {
				t.Errorf("%s: volume %s is a hostPath", what, v.Name)
			}
		}
		if s, ok := m.statefulSets[w.name]; ok && w.kind == "StatefulSet" {
			for _, c := range s.Spec.VolumeClaimTemplates {
				volumes[c.Name] = true
			}
		}
		for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
			what := what + " container " + c.Name
			checkContainerSecurity(t, what, c.SecurityContext)
			checkResources(t, what, c.Resources)
			if c.ReadinessProbe == nil || c.LivenessProbe == nil {
				t.Errorf("%s: needs a readiness and a liveness probe", what)
			}
			for _, p := range []*corev1.Probe{c.StartupProbe, c.ReadinessProbe, c.LivenessProbe} {
				if p == nil || p.HTTPGet == nil {
					continue
				}
				if _, ok := containerPort(c, p.HTTPGet.Port); !ok {
					t.Errorf("%s: a probe uses port %s, which the container does not declare", what, p.HTTPGet.Port.String())
				}
			}
			for _, vm := range c.VolumeMounts {
				if !volumes[vm.Name] {
					t.Errorf("%s: mounts volume %s, which the pod does not have", what, vm.Name)
				}
			}
		}
	}
}

func checkContainerSecurity(t *testing.T, what string, sc *corev1.SecurityContext) {
	t.Helper()
	if sc == nil {
		t.Errorf("%s: no securityContext", what)
		return
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation should be false", what)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("%s: readOnlyRootFilesystem should be true", what)
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("%s: runAsNonRoot should be true", what)
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("%s: privileged", what)
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		t.Errorf("%s: capabilities should drop ALL and add none", what)
	}
}

func checkResources(t *testing.T, what string, r corev1.ResourceRequirements) {
	t.Helper()
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := r.Requests[name]
		lim, hasLim := r.Limits[name]
		if !hasReq || !hasLim || req.IsZero() || lim.IsZero() {
			t.Errorf("%s: needs a %s request and limit", what, name)
			continue
		}
		if req.Cmp(lim) > 0 {
			t.Errorf("%s: %s request %s above its limit %s", what, name, req.String(), lim.String())
		}
	}
}

// TestReferencesResolve checks that what an object names exists: the
// Secrets, keys and ConfigMaps pods read, the pods a Service, a
// PodDisruptionBudget or a NetworkPolicy selects and the ports they use,
// the workload an autoscaler scales.
func TestReferencesResolve(t *testing.T) { checkReferences(t, load(t)) }

func checkReferences(t *testing.T, m *manifests) {
	t.Helper()
	for _, w := range m.workloads() {
		what := w.kind + " " + w.name
		for _, c := range w.pod.Spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil && !m.secretHasKey(r.Name, r.Key) {
					t.Errorf("%s: env %s reads key %s of Secret %s, which secrets.example.yaml does not define", what, e.Name, r.Key, r.Name)
				}
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil && !m.configMapHasKey(r.Name, r.Key) {
					t.Errorf("%s: env %s reads key %s of ConfigMap %s, which does not exist", what, e.Name, r.Key, r.Name)
				}
			}
		}
		for _, v := range w.pod.Spec.Volumes {
			if s := v.Secret; s != nil {
				if _, ok := m.secrets[s.SecretName]; !ok && !m.external[s.SecretName] {
					t.Errorf("%s: volume %s mounts Secret %s, which secrets.example.yaml does not define", what, v.Name, s.SecretName)
				}
				for _, it := range s.Items {
					if !m.secretHasKey(s.SecretName, it.Key) {
						t.Errorf("%s: volume %s mounts key %s of Secret %s, which it does not have", what, v.Name, it.Key, s.SecretName)
					}
				}
			}
			if cm := v.ConfigMap; cm != nil {
				if _, ok := m.configMaps[cm.Name]; !ok {
					t.Errorf("%s: volume %s mounts ConfigMap %s, which does not exist", what, v.Name, cm.Name)
				}
				for _, it := range cm.Items {
					if !m.configMapHasKey(cm.Name, it.Key) {
						t.Errorf("%s: volume %s mounts key %s of ConfigMap %s, which it does not have", what, v.Name, it.Key, cm.Name)
					}
				}
			}
		}
	}

	for _, name := range sortedKeys(m.services) {
		s := m.services[name]
		pods := m.selected(s.Spec.Selector)
		if len(s.Spec.Selector) == 0 || len(pods) == 0 {
			t.Errorf("Service %s selects no pods (selector %v)", name, s.Spec.Selector)
			continue
		}
		for _, p := range s.Spec.Ports {
			target := p.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(p.Port)
			}
			for _, w := range pods {
				if _, ok := podPort(w.pod, target); !ok {
					t.Errorf("Service %s port %s targets %s, which %s %s does not declare", name, p.Name, target.String(), w.kind, w.name)
				}
			}
		}
	}

	for _, name := range sortedKeys(m.pdbs) {
		p := m.pdbs[name]
		if pods := m.selected(p.Spec.Selector.MatchLabels); len(pods) != 1 {
			t.Errorf("PodDisruptionBudget %s selects %d workloads, want 1", name, len(pods))
		}
	}

	for _, name := range sortedKeys(m.hpas) {
		h := m.hpas[name]
		ref := h.Spec.ScaleTargetRef
		d, ok := m.deployments[ref.Name]
		if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || !ok {
			t.Errorf("HorizontalPodAutoscaler %s scales %s %s %s, which is not a Deployment here", name, ref.APIVersion, ref.Kind, ref.Name)
			continue
		}
		if d.Spec.Replicas != nil {
			t.Errorf("Deployment %s sets replicas, which every apply would reset under HorizontalPodAutoscaler %s", d.Name, name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
			t.Errorf("HorizontalPodAutoscaler %s: minReplicas should be at least 2 and at most maxReplicas", name)
		}
		for _, metric := range h.Spec.Metrics {
			if metric.Resource == nil {
				continue
			}
			for _, c := range d.Spec.Template.Spec.Containers {
				if _, ok := c.Resources.Requests[metric.Resource.Name]; !ok {
					t.Errorf("HorizontalPodAutoscaler %s scales on %s utilization, but container %s requests none", name, metric.Resource.Name, c.Name)
				}
			}
		}
	}

	for _, name := range sortedKeys(m.networkPolicies) {
		np := m.networkPolicies[name]
		targets := m.selected(np.Spec.PodSelector.MatchLabels)
		if len(targets) == 0 {
			t.Errorf("NetworkPolicy %s applies to no pods", name)
		}
		for _, rule := range np.Spec.Ingress {
			for _, peer := range rule.From {
				if ps := peer.PodSelector; ps != nil && len(ps.MatchLabels) > 0 && len(m.selected(ps.MatchLabels)) == 0 {
					t.Errorf("NetworkPolicy %s admits pods labelled %v, and there are none", name, ps.MatchLabels)
				}
			}
			for _, p := range rule.Ports {
				for _, w := range targets {
					if p.Port != nil {
						if _, ok := podPort(w.pod, *p.Port); !ok {
							t.Errorf("NetworkPolicy %s opens port %s, which %s %s does not declare", name, p.Port.String(), w.kind, w.name)
						}
					}
				}
			}
		}
	}
}

// TestEnvironmentIsTheBinarys checks the plugs containers against the
// binary: subcommands it has, PLUGS_* variables it reads, credentials from
// Secrets rather than written into the manifest.
func TestEnvironmentIsTheBinarys(t *testing.T) { checkEnvironment(t, load(t)) }

func checkEnvironment(t *testing.T, m *manifests) {
	t.Helper()
	known := sourceEnvNames(t)
	commands := readSources(t, "../cmd/plugs")
	credentials := []string{"PLUGS_MASTER_KEY", "PLUGS_DATABASE_URL", "PLUGS_DATAPLANE_TOKEN", "PLUGS_SNAPSHOT_KEY", "PLUGS_NATS_CREDS"}
	for _, w := range m.workloads() {
		for _, c := range w.pod.Spec.Containers {
			if !isPlugs(c) {
				continue
			}
			what := w.kind + " " + w.name
			if len(c.Command) > 0 {
				t.Errorf("%s: command overrides the image's entrypoint; give the subcommand in args", what)
			}
			if len(c.Args) == 0 || !strings.Contains(commands, strconv.Quote(c.Args[0])) {
				t.Errorf("%s: args %v do not start with a plugs subcommand", what, c.Args)
			}
			for _, e := range c.Env {
				if strings.HasPrefix(e.Name, "PLUGS_") && !known[e.Name] {
					t.Errorf("%s: %s is not read by cmd/plugs (a flag's environment variable)", what, e.Name)
				}
				if slices.Contains(credentials, e.Name) && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
					t.Errorf("%s: %s is a credential and should come from a Secret", what, e.Name)
				}
			}
		}
	}
}

// TestPlanesAgree checks the two planes against each other and against
// the routes their servers register: the ports they listen on, the probes
// and the addresses each dials.
func TestPlanesAgree(t *testing.T) { checkPlanes(t, load(t)) }

func checkPlanes(t *testing.T, m *manifests) {
	t.Helper()
	planes := m.planes(t)
	cp, dp := planes["controlplane"], planes["dataplane"]
	if cp == nil || dp == nil {
		t.Fatal("want a control-plane and a data-plane Deployment")
	}
	cpc, dpc := &cp.Spec.Template.Spec.Containers[0], &dp.Spec.Template.Spec.Containers[0]

	// Each listens where its container says.
	grpcPort := listenPort(t, cpc, "PLUGS_GRPC_ADDR", "grpc")
	httpPort := listenPort(t, cpc, "PLUGS_HTTP_ADDR", "http")
	ingestPort := listenPort(t, dpc, "PLUGS_INGEST_ADDR", "http")
	if env(dpc, "PLUGS_METRICS_ADDR") != "" {
		listenPort(t, dpc, "PLUGS_METRICS_ADDR", "metrics")
	}
	// The control plane serves /metrics on a listener of its own, never on
	// the REST port.
	if cpMetrics := listenPort(t, cpc, "PLUGS_METRICS_ADDR", "metrics"); cpMetrics == httpPort || cpMetrics == grpcPort {
		t.Errorf("the control plane's metrics share port %d with its API", cpMetrics)
	}

	// Probes ask the routes the servers have.
	cpRoutes := readSources(t, "../controlplane/server")
	dpRoutes := readSources(t, "../dataplane/server")
	for _, p := range []struct {
		c          *corev1.Container
		probe      *corev1.Probe
		path, kind string
		port       int32
		routes     string
	}{
		{cpc, cpc.LivenessProbe, "/healthz", "liveness", httpPort, cpRoutes},
		{cpc, cpc.ReadinessProbe, "/healthz", "readiness", httpPort, cpRoutes},
		{dpc, dpc.LivenessProbe, "/healthz", "liveness", ingestPort, dpRoutes},
		{dpc, dpc.ReadinessProbe, "/readyz", "readiness", ingestPort, dpRoutes},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("container %s: no HTTP %s probe", p.c.Name, p.kind)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("container %s: %s probe on %s, want %s", p.c.Name, p.kind, p.probe.HTTPGet.Path, p.path)
		}
		if !strings.Contains(p.routes, `"GET `+p.probe.HTTPGet.Path+`"`) {
			t.Errorf("container %s: %s probe on %s, a route its server does not register", p.c.Name, p.kind, p.probe.HTTPGet.Path)
		}
		if port, _ := containerPort(*p.c, p.probe.HTTPGet.Port); port != p.port {
			t.Errorf("container %s: %s probe on port %d, but the server listens on %d", p.c.Name, p.kind, port, p.port)
		}
	}
	// The control plane serves TLS on both listeners: data planes reach it
	// across the network, and the configuration stream carries secrets.
	if env(cpc, "PLUGS_TLS_CERT") == "" || env(cpc, "PLUGS_TLS_KEY") == "" {
		t.Error("the control plane should serve TLS (PLUGS_TLS_CERT, PLUGS_TLS_KEY)")
	}
	if cpc.ReadinessProbe != nil && cpc.ReadinessProbe.HTTPGet != nil && cpc.ReadinessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS {
		t.Error("the control plane's REST listener serves TLS; its probes should use HTTPS")
	}
	if env(dpc, "PLUGS_TLS_CA") == "" {
		t.Error("the data plane should verify the control plane's certificate (PLUGS_TLS_CA)")
	}

	// Each dials the other through its Service.
	m.checkDial(t, "data plane PLUGS_CONTROLPLANE", env(dpc, "PLUGS_CONTROLPLANE"), cp, grpcPort)
	if u := env(cpc, "PLUGS_INGEST_URL"); u != "" {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatalf("PLUGS_INGEST_URL %q: %v", u, err)
		}
		m.checkDial(t, "control plane PLUGS_INGEST_URL", parsed.Host, dp, ingestPort)
	}
	if env(cpc, "PLUGS_PUBLIC_URL") != env(dpc, "PLUGS_PUBLIC_URL") {
		t.Error("the planes should agree on PLUGS_PUBLIC_URL: the control plane hands it to providers, the data plane verifies URL-signing schemes against it")
	}
}

// checkDial checks that addr ("host:port") reaches target's pods through a
// Service named host.
func (m *manifests) checkDial(t *testing.T, what, addr string, target interface{ GetName() string }, wantPort int32) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Errorf("%s %q: %v", what, addr, err)
		return
	}
	svc, ok := m.services[host]
	if !ok {
		t.Errorf("%s %q: no Service %s", what, addr, host)
		return
	}
	pods := m.selected(svc.Spec.Selector)
	if len(pods) != 1 || pods[0].name != target.GetName() {
		t.Errorf("%s %q: Service %s does not select %s", what, addr, host, target.GetName())
		return
	}
	for _, p := range svc.Spec.Ports {
		if strconv.Itoa(int(p.Port)) != port {
			continue
		}
		if got, _ := podPort(pods[0].pod, p.TargetPort); got != wantPort {
			t.Errorf("%s %q: Service port %s reaches container port %d, want %d", what, addr, port, got, wantPort)
		}
		return
	}
	t.Errorf("%s %q: Service %s has no port %s", what, addr, host, port)
}

// TestNATSCluster checks the example cluster against itself and against
// the URLs Plugs dials: the server names, the routes and the image version
// Plugs is tested against.
func TestNATSCluster(t *testing.T) {
	m := load(t)
	if _, ok := m.statefulSets["nats"]; !ok {
		t.Fatal("no StatefulSet nats")
	}
	checkNATS(t, m)
}

// checkNATS checks the NATS StatefulSet among m's objects, if there is one.
func checkNATS(t *testing.T, m *manifests) {
	t.Helper()
	if len(m.statefulSets) == 0 {
		return
	}
	if len(m.statefulSets) != 1 {
		t.Fatalf("%d StatefulSets, want the NATS cluster alone", len(m.statefulSets))
	}
	var sts *appsv1.StatefulSet
	for _, s := range m.statefulSets {
		sts = s
	}
	replicas := int(*sts.Spec.Replicas)
	if replicas != 3 {
		t.Errorf("NATS runs %d servers, want 3 (streams have three replicas)", replicas)
	}
	headless, ok := m.services[sts.Spec.ServiceName]
	if !ok || headless.Spec.ClusterIP != corev1.ClusterIPNone || !headless.Spec.PublishNotReadyAddresses {
		t.Fatalf("the StatefulSet's serviceName %q should be a headless Service publishing not-ready addresses", sts.Spec.ServiceName)
	}
	nats := sts.Spec.Template.Spec.Containers[0]
	clientPort, _ := containerPort(nats, intstr.FromString("client"))
	clusterPort, _ := containerPort(nats, intstr.FromString("cluster"))
	servers := map[string]bool{}
	for i := range replicas {
		servers[sts.Name+"-"+strconv.Itoa(i)+"."+headless.Name] = true
	}

	// Plugs dials every server, on the client port.
	for _, name := range sortedKeys(m.deployments) {
		d := m.deployments[name]
		c := d.Spec.Template.Spec.Containers[0]
		urls := env(&c, "PLUGS_NATS_URL")
		if !isPlugs(c) || urls == "" {
			continue
		}
		var hosts []string
		for _, u := range strings.Split(urls, ",") {
			parsed, err := url.Parse(strings.TrimSpace(u))
			if err != nil || parsed.Scheme != "nats" {
				t.Errorf("Deployment %s: PLUGS_NATS_URL entry %q is not a nats:// URL", name, u)
				continue
			}
			if !servers[parsed.Hostname()] || parsed.Port() != strconv.Itoa(int(clientPort)) {
				t.Errorf("Deployment %s: PLUGS_NATS_URL entry %q is not a NATS server's client port", name, u)
			}
			hosts = append(hosts, parsed.Hostname())
		}
		if len(hosts) != replicas {
			t.Errorf("Deployment %s: PLUGS_NATS_URL names %d servers, want all %d", name, len(hosts), replicas)
		}
		if d.Spec.Template.Labels[componentLabel] == "dataplane" && env(&c, "PLUGS_NATS_REPLICAS") != strconv.Itoa(replicas) {
			t.Errorf("Deployment %s: PLUGS_NATS_REPLICAS %q, want %d", name, env(&c, "PLUGS_NATS_REPLICAS"), replicas)
		}
	}

	// Each server routes to every server, on the cluster port.
	var conf string
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			for _, data := range m.configMaps[v.ConfigMap.Name].Data {
				conf += data
			}
		}
	}
	routes := map[string]bool{}
	for _, r := range regexp.MustCompile(`nats://([^\s:]+):(\d+)`).FindAllStringSubmatch(conf, -1) {
		if r[2] != strconv.Itoa(int(clusterPort)) {
			t.Errorf("route %s is not on the cluster port %d", r[0], clusterPort)
		}
		routes[r[1]] = true
	}
	if !maps.Equal(routes, servers) {
		t.Errorf("the configuration routes to %v, want every server %v", sortedKeys(routes), sortedKeys(servers))
	}
	if !strings.Contains(conf, "$SERVER_NAME") || !hasFieldRef(&nats, "SERVER_NAME", "metadata.name") {
		t.Error("each server should be named after its pod (server_name: $SERVER_NAME from metadata.name)")
	}

	// The image is the server version go.mod pins, which the tests run.
	goMod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	v := regexp.MustCompile(`github.com/nats-io/nats-server/v2 v(\S+)`).FindSubmatch(goMod)
	if v == nil {
		t.Fatal("go.mod requires no github.com/nats-io/nats-server/v2")
	}
	_, tag, _ := strings.Cut(nats.Image, ":")
	if tag != string(v[1]) {
		t.Errorf("NATS image %s, want tag %s as in go.mod", nats.Image, v[1])
	}
}

// componentLabel says which plane a plugs pod is.
const componentLabel = "app.kubernetes.io/component"

// isPlugs reports whether c runs the plugs image: "plugs" as the
// manifests name it, or a registry's plugs repository by tag or digest.
func isPlugs(c corev1.Container) bool {
	repo, _, _ := strings.Cut(c.Image, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return path.Base(repo) == plugsImage
}

// planes returns the Deployments running plugs, by component.
func (m *manifests) planes(t *testing.T) map[string]*appsv1.Deployment {
	t.Helper()
	out := map[string]*appsv1.Deployment{}
	for _, name := range sortedKeys(m.deployments) {
		d := m.deployments[name]
		if len(d.Spec.Template.Spec.Containers) == 0 || !isPlugs(d.Spec.Template.Spec.Containers[0]) {
			continue
		}
		plane := d.Spec.Template.Labels[componentLabel]
		if _, dup := out[plane]; dup {
			t.Fatalf("two Deployments of component %q", plane)
		}
		out[plane] = d
	}
	return out
}

func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}

// selected returns the workloads whose pods a selector picks.
func (m *manifests) selected(selector map[string]string) []workload {
	var out []workload
	for _, w := range m.workloads() {
		if labelsMatch(selector, w.pod.Labels) {
			out = append(out, w)
		}
	}
	return out
}

func (m *manifests) secretHasKey(name, key string) bool {
	if m.external[name] {
		return true
	}
	s, ok := m.secrets[name]
	if !ok {
		return false
	}
	_, inData := s.Data[key]
	_, inString := s.StringData[key]
	return inData || inString
}

func (m *manifests) configMapHasKey(name, key string) bool {
	cm, ok := m.configMaps[name]
	if !ok {
		return false
	}
	_, ok = cm.Data[key]
	return ok
}

// containerPort resolves a port, by name or number, on a container.
func containerPort(c corev1.Container, p intstr.IntOrString) (int32, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

func podPort(pod *corev1.PodTemplateSpec, p intstr.IntOrString) (int32, bool) {
	for _, c := range pod.Spec.Containers {
		if n, ok := containerPort(c, p); ok {
			return n, true
		}
	}
	return 0, false
}

// listenPort returns the port a container's listen-address variable names,
// checking that it declares that port under portName.
func listenPort(t *testing.T, c *corev1.Container, variable, portName string) int32 {
	t.Helper()
	_, port, err := net.SplitHostPort(env(c, variable))
	if err != nil {
		t.Fatalf("container %s: %s %q: %v", c.Name, variable, env(c, variable), err)
	}
	declared, ok := containerPort(*c, intstr.FromString(portName))
	if !ok || strconv.Itoa(int(declared)) != port {
		t.Errorf("container %s listens on %s (%s), but declares port %s as %d", c.Name, port, variable, portName, declared)
	}
	return declared
}

// env is a container's literal value of an environment variable.
func env(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func hasFieldRef(c *corev1.Container, name, path string) bool {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == path {
			return true
		}
	}
	return false
}

// readSources returns the non-test Go source of a directory, concatenated.
func readSources(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s", dir)
	}
	var b strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(src)
	}
	return b.String()
}

// sourceEnvNames are the PLUGS_* variables the binary reads: the quoted
// names in cmd/plugs and in the packages that read a variable themselves.
func sourceEnvNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	quoted := regexp.MustCompile(`"(PLUGS_[A-Z0-9_]+)"`)
	for _, dir := range []string{"../cmd/plugs", "../controlplane/secrets"} {
		for _, n := range quoted.FindAllStringSubmatch(readSources(t, dir), -1) {
			names[n[1]] = true
		}
	}
	if len(names) < 10 {
		t.Fatalf("found only %d PLUGS_* names in the source: has the flag code moved?", len(names))
	}
	return names
}
