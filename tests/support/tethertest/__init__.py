"""tethertest: what Tether's Python tests, its demo and its benchmarks share: JSON-RPC over LSP framing
(`framing`, `rpc`), free local ports (`ports`). Put tests/support on sys.path to import it."""
