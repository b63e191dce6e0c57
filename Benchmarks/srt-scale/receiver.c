// Connection scale, the reference server: a minimal libsrt receiver doing what srt-scale-server's scale mode does,
// without the adapter. One listener on 127.0.0.1 (port chosen by the kernel, the adapter's defaults), a blocking
// non-blocking srt_accept of CONNECTIONS callers, every connection read through one srt_epoll container on this
// thread from the moment it is accepted.
// It counts messages as the Swift side does (index, sequence number and send instant in each payload) and prints
// the same "FIGURES", "STREAMING", "RESULT" and "LATENCY" lines, so that run.sh can put both side by side: what
// libsrt costs by itself (threads, memory, delivery time) and what the adapter adds.
//
// Usage: receiver CONNECTIONS MESSAGES
#include "common.h"

// Threads by kind, named as srt-scale-server names them (its ProcessFigures.Kind): libsrt's per-process and per-port
// threads, libsrt's per-connection "SRT:TsbPd" threads, and the rest (the main thread). No adapter, no Swift pool.
enum { kind_adapter, kind_swift_pool, kind_libsrt_ports, kind_tsbpd, kind_other, kinds };
static const char* kind_names[kinds] = {"adapter", "swift_pool", "libsrt_ports", "tsbpd", "other"};
// The baseline, then the fewest and the most at any later moment.
static int kind_baseline[kinds], kind_min[kinds], kind_max[kinds], kind_later_seen;

static int count_threads(int by_kind[kinds]) {
    memset(by_kind, 0, sizeof(int) * kinds);
    int threads = 0;
    DIR* directory = opendir("/proc/self/task");
    if (!directory) return 0;
    struct dirent* entry;
    while ((entry = readdir(directory))) {
        if (entry->d_name[0] == '.') continue;
        threads++;
        char path[300], name[64] = {0};
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", entry->d_name);
        FILE* file = fopen(path, "r");
        if (file) {
            if (!fgets(name, sizeof name, file)) name[0] = 0;
            fclose(file);
        }
        if (strncmp(name, "SRT:TsbPd", 9) == 0) {
            by_kind[kind_tsbpd]++;
        } else if (strncmp(name, "SRT:", 4) == 0) {
            by_kind[kind_libsrt_ports]++;
        } else {
            by_kind[kind_other]++;
        }
    }
    closedir(directory);
    return threads;
}

/// Counts the threads as one later moment (after the baseline) for the THREADS line; returns the total.
static int record_threads(int* tsbpd) {
    int by_kind[kinds];
    int threads = count_threads(by_kind);
    for (int kind = 0; kind < kinds; kind++) {
        if (!kind_later_seen || by_kind[kind] < kind_min[kind]) kind_min[kind] = by_kind[kind];
        if (!kind_later_seen || by_kind[kind] > kind_max[kind]) kind_max[kind] = by_kind[kind];
    }
    kind_later_seen = 1;
    *tsbpd = by_kind[kind_tsbpd];
    return threads;
}

static void print_figures(const char* phase, const char* extra) {
    int by_kind[kinds];
    int threads = count_threads(by_kind);
    if (strcmp(phase, "baseline") == 0) {
        memcpy(kind_baseline, by_kind, sizeof by_kind);
    } else {
        int tsbpd;
        record_threads(&tsbpd);
    }
    printf("FIGURES phase=%s threads=%d threads_besides_tsbpd=%d rss_kib=%ld cpu_s=%.3f%s\n", phase, threads,
           threads - by_kind[kind_tsbpd], rss_kib(), cpu_seconds(), extra);
    fflush(stdout);
}

static int compare(const void* a, const void* b) {
    uint32_t x = *(const uint32_t*)a, y = *(const uint32_t*)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s CONNECTIONS MESSAGES\n", argv[0]);
        return 2;
    }
    const int count = atoi(argv[1]), messages = atoi(argv[2]);
    if (count <= 0 || messages <= 0) {
        fprintf(stderr, "CONNECTIONS and MESSAGES must be positive\n");
        return 2;
    }
    // A hard bound: accepting, streaming (callers.c sends at least 1 message per second) and margin.
    alarm((unsigned)(120 + messages));
    srt_startup();
    // Critical only: a non-blocking srt_accept with nothing pending is logged as an error (it is the normal end of
    // each accept burst here).
    srt_setloglevel(2);
    SRTSOCKET listener = srt_create_socket();
    if (listener == SRT_INVALID_SOCK) fail("srt_create_socket");
    int latency = 120, payload = 1316, no = 0;
    srt_setsockflag(listener, SRTO_RCVLATENCY, &latency, sizeof latency);
    srt_setsockflag(listener, SRTO_PEERLATENCY, &latency, sizeof latency);
    srt_setsockflag(listener, SRTO_PAYLOADSIZE, &payload, sizeof payload);
    struct sockaddr_in address = loopback(0);
    if (srt_bind(listener, (struct sockaddr*)&address, sizeof address) == SRT_ERROR) fail("srt_bind");
    if (srt_listen(listener, 1024) == SRT_ERROR) fail("srt_listen");
    int size = sizeof address;
    if (srt_getsockname(listener, (struct sockaddr*)&address, &size) == SRT_ERROR) fail("srt_getsockname");
    print_figures("baseline", "");
    printf("READY port=%d\n", ntohs(address.sin_port));
    fflush(stdout);

    const int64_t started = mono_ns();
    // The listener shares the epoll container with the connections: each connection is read from the moment it is
    // accepted, as the Swift side does, not after the last one.
    int eid = srt_epoll_create();
    srt_setsockflag(listener, SRTO_RCVSYN, &no, sizeof no);
    int listener_events = SRT_EPOLL_IN | SRT_EPOLL_ERR;
    srt_epoll_add_usock(eid, listener, &listener_events);
    int accepted = 0;

    // seen[index × messages + sequence]; one delivery time per message received, in microseconds.
    const int64_t expected = (int64_t)count * messages;
    char* seen = calloc((size_t)expected, 1);
    uint32_t* latencies = malloc(sizeof(uint32_t) * (size_t)expected);
    long long received = 0, duplicates = 0, foreign = 0, kept = 0;
    int ended = 0, samples = 0, most_threads = 0, most_besides = 0, middle_done = 0;
    long most_rss = 0;
    double first_cpu = 0, last_cpu = 0;
    int64_t first_sample = 0, last_sample = 0, next_sample = mono_ns() + 1000000000;
    long long at_last_sample = 0;
    SRT_EPOLL_EVENT events[1024];
    char buffer[1500];
    // Until every caller went away, or 60 s without any message or connection.
    int64_t quiet_since = mono_ns();
    while (ended < count && mono_ns() - quiet_since < 60 * 1000000000LL) {
        int ready = srt_epoll_uwait(eid, events, 1024, 100);
        for (int e = 0; e < ready; e++) {
            SRTSOCKET s = events[e].fd;
            if (s == listener) {
                SRTSOCKET connection;
                while (accepted < count && (connection = srt_accept(listener, NULL, NULL)) != SRT_INVALID_SOCK) {
                    srt_setsockflag(connection, SRTO_RCVSYN, &no, sizeof no);
                    int connection_events = SRT_EPOLL_IN | SRT_EPOLL_ERR;
                    srt_epoll_add_usock(eid, connection, &connection_events);
                    quiet_since = mono_ns();
                    if (++accepted == count) {
                        char after[64];
                        snprintf(after, sizeof after, " after_s=%.3f", (mono_ns() - started) / 1e9);
                        print_figures("accepted", after);
                        srt_epoll_remove_usock(eid, listener);
                    }
                }
                continue;
            }
            while (1) {
                int length = srt_recvmsg(s, buffer, sizeof buffer);
                if (length < 0) {
                    if (srt_getlasterror(NULL) != SRT_EASYNCRCV) {
                        // The caller went away: this connection is done (closing also leaves the epoll container).
                        srt_close(s);
                        ended++;
                    }
                    break;
                }
                int64_t now = mono_ns();
                quiet_since = now;
                received++;
                uint32_t header[2];
                int64_t sent_ns;
                memcpy(header, buffer, sizeof header);
                memcpy(&sent_ns, buffer + sizeof header, sizeof sent_ns);
                if (length < 16 || header[0] >= (uint32_t)count || header[1] >= (uint32_t)messages) {
                    foreign++;
                    continue;
                }
                char* slot = &seen[(int64_t)header[0] * messages + header[1]];
                if (*slot) duplicates++;
                *slot = 1;
                latencies[kept++] = (uint32_t)((now - sent_ns) / 1000);
            }
        }
        // One sample a second while messages arrive, as the Swift side does.
        if (mono_ns() >= next_sample) {
            next_sample += 1000000000;
            if (received > at_last_sample) {
                int tsbpd;
                int threads = record_threads(&tsbpd);
                long rss = rss_kib();
                if (threads > most_threads) most_threads = threads;
                if (threads - tsbpd > most_besides) most_besides = threads - tsbpd;
                if (rss > most_rss) most_rss = rss;
                last_sample = mono_ns();
                last_cpu = cpu_seconds();
                if (samples++ == 0) {
                    first_sample = last_sample;
                    first_cpu = last_cpu;
                }
                // callers.c streams MESSAGES / RATE seconds; halfway is near the middle sample.
                if (!middle_done && received >= expected / 2) {
                    print_figures("streaming-middle", "");
                    middle_done = 1;
                }
            }
            at_last_sample = received;
        }
    }
    printf("FIGURES phase=streaming-peak threads=%d threads_besides_tsbpd=%d rss_kib=%ld\n", most_threads,
           most_besides, most_rss);
    double wall = (last_sample - first_sample) / 1e9;
    printf("STREAMING samples=%d cpu_percent=%.1f\n", samples, wall > 0 ? (last_cpu - first_cpu) / wall * 100 : 0);
    // libsrt ends a TSBPD thread a moment after its connection: the end figures wait (at most 5 s) for them.
    for (int waited = 0; waited < 50; waited++) {
        int by_kind[kinds];
        count_threads(by_kind);
        if (by_kind[kind_tsbpd] == 0) break;
        sleep_until_ns(mono_ns() + 100000000);
    }
    print_figures("end", "");
    printf("THREADS");
    for (int kind = 0; kind < kinds; kind++) {
        printf(" %s=%d,%d,%d", kind_names[kind], kind_baseline[kind], kind_min[kind], kind_max[kind]);
    }
    printf("\n");
    long long lost = 0;
    int lossy = 0;
    for (int index = 0; index < count; index++) {
        int missing = 0;
        for (int sequence = 0; sequence < messages; sequence++) missing += !seen[(int64_t)index * messages + sequence];
        lost += missing;
        lossy += missing > 0;
    }
    printf("RESULT connections=%d accepted=%d expected=%lld received=%lld lost=%lld duplicates=%lld foreign=%lld "
           "lossy_connections=%d ended=%d\n",
           count, accepted, (long long)expected, received, lost, duplicates, foreign, lossy, ended);
    qsort(latencies, (size_t)kept, sizeof(uint32_t), compare);
    if (kept > 0) {
        printf("LATENCY ms_p50_p99_p999_max=%.1f/%.1f/%.1f/%.1f\n", latencies[kept / 2] / 1e3,
               latencies[(long long)(kept * 0.99)] / 1e3, latencies[(long long)(kept * 0.999)] / 1e3,
               latencies[kept - 1] / 1e3);
    }
    fflush(stdout);
    // The listener and any socket left go with the process.
    _exit(lost == 0 && duplicates == 0 ? 0 : 1);
}
