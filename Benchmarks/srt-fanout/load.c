// The load of the fan-out benchmark: READERS readers and one publisher of one stream, against a server on
// 127.0.0.1:PORT (srt-relay, or fanout.c).
//
// Usage: load PORT READERS MBITS SECONDS [LATENCY_MS [PUBLISH_PORT]]
//
// With PUBLISH_PORT the publisher connects there instead (an origin that the server on PORT pulls from).
// The readers connect first (stream id read:bench), then the publisher (publish:bench) sends 1316-byte messages at
// MBITS Mbit/s of payload for SECONDS s, paced every 5 ms. Each message carries its sequence number and the
// monotonic instant it was handed to libsrt (bytes 1-16; byte 0 is 0, so that no server takes the stream for MPEG-TS
// and cuts it). The readers are read in one epoll loop on the main thread. Once the publisher is done, and a second
// more, it prints one JSON line: messages sent, and for the readers the fewest and most messages received, gaps,
// and the latency from the publisher's send to the reader's receive (p50, p99, max, in ms, over every message of
// every reader). Prints "ready" on stderr when the readers are connected, "publishing" when the publisher is.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <srt/srt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PAYLOAD = 1316, MAX_EVENTS = 512, BUCKETS = 100000 };  // latency histogram: 10 us buckets up to 1 s

static int64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void fail(const char* what) {
    fprintf(stderr, "load: %s: %s\n", what, srt_getlasterror_str());
    exit(1);
}

static struct sockaddr_in server;
static int latency = 120;
static double mbits;
static double seconds;
static volatile int64_t sent = 0;
static volatile int publishing_done = 0;

/// The local UDP port every reader shares (0 until the first reader learned it): one libsrt multiplexer, one
/// receive thread, for all of them, so that the load costs the machine as little as it can.
static int reader_port = 0;

/// Where the publisher connects: the server, or another (an origin the server pulls from) when PUBLISH_PORT is given.
static struct sockaddr_in publish_server;

static SRTSOCKET connect_to(const struct sockaddr_in* to, const char* stream_id, int shared) {
    SRTSOCKET socket = srt_create_socket();
    srt_setsockflag(socket, SRTO_LATENCY, &latency, sizeof latency);
    srt_setsockflag(socket, SRTO_STREAMID, stream_id, (int)strlen(stream_id));
    if (shared) {
        struct sockaddr_in local;
        memset(&local, 0, sizeof local);
        local.sin_family = AF_INET;
        local.sin_port = htons((uint16_t)reader_port);
        inet_pton(AF_INET, "127.0.0.1", &local.sin_addr);
        if (srt_bind(socket, (struct sockaddr*)&local, sizeof local) == SRT_ERROR) fail("bind");
        if (reader_port == 0) {
            int size = sizeof local;
            srt_getsockname(socket, (struct sockaddr*)&local, &size);
            reader_port = ntohs(local.sin_port);
        }
    }
    if (srt_connect(socket, (const struct sockaddr*)to, sizeof *to) == SRT_ERROR) fail(stream_id);
    return socket;
}

static SRTSOCKET connect_as(const char* stream_id, int shared) {
    return connect_to(&server, stream_id, shared);
}

static void* publish(void* unused) {
    (void)unused;
    SRTSOCKET socket = connect_to(&publish_server, "publish:bench", 0);
    fprintf(stderr, "publishing\n");
    char message[PAYLOAD];
    memset(message, 0xAB, sizeof message);
    message[0] = 0;
    const double per_second = mbits * 1e6 / 8 / PAYLOAD;
    const int64_t start = mono_ns();
    const int64_t total = (int64_t)(per_second * seconds);
    int64_t next = start;
    while (sent < total) {
        next += 5000000;
        struct timespec until = {.tv_sec = next / 1000000000, .tv_nsec = next % 1000000000};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
        int64_t due = (int64_t)((double)(mono_ns() - start) / 1e9 * per_second);
        if (due > total) due = total;
        while (sent < due) {
            int64_t now = mono_ns();
            int64_t sequence = sent;
            memcpy(message + 1, &sequence, 8);
            memcpy(message + 9, &now, 8);
            if (srt_sendmsg2(socket, message, PAYLOAD, NULL) == SRT_ERROR) fail("send");
            sent++;
        }
    }
    // Until every message was acknowledged, so that the readers can have them all.
    for (int i = 0; i < 300; i++) {
        size_t blocks = 0, bytes = 0;
        if (srt_getsndbuffer(socket, &blocks, &bytes) == SRT_ERROR || blocks == 0) break;
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 10000000};
        nanosleep(&pause, NULL);
    }
    // And a second more before closing: what the server holds for its latency is lost with the connection.
    struct timespec linger = {.tv_sec = 1, .tv_nsec = 0};
    nanosleep(&linger, NULL);
    publishing_done = 1;
    srt_close(socket);
    return NULL;
}

int main(int argc, char** argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: load PORT READERS MBITS SECONDS [LATENCY_MS [PUBLISH_PORT]]\n");
        return 2;
    }
    const int port = atoi(argv[1]);
    const int count = atoi(argv[2]);
    mbits = atof(argv[3]);
    seconds = atof(argv[4]);
    if (argc > 5) latency = atoi(argv[5]);
    memset(&server, 0, sizeof server);
    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
    publish_server = server;
    if (argc > 6) publish_server.sin_port = htons((uint16_t)atoi(argv[6]));
    srt_startup();
    SRTSOCKET* readers = calloc((size_t)count, sizeof *readers);
    int64_t* received = calloc((size_t)count, sizeof *received);
    int64_t* expected = calloc((size_t)count, sizeof *expected);
    int64_t* gaps = calloc((size_t)count, sizeof *gaps);
    int64_t* histogram = calloc(BUCKETS + 1, sizeof *histogram);
    int poll = srt_epoll_create();
    for (int i = 0; i < count; i++) {
        readers[i] = connect_as("read:bench", 1);
        int no = 0;
        srt_setsockflag(readers[i], SRTO_RCVSYN, &no, sizeof no);
        int events = SRT_EPOLL_IN | SRT_EPOLL_ERR;
        srt_epoll_add_usock(poll, readers[i], &events);
    }
    fprintf(stderr, "ready\n");
    // Readers are registered in the server before the publisher comes: a reader that joins later would start at
    // a later message.
    struct timespec settle = {.tv_sec = 0, .tv_nsec = 300000000};
    nanosleep(&settle, NULL);
    pthread_t publisher;
    pthread_create(&publisher, NULL, publish, NULL);
    SRT_EPOLL_EVENT events[MAX_EVENTS];
    char message[1500];
    int64_t latency_max = 0;
    int64_t done_at = 0;
    for (;;) {
        if (publishing_done && done_at == 0) done_at = mono_ns();
        if (done_at && mono_ns() - done_at > 1000000000) break;
        int ready = srt_epoll_uwait(poll, events, MAX_EVENTS, 50);
        for (int e = 0; e < ready; e++) {
            int index = -1;
            for (int i = 0; i < count; i++) {
                if (readers[i] == events[e].fd) {
                    index = i;
                    break;
                }
            }
            if (index < 0) continue;
            for (;;) {
                int length = srt_recvmsg2(readers[index], message, sizeof message, NULL);
                if (length < 17) break;
                int64_t now = mono_ns(), sequence, stamp;
                memcpy(&sequence, message + 1, 8);
                memcpy(&stamp, message + 9, 8);
                if (sequence != expected[index]) gaps[index]++;
                expected[index] = sequence + 1;
                received[index]++;
                int64_t delay = now - stamp;
                if (delay > latency_max) latency_max = delay;
                int64_t bucket = delay / 10000;
                histogram[bucket > BUCKETS ? BUCKETS : (bucket < 0 ? 0 : bucket)]++;
            }
            if (events[e].events & SRT_EPOLL_ERR) srt_epoll_remove_usock(poll, readers[index]);
        }
    }
    pthread_join(publisher, NULL);
    int64_t fewest = -1, most = 0, all_gaps = 0, total = 0;
    for (int i = 0; i < count; i++) {
        if (fewest < 0 || received[i] < fewest) fewest = received[i];
        if (received[i] > most) most = received[i];
        all_gaps += gaps[i];
        total += received[i];
    }
    double p50 = 0, p99 = 0;
    int64_t seen = 0;
    for (int b = 0; b <= BUCKETS && total > 0; b++) {
        seen += histogram[b];
        if (p50 == 0 && seen * 2 >= total) p50 = (b + 1) / 100.0;
        if (seen * 100 >= total * 99) {
            p99 = (b + 1) / 100.0;
            break;
        }
    }
    printf("{\"readers\": %d, \"sent\": %lld, \"fewest\": %lld, \"most\": %lld, \"gaps\": %lld, "
           "\"latency_p50_ms\": %.2f, \"latency_p99_ms\": %.2f, \"latency_max_ms\": %.2f}\n",
           count, (long long)sent, (long long)fewest, (long long)most, (long long)all_gaps, p50, p99,
           latency_max / 1e6);
    for (int i = 0; i < count; i++) srt_close(readers[i]);
    srt_cleanup();
    return 0;
}
