{{/* Labels shared by every object of the chart. */}}
{{- define "paddock.labels" -}}
app.kubernetes.io/name: paddock
app.kubernetes.io/component: controller
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "paddock.selector" -}}
app.kubernetes.io/name: paddock
app.kubernetes.io/component: controller
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "paddock.serviceAccount" -}}
{{- .Values.serviceAccount.name | default "paddock" -}}
{{- end -}}

{{- /* The port of config.dashboard.listen ("127.0.0.1:9465", "[::1]:9465"),
9465 when the config has none. */ -}}
{{- define "paddock.dashboardPort" -}}
{{- $l := "" }}
{{- with .Values.config.dashboard }}{{ $l = .listen | default "" }}{{ end }}
{{- if $l }}{{ $l | splitList ":" | last }}{{ else }}9465{{ end }}
{{- end }}
