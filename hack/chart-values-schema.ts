// The chart's values.schema.json: every value typed, unknown keys refused, so a typo or a wrong
// type fails `helm install`/`helm template`/`helm lint` naming the value instead of rendering a
// chart that does something else. Kubernetes-shaped values (resources, NetworkPolicy peers and
// rules) are typed at their top level and left to the API server below it.
import { Type, type TSchema } from '@sinclair/typebox';

const closed = <T extends Parameters<typeof Type.Object>[0]>(props: T, description: string) => Type.Object(props, { additionalProperties: false, description });
const quantity = Type.Union([Type.String({ minLength: 1 }), Type.Number({ minimum: 0 })]);
const resources = closed({
  requests: Type.Optional(Type.Record(Type.String(), quantity)),
  limits: Type.Optional(Type.Record(Type.String(), quantity)),
  claims: Type.Optional(Type.Array(Type.Object({ name: Type.String() }))),
}, 'Container resources (requests, limits), as in a Pod spec.');
const dnsLabel = Type.String({ pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$', description: 'A namespace name (DNS label).' });
/** A Secret or claim name, or empty for none. */
const optionalName = '^([a-z0-9]([-.a-z0-9]*[a-z0-9])?)?$';
const k8sObject = (description: string) => Type.Object({}, { additionalProperties: true, description });

export const valuesSchema: TSchema = Type.Object({
  image: closed({
    repository: Type.String({ minLength: 1, description: 'Image repository (built by `make image`).' }),
    tag: Type.String({ description: 'Image tag; empty: the chart\'s appVersion.' }),
    pullPolicy: Type.Unsafe<string>({ type: 'string', enum: ['Always', 'IfNotPresent', 'Never'], description: 'imagePullPolicy of every container.' }),
  }, 'The one toolgate image (operator, authorizer and kubectl-mcp entry points).'),
  namespace: closed({
    create: Type.Boolean({ description: 'Render the release namespace with the Pod Security `restricted` labels (instead of `--create-namespace`, which sets none). Kept on uninstall.' }),
  }, 'The release namespace.'),
  operator: closed({
    replicas: Type.Integer({ minimum: 1, description: 'Operator replicas (one leads).' }),
    resources,
  }, 'The operator Deployment.'),
  authorizer: closed({
    policies: Type.Array(Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$' }), { minItems: 1, uniqueItems: true, description: 'The McpSecurityPolicies enforced, "<namespace>/<name>".' }),
    replicas: Type.Integer({ minimum: 1, description: 'Authorizer pods (StatefulSet).' }),
    maxReplicas: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'When an autoscaler may run more pods than replicas: Leases are granted for this many.' }),
    resources,
    workers: Type.Integer({ minimum: 0, maximum: 256, description: 'Policy worker threads per pod (AUTHORIZER_WORKERS) beside the main thread: one fewer than the pod\'s CPUs; each holds the loaded bundles. 0: on the main thread.' }),
    nodeOptions: Type.String({ maxLength: 1024, description: 'NODE_OPTIONS of the authorizer container (V8 flags; the default caps the young generation so the RSS stays flat).' }),
    shutdown: closed({
      delaySeconds: Type.Integer({ minimum: 0, maximum: 600, description: 'After SIGTERM: unready but still serving for this long (readiness propagation).' }),
      drainSeconds: Type.Integer({ minimum: 0, maximum: 3000, description: 'Then: no new connections; calls in flight (held ones included) get this long.' }),
    }, 'Graceful shutdown; terminationGracePeriodSeconds is the sum plus 5 s.'),
    audit: closed({
      signingKey: closed({
        secretName: Type.String({ pattern: optionalName, description: 'Existing Secret holding the checkpoint signing key (PKCS#8 PEM, EC P-256 or Ed25519): AUDIT_SIGNING_KEY_FILE. Empty: the chain is not sealed.' }),
        key: Type.String({ minLength: 1, description: 'The Secret key holding the PEM.' }),
      }, 'Signed checkpoints of each pod\'s chain.'),
      digestKey: closed({
        secretName: Type.String({ pattern: optionalName, description: 'Existing Secret holding the arguments-HMAC key (at least 16 bytes, the same for every pod): AUDIT_DIGEST_KEY_FILE. Empty: digests correlate within one process only.' }),
        key: Type.String({ minLength: 1, description: 'The Secret key holding the key bytes.' }),
      }, 'Argument digests that correlate identical calls across pods and restarts.'),
      persistence: closed({
        enabled: Type.Boolean({ description: 'Write the trails to existingClaim instead of an emptyDir (gone with the pod).' }),
        existingClaim: Type.String({ pattern: optionalName, description: 'A PersistentVolumeClaim (ReadWriteMany) in the release namespace, made and retained outside the release; each pod writes <pod name>.jsonl in it.' }),
      }, 'Where the trails are kept.'),
    }, 'The audit trail (one hash-chained file per pod, AUDIT_FILE).'),
  }, 'The authorizer StatefulSet.'),
  governedNamespaces: Type.Array(dnsLabel, { uniqueItems: true, description: 'More namespaces whose ApprovalRequests toolgate handles, beyond those of authorizer.policies.' }),
  bundleTls: closed({
    secretName: Type.String({ pattern: '^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$', description: 'Secret (tls.crt, tls.key, ca.crt) the bundle service serves TLS from.' }),
    certManager: closed({ enabled: Type.Boolean({ description: 'Let cert-manager issue and renew the Secret from a private CA.' }) }, 'cert-manager.'),
  }, 'TLS of the operator\'s bundle service.'),
  approvals: closed({
    webhook: closed({
      enabled: Type.Boolean({ description: 'Post approval notifications to the chat webhook URL in Secret toolgate-approval-webhook.' }),
      key: Type.String({ minLength: 1, description: 'The Secret key holding the URL.' }),
    }, 'Chat webhook for new ApprovalRequests.'),
  }, 'Human approval.'),
  networkPolicy: closed({
    enabled: Type.Boolean({ description: 'Render NetworkPolicies (enforced only by a CNI that implements them).' }),
    // At least one: an empty `from` in a NetworkPolicy lets every source in.
    clients: Type.Array(k8sObject('A NetworkPolicyPeer.'), { minItems: 1, description: 'Who may reach the authorizer\'s proxy and ext_authz ports (agents, Envoy); at least one.' }),
    upstreams: Type.Array(k8sObject('A NetworkPolicyEgressRule.'), { description: 'Where the authorizer may connect to reach upstream MCP servers ([{}]: anywhere; []: nowhere).' }),
  }, 'NetworkPolicies.'),
  serviceMonitor: closed({
    enabled: Type.Boolean({ description: 'A ServiceMonitor (Prometheus Operator CRDs needed) and a headless metrics Service.' }),
    interval: Type.String({ pattern: '^[0-9]+(ms|s|m|h)$', description: 'Scrape interval.' }),
    labels: Type.Record(Type.String(), Type.String(), { description: 'Extra labels on the ServiceMonitor (a Prometheus\'s serviceMonitorSelector).' }),
  }, 'Prometheus scraping.'),
}, { additionalProperties: false, $schema: 'http://json-schema.org/draft-07/schema#', title: 'toolgate chart values' });
