# make demo   install what is missing, build (Release), train and compress a model on Fashion-MNIST
# make test   install what is missing, build, run the whole test suite
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps configure build demo test bench clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release > /dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD_DIR)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

bench: build
	@bash bench/kernels.sh $(BUILD_DIR)
	@bash bench/train_throughput $(BUILD_DIR)

clean:
	@rm -rf $(BUILD_DIR)
