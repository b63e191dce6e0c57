// Connection scale, the caller side: CONNECTIONS SRT callers in live mode, all on one local UDP port (one libsrt
// multiplexer, so this process needs no thread per caller), each sending MESSAGES messages of 1316 bytes at RATE
// per second to 127.0.0.1:PORT. Every payload starts with (connection index, sequence number, send instant), so the
// server counts loss, duplicates and order per connection and the delivery time.
//
// Usage: callers PORT CONNECTIONS MESSAGES RATE
// Prints "CALLERS key=value ..." lines; exits 1 if a caller did not connect or a send failed.
#include "common.h"


enum { payload_size = 1316, concurrency = 64 };

int main(int argc, char** argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s PORT CONNECTIONS MESSAGES RATE\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), count = atoi(argv[2]), messages = atoi(argv[3]);
    double rate = atof(argv[4]);
    if (port <= 0 || count <= 0 || messages <= 0 || rate <= 0) {
        fprintf(stderr, "PORT, CONNECTIONS, MESSAGES and RATE must be positive\n");
        return 2;
    }
    // A hard bound on the whole run: connecting, streaming, one second of drain, and margin.
    alarm((unsigned)(120 + messages / rate));
    srt_startup();
    srt_setloglevel(3);

    connect_result connected = connect_many(port, count, concurrency, 3, mono_ns() + 60 * 1000000000LL, "scale");
    printf("CALLERS connected=%d of=%d failed_attempts=%d reasons=", connected.connected, count,
           connected.failed_attempts);
    print_reasons(&connected);
    printf(" connect_s=%.3f\n", (connected.last_ns - connected.first_ns) / 1e9);
    fflush(stdout);

    // Slot k goes to connection k % count with sequence number k / count, at t0 + k / (count × rate): every
    // connection sends at RATE, and the sends of different connections are spread evenly over each period.
    char payload[payload_size];
    memset(payload, 0x47, sizeof payload);
    const int64_t total = (int64_t)count * messages;
    const double slot_ns = 1e9 / (rate * count);
    long long sent = 0, send_errors = 0, not_connected = 0;
    int64_t latest_ns = 0;
    const int64_t t0 = mono_ns() + 100000000;
    const double cpu_before = cpu_seconds();
    for (int64_t k = 0; k < total; k++) {
        int64_t due = t0 + (int64_t)(k * slot_ns);
        int64_t now = mono_ns();
        // Sleeping costs a system call: only when more than 200 µs ahead.
        if (due - now > 200000) {
            sleep_until_ns(due);
            now = mono_ns();
        }
        if (now - due > latest_ns) latest_ns = now - due;
        int index = (int)(k % count);
        SRTSOCKET s = connected.sockets[index];
        if (s == SRT_INVALID_SOCK) {
            not_connected++;
            continue;
        }
        uint32_t header[2] = {(uint32_t)index, (uint32_t)(k / count)};
        int64_t sent_ns = mono_ns();
        memcpy(payload, header, sizeof header);
        memcpy(payload + sizeof header, &sent_ns, sizeof sent_ns);
        if (srt_sendmsg2(s, payload, sizeof payload, NULL) == SRT_ERROR) {
            send_errors++;
        } else {
            sent++;
        }
    }
    const double stream_s = (mono_ns() - t0) / 1e9;
    const double cpu_streaming = cpu_seconds() - cpu_before;
    // Live mode delivers each message a latency (120 ms) after it was sent: let the last ones arrive before closing.
    sleep_until_ns(mono_ns() + 1000000000);

    long long retransmitted = 0, dropped = 0;
    for (int i = 0; i < count; i++) {
        SRT_TRACEBSTATS stats;
        if (connected.sockets[i] != SRT_INVALID_SOCK && srt_bstats(connected.sockets[i], &stats, 0) == 0) {
            retransmitted += stats.pktRetransTotal;
            dropped += stats.pktSndDropTotal;
        }
    }
    printf("CALLERS sent=%lld expected=%lld send_errors=%lld not_connected=%lld stream_s=%.3f late_max_ms=%.1f "
           "retransmitted=%lld dropped_too_late=%lld threads=%d rss_kib=%ld cpu_streaming_s=%.2f\n",
           sent, (long long)total, send_errors, not_connected, stream_s, latest_ns / 1e6, retransmitted, dropped,
           thread_count(), rss_kib(), cpu_streaming);
    fflush(stdout);
    for (int i = 0; i < count; i++) {
        if (connected.sockets[i] != SRT_INVALID_SOCK) srt_close(connected.sockets[i]);
    }
    srt_cleanup();
    return connected.connected == count && send_errors == 0 ? 0 : 1;
}
