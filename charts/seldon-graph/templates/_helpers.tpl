{{/*
seldon-graph.name: the chart name (or nameOverride), cut to 63 characters; the value of
the app.kubernetes.io/name label.
*/}}
{{- define "seldon-graph.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
seldon-graph.fullname: the SeldonDeployment name: fullnameOverride, else the release
name, cut to 63 characters (a DNS label). Unlike the usual "<release>-<chart>", the
release name alone is used because it is what users call: it names the ingress path
/seldon/<namespace>/<name>/ and Seldon's services <name>-<predictor>.
*/}}
{{- define "seldon-graph.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
seldon-graph.chart: "<chart>-<version>" for the helm.sh/chart label, "+" replaced (not
allowed in label values), cut to 63 characters.
*/}}
{{- define "seldon-graph.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
seldon-graph.selectorLabels: the labels that identify this release's objects; stable
across upgrades, so safe in selectors.
*/}}
{{- define "seldon-graph.selectorLabels" -}}
app.kubernetes.io/name: {{ include "seldon-graph.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
seldon-graph.labels: the labels of the SeldonDeployment: the selector labels, part-of,
and the user's extra `labels`. They equal graph/seldondeployment.yaml's labels, so the
Helm-only bookkeeping labels (helm.sh/chart, managed-by) go on the test pod only.
*/}}
{{- define "seldon-graph.labels" -}}
{{ include "seldon-graph.selectorLabels" . }}
app.kubernetes.io/part-of: seldon-graph
{{- with .Values.labels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
seldon-graph.image: "repository:tag" of a component; called with
(dict "root" $ "override" .Values.<component>.image). Empty override keys fall back to
.Values.image, an empty tag to the chart's appVersion.
*/}}
{{- define "seldon-graph.image" -}}
{{- $image := merge (deepCopy (.override | default dict)) .root.Values.image -}}
{{- printf "%s:%s" $image.repository (toString (default .root.Chart.AppVersion $image.tag)) }}
{{- end }}

{{/*
seldon-graph.pullPolicy: the imagePullPolicy of a component (same arguments as
seldon-graph.image).
*/}}
{{- define "seldon-graph.pullPolicy" -}}
{{- (merge (deepCopy (.override | default dict)) .root.Values.image).pullPolicy }}
{{- end }}

{{/*
seldon-graph.float: a number as Seldon FLOAT parameter text; whole numbers keep one
decimal ("2.0", not the "2" YAML-to-float64 parsing would print).
*/}}
{{- define "seldon-graph.float" -}}
{{- $v := float64 . -}}
{{- if eq $v (float64 (int64 $v)) }}{{ printf "%.1f" $v }}{{ else }}{{ $v }}{{ end -}}
{{- end }}

{{/*
seldon-graph.container: one container of a predictor pod; called with (dict "root" $
"name" <node name> "component" <values block> "class" <module.Class> "serviceType" <type>).
*/}}
{{- define "seldon-graph.container" -}}
{{- $c := .component -}}
- name: {{ .name }}
  image: {{ include "seldon-graph.image" (dict "root" .root "override" $c.image) }}
  imagePullPolicy: {{ include "seldon-graph.pullPolicy" (dict "root" .root "override" $c.image) }}
  env:
    - name: MODEL_NAME
      value: {{ .class }}
    - name: SERVICE_TYPE
      value: {{ .serviceType }}
    {{- if gt (int $c.gunicornThreads) 0 }}
    - name: GUNICORN_THREADS
      value: {{ int $c.gunicornThreads | quote }}
    {{- end }}
    {{- if gt (int $c.grpcThreads) 0 }}
    - name: GRPC_THREADS
      value: {{ int $c.grpcThreads | quote }}
    {{- end }}
    {{- /* one OpenMP thread per CPU of the limit (the kubelet rounds up), not per node CPU */}}
    - name: OMP_NUM_THREADS
      valueFrom:
        resourceFieldRef:
          resource: limits.cpu
          divisor: "1"
    {{- with $c.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- $resources := deepCopy ($c.resources | default dict) }}
  {{- $gpu := int ($c.gpu | default 0) }}
  {{- if gt $gpu 0 }}
  {{- $_ := set $resources "requests" (merge (dict "nvidia.com/gpu" $gpu) ($resources.requests | default dict)) }}
  {{- $_ := set $resources "limits" (merge (dict "nvidia.com/gpu" $gpu) ($resources.limits | default dict)) }}
  {{- end }}
  resources:
    {{- toYaml $resources | nindent 4 }}
  readinessProbe:
    httpGet:
      path: /health/status
      port: http
    {{- toYaml .root.Values.readinessProbe | nindent 4 }}
  securityContext:
    {{- toYaml .root.Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
{{- end }}

{{/*
seldon-graph.componentSpec: one node's pod (a componentSpec holding only its container).
One pod per node: Seldon's operator names the claim volume of every pvc:// node
kfserving-pvc-source, so two such nodes in one pod would give it two volumes of one name,
which the API server refuses. nodeSelector and tolerations go on the classifier's pod
only (called with "gpuNode" true); every pod gets the hpaSpec. Called with the
arguments of seldon-graph.container.
*/}}
{{- define "seldon-graph.componentSpec" -}}
{{- $v := .root.Values -}}
- spec:
    automountServiceAccountToken: false
    securityContext:
      {{- toYaml $v.podSecurityContext | nindent 6 }}
    {{- with $v.imagePullSecrets }}
    imagePullSecrets:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    containers:
      {{- include "seldon-graph.container" . | nindent 6 }}
    volumes:
      - name: tmp
        emptyDir:
          sizeLimit: {{ $v.tmpVolume.sizeLimit }}
    {{- if .gpuNode }}
    {{- with $v.nodeSelector }}
    nodeSelector:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with $v.tolerations }}
    tolerations:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- end }}
  {{- if $v.hpa.enabled }}
  hpaSpec:
    minReplicas: {{ int $v.hpa.minReplicas }}
    maxReplicas: {{ int $v.hpa.maxReplicas }}
    metricsv2:
      - type: Resource
        resource:
          name: cpu
          target:
            type: Utilization
            averageUtilization: {{ int $v.hpa.targetCPUUtilizationPercentage }}
  {{- end }}
{{- end }}

{{/*
seldon-graph.parameters: a node's `parameters`: model_uri (where Seldon mounts modelUri),
the given {name, type, value} list, then the component's extraParameters.
*/}}
{{- define "seldon-graph.parameters" -}}
- {name: model_uri, type: STRING, value: /mnt/models}
{{- range .params }}
- {name: {{ index . 0 }}, type: {{ index . 1 }}, value: {{ index . 2 | quote }}}
{{- end }}
{{- range .component.extraParameters }}
- {name: {{ .name }}, type: {{ .type }}, value: {{ .value | toString | quote }}}
{{- end }}
{{- end }}

{{/*
seldon-graph.logger: the node's `logger` block when requestLogger.url is set and names
this node (called with (dict "root" $ "node" <node name>)).
*/}}
{{- define "seldon-graph.logger" -}}
{{- $log := .root.Values.requestLogger -}}
{{- if and $log.url (eq $log.node .node) -}}
logger:
  mode: {{ $log.mode }}
  url: {{ $log.url | quote }}
{{- end }}
{{- end }}

{{/*
seldon-graph.validate: the rules JSON Schema cannot express, checked before rendering
(the same rules as Seldon's admission webhook): unique predictor names, at most one
shadow, a shadow never alone, live traffic summing to 100.
*/}}
{{- define "seldon-graph.validate" -}}
{{- $names := dict -}}
{{- $shadows := list -}}
{{- $live := list -}}
{{- $total := 0 -}}
{{- range .Values.predictors -}}
{{- if hasKey $names .name -}}
{{- fail (printf "predictors: the name %q is used twice; predictor names must be unique" .name) -}}
{{- end -}}
{{- $_ := set $names .name true -}}
{{- if .shadow -}}
{{- $shadows = append $shadows .name -}}
{{- else -}}
{{- $live = append $live (printf "%s=%d" .name (int .traffic)) -}}
{{- $total = add $total (int .traffic) -}}
{{- end -}}
{{- end -}}
{{- if gt (len $shadows) 1 -}}
{{- fail (printf "predictors: at most one predictor may be a shadow, found %d (%s)" (len $shadows) (join ", " $shadows)) -}}
{{- end -}}
{{- if eq (len $live) 0 -}}
{{- fail "predictors: a shadow cannot be the only predictor; it mirrors a live one" -}}
{{- end -}}
{{- if and (gt (len $live) 1) (ne (int $total) 100) -}}
{{- fail (printf "predictors: the traffic of the non-shadow predictors must sum to 100, not %d (%s)" (int $total) (join ", " $live)) -}}
{{- end -}}
{{- if and (eq (len $live) 1) (ne (int $total) 0) (ne (int $total) 100) -}}
{{- fail (printf "predictors: the only non-shadow predictor takes all traffic: set traffic to 100 (or 0), not %d" (int $total)) -}}
{{- end -}}
{{- if and .Values.hpa.enabled (lt (int .Values.hpa.maxReplicas) (int .Values.hpa.minReplicas)) -}}
{{- fail (printf "hpa: maxReplicas (%d) must be at least minReplicas (%d)" (int .Values.hpa.maxReplicas) (int .Values.hpa.minReplicas)) -}}
{{- end -}}
{{- end }}
