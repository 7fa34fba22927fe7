{{/* Names ---------------------------------------------------------------------------------- */}}

{{- define "llmaas.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "llmaas.fullname" -}}
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

{{- define "llmaas.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "llmaas.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llmaas.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "llmaas.labels" -}}
helm.sh/chart: {{ include "llmaas.chart" . }}
{{ include "llmaas.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: llmaas
{{- end }}

{{- define "llmaas.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "llmaas.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The chart's own Secret (inline values), its TLS Secret, engine keys Secret and ConfigMap. */}}
{{- define "llmaas.secretName" -}}{{ include "llmaas.fullname" . }}{{- end }}
{{- define "llmaas.migrateSecretName" -}}{{ include "llmaas.fullname" . }}-migrate{{- end }}
{{- define "llmaas.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "llmaas.fullname" .)) .Values.tls.existingSecret }}
{{- end }}
{{- define "llmaas.engineKeysSecretName" -}}
{{- default (printf "%s-engine-keys" (include "llmaas.fullname" .)) .Values.engineApiKeys.existingSecret }}
{{- end }}
{{- define "llmaas.configMapName" -}}{{ include "llmaas.fullname" . }}-config{{- end }}

{{- define "llmaas.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Ports --------------------------------------------------------------------------------- */}}

{{- define "llmaas.portName" -}}{{ ternary "https" "http" .Values.tls.enabled }}{{- end }}
{{- define "llmaas.scheme" -}}{{ ternary "HTTPS" "HTTP" .Values.tls.enabled }}{{- end }}
{{- define "llmaas.servicePort" -}}
{{- if .Values.service.port }}{{ .Values.service.port }}{{ else }}{{ ternary 443 80 .Values.tls.enabled }}{{ end }}
{{- end }}

{{/* Which settings come from which Secret ------------------------------------------------- */}}

{{- define "llmaas.hasRedis" -}}
{{- if or .Values.redis.existingSecret .Values.redis.url }}true{{ end }}
{{- end }}
{{- define "llmaas.hasOidcSecret" -}}
{{- if and .Values.oidc.issuer (or .Values.oidc.existingSecret .Values.oidc.clientSecret) }}true{{ end }}
{{- end }}
{{- define "llmaas.hasModelsConfig" -}}
{{- if or .Values.models.existingConfigMap .Values.models.config }}true{{ end }}
{{- end }}
{{- define "llmaas.hasCatalog" -}}
{{- if or .Values.catalog.existingConfigMap .Values.catalog.content }}true{{ end }}
{{- end }}
{{- define "llmaas.hasEngineKeys" -}}
{{- if or .Values.engineApiKeys.existingSecret .Values.engineApiKeys.keys }}true{{ end }}
{{- end }}
{{/* The chart creates its Secret when any secret value is given inline rather than by reference. */}}
{{- define "llmaas.createsSecret" -}}
{{- if or (and (not .Values.database.existingSecret) .Values.database.url) (and (not .Values.redis.existingSecret) .Values.redis.url) (and (not .Values.serverSecret.existingSecret) .Values.serverSecret.value) (and .Values.oidc.issuer (not .Values.oidc.existingSecret) .Values.oidc.clientSecret) }}true{{ end }}
{{- end }}

{{/* A secretKeyRef for one setting: the existing Secret when named, the chart's otherwise. */}}
{{- define "llmaas.secretRef" -}}
{{- $values := index .root.Values .section -}}
secretKeyRef:
  name: {{ default (include "llmaas.secretName" .root) $values.existingSecret }}
  key: {{ ternary $values.existingSecretKey .key (not (empty $values.existingSecret)) }}
{{- end }}

{{/* Refuses, at install time, what could not work. ---------------------------------------- */}}

{{- define "llmaas.validate" -}}
{{- if not (or .Values.database.existingSecret .Values.database.url) }}
{{- fail "database: set database.existingSecret (a Secret holding postgresql+asyncpg://...) or database.url; SQLite on an emptyDir cannot be shared between instances" }}
{{- end }}
{{- if not (or .Values.serverSecret.existingSecret .Values.serverSecret.value) }}
{{- fail "serverSecret: set serverSecret.existingSecret or serverSecret.value (openssl rand -hex 32): every instance must key API-key hashes with the same secret" }}
{{- end }}
{{- if and (or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1)) (not (include "llmaas.hasRedis" .)) }}
{{- fail "redis: several instances share rate limits, budgets and concurrency through Redis: set redis.existingSecret or redis.url (or run one instance: autoscaling.enabled=false, replicaCount=1)" }}
{{- end }}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) (not (and .Values.tls.cert .Values.tls.key)) }}
{{- fail "tls: tls.enabled needs tls.existingSecret (a kubernetes.io/tls Secret) or both tls.cert and tls.key" }}
{{- end }}
{{- if and .Values.tls.clientCA.existingSecret (not .Values.tls.enabled) }}
{{- fail "tls.clientCA needs tls.enabled: llmaas refuses a client CA without TLS" }}
{{- end }}
{{- if and .Values.gatewayApi.tlsRoute.enabled (not .Values.tls.enabled) }}
{{- fail "gatewayApi.tlsRoute passes TLS through to llmaas: it needs tls.enabled" }}
{{- end }}
{{- if and .Values.gatewayApi.tlsRoute.enabled (not .Values.gatewayApi.tlsRoute.parentRefs) }}
{{- fail "gatewayApi.tlsRoute.parentRefs: name the Gateway (and its TLS passthrough listener) to attach to" }}
{{- end }}
{{- $reserved := list "LLMAAS_DATABASE_URL" "LLMAAS_REDIS_URL" "LLMAAS_SERVER_SECRET" "LLMAAS_OIDC_CLIENT_SECRET" "LLMAAS_OIDC_ISSUER" "LLMAAS_OIDC_CLIENT_ID" "LLMAAS_HOST" "LLMAAS_PORT" "LLMAAS_DATA_DIR" "LLMAAS_MODELS_CONFIG" "LLMAAS_CATALOG" "LLMAAS_MIGRATE_ON_START" "LLMAAS_FIRST_START_ADMIN_KEY" "LLMAAS_SHUTDOWN_DELAY_SECONDS" "LLMAAS_DRAIN_SECONDS" "LLMAAS_TLS_CERT" "LLMAAS_TLS_KEY" "LLMAAS_TLS_CLIENT_CA" "LLMAAS_TLS_SELF_SIGNED" "LLMAAS_PUBLIC_URL" }}
{{- range $name, $value := .Values.env }}
{{- if not (hasPrefix "LLMAAS_" $name) }}
{{- fail (printf "env.%s: only LLMAAS_* settings go in env (use extraEnv for anything else)" $name) }}
{{- end }}
{{- if has $name $reserved }}
{{- fail (printf "env.%s is set by the chart from its own values (database, redis, serverSecret, oidc, tls, models, catalog, lifecycle, publicUrl...)" $name) }}
{{- end }}
{{- end }}
{{- $grace := include "llmaas.terminationGracePeriod" . | int }}
{{- $needed := add (.Values.lifecycle.shutdownDelaySeconds | int) (.Values.lifecycle.drainSeconds | int) }}
{{- if le $grace $needed }}
{{- fail (printf "lifecycle.terminationGracePeriodSeconds (%d) must exceed shutdownDelaySeconds + drainSeconds (%d), or Kubernetes kills streams mid-drain" $grace $needed) }}
{{- end }}
{{- end }}

{{/* An engine key written in the models file would sit in a ConfigMap: refuse it. */}}
{{- define "llmaas.refuseInlineEngineKeys" -}}
{{- range $model := (.Values.models.config.models | default list) }}
{{- range $deployment := ($model.deployments | default list) }}
{{- if hasKey $deployment "api_key" }}
{{- fail (printf "models.config: deployment '%s' has an inline api_key, which would land in a ConfigMap: put the key in engineApiKeys and name its file with api_key_file: /etc/llmaas/engine-keys/<key>" $deployment.name) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- define "llmaas.terminationGracePeriod" -}}
{{- if kindIs "invalid" .Values.lifecycle.terminationGracePeriodSeconds }}
{{- add (.Values.lifecycle.shutdownDelaySeconds | int) (.Values.lifecycle.drainSeconds | int) 15 }}
{{- else }}
{{- .Values.lifecycle.terminationGracePeriodSeconds | int }}
{{- end }}
{{- end }}

{{/* Pod parts shared by the gateway and the migration Job. -------------------------------- */}}

{{- define "llmaas.checkovSkips" -}}
checkov.io/skip1: CKV_K8S_35=llmaas reads its settings from LLMAAS_* environment variables only (src/llmaas/settings.py); they come from Secrets by secretKeyRef, never inline
{{- if not .Values.image.digest }}
checkov.io/skip2: CKV_K8S_43=the image is pinned by the chart's appVersion tag; set image.digest to pin it by digest
{{- end }}
{{- end }}

{{- define "llmaas.volumesCommon" -}}
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
- name: data
  emptyDir:
    sizeLimit: {{ .Values.dataVolume.sizeLimit }}
{{- end }}

{{- define "llmaas.volumeMountsCommon" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /var/lib/llmaas
{{- end }}

{{/* One NetworkPolicy egress rule from {to: [...], ports: [...]}: an empty `to` is any address. */}}
{{- define "llmaas.egressRule" -}}
{{- $rule := dict "ports" (required "networkPolicy.egress: every rule lists its ports" .ports) }}
{{- with .to }}{{ $_ := set $rule "to" . }}{{ end }}
{{- list $rule | toYaml }}
{{- end }}
