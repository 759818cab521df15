{{/* The chart name, overridable. */}}
{{- define "ipcmesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every object name: the release name, plus the chart name unless it holds it. */}}
{{- define "ipcmesh.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels that select the operator's Pods; never change them (Deployment selectors are immutable). */}}
{{- define "ipcmesh.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ipcmesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels on every object of the release. */}}
{{- define "ipcmesh.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "ipcmesh.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ipcmesh
{{- end }}

{{/* The operator's ServiceAccount: <fullname>-operator unless named. */}}
{{- define "ipcmesh.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-operator" (include "ipcmesh.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* An image reference: [registry/]repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "ipcmesh.image" -}}
{{- $registry := .root.Values.image.registry }}
{{- $tag := default .root.Chart.AppVersion .image.tag }}
{{- if eq $tag "latest" }}
{{- fail (printf "%s.tag: \"latest\" is refused: ipcmesh images are tagged with their version (e.g. %s), so the operator and the relay it injects move together" .value .root.Chart.AppVersion) }}
{{- end }}
{{- if $registry }}
{{- printf "%s/%s:%s" (trimSuffix "/" $registry) .image.repository $tag }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{- define "ipcmesh.operatorImage" -}}
{{- include "ipcmesh.image" (dict "root" . "image" .Values.image "value" "image") }}
{{- end }}

{{- define "ipcmesh.relayImage" -}}
{{- include "ipcmesh.image" (dict "root" . "image" .Values.relay.image "value" "relay.image") }}
{{- end }}

{{/* Namespaces never injected: the system ones and the operator's own. */}}
{{- define "ipcmesh.systemNamespaces" -}}
{{- list "kube-system" "kube-public" "kube-node-lease" .Release.Namespace | uniq | toJson }}
{{- end }}

{{- define "ipcmesh.webhookServiceName" -}}
{{- printf "%s-webhook" (include "ipcmesh.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ipcmesh.webhookSecretName" -}}
{{- printf "%s-webhook-tls" (include "ipcmesh.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ipcmesh.configMapName" -}}
{{- printf "%s-config" (include "ipcmesh.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The webhook's TLS material as YAML {ca, cert, key} (PEM): the existing Secret's on upgrade (so
the certificate survives `helm upgrade`), else a new self-signed CA and a serving certificate for
the Service's DNS names. Include it ONCE per render: each call to genCA makes a different CA. */}}
{{- define "ipcmesh.webhookTLS" -}}
{{- $secret := lookup "v1" "Secret" .Release.Namespace (include "ipcmesh.webhookSecretName" .) }}
{{- $data := dict }}
{{- if $secret }}{{- $data = default (dict) $secret.data }}{{- end }}
{{- if and (hasKey $data "ca.crt") (hasKey $data "tls.crt") (hasKey $data "tls.key") }}
ca: {{ index $data "ca.crt" | b64dec | quote }}
cert: {{ index $data "tls.crt" | b64dec | quote }}
key: {{ index $data "tls.key" | b64dec | quote }}
{{- else }}
{{- $service := include "ipcmesh.webhookServiceName" . }}
{{- $names := list (printf "%s.%s.svc" $service .Release.Namespace) (printf "%s.%s" $service .Release.Namespace) $service }}
{{- $ca := genCA (printf "%s-ca" (include "ipcmesh.fullname" .)) (int .Values.tls.validityDays) }}
{{- $cert := genSignedCert (first $names) nil $names (int .Values.tls.validityDays) $ca }}
ca: {{ $ca.Cert | quote }}
cert: {{ $cert.Cert | quote }}
key: {{ $cert.Key | quote }}
{{- end }}
{{- end }}
