// The Kubernetes JavaScript client against the server: create, get, list with a label selector,
// patch, watch, and an informer on a quiet collection. Prints one JSON report on stdout.
// Environment: SERVER (URL), TOKEN, NAMESPACE, QUIET_NAMESPACE, INFORMER_SECONDS.
import * as k8s from '@kubernetes/client-node';

const { SERVER, TOKEN, NAMESPACE, QUIET_NAMESPACE } = process.env;
const informerSeconds = Number(process.env.INFORMER_SECONDS || '35');
const group = 'secret.grafana.app', version = 'v1beta1', plural = 'securevalues';

const kc = new k8s.KubeConfig();
kc.loadFromOptions({
  clusters: [{ name: 'test', server: SERVER, skipTLSVerify: true }],
  users: [{ name: 'test', token: TOKEN }],
  contexts: [{ name: 'test', cluster: 'test', user: 'test', namespace: NAMESPACE }],
  currentContext: 'test',
});
const api = kc.makeApiClient(k8s.CustomObjectsApi);
const report = { informer: { connects: 0, errors: [], added: [] } };

// The informer first: it watches a collection in which nothing happens for the whole run.
const quietPath = `/apis/${group}/${version}/namespaces/${QUIET_NAMESPACE}/${plural}`;
const informer = k8s.makeInformer(kc, quietPath, () =>
  api.listNamespacedCustomObject({ group, version, namespace: QUIET_NAMESPACE, plural }));
informer.on(k8s.CONNECT, () => { report.informer.connects += 1; });
informer.on(k8s.ERROR, (err) => { report.informer.errors.push(String(err && (err.message || err))); });
informer.on(k8s.ADD, (obj) => { report.informer.added.push(obj.metadata.name); });
const informerStarted = Date.now();
await informer.start();

// A plain watch on the busy namespace, started before the create it must see.
const watched = [];
const watch = new k8s.Watch(kc);
const list0 = await api.listNamespacedCustomObject({ group, version, namespace: NAMESPACE, plural });
const watchRequest = await watch.watch(
  `/apis/${group}/${version}/namespaces/${NAMESPACE}/${plural}`,
  { resourceVersion: list0.metadata.resourceVersion },
  (type, obj) => watched.push(`${type} ${obj.metadata.name}`),
  (err) => { if (err && err.name !== 'AbortError') report.watchError = String(err); },
);

const body = {
  apiVersion: `${group}/${version}`, kind: 'SecureValue',
  metadata: { name: 'from-js', labels: { client: 'js', team: 'a' } },
  spec: { description: 'made by client-node', value: 'js-secret-value', decrypters: ['svc'] },
};
const created = await api.createNamespacedCustomObject({ group, version, namespace: NAMESPACE, plural, body });
report.created = { name: created.metadata.name, hasValue: 'value' in created.spec, rv: created.metadata.resourceVersion };
const got = await api.getNamespacedCustomObject({ group, version, namespace: NAMESPACE, plural, name: 'from-js' });
report.got = { description: got.spec.description, uid: got.metadata.uid === created.metadata.uid };
await api.createNamespacedCustomObject({ group, version, namespace: NAMESPACE, plural,
  body: { ...body, metadata: { name: 'other-js', labels: { client: 'js', team: 'b' } } } });
const selected = await api.listNamespacedCustomObject({ group, version, namespace: NAMESPACE, plural, labelSelector: 'client=js,team=a' });
report.selected = selected.items.map((item) => item.metadata.name);
const patched = await api.patchNamespacedCustomObject(
  { group, version, namespace: NAMESPACE, plural, name: 'from-js', body: { spec: { description: 'patched by js' } } },
  k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
);
report.patched = { description: patched.spec.description, version: patched.status && patched.status.version };

const deadline = Date.now() + 5000;
while (watched.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
report.watched = watched.slice();
watchRequest.abort();

// Keep the informer running past the client's 30-second watch inactivity timeout.
const left = informerSeconds * 1000 - (Date.now() - informerStarted);
if (left > 0) await new Promise((r) => setTimeout(r, left));
report.informer.seconds = (Date.now() - informerStarted) / 1000;
await informer.stop();
process.stdout.write(JSON.stringify(report) + '\n');
process.exit(0);
