// What Swift cannot import from <srt/srt.h>, wrapped as static inline functions.
// Every C quirk of libsrt that the adapter needs lives here, and nowhere else.
#ifndef CSRT_SHIM_H
#define CSRT_SHIM_H

#include <srt/srt.h>
#include <srt/version.h>
#include <srt/access_control.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/sock_diag.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/// SRT_VERSION_VALUE is a function-like macro; this is the version the headers were compiled against.
static inline int csrt_header_version(void) {
    return SRT_VERSION_VALUE;
}

// MARK: - epoll event bits (an enum whose C++ operator| Swift cannot see, plus a function-like mask macro)

static inline int csrt_epoll_in(void) { return SRT_EPOLL_IN; }
static inline int csrt_epoll_out(void) { return SRT_EPOLL_OUT; }
static inline int csrt_epoll_err(void) { return SRT_EPOLL_ERR; }

/// Whether libsrt marked `socket` broken (`SRTO_EVENT` carries `SRT_EPOLL_ERR` exactly then): a peer's close or a
/// timeout sets it; the moment a completing caller handshake reads BROKEN without it does not. -1 if unreadable.
static inline int csrt_is_marked_broken(SRTSOCKET socket) {
    int32_t events = 0;
    int length = sizeof(events);
    if (srt_getsockflag(socket, SRTO_EVENT, &events, &length) == SRT_ERROR) return -1;
    return (events & SRT_EPOLL_ERR) != 0;
}
static inline int csrt_epoll_update(void) { return SRT_EPOLL_UPDATE; }
static inline int csrt_epoll_eventtypes(void) { return SRT_EPOLL_EVENTTYPES; }
/// Edge-triggered: `1u << 31`, which does not fit Swift's view of the enum as a signed int.
static inline int csrt_epoll_et(void) { return (int)SRT_EPOLL_ET; }

/// Makes an empty epoll container legal to wait on (otherwise `srt_epoll_uwait` fails with 5014).
static inline int csrt_epoll_enable_empty(int eid) {
    return srt_epoll_set(eid, SRT_EPOLL_ENABLE_EMPTY);
}

/// Names the calling thread as `ps -T` and /proc/self/task/*/comm show it (at most 15 characters).
static inline void csrt_name_current_thread(const char* name) {
    prctl(PR_SET_NAME, name, 0, 0, 0);
}

/// Sets how late the kernel may end the calling thread's sleeps (`PR_SET_TIMERSLACK`; 50 µs by default on Linux).
static inline void csrt_set_current_thread_timer_slack(unsigned long nanoseconds) {
    prctl(PR_SET_TIMERSLACK, nanoseconds, 0, 0, 0);
}

/// The kernel's id of the calling thread (`/proc/self/task/<id>`); glibc's gettid() is not visible to Swift.
static inline int csrt_thread_id(void) {
    return (int)syscall(SYS_gettid);
}

// MARK: - libsrt's receive threads (each multiplexer starts one, named "SRT:RcvQ:w<N>", at bind)

/// Whether thread `tid` of this process is one of libsrt's receive threads by its name: 1 yes; 0 no (it exited, or
/// it is another thread); -1 it exists but its name cannot be read (out of descriptors). For listing them at a bind.
static inline int csrt_receive_thread_state(int tid) {
    if (syscall(SYS_tgkill, getpid(), tid, 0) != 0) return errno == ESRCH ? 0 : -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : -1;
    char name[32] = {0};
    ssize_t length = read(fd, name, sizeof name - 1);
    close(fd);
    if (length < 0) return -1;
    return length >= 8 && strncmp(name, "SRT:RcvQ", 8) == 0;
}

/// Whether thread `tid` of this process still exists: 1 yes, 0 no (it exited). Asked with `tgkill` and signal 0,
/// which needs no descriptor. Not by its name: libsrt renames the creating thread to the new thread's name while it
/// starts one, so a live receive thread reads as another thread for a moment each time a connection's first data
/// packet starts that connection's delivery thread. (A thread id reused after an exit reads as running: the death
/// signal names the dying thread, so a listener's own death is still seen.)
static inline int csrt_thread_exists(int tid) {
    if (syscall(SYS_tgkill, getpid(), tid, 0) == 0) return 1;
    return errno == ESRCH ? 0 : 1;
}

/// Whether the calling thread is one of libsrt's receive threads (its name, read without a descriptor).
static inline int csrt_current_thread_is_receive_thread(void) {
    char name[17] = {0};
    if (prctl(PR_GET_NAME, name, 0, 0, 0) != 0) return 0;
    return strncmp(name, "SRT:RcvQ", 8) == 0;
}

/// Writes the ids of every thread of this process to `ids` (at most `capacity`), names unread: one directory
/// listing, no file opened per thread; returns how many there are (more than `capacity` when they did not fit), or -1
/// when /proc cannot be read (out of descriptors).
static inline int csrt_task_ids(int *ids, int capacity) {
    DIR *tasks = opendir("/proc/self/task");
    if (tasks == NULL) return -1;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(tasks)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        int tid = atoi(entry->d_name);
        if (tid <= 0) continue;
        if (count < capacity) ids[count] = tid;
        count += 1;
    }
    closedir(tasks);
    return count;
}

/// Writes the ids of libsrt's receive threads of this process to `ids` (at most `capacity`); returns how many there
/// are (more than `capacity` when they did not fit), or -1 when /proc cannot be read (out of descriptors).
static inline int csrt_receive_threads(int *ids, int capacity) {
    DIR *tasks = opendir("/proc/self/task");
    if (tasks == NULL) return -1;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(tasks)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        int tid = atoi(entry->d_name);
        if (tid <= 0) continue;
        int state = csrt_receive_thread_state(tid);
        if (state < 0) {
            closedir(tasks);
            return -1;
        }
        if (state == 0) continue;
        if (count < capacity) ids[count] = tid;
        count += 1;
    }
    closedir(tasks);
    return count;
}

// MARK: - log flags and levels (object-like macros from logging_api.h and syslog.h, gathered in one place)

/// Asks libsrt to pass the bare message to the handler: no time, thread name, severity or newline.
static inline void csrt_set_bare_log_messages(void) {
    srt_setlogflags(SRT_LOGF_DISABLE_TIME | SRT_LOGF_DISABLE_THREADNAME | SRT_LOGF_DISABLE_SEVERITY |
                    SRT_LOGF_DISABLE_EOL);
}

// MARK: - socket options (srt_setsockflag takes a void pointer and a length)

static inline int csrt_set_int(SRTSOCKET s, SRT_SOCKOPT option, int value) {
    return srt_setsockflag(s, option, &value, (int)sizeof value);
}

static inline int csrt_set_int64(SRTSOCKET s, SRT_SOCKOPT option, int64_t value) {
    return srt_setsockflag(s, option, &value, (int)sizeof value);
}

/// Boolean options (SRTO_RCVSYN, SRTO_ENFORCEDENCRYPTION, ...) are C++ `bool` inside libsrt but accept an int.
static inline int csrt_set_bool(SRTSOCKET s, SRT_SOCKOPT option, int value) {
    int flag = value ? 1 : 0;
    return srt_setsockflag(s, option, &flag, (int)sizeof flag);
}

static inline int csrt_set_string(SRTSOCKET s, SRT_SOCKOPT option, const char* value, int length) {
    return srt_setsockflag(s, option, value, length);
}

static inline int csrt_get_int(SRTSOCKET s, SRT_SOCKOPT option, int* value) {
    int length = (int)sizeof *value;
    return srt_getsockflag(s, option, value, &length);
}

/// Reads a string option (SRTO_STREAMID holds at most 512 bytes); `buffer` is always NUL-terminated on success.
static inline int csrt_get_string(SRTSOCKET s, SRT_SOCKOPT option, char* buffer, int capacity) {
    int length = capacity - 1;
    int result = srt_getsockflag(s, option, buffer, &length);
    if (result == 0) buffer[length < 0 ? 0 : length] = 0;
    return result;
}

// MARK: - addresses

/// Parses a numeric IPv4 or IPv6 address into `out`; returns the address length, or 0 when `host` is not numeric.
static inline int csrt_make_address(const char* host, int port, struct sockaddr_storage* out) {
    memset(out, 0, sizeof *out);
    struct sockaddr_in* v4 = (struct sockaddr_in*)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return (int)sizeof *v4;
    }
    struct sockaddr_in6* v6 = (struct sockaddr_in6*)out;
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return (int)sizeof *v6;
    }
    return 0;
}

/// Formats `address` as numeric host text into `host` and returns its port, or -1 for another family.
static inline int csrt_describe_address(const struct sockaddr* address, char* host, int capacity) {
    if (address->sa_family == AF_INET) {
        const struct sockaddr_in* v4 = (const struct sockaddr_in*)address;
        if (inet_ntop(AF_INET, &v4->sin_addr, host, (socklen_t)capacity) == NULL) return -1;
        return ntohs(v4->sin_port);
    }
    if (address->sa_family == AF_INET6) {
        const struct sockaddr_in6* v6 = (const struct sockaddr_in6*)address;
        if (inet_ntop(AF_INET6, &v6->sin6_addr, host, (socklen_t)capacity) == NULL) return -1;
        return ntohs(v6->sin6_port);
    }
    return -1;
}

// MARK: - descriptors left to the rest of the process

/// How many descriptors the adapter leaves free when it makes one (a UDP socket, an epoll container).
/// A Swift process on Linux with none free dies: libdispatch opens /proc/<tid>/stat every second while the
/// concurrency pool has queued work, and crashes (SIGILL, "workq: registered worker exited prematurely") when the
/// open fails. One free descriptor was measured to be enough; the rest is for logging, metrics and the application.
#define CSRT_DESCRIPTOR_RESERVE 8

static inline int csrt_descriptor_reserve(void) { return CSRT_DESCRIPTOR_RESERVE; }

/// 1 when `count` more descriptors could be opened right now (each is opened and closed again), 0 when not
/// (errno EMFILE or ENFILE).
static inline int csrt_descriptors_free(int count) {
    int taken[64];
    if (count > 64) count = 64;
    int opened = 0;
    int base = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (base >= 0) {
        taken[opened++] = base;
        while (opened < count) {
            int copy = fcntl(base, F_DUPFD_CLOEXEC, 0);
            if (copy < 0) break;
            taken[opened++] = copy;
        }
    }
    int saved = errno;
    for (int index = 0; index < opened; index++) close(taken[index]);
    errno = saved;
    return opened >= count;
}

// MARK: - the UDP socket the adapter owns (srt_bind_acquire)

/// Creates a UDP socket bound to `address`; returns the fd, or -1 with `*error` set to errno.
/// An IPv6 socket is IPv6-only when `v6only` is 1, and takes IPv4-mapped peers too when it is 0.
/// Fails with EMFILE when the socket would leave fewer than CSRT_DESCRIPTOR_RESERVE descriptors free.
static inline int csrt_udp_bind_v6only(const struct sockaddr* address, int length, int v6only, int* error) {
    int fd = socket(address->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *error = errno;
        return -1;
    }
    if (!csrt_descriptors_free(CSRT_DESCRIPTOR_RESERVE)) {
        *error = errno == ENFILE ? ENFILE : EMFILE;
        close(fd);
        return -1;
    }
    if (address->sa_family == AF_INET6) {
        int flag = v6only ? 1 : 0;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &flag, sizeof flag);
    }
    if (bind(fd, address, (socklen_t)length) != 0) {
        *error = errno;
        close(fd);
        return -1;
    }
    *error = 0;
    return fd;
}

/// `csrt_udp_bind_v6only` with IPv6-only sockets, so that `[::1]` and `127.0.0.1` on one port are independent
/// listeners.
static inline int csrt_udp_bind(const struct sockaddr* address, int length, int* error) {
    return csrt_udp_bind_v6only(address, length, 1, error);
}

/// The port the kernel gave `fd` (for binds to port 0), or -1.
static inline int csrt_local_port(int fd) {
    struct sockaddr_storage local;
    socklen_t length = sizeof local;
    if (getsockname(fd, (struct sockaddr*)&local, &length) != 0) return -1;
    if (local.ss_family == AF_INET) return ntohs(((struct sockaddr_in*)&local)->sin_port);
    if (local.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6*)&local)->sin6_port);
    return -1;
}

/// 1 when some interface carries `host` (or `host` is a wildcard), 0 when none does, -1 when it cannot tell.
/// A listener whose address vanished is alive and waits for it (Docs/libsrt-failure-modes.md §7): no restart then.
static inline int csrt_address_is_local(const char* host) {
    struct sockaddr_storage wanted;
    if (csrt_make_address(host, 0, &wanted) == 0) return -1;
    if (wanted.ss_family == AF_INET && ((struct sockaddr_in*)&wanted)->sin_addr.s_addr == htonl(INADDR_ANY)) return 1;
    if (wanted.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6*)&wanted)->sin6_addr)) return 1;
    struct ifaddrs* list = NULL;
    if (getifaddrs(&list) != 0) return -1;
    int found = 0;
    for (struct ifaddrs* entry = list; entry != NULL && !found; entry = entry->ifa_next) {
        if (entry->ifa_addr == NULL || entry->ifa_addr->sa_family != wanted.ss_family) continue;
        if (wanted.ss_family == AF_INET) {
            found = ((struct sockaddr_in*)entry->ifa_addr)->sin_addr.s_addr ==
                    ((struct sockaddr_in*)&wanted)->sin_addr.s_addr;
        } else {
            found = memcmp(&((struct sockaddr_in6*)entry->ifa_addr)->sin6_addr,
                           &((struct sockaddr_in6*)&wanted)->sin6_addr, sizeof(struct in6_addr)) == 0;
        }
    }
    freeifaddrs(list);
    return found;
}

/// The size of the next datagram waiting unread in `fd` (FIONREAD), 0 when none waits, -1 when `fd` is not a
/// socket any more (after a dup2 of /dev/null, ENOTTY).
static inline int csrt_unread_bytes(int fd) {
    int pending = 0;
    if (ioctl(fd, FIONREAD, &pending) != 0) return -1;
    return pending;
}

/// The bytes queued for reading on `fd` (the kernel's receive-memory count, `SO_MEMINFO`), -1 when unknown (not a
/// socket any more). It falls only when someone reads: a dead reader's queue only grows or stays.
static inline long csrt_receive_queue_memory(int fd) {
    unsigned int info[SK_MEMINFO_VARS];
    socklen_t length = sizeof(info);
    if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info, &length) != 0 || length < sizeof(unsigned int)) return -1;
    return (long)info[SK_MEMINFO_RMEM_ALLOC];
}

/// Sends one 1-byte datagram to `address` from a short-lived UDP socket: the quick liveness check's token. libsrt's
/// receive thread reads it and drops it (shorter than any SRT header); a dead one leaves it queued. Returns 0, or
/// errno (EMFILE when taking a descriptor would eat into the reserve).
static inline int csrt_udp_poke(const struct sockaddr* address, int length) {
    if (!csrt_descriptors_free(CSRT_DESCRIPTOR_RESERVE)) return EMFILE;
    int fd = socket(address->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    const char token = 0;
    int result = sendto(fd, &token, 1, 0, address, (socklen_t)length) == 1 ? 0 : errno;
    close(fd);
    return result;
}

/// Retires a UDP socket that libsrt still refers to: /dev/null takes over the fd number, so the kernel port is
/// released, `getsockname` fails (libsrt stops matching the dead multiplexer) and a later `close` by libsrt closes
/// /dev/null instead of someone else's descriptor. Never `close(fd)` here. Returns 0, or errno.
static inline int csrt_retire_fd(int fd) {
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) return errno;
    int result = dup2(null, fd) < 0 ? errno : 0;
    close(null);
    return result;
}

/// `csrt_retire_fd` with a /dev/null descriptor opened in advance, so that retiring needs no free descriptor (the
/// process may be out of them); falls back to opening one when `null_fd` is negative.
static inline int csrt_retire_fd_using(int fd, int null_fd) {
    if (null_fd < 0) return csrt_retire_fd(fd);
    return dup2(null_fd, fd) < 0 ? errno : 0;
}

/// Returns the free memory malloc keeps in its arenas to the system, so that resident memory counts what is live
/// (tests that look for leaks after thousands of threads came and went).
static inline void csrt_malloc_trim(void) {
    malloc_trim(0);
}

#endif
