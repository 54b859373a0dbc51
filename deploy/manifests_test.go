package deploy

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// manifestDir holds the Kubernetes manifests.
const manifestDir = "kubernetes"

// kinds are the Kubernetes types the manifests may use, by apiVersion and
// kind. A manifest of any other kind fails the test: add its type here.
var kinds = map[string]func() any{
	"v1/Namespace":                                  func() any { return &corev1.Namespace{} },
	"v1/Service":                                    func() any { return &corev1.Service{} },
	"v1/ConfigMap":                                  func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                                     func() any { return &corev1.Secret{} },
	"apps/v1/Deployment":                            func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                           func() any { return &appsv1.StatefulSet{} },
	"autoscaling/v2/HorizontalPodAutoscaler":        func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1/PodDisruptionBudget":                 func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy":            func() any { return &networkingv1.NetworkPolicy{} },
	"kustomize.config.k8s.io/v1beta1/Kustomization": func() any { return &kustomization{} },
}

// kustomization is the part of kustomize's Kustomization these manifests
// use; decoding it strictly makes a new field a deliberate change here.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

// manifests is every object under manifestDir, decoded strictly, by kind
// and name.
type manifests struct {
	// files lists the manifest files, relative to manifestDir.
	files           []string
	kustomizations  map[string]*kustomization // by directory, relative to manifestDir
	namespaces      map[string]*corev1.Namespace
	services        map[string]*corev1.Service
	configMaps      map[string]*corev1.ConfigMap
	secrets         map[string]*corev1.Secret
	deployments     map[string]*appsv1.Deployment
	statefulSets    map[string]*appsv1.StatefulSet
	hpas            map[string]*autoscalingv2.HorizontalPodAutoscaler
	pdbs            map[string]*policyv1.PodDisruptionBudget
	networkPolicies map[string]*networkingv1.NetworkPolicy
	// objects are every object's metadata, with the file it came from.
	objects []placed
	// namespace is where the objects belong.
	namespace string
	// external are Secrets that exist beside the objects rather than
	// among them (a chart's values name them).
	external map[string]bool
}

type placed struct {
	file, kind string
	meta       *metav1.ObjectMeta
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// load reads and strictly decodes every manifest: an unknown or misspelled
// field, a wrong type or a duplicate key fails, as `kubectl apply
// --validate=strict` would.
func load(t *testing.T) *manifests {
	t.Helper()
	m := newManifests()
	m.namespace = "plugs"
	err := filepath.WalkDir(manifestDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(manifestDir, path)
		m.files = append(m.files, rel)
		for i, doc := range docSeparator.Split(string(b), -1) {
			if len(bytes.TrimSpace(stripComments([]byte(doc)))) == 0 {
				continue
			}
			if err := m.add(rel, []byte(doc)); err != nil {
				return fmt.Errorf("%s, document %d: %w", rel, i+1, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.files) == 0 {
		t.Fatalf("no manifests under %s", manifestDir)
	}
	return m
}

func newManifests() *manifests {
	return &manifests{
		kustomizations:  map[string]*kustomization{},
		namespaces:      map[string]*corev1.Namespace{},
		services:        map[string]*corev1.Service{},
		configMaps:      map[string]*corev1.ConfigMap{},
		secrets:         map[string]*corev1.Secret{},
		deployments:     map[string]*appsv1.Deployment{},
		statefulSets:    map[string]*appsv1.StatefulSet{},
		hpas:            map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		pdbs:            map[string]*policyv1.PodDisruptionBudget{},
		networkPolicies: map[string]*networkingv1.NetworkPolicy{},
		external:        map[string]bool{},
	}
}

// add decodes one document into its Kubernetes type.
func (m *manifests) add(file string, doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return fmt.Errorf("apiVersion %q kind %q is not a type this test knows", tm.APIVersion, tm.Kind)
	}
	obj := newObj()
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return err
	}
	if k, ok := obj.(*kustomization); ok {
		m.kustomizations[filepath.Dir(file)] = k
		return nil
	}
	meta := obj.(metav1.Object)
	name := meta.GetName()
	if name == "" {
		return fmt.Errorf("%s without a name", tm.Kind)
	}
	var seen bool
	switch o := obj.(type) {
	case *corev1.Namespace:
		_, seen = m.namespaces[name]
		m.namespaces[name] = o
		m.objects = append(m.objects, placed{file, tm.Kind, &o.ObjectMeta})
	case *corev1.Service:
		_, seen = m.services[name]
		m.services[name] = o
		m.objects = append(m.objects, placed{file, tm.Kind, &o.ObjectMeta})
	case *corev1.ConfigMap:
		_, seen = m.configMaps[name]
		m.configMaps[name] = o
		m.objects = append(m.objects, placed{file, tm.Kind, &o.ObjectMeta})
	case *corev1.Secret:
		_, seen = m.secrets[name]
		m.secrets[name] = o
		m.objects = append(m.objects, placed{file, tm.Kind, &o.ObjectMeta})
	case *appsv1.Deployment:
		_, seen = m.deployments[name]
		m.deployments[name] = o
		m.objects = append(m.objects, placed{file, tm.Kind, &o.ObjectMeta})
	case *appsv1.StatefulSet:
		_, seen = m.statefulSets[name]
		m.statefulSets[name] = o
		m.objects = append(m.objects, placed{file, tm.Kind, &o.ObjectMeta})
	case *autoscalingv2.HorizontalPodAutoscaler:
		_, seen = m.hpas[name]
		m.hpas[name] = o
		m.objects = append(m.objects, placed{file, tm.Kind, &o.ObjectMeta})
	case *policyv1.PodDisruptionBudget:
		_, seen = m.pdbs[name]
		m.pdbs[name] = o
		m.objects = append(m.objects, placed{file, tm.Kind, &o.ObjectMeta})
	case *networkingv1.NetworkPolicy:
		_, seen = m.networkPolicies[name]
		m.networkPolicies[name] = o
		m.objects = append(m.objects, placed{file, tm.Kind, &o.ObjectMeta})
	}
	if seen {
		return fmt.Errorf("a second %s named %s", tm.Kind, name)
	}
	return nil
}

// stripComments drops YAML comment lines, to tell an empty document from
// one holding only comments.
func stripComments(b []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// workload is a Deployment's or StatefulSet's pods.
type workload struct {
	kind, name string
	selector   *metav1.LabelSelector
	pod        *corev1.PodTemplateSpec
}

func (m *manifests) workloads() []workload {
	var out []workload
	for _, name := range sortedKeys(m.deployments) {
		d := m.deployments[name]
		out = append(out, workload{"Deployment", name, d.Spec.Selector, &d.Spec.Template})
	}
	for _, name := range sortedKeys(m.statefulSets) {
		s := m.statefulSets[name]
		out = append(out, workload{"StatefulSet", name, s.Spec.Selector, &s.Spec.Template})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestManifestsDecodeStrictly checks every manifest against the Kubernetes
// API types, and that each object lives in the plugs namespace.
func TestManifestsDecodeStrictly(t *testing.T) {
	m := load(t)
	for _, o := range m.objects {
		if o.kind == "Namespace" {
			continue
		}
		if o.meta.Namespace != "plugs" {
			t.Errorf("%s: %s %s is in namespace %q, want plugs", o.file, o.kind, o.meta.Name, o.meta.Namespace)
		}
	}
	if ns, ok := m.namespaces["plugs"]; !ok {
		t.Error("no Namespace plugs")
	} else if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Errorf("namespace plugs enforces %q pod security, want restricted", got)
	}
	for dir, k := range m.kustomizations {
		if k.Namespace != "plugs" {
			t.Errorf("%s/kustomization.yaml: namespace %q, want plugs", dir, k.Namespace)
		}
	}
}
