// Accept rate, the reference server: the smallest libsrt accept loop there is. One listener on 127.0.0.1 (port
// chosen by the kernel), the adapter's defaults (live mode, 120 ms latency, 1316-byte payload), a blocking
// srt_accept in a loop, each accepted socket closed at once: the same work as srt-scale-server's accept mode.
// WINDOW, when given and not 0, sets the listener's flow window (SRTO_FC, packets; inherited by accepted sockets) as
// the adapter does (its receive buffer's 8192 packets), so that the loop differs from SRTServer in nothing else.
//
// Usage: accept_loop CONNECTIONS BACKLOG [WINDOW]
// Prints "READY port=P", then, once CONNECTIONS distinct callers were accepted, "ACCEPTED key=value ..." with
// monotonic instants.
#include "common.h"


int main(int argc, char** argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s CONNECTIONS BACKLOG [WINDOW]\n", argv[0]);
        return 2;
    }
    int count = atoi(argv[1]), backlog = atoi(argv[2]), window = argc == 4 ? atoi(argv[3]) : 0;
    if (count <= 0 || backlog <= 0 || window < 0) {
        fprintf(stderr, "CONNECTIONS and BACKLOG must be positive, WINDOW 0 or more\n");
        return 2;
    }
    // A hard bound: a blocking accept that never returns must not outlive the run.
    alarm(120);
    srt_startup();
    srt_setloglevel(3);
    SRTSOCKET listener = srt_create_socket();
    if (listener == SRT_INVALID_SOCK) fail("srt_create_socket");
    int latency = 120, payload = 1316;
    srt_setsockflag(listener, SRTO_RCVLATENCY, &latency, sizeof latency);
    srt_setsockflag(listener, SRTO_PEERLATENCY, &latency, sizeof latency);
    srt_setsockflag(listener, SRTO_PAYLOADSIZE, &payload, sizeof payload);
    if (window > 0 && srt_setsockflag(listener, SRTO_FC, &window, sizeof window) == SRT_ERROR) fail("SRTO_FC");
    struct sockaddr_in address = loopback(0);
    if (srt_bind(listener, (struct sockaddr*)&address, sizeof address) == SRT_ERROR) fail("srt_bind");
    if (srt_listen(listener, backlog) == SRT_ERROR) fail("srt_listen");
    int size = sizeof address;
    if (srt_getsockname(listener, (struct sockaddr*)&address, &size) == SRT_ERROR) fail("srt_getsockname");
    const double cpu_before = cpu_seconds();
    const long switches_before = context_switches();
    printf("READY port=%d threads=%d rss_kib=%ld\n", ntohs(address.sin_port), thread_count(), rss_kib());
    fflush(stdout);

    int64_t first_ns = 0, last_ns = 0;
    int accepted = 0, distinct = 0;
    char* seen = calloc(3 * (size_t)count + 1, 1);
    while (distinct < count) {
        struct sockaddr_storage peer;
        int length = sizeof peer;
        SRTSOCKET s = srt_accept(listener, (struct sockaddr*)&peer, &length);
        if (s == SRT_INVALID_SOCK) fail("srt_accept");
        last_ns = mono_ns();
        if (accepted++ == 0) first_ns = last_ns;
        // connector.c names each attempt "accept/N": a caller whose handshake answer came late repeats its
        // request, and libsrt makes a second connection of it once the first was closed. Count callers, not those.
        char streamid[64] = {0};
        int size = sizeof streamid - 1;
        srt_getsockflag(s, SRTO_STREAMID, streamid, &size);
        int attempt = atoi(strchr(streamid, '/') ? strchr(streamid, '/') + 1 : "-1");
        if (attempt >= 0 && attempt <= 3 * count && !seen[attempt]) {
            seen[attempt] = 1;
            distinct++;
        }
        srt_close(s);
    }
    printf("ACCEPTED n=%d accepted=%d first_ns=%lld last_ns=%lld cpu_s=%.3f switches=%ld threads=%d rss_kib=%ld\n",
           distinct, accepted, (long long)first_ns, (long long)last_ns, cpu_seconds() - cpu_before,
           context_switches() - switches_before, thread_count(), rss_kib());
    fflush(stdout);
    srt_close(listener);
    srt_cleanup();
    return 0;
}
