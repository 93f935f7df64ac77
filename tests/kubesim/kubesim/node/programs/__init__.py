"""Built-in container programs (the kubesim/* images), each run as its own process."""
