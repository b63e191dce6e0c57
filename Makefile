# The two commands of the README: `make run` (the main job) and `make test` (everything CI checks).
# Each installs the Debian packages it needs first.
SHELL := /bin/bash
SWIFT_SOURCES := Package.swift Sources Adapters Tests Benchmarks/Package.swift Benchmarks/Benchmarks Benchmarks/Sources \
	Examples/Package.swift Examples/Sources

.PHONY: run test deps format lint build docs bench soak

deps:
	@./scripts/install-deps.sh

# srt-relay with no arguments listens on port 9000 and records each SRT publisher to recordings/;
# pass flags with ARGS, e.g. make run ARGS="--chaos 10" (see swift run srt-relay --help).
run: deps
	swift run -c release srt-relay $(ARGS)

# The soaks run on their own, after the rest: the CPU-heavy supervisor soak would only slow the timing-sensitive SRT
# fault suites down, the SRT soak (30 s of live streams and 4 faults in a child process) measures recoveries, and the
# relay records a 60 s stream with its output never read.
# The pool-starvation test measures a 10 ms sleeper's lateness, which only means something on cores nobody else takes;
# the quick check's load test keeps every core busy on purpose for 5 s, which would starve the flood tests beside it.
# The relay's server suites (readers, ffmpeg encoding in real time, a fault with live readers) stream for seconds to
# several readers each, two relay suites time a process's answers (its metrics server's, its start with a full pipe),
# and the recording attacks send a SIGTERM that must come within a full disk's 10 s close (a test stalled that long
# once beside the 500 others): they run together on their own, so that the load of the rest does not meet theirs. The
# chain suites (two or three relays each, pushing and pulling, one across network namespaces) stream as much again: a
# step of their own.
SERVER_SUITES := RelayReaderTests|RelayFFmpegTests|RelayReaderFaultTests|RelayStreamSecretsTests|RelayAPITests
SERVER_SUITES := $(SERVER_SUITES)|RelayDescriptorLimitTests|RelayUnreadOutputTests|RelayPublisherFaultTests
SERVER_SUITES := $(SERVER_SUITES)|RecordingAttackTests
CHAIN_SUITES := RelayPushTests|RelayPullTests|RelayChainLoopTests|RelayChainNamespaceTests|RelayChainOperationTests
CHAIN_SUITES := $(CHAIN_SUITES)|PushAttackTests|PullAttackTests
test: deps lint build docs
	./scripts/run-tests.sh --skip SupervisorSoakTests --skip SRTSoakTests --skip PoolStarvationTests \
		--skip QuickCheckTests --skip RelayUnreadOutputSoakTests --skip "$(SERVER_SUITES)" --skip "$(CHAIN_SUITES)"
	./scripts/run-tests.sh --filter "$(SERVER_SUITES)"
	./scripts/run-tests.sh --filter "$(CHAIN_SUITES)"
	./scripts/run-tests.sh --filter SupervisorSoakTests
	./scripts/run-tests.sh --filter PoolStarvationTests
	./scripts/run-tests.sh --filter QuickCheckTests
	./scripts/run-tests.sh --filter SRTSoakTests
	./scripts/run-tests.sh --filter RelayUnreadOutputSoakTests

lint:
	swift format lint --strict --recursive $(SWIFT_SOURCES)
	./scripts/check-line-length.sh $(SWIFT_SOURCES)

format:
	swift format --in-place --recursive $(SWIFT_SOURCES)

# The package with its tests, then the Examples package (a separate package, as a user's would be).
build:
	./scripts/check-warnings.sh
	./scripts/check-warnings.sh --package-path Examples

# The DocC catalogs, with --warnings-as-errors.
docs:
	./scripts/check-docs.sh

# Benchmarks live in their own package so the library stays light; see Docs/benchmarks.md.
bench: deps
	./Benchmarks/run.sh

# The long forms of the soak tests: 10,000 supervisors × 1,000 faults (10⁷) under virtual time; the SRT soak for
# 30 minutes with a fault every 10 s (180 faults; add SRT_SOAK_PROGRESS=<file> to follow it, see Docs/reliability.md).
soak: deps build
	SUPERVISOR_SOAK_SUPERVISORS=10000 ./scripts/run-tests.sh --filter SupervisorSoakTests
	SRT_SOAK_SECONDS=1800 SRT_SOAK_FAULT_INTERVAL=10 ./scripts/run-tests.sh --filter SRTSoakTests
