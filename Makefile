# flowstack: `make test` installs what is missing, builds and runs every test;
# `make run` starts the DNS forwarder; `make bench` runs the side-by-side benchmarks;
# `make install` installs the library.

# Debian packages the build, the tests and the benchmarks need.
PACKAGES := cmake ninja-build g++ clang clang-format libclang-rt-14-dev ccache \
            libasio-dev libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libssl-dev \
            socat iperf3 iproute2 procps openssl knot-dnsutils \
            dnsperf dnsdist dnsmasq-base unbound python3 util-linux \
            tshark python3-scapy bsdutils groff-base man-db iputils-ping

PREFIX ?= /usr/local
JOBS ?= $(shell nproc)

.PHONY: all deps build run test test-release test-asan test-clang bench install format clean

all: build

# Installs only what is missing; `apt-get update` runs first so new package names are known.
deps:
	@missing=$$(for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps
	cmake --preset release
	cmake --build --preset release -j $(JOBS)

# The release build, the sanitizer build, and clang 14 (which also runs the fuzz targets with
# libFuzzer over their corpora).
test: test-release test-asan test-clang

test-release: build
	ctest --preset release

test-asan: deps
	cmake --preset asan-ubsan
	cmake --build --preset asan-ubsan -j $(JOBS)
	ctest --preset asan-ubsan

test-clang: deps
	cmake --preset clang
	cmake --build --preset clang -j $(JOBS)
	ctest --preset clang

bench: build
	bench/run-all.sh build/release

# The DNS forwarder with its defaults: the servers of /etc/resolv.conf, the names of /etc/hosts,
# UDP and TCP on 127.0.0.1:1053. Extra arguments: make run ARGS='--log-level debug'.
run: build
	@echo "flowstack dns-forward on 127.0.0.1:1053 (UDP and TCP); query it with"
	@echo "  kdig @127.0.0.1 -p 1053 example.com     or     dig @127.0.0.1 -p 1053 example.com"
	@echo "Ctrl-C stops it."
	build/release/src/cli/flowstack dns-forward $(ARGS)

install: build
	cmake --install build/release --prefix $(PREFIX)

format:
	find include src tests bench fuzz examples -name '*.[ch]pp' | xargs clang-format -i

clean:
	rm -rf build
