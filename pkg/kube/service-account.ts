// Where the kubelet mounts a pod's projected service-account token. The file is rotated in
// place (a symlink swap) well before the token expires, so readers must re-read it.
export const serviceAccountTokenPath = '/var/run/secrets/kubernetes.io/serviceaccount/token';
