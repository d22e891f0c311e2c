{{/* Names, labels and the lists of namespaces the templates share. */}}

{{- define "semingest.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: <release>-semingest, or the release name when it holds "semingest". */}}
{{- define "semingest.fullname" -}}
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

{{- define "semingest.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "semingest.selectorLabels" -}}
app.kubernetes.io/name: {{ include "semingest.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "semingest.labels" -}}
helm.sh/chart: {{ include "semingest.chart" . }}
{{ include "semingest.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: semingest
{{- end }}

{{/* An image reference: [imageRegistry/]repository:tag (tag defaults to the appVersion). */}}
{{- define "semingest.image" -}}
{{- $root := index . 0 }}
{{- $image := index . 1 }}
{{- $repo := $image.repository }}
{{- if $root.Values.imageRegistry }}
{{- $repo = printf "%s/%s" (trimSuffix "/" $root.Values.imageRegistry) $image.repository }}
{{- end }}
{{- printf "%s:%s" $repo (default $root.Chart.AppVersion $image.tag) }}
{{- end }}

{{- define "semingest.operatorServiceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (printf "%s-operator" (include "semingest.fullname" .)) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The namespaces the operator watches (JSON list); empty with watch.allNamespaces. */}}
{{- define "semingest.watchedNamespaces" -}}
{{- if .Values.watch.allNamespaces }}
{{- list | toJson }}
{{- else if .Values.watch.namespaces }}
{{- .Values.watch.namespaces | uniq | toJson }}
{{- else }}
{{- list .Release.Namespace | toJson }}
{{- end }}
{{- end }}

{{/*
The namespaces where SemIngests run (JSON list): the watched ones (the release namespace with
watch.allNamespaces) plus sparkDriver.extraNamespaces. The driver ServiceAccount, its Role and
the database Secret are created in each.
*/}}
{{- define "semingest.workloadNamespaces" -}}
{{- $namespaces := include "semingest.watchedNamespaces" . | fromJsonArray }}
{{- if .Values.watch.allNamespaces }}
{{- $namespaces = list .Release.Namespace }}
{{- end }}
{{- concat $namespaces .Values.sparkDriver.extraNamespaces | uniq | toJson }}
{{- end }}

{{- define "semingest.databaseSecretManaged" -}}
{{- if or .Values.database.url .Values.database.bundled.enabled .Values.database.namespaceUrls }}true{{ end }}
{{- end }}

{{- define "semingest.mariadbName" -}}
{{- printf "%s-mariadb" (include "semingest.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* A pod securityContext for a non-root process with a numeric uid/gid. */}}
{{- define "semingest.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "semingest.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
{{- end }}

{{/* What the operator may do in a namespace it watches. */}}
{{- define "semingest.operatorNamespacedRules" -}}
- apiGroups: [semingest.io]
  resources: [semingests]
  # patch: kopf keeps its finalizer and progress annotations on the object.
  verbs: [get, list, watch, patch]
- apiGroups: [semingest.io]
  resources: [semingests/status]
  verbs: [get, patch, update]
- apiGroups: [sparkoperator.k8s.io]
  resources: [sparkapplications]
  verbs: [create, get, list, watch, delete]
- apiGroups: [""]
  resources: [pods, services, configmaps]
  verbs: [create, get, list, watch, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}
