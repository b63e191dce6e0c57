// One paced SRT live-mode sender for the throughput benchmark (run.py compiles and runs it).
//
// Usage: sender HOST PORT MBITS MESSAGES [LATENCY_MS [STREAM_ID]]
//
// Connects as a caller in live mode and sends MESSAGES messages of 1316 bytes at MBITS Mbit/s of payload; the first
// 8 bytes of each message are its sequence number (big-endian, from 0), so a receiver can count what it missed.
// Pacing: every 200 us it sends what is due by the clock since the first message, so the rate holds on average and
// no burst is longer than one period's worth. Then it waits until libsrt's send buffer is empty (every packet was
// acknowledged or dropped), and prints one JSON line with what it sent and libsrt's sender counters.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <srt/srt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PAYLOAD = 1316 };

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void fail(const char* what) {
    fprintf(stderr, "sender: %s: %s\n", what, srt_getlasterror_str());
    exit(1);
}

static void set_int(SRTSOCKET s, SRT_SOCKOPT option, int value, const char* name) {
    if (srt_setsockflag(s, option, &value, sizeof value) == SRT_ERROR) fail(name);
}

int main(int argc, char** argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: sender HOST PORT MBITS MESSAGES [LATENCY_MS [STREAM_ID]]\n");
        return 2;
    }
    const char* host = argv[1];
    const int port = atoi(argv[2]);
    const double mbits = atof(argv[3]);
    const long long total = atoll(argv[4]);
    const int latency = argc > 5 ? atoi(argv[5]) : 120;
    // srt-relay files a publisher under its stream id; the other receivers ignore it.
    const char* stream_id = argc > 6 ? argv[6] : NULL;
    if (port <= 0 || port > 65535 || mbits <= 0 || total <= 0 || latency < 0) {
        fprintf(stderr, "sender: bad arguments\n");
        return 2;
    }
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &address.sin_addr) != 1) {
        fprintf(stderr, "sender: %s is not a numeric IPv4 address\n", host);
        return 2;
    }

    srt_startup();
    srt_setloglevel(3);  // errors only: libsrt's notes would interleave with the JSON line
    SRTSOCKET s = srt_create_socket();
    if (s == SRT_INVALID_SOCK) fail("srt_create_socket");
    set_int(s, SRTO_TRANSTYPE, SRTT_LIVE, "SRTO_TRANSTYPE");
    set_int(s, SRTO_LATENCY, latency, "SRTO_LATENCY");
    set_int(s, SRTO_PAYLOADSIZE, PAYLOAD, "SRTO_PAYLOADSIZE");
    set_int(s, SRTO_SENDER, 1, "SRTO_SENDER");
    if (stream_id && srt_setsockflag(s, SRTO_STREAMID, stream_id, (int)strlen(stream_id)) == SRT_ERROR) {
        fail("SRTO_STREAMID");
    }
    if (srt_connect(s, (struct sockaddr*)&address, sizeof address) == SRT_ERROR) fail("srt_connect");

    char message[PAYLOAD];
    memset(message, 0x47, sizeof message);
    const double per_second = mbits * 1e6 / 8.0 / PAYLOAD;
    const struct timespec period = {0, 200 * 1000};
    long long sent = 0;
    const double start = now_s();
    double last = start;
    while (sent < total) {
        long long due = (long long)((now_s() - start) * per_second) + 1;
        if (due > total) due = total;
        for (; sent < due; sent++) {
            uint64_t sequence = (uint64_t)sent;
            for (int i = 7; i >= 0; i--) {
                message[i] = (char)(sequence & 0xff);
                sequence >>= 8;
            }
            if (srt_sendmsg2(s, message, PAYLOAD, NULL) == SRT_ERROR) fail("srt_sendmsg2");
        }
        last = now_s();
        if (sent < total) nanosleep(&period, NULL);
    }

    // Wait (at most 5 s) until every packet left the send buffer: acknowledged, or dropped too late.
    const double deadline = now_s() + 5.0;
    size_t blocks = 0, bytes = 0;
    do {
        if (srt_getsndbuffer(s, &blocks, &bytes) == SRT_ERROR) break;
        if (blocks == 0) break;
        nanosleep(&period, NULL);
    } while (now_s() < deadline);

    SRT_TRACEBSTATS stats;
    memset(&stats, 0, sizeof stats);
    srt_bstats(s, &stats, 0);
    // Acknowledged is not delivered: the receiver holds each packet for the latency before handing it over, and a
    // closed peer ends its reads, so stay connected until the last packets have been played out.
    const long linger_ms = (long)latency * 3 + 300;
    const struct timespec linger = {linger_ms / 1000, (linger_ms % 1000) * 1000000L};
    nanosleep(&linger, NULL);
    printf("{\"messages\": %lld, \"seconds\": %.6f, \"unacknowledged\": %zu, \"pktSent\": %lld, "
           "\"pktSentUnique\": %lld, \"pktRetrans\": %d, \"pktSndLoss\": %d, \"pktSndDrop\": %d, \"rttMs\": %.3f}\n",
           sent, last - start, blocks, (long long)stats.pktSentTotal, (long long)stats.pktSentUniqueTotal,
           stats.pktRetransTotal, stats.pktSndLossTotal, stats.pktSndDropTotal, stats.msRTT);
    fflush(stdout);
    srt_close(s);
    srt_cleanup();
    return 0;
}
