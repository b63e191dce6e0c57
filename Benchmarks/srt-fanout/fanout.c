// The floor for the fan-out benchmark: the least an SRT server can do to hand one publisher's stream to many readers
// over the same libsrt. One thread, one libsrt epoll: accept, and for every message the publisher sends, one
// non-blocking srt_sendmsg2 per reader (a reader whose send buffer is full loses that message). No queues, no
// packet alignment, no recording, no access control beyond the role: what srt-relay adds to this is its price.
//
// Usage: fanout PORT [LATENCY_MS]
// A caller whose stream id starts with "read:" is a reader; any other is the publisher (the latest one).
// Listens on 127.0.0.1 only; runs until SIGTERM or SIGINT.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <srt/srt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_READERS = 4096, MAX_EVENTS = 256 };

static volatile sig_atomic_t stopping = 0;
static void stop(int signal) { (void)signal; stopping = 1; }

static void fail(const char* what) {
    fprintf(stderr, "fanout: %s: %s\n", what, srt_getlasterror_str());
    exit(1);
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: fanout PORT [LATENCY_MS]\n");
        return 2;
    }
    const int port = atoi(argv[1]);
    const int latency = argc > 2 ? atoi(argv[2]) : 120;
    signal(SIGTERM, stop);
    signal(SIGINT, stop);
    srt_startup();
    SRTSOCKET listener = srt_create_socket();
    int yes = 1, no = 0;
    srt_setsockflag(listener, SRTO_LATENCY, &latency, sizeof latency);
    srt_setsockflag(listener, SRTO_RCVSYN, &no, sizeof no);
    srt_setsockflag(listener, SRTO_SNDSYN, &no, sizeof no);
    (void)yes;
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (srt_bind(listener, (struct sockaddr*)&address, sizeof address) == SRT_ERROR) fail("bind");
    if (srt_listen(listener, 512) == SRT_ERROR) fail("listen");
    int poll = srt_epoll_create();
    int in = SRT_EPOLL_IN | SRT_EPOLL_ERR;
    srt_epoll_add_usock(poll, listener, &in);
    SRTSOCKET readers[MAX_READERS];
    int reader_count = 0;
    SRTSOCKET publisher = SRT_INVALID_SOCK;
    char message[1500];
    SRT_EPOLL_EVENT events[MAX_EVENTS];
    fprintf(stderr, "fanout: listening on 127.0.0.1:%d\n", port);
    while (!stopping) {
        int count = srt_epoll_uwait(poll, events, MAX_EVENTS, 100);
        for (int i = 0; i < count; i++) {
            SRTSOCKET socket = events[i].fd;
            if (socket == listener) {
                for (;;) {
                    struct sockaddr_storage peer;
                    int length = sizeof peer;
                    SRTSOCKET accepted = srt_accept(listener, (struct sockaddr*)&peer, &length);
                    if (accepted == SRT_INVALID_SOCK) break;
                    char id[513] = {0};
                    int id_length = sizeof id - 1;
                    srt_getsockflag(accepted, SRTO_STREAMID, id, &id_length);
                    if (strncmp(id, "read:", 5) == 0 && reader_count < MAX_READERS) {
                        readers[reader_count++] = accepted;
                        int errors = SRT_EPOLL_ERR;
                        srt_epoll_add_usock(poll, accepted, &errors);
                    } else {
                        if (publisher != SRT_INVALID_SOCK) srt_close(publisher);
                        publisher = accepted;
                        srt_epoll_add_usock(poll, accepted, &in);
                    }
                }
                continue;
            }
            if (socket == publisher && (events[i].events & SRT_EPOLL_IN)) {
                for (;;) {
                    int received = srt_recvmsg2(publisher, message, sizeof message, NULL);
                    if (received < 0) break;
                    for (int r = 0; r < reader_count; r++) srt_sendmsg2(readers[r], message, received, NULL);
                }
            }
            if (events[i].events & SRT_EPOLL_ERR) {
                srt_epoll_remove_usock(poll, socket);
                srt_close(socket);
                if (socket == publisher) publisher = SRT_INVALID_SOCK;
                for (int r = 0; r < reader_count; r++) {
                    if (readers[r] == socket) readers[r--] = readers[--reader_count];
                }
            }
        }
    }
    srt_close(listener);
    srt_cleanup();
    return 0;
}
