// What the srt-scale C programs share: the monotonic clock every process of a run reads (so the script can subtract
// one program's instants from another's), the process's own figures (threads, resident memory, CPU), and many
// non-blocking SRT connects from one local UDP port.
//
// Everything here talks to 127.0.0.1 only.
#ifndef SRT_SCALE_COMMON_H
#define SRT_SCALE_COMMON_H

#define _GNU_SOURCE
#include <srt/srt.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process on the machine.
static inline int64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/// Sleeps until the monotonic instant `ns` (returns at once when it has passed).
static inline void sleep_until_ns(int64_t ns) {
    struct timespec t = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) != 0) {
    }
}

/// The number of threads of this process (/proc/self/task entries).
static inline int thread_count(void) {
    DIR* directory = opendir("/proc/self/task");
    if (!directory) return -1;
    int count = 0;
    struct dirent* entry;
    while ((entry = readdir(directory))) count += entry->d_name[0] != '.';
    closedir(directory);
    return count;
}

/// VmRSS of this process in KiB, from /proc/self/status.
static inline long rss_kib(void) {
    FILE* file = fopen("/proc/self/status", "r");
    if (!file) return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, file)) {
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    }
    fclose(file);
    return kib;
}

/// User plus system CPU time of every thread of this process, in seconds.
static inline double cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

/// Voluntary plus involuntary context switches of every thread of this process so far.
static inline long context_switches(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_nvcsw + usage.ru_nivcsw;
}

static inline struct sockaddr_in loopback(int port) {
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons((uint16_t)port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

static inline void fail(const char* what) {
    fprintf(stderr, "%s: %s\n", what, srt_getlasterror_str());
    exit(2);
}

/// The outcome of connect_many.
typedef struct {
    /// One per connection index; SRT_INVALID_SOCK where it never connected.
    SRTSOCKET* sockets;
    int connected;
    /// Attempts that failed (each is retried, at most `max_attempts` times per index).
    int failed_attempts;
    /// Failed attempts by libsrt's reject reason (SRT_REJ_TIMEOUT, SRT_REJ_BACKLOG, ...).
    int by_reason[SRT_REJ_E_SIZE + 1];
    int64_t first_ns, last_ns;
} connect_result;

/// Opens one caller: live mode (libsrt's default), non-blocking, bound to 127.0.0.1:*local_port (0 on the first
/// call, which then learns the port), stream id "prefix/index", subscribed to `eid` for its outcome.
static inline SRTSOCKET start_caller(int eid, int port, int* local_port, const char* prefix, int index) {
    SRTSOCKET s = srt_create_socket();
    if (s == SRT_INVALID_SOCK) fail("srt_create_socket");
    int no = 0, timeout_ms = 5000;
    srt_setsockflag(s, SRTO_RCVSYN, &no, sizeof no);
    srt_setsockflag(s, SRTO_SNDSYN, &no, sizeof no);
    srt_setsockflag(s, SRTO_CONNTIMEO, &timeout_ms, sizeof timeout_ms);
    char streamid[64];
    int length = snprintf(streamid, sizeof streamid, "%s/%d", prefix, index);
    srt_setsockflag(s, SRTO_STREAMID, streamid, length);
    // Every caller on one local port: one libsrt multiplexer (one receive and one send thread) for all of them.
    struct sockaddr_in local = loopback(*local_port);
    if (srt_bind(s, (struct sockaddr*)&local, sizeof local) == SRT_ERROR) fail("srt_bind");
    if (*local_port == 0) {
        int size = sizeof local;
        if (srt_getsockname(s, (struct sockaddr*)&local, &size) == SRT_ERROR) fail("srt_getsockname");
        *local_port = ntohs(local.sin_port);
    }
    int events = SRT_EPOLL_OUT | SRT_EPOLL_ERR;
    srt_epoll_add_usock(eid, s, &events);
    struct sockaddr_in remote = loopback(port);
    // Non-blocking: returns at once; the outcome arrives as an epoll event.
    if (srt_connect(s, (struct sockaddr*)&remote, sizeof remote) == SRT_ERROR) fail("srt_connect");
    return s;
}

/// Connects `count` callers to 127.0.0.1:port with at most `concurrency` handshakes in flight, all from one local
/// UDP port; a failed attempt is retried up to `max_attempts` per index. Connected sockets stay open (and leave the
/// epoll container). Returns when all are connected or at `deadline_ns`.
static inline connect_result connect_many(
    int port, int count, int concurrency, int max_attempts, int64_t deadline_ns, const char* prefix) {
    connect_result result;
    memset(&result, 0, sizeof result);
    result.sockets = malloc(sizeof(SRTSOCKET) * (size_t)count);
    int* attempts = calloc((size_t)count, sizeof(int));
    int* retry = malloc(sizeof(int) * (size_t)count);
    SRTSOCKET* flight = malloc(sizeof(SRTSOCKET) * (size_t)concurrency);
    int* flight_index = malloc(sizeof(int) * (size_t)concurrency);
    for (int i = 0; i < count; i++) result.sockets[i] = SRT_INVALID_SOCK;
    int eid = srt_epoll_create();
    int local_port = 0, next = 0, retries = 0, in_flight = 0, given_up = 0;
    SRT_EPOLL_EVENT events[256];
    result.first_ns = mono_ns();
    while (result.connected + given_up < count && mono_ns() < deadline_ns) {
        while (in_flight < concurrency && (retries > 0 || next < count)) {
            int index = retries > 0 ? retry[--retries] : next++;
            attempts[index]++;
            flight[in_flight] = start_caller(eid, port, &local_port, prefix, index);
            flight_index[in_flight++] = index;
        }
        int ready = srt_epoll_uwait(eid, events, 256, 100);
        for (int e = 0; e < ready; e++) {
            SRTSOCKET s = events[e].fd;
            SRT_SOCKSTATUS state = srt_getsockstate(s);
            if (state == SRTS_CONNECTING) continue;
            int slot = 0;
            while (slot < in_flight && flight[slot] != s) slot++;
            if (slot == in_flight) continue;
            int index = flight_index[slot];
            flight[slot] = flight[--in_flight];
            flight_index[slot] = flight_index[in_flight];
            srt_epoll_remove_usock(eid, s);
            if (state == SRTS_CONNECTED) {
                result.sockets[index] = s;
                result.connected++;
                result.last_ns = mono_ns();
            } else {
                int reason = srt_getrejectreason(s);
                result.by_reason[reason >= 0 && reason < SRT_REJ_E_SIZE ? reason : SRT_REJ_E_SIZE]++;
                result.failed_attempts++;
                srt_close(s);
                if (attempts[index] < max_attempts) {
                    retry[retries++] = index;
                } else {
                    given_up++;
                }
            }
        }
    }
    for (int slot = 0; slot < in_flight; slot++) srt_close(flight[slot]);
    srt_epoll_release(eid);
    free(attempts);
    free(retry);
    free(flight);
    free(flight_index);
    return result;
}

/// "reason:count" for every reject reason seen (libsrt's numbers: 5 backlog, 16 timeout, ...), or "-".
static inline void print_reasons(const connect_result* result) {
    int any = 0;
    for (int reason = 0; reason <= SRT_REJ_E_SIZE; reason++) {
        if (result->by_reason[reason] == 0) continue;
        printf("%s%d:%d", any ? "," : "", reason, result->by_reason[reason]);
        any = 1;
    }
    if (!any) printf("-");
}

#endif
