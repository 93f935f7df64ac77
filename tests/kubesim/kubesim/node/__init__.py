"""The kubesim node: network namespaces, pods as processes, service proxy, DNS and streaming."""
