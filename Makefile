# The two set-up commands of the README, and the helpers around them. Each target does its own set-up
# (scripts/bootstrap, then configure and build) and is idempotent.
.PHONY: demo test build fuzz bench playground playground-down clean bootstrap

JOBS ?= 2
FUZZ_SECONDS ?= 300

bootstrap:
	@scripts/bootstrap

build: bootstrap
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev -j $(JOBS)

# The main job: on a local simulated cluster (kubesim) with the sample app, `tether exchange` hands the
# orders Service to a local process and back, step by step with the evidence; the cluster is torn down.
demo: build
	@/usr/bin/python3 scripts/demo.py build/dev

# The same cluster and sample app, left running to try tether by hand; prints how to use and stop it.
playground: build
	@/usr/bin/python3 scripts/playground.py build/dev

playground-down:
	@tests/kubesim/bin/kubesim down --state build/playground/kubesim

# Every test: the ASan/UBSan and fuzz builds first, then one ctest run in the dev build that covers
# unit tests, the ASan unit run, transcripts, the fuzz smoke run, the arrow check and kubesim's suite.
test: bootstrap
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS) --target unit_tests
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS) --target fuzzers
	@cmake --preset dev -DTETHER_ASAN_UNIT_TESTS=$(CURDIR)/build/asan/tests/unit_tests \
	                   -DTETHER_FUZZ_DIR=$(CURDIR)/build/fuzz >/dev/null
	@cmake --build --preset dev -j $(JOBS)
	@ctest --preset dev

# A longer fuzz run than the smoke run in `make test`.
fuzz: bootstrap
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS) --target fuzzers
	@mkdir -p build/fuzz/corpus-rpc
	build/fuzz/tests/fuzz/fuzz_rpc -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build/fuzz/corpus-rpc tests/fuzz/corpus/rpc

# Benchmarks (optimised build); they print comparison tables and never fail.
bench: bootstrap
	@cmake --preset bench >/dev/null
	@cmake --build --preset bench -j $(JOBS)
	-@bench/rpc/run.sh build/bench
	-@/usr/bin/python3 bench/kube/run.py build/bench
	-@/usr/bin/python3 bench/kubesim/api_bench.py
	-@/usr/bin/python3 bench/kubesim/node_bench.py
	-@bench/tunnel/run.sh build/bench
	-@/usr/bin/python3 bench/session/run.py build/bench
	-@/usr/bin/python3 bench/mesh/run.py build/bench
	-@/usr/bin/python3 bench/outbound/run.py build/bench

clean:
	-@tests/kubesim/bin/kubesim down --state build/playground/kubesim
	rm -rf build
