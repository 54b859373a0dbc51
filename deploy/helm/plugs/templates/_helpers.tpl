{{/*
The release's base name: short enough that "-controlplane" and the like
still fit the 63 characters of a name.
*/}}
{{- define "plugs.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object, besides those of its selector. */}}
{{- define "plugs.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: plugs
{{- end -}}

{{/* The selector of one plane's pods: (list $ "controlplane"). */}}
{{- define "plugs.selector" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: plugs
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* The selector of the bundled NATS servers. */}}
{{- define "plugs.natsSelector" -}}
app.kubernetes.io/name: nats
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "plugs.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "plugs.credentialsSecret" -}}{{ include "plugs.fullname" . }}-credentials{{- end -}}
{{- define "plugs.tlsSecret" -}}
{{- if .Values.tls.existingSecret -}}
{{ .Values.tls.existingSecret }}
{{- else if and .Values.tls.cert .Values.tls.key .Values.tls.ca -}}
{{ include "plugs.fullname" . }}-tls
{{- else -}}
{{ fail "tls: set existingSecret, or cert, key and ca: the control plane serves TLS, since data planes reach it across the network and its stream carries signing secrets" }}
{{- end -}}
{{- end -}}

{{/*
An environment variable read from a Secret: the existing Secret a
credential names, or the chart's, which holds the value given.
(list $ "PLUGS_MASTER_KEY" "masterKey" "master-key")
*/}}
{{- define "plugs.secretEnv" -}}
{{- $ := index . 0 -}}
{{- $c := index $.Values (index . 2) -}}
- name: {{ index . 1 }}
  valueFrom:
    secretKeyRef:
{{- if $c.existingSecret }}
      name: {{ $c.existingSecret }}
      key: {{ $c.existingSecretKey }}
{{- else if (default $c.value $c.url) }}
      name: {{ include "plugs.credentialsSecret" $ }}
      key: {{ index . 3 }}
{{- else }}
{{- fail (printf "%s: set existingSecret, or the value itself" (index . 2)) }}
{{- end }}
{{- end -}}

{{/* The client URLs of NATS: every server of the bundled cluster, or the ones given. */}}
{{- define "plugs.natsURL" -}}
{{- if .Values.nats.enabled -}}
{{- $name := printf "%s-nats" (include "plugs.fullname" .) -}}
{{- $urls := list -}}
{{- range $i := until (int .Values.nats.replicas) -}}
{{- $urls = append $urls (printf "nats://%s-%d.%s-headless:4222" $name $i $name) -}}
{{- end -}}
{{- join "," $urls -}}
{{- else -}}
{{- required "nats.url: the client URLs of the NATS cluster, since nats.enabled is false" .Values.nats.url -}}
{{- end -}}
{{- end -}}

{{/* The restricted Pod Security Standard, for every container. */}}
{{- define "plugs.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}
