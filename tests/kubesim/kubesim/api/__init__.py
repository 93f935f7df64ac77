"""The API-server half of kubesim: an HTTPS Kubernetes API that the real kubectl accepts.

Request path: server.py (TLS, auth.py, rbac.py, dispatch) -> routing.py -> discovery.py (non-resource
paths) or reads.py / watch.py / writes.py / subresources.py / apply.py -> store.py. Writes pass
validation.py, fieldrules.py and defaults.py; bodies are decoded in http.py (JSON/YAML) and
protobuf.py (kubectl's typed clients); patches live in patch.py and strategic.py; tables.py renders
`kubectl get` columns. controllers/ holds the garbage collector, the namespace lifecycle, the
deployment/replicaset, endpoints/endpointslice and event controllers. testing.py is the test support
(fake kubelet, in-thread cluster, HTTPS client, kubectl runner).
"""
