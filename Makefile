# Thin wrapper over CMake: `make run` and `make test` are all a newcomer needs.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
CONFIG ?= config/edrid.yaml
JOBS ?= $(shell nproc)

.PHONY: all deps configure build run test check-config clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@if [ ! -f $(BUILD)/build.ninja ]; then \
	  cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE); \
	fi

build: configure
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/bin/edrid -c $(CONFIG)

check-config: build
	$(BUILD)/bin/edrid --check-config -c $(CONFIG)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 300

clean:
	rm -rf $(BUILD)
