"""kubesim: a simulated Kubernetes cluster on one Linux machine (API server + one node)."""
