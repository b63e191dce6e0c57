// Accept rate, the load: SRT callers to 127.0.0.1:PORT as fast as libsrt completes them, CONCURRENCY handshakes in
// flight (non-blocking connects on one srt_epoll container), all from one local UDP port, until CONNECTIONS have
// connected. A connected caller stays open until the server closes it (the servers close each connection they
// accept), so no caller's close can break a connection the server has not accepted yet; then it is closed here.
//
// Usage: connector PORT CONNECTIONS CONCURRENCY
// Prints "CONNECTOR key=value ..." with monotonic instants once CONNECTIONS connected (or at the 60 s bound), then
// keeps closing what the server closed until it is killed (at most 120 s).
#include "common.h"

int main(int argc, char** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s PORT CONNECTIONS CONCURRENCY\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), count = atoi(argv[2]), concurrency = atoi(argv[3]);
    if (port <= 0 || count <= 0 || concurrency <= 0 || concurrency > 1024) {
        fprintf(stderr, "PORT and CONNECTIONS must be positive, CONCURRENCY 1 to 1024\n");
        return 2;
    }
    alarm(120);
    srt_startup();
    srt_setloglevel(3);
    int eid = srt_epoll_create();
    // Once every caller is closed the container is empty: waiting on it must time out, not fail with 5014.
    srt_epoll_set(eid, SRT_EPOLL_ENABLE_EMPTY);
    SRTSOCKET flight[1024];
    int in_flight = 0, started = 0, connected = 0, local_port = 0, reported = 0;
    connect_result failures;
    memset(&failures, 0, sizeof failures);
    const int64_t start_ns = mono_ns(), deadline_ns = start_ns + 60 * 1000000000LL;
    int64_t last_ns = 0;
    SRT_EPOLL_EVENT events[256];
    while (1) {
        // Bounded: at most three attempts per wanted connection.
        while (connected + in_flight < count && in_flight < concurrency && started < 3 * count) {
            flight[in_flight++] = start_caller(eid, port, &local_port, "accept", started++);
        }
        if (!reported && (connected >= count || mono_ns() >= deadline_ns || (in_flight == 0 && started >= 3 * count))) {
            printf("CONNECTOR connected=%d of=%d start_ns=%lld last_ns=%lld failed_attempts=%d reasons=", connected,
                   count, (long long)start_ns, (long long)last_ns, failures.failed_attempts);
            print_reasons(&failures);
            printf(" reported_ns=%lld\n", (long long)mono_ns());
            fflush(stdout);
            reported = 1;
        }
        int ready = srt_epoll_uwait(eid, events, 256, 100);
        for (int e = 0; e < ready; e++) {
            SRTSOCKET s = events[e].fd;
            SRT_SOCKSTATUS state = srt_getsockstate(s);
            int slot = 0;
            while (slot < in_flight && flight[slot] != s) slot++;
            if (slot == in_flight) {
                // A connected caller that the server closed: release it.
                if (state != SRTS_CONNECTED) {
                    srt_epoll_remove_usock(eid, s);
                    srt_close(s);
                }
                continue;
            }
            if (state == SRTS_CONNECTING) continue;
            flight[slot] = flight[--in_flight];
            int reason = srt_getrejectreason(s);
            // Connected, or connected and already closed by the server: then libsrt leaves the reason unset or says
            // "closing" (7), never what a refused or timed-out connect says (backlog 5, peer 2, timeout 16, ...).
            int closed_after_connect = state == SRTS_BROKEN && (reason == SRT_REJ_UNKNOWN || reason == SRT_REJ_CLOSE);
            if (state == SRTS_CONNECTED || closed_after_connect) {
                connected++;
                last_ns = mono_ns();
                if (state == SRTS_CONNECTED) {
                    int errors_only = SRT_EPOLL_ERR;
                    srt_epoll_update_usock(eid, s, &errors_only);
                    continue;
                }
            } else {
                failures.by_reason[reason >= 0 && reason < SRT_REJ_E_SIZE ? reason : SRT_REJ_E_SIZE]++;
                failures.failed_attempts++;
            }
            srt_epoll_remove_usock(eid, s);
            srt_close(s);
        }
    }
}
