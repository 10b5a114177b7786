// `make run-apiserver`: the test control plane for manual use, up until Ctrl-C or SIGTERM.
import { ControlPlane } from './controlplane.ts';

const started = Date.now();
console.log('starting etcd + kube-apiserver...');
const cp = await ControlPlane.start();
const seconds = ((Date.now() - started) / 1000).toFixed(1);

console.log(`
kube-apiserver ${cp.version} is running at ${cp.server} (started in ${seconds} s); toolgate CRDs are installed.
Point kubectl at it (admin, group system:masters; make puts build/bin/kubectl on PATH):

  export KUBECONFIG=${cp.kubeconfigPath}
  kubectl get crds
  kubectl apply --server-side -k config/samples
  kubectl get mcpsecuritypolicies -A

Data, certificates and logs (etcd.log, kube-apiserver.log) are in ${cp.dir}
(removed on exit; set TOOLGATE_KEEP_CONTROLPLANE=1 to keep them). Press Ctrl-C to stop.`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the control plane...`);
  try {
    await cp.stop();
    process.exit(0);
  } catch (err) {
    console.error(err);
    process.exit(1);
  }
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
// Keeps the event loop alive; the signal handlers above end the process.
setInterval(() => undefined, 1 << 30);
