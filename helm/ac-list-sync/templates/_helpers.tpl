{{/* Name of the chart, overridable. */}}
{{- define "ac-list-sync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects: <release>-<chart> unless the release name already contains the chart name. */}}
{{- define "ac-list-sync.fullname" -}}
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

{{- define "ac-list-sync.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ac-list-sync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ac-list-sync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ac-list-sync.labels" -}}
helm.sh/chart: {{ include "ac-list-sync.chart" . }}
{{ include "ac-list-sync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ac-list-sync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ac-list-sync.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding API keys and SASL passwords: the named existing one, else the release's full name. */}}
{{- define "ac-list-sync.secretName" -}}
{{- default (include "ac-list-sync.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{- define "ac-list-sync.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The service's config as JSON: values.config with http.port set from metrics.port (so the probes, the Service and
the process agree on one port) and http.host defaulting to all interfaces.
*/}}
{{- define "ac-list-sync.configJson" -}}
{{- $config := deepCopy .Values.config }}
{{- $http := default (dict) $config.http }}
{{- if not (hasKey $http "host") }}
{{- $_ := set $http "host" "0.0.0.0" }}
{{- end }}
{{- $_ := set $http "port" (int .Values.metrics.port) }}
{{- $_ := set $config "http" $http }}
{{- mustToPrettyJson $config }}
{{- end }}

{{/* Stops the render on settings that contradict each other. */}}
{{- define "ac-list-sync.validate" -}}
{{- if .Values.autoscaling.enabled }}
{{- if gt (int .Values.autoscaling.maxReplicas) (int .Values.sourcePartitions) }}
{{- fail (printf "autoscaling.maxReplicas (%d) must not exceed sourcePartitions (%d): instances beyond the partition count own no partition and sit idle" (int .Values.autoscaling.maxReplicas) (int .Values.sourcePartitions)) }}
{{- end }}
{{- if gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas) }}
{{- fail (printf "autoscaling.minReplicas (%d) must not exceed autoscaling.maxReplicas (%d)" (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- end }}
{{- end }}
{{- $deadlineMs := 30000 }}
{{- if and .Values.config.shutdown .Values.config.shutdown.deadlineMs }}
{{- $deadlineMs = int .Values.config.shutdown.deadlineMs }}
{{- end }}
{{- if le (mul (int .Values.terminationGracePeriodSeconds) 1000) $deadlineMs }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be longer than config.shutdown.deadlineMs (%d ms): the pod is killed before the service finishes flushing and committing" (int .Values.terminationGracePeriodSeconds) $deadlineMs) }}
{{- end }}
{{- $used := dict }}
{{- range .Values.config.exports }}
{{- $_ := set $used (toString .connection) true }}
{{- end }}
{{- range $name, $connection := .Values.config.connections }}
{{- if and $connection (not (hasKey $used $name)) }}
{{- fail (printf "config.connections.%s is used by no export. Helm merges your connections with the chart's default one (main): set config.connections.main to null when you name yours differently" $name) }}
{{- end }}
{{- end }}
{{- if and .Values.secrets.create .Values.secrets.existingSecret }}
{{- fail "secrets.create and secrets.existingSecret are exclusive: name an existing Secret or let the chart create one, not both" }}
{{- end }}
{{- end }}
