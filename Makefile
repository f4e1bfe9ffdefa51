# errata: the two set-up commands are `make run` and `make test`.
BUILD ?= build
PORT ?= 8000
DATA_DIR ?= ./data
JOBS ?= $(shell nproc)

.PHONY: deps build run test unit e2e bench bench-smoke bench-scale-out format clean

deps:
	@./scripts/bootstrap.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/errata serve --listen 127.0.0.1:$(PORT) --data-dir $(DATA_DIR)

# Every test: unit (gtest), end-to-end (the real binary over HTTP) and the
# benchmark smoke run.
test: build
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 600

unit: build
	$(BUILD)/errata_tests

e2e: build
	cd $(BUILD) && ctest --output-on-failure -L e2e

# One run per embedded store (SQLite, then RocksDB), each with its own W0;
# BENCH_STORE=sqlite or BENCH_STORE=rocksdb runs that store only (the rows'
# command column reproduces each run).
bench: build
ifdef BENCH_STORE
	./bench/run.sh
else
	BENCH_STORE=sqlite ./bench/run.sh
	BENCH_STORE=rocksdb ./bench/run.sh
endif

# SQLite vs PostgreSQL (one node, two behind nginx); see BENCHMARKS.md, "Scale out".
bench-scale-out: build
	./bench/scale_out.sh

clean:
	rm -rf $(BUILD)
