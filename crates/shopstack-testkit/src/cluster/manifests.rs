//! The files a cluster's components read: their kubeconfigs, each kubelet's configuration, the
//! Dockerfiles of the stand-in images, and the CoreDNS stand-in.

use super::pki::Pki;

/// The pod sandbox image the kubelet runs for every pod (1.20's default), built from the
/// Kubernetes tree's `build/pause/linux/pause.c`: it cannot be pulled here.
pub const PAUSE_IMAGE: &str = "k8s.gcr.io/pause:3.2";

/// A static busybox in an image of its own, for pods the tests run: no image can be pulled here.
pub const BUSYBOX_IMAGE: &str = "shopstack-test/busybox:1.35";

/// A kubeconfig for a component that authenticates with the client certificate `name`.
pub fn component_kubeconfig(pki: &Pki, server: &str, name: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: {server}
    certificate-authority: {ca}
users:
- name: {name}
  user:
    client-certificate: {cert}
    client-key: {key}
contexts:
- name: test
  context:
    cluster: test
    user: {name}
current-context: test
",
        ca = pki.cert("ca"),
        cert = pki.cert(name),
        key = pki.key(name),
    )
}

/// What one kubelet is configured with.
pub struct KubeletSettings<'a> {
    /// The node's address, where it listens.
    pub address: &'a str,
    /// Its HTTPS port.
    pub port: u16,
    /// Its cgroup parent, its own (as kind gives each node its own containerd).
    pub cgroup_root: &'a str,
    /// Its serving certificate's name in the PKI.
    pub certificate: &'a str,
}

/// The `KubeletConfiguration` of one node: cgroupfs, swap allowed, no read-only or healthz port
/// (so that nodes side by side do not collide), certificate authentication and webhook
/// authorization as kubeadm sets them, eviction thresholds low enough for a busy test machine,
/// and a lease renewed every 2.5 s so that a stopped kubelet shows as NotReady within seconds.
pub fn kubelet_config(pki: &Pki, settings: &KubeletSettings<'_>) -> String {
    format!(
        "apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: {address}
port: {port}
readOnlyPort: 0
healthzPort: 0
cgroupDriver: cgroupfs
cgroupRoot: {cgroup_root}
cgroupsPerQOS: true
failSwapOn: false
makeIPTablesUtilChains: false
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: {ca}
authorization:
  mode: Webhook
tlsCertFile: {cert}
tlsPrivateKeyFile: {key}
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
serializeImagePulls: false
nodeLeaseDurationSeconds: 10
nodeStatusUpdateFrequency: 2s
syncFrequency: 10s
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 1Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
",
        address = settings.address,
        port = settings.port,
        cgroup_root = settings.cgroup_root,
        ca = pki.cert("ca"),
        cert = pki.cert(settings.certificate),
        key = pki.key(settings.certificate),
    )
}

/// The Dockerfile of the pause image.
pub const PAUSE_DOCKERFILE: &str = "FROM scratch\nCOPY pause /pause\nENTRYPOINT [\"/pause\"]\n";

/// The Dockerfile of the busybox image: busybox and its applets, nothing else.
pub const BUSYBOX_DOCKERFILE: &str = "FROM scratch
COPY busybox /bin/busybox
RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]
ENTRYPOINT []
CMD [\"/bin/sh\"]
";

/// CoreDNS's image cannot be pulled here: in its place, pods labelled `k8s-app=kube-dns` in
/// `kube-system`, named like CoreDNS's, ready once their HTTP readiness endpoint (CoreDNS's
/// `:8181/ready`) answers, which is what `validate` judges.
pub fn dns_stand_in() -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
  labels:
    k8s-app: kube-dns
spec:
  replicas: 2
  selector:
    matchLabels:
      k8s-app: kube-dns
  template:
    metadata:
      labels:
        k8s-app: kube-dns
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: coredns
        image: {BUSYBOX_IMAGE}
        imagePullPolicy: IfNotPresent
        command: [\"/bin/sh\", \"-c\", \"mkdir -p /tmp/www && echo OK > /tmp/www/ready && exec httpd -f -p 8181 -h /tmp/www\"]
        readinessProbe:
          httpGet:
            path: /ready
            port: 8181
          periodSeconds: 1
"
    )
}

/// The Dockerfile of the application stand-in: busybox's `httpd` on the chart's port 8080 serving
/// `/www` (`healthz`, and `readyz` when the image is to become ready), as a non-root numeric
/// user, as the chart requires.
pub const APP_STAND_IN_DOCKERFILE: &str = "FROM scratch
COPY busybox /bin/busybox
COPY www /www
USER 65532:65532
ENTRYPOINT [\"/bin/busybox\", \"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]
";

/// The Dockerfile of the local registry's image (see [`super::build_registry_image`]).
pub const REGISTRY_DOCKERFILE: &str = "FROM scratch
COPY bin/registry /bin/registry
COPY lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/libc.so.6
COPY lib64/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2
COPY config.yml /etc/docker/registry/config.yml
VOLUME [\"/var/lib/registry\"]
EXPOSE 5000
ENTRYPOINT [\"/bin/registry\"]
CMD [\"serve\", \"/etc/docker/registry/config.yml\"]
";

/// The registry's configuration: no authentication, storage in `/var/lib/registry`, `:5000`
/// (the Docker distribution project's defaults for its `registry` image).
pub const REGISTRY_CONFIG: &str = "version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
";
