// rtnetlink for the network-change monitor: what Swift cannot import (NLMSG_* macros, RTMGRP_* groups), wrapped
// as static inline functions. Empty on platforms without rtnetlink.
#ifndef CNETLINK_SHIM_H
#define CNETLINK_SHIM_H

#ifdef __linux__
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/// What a batch of rtnetlink messages contained, as bits.
enum {
    CNETLINK_LINK_UP = 1,       // RTM_NEWLINK for an interface that is up and running
    CNETLINK_ADDRESS_ADDED = 2, // RTM_NEWADDR of an address a socket can bind (not tentative, not failed DAD)
    CNETLINK_ROUTE_ADDED = 4,   // RTM_NEWROUTE in the main table (not a cached clone)
    CNETLINK_OVERFLOW = 8,      // the kernel dropped messages (ENOBUFS): anything may have changed
};

/// The socket's receive buffer as the kernel reports it, or -errno.
static inline int cnetlink_receive_buffer(int fd) {
    int size = 0;
    socklen_t length = sizeof(size);
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &length) != 0) return -errno;
    return size;
}

/// Sets the socket's receive buffer to `bytes`: past the system's limit when the process may (SO_RCVBUFFORCE needs
/// CAP_NET_ADMIN), within it otherwise. Returns the size the kernel reports now (it doubles what was asked).
static inline int cnetlink_set_receive_buffer(int fd, int bytes) {
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) != 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
    }
    return cnetlink_receive_buffer(fd);
}

/// Opens a non-blocking rtnetlink socket subscribed to link, address and route changes; the fd, or -errno.
static inline int cnetlink_open(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    if (fd < 0) return -errno;
    struct sockaddr_nl address;
    memset(&address, 0, sizeof(address));
    address.nl_family = AF_NETLINK;
    address.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    return fd;
}

/// The 32-bit value of the attribute `type` among the `length` bytes of attributes from `first`, or `fallback`.
static inline unsigned int cnetlink_attribute_u32(const struct rtattr *first, int length, unsigned short type,
                                                  unsigned int fallback) {
    unsigned int value = fallback;
    for (const struct rtattr *attribute = first; RTA_OK(attribute, length); attribute = RTA_NEXT(attribute, length)) {
        if (attribute->rta_type == type && RTA_PAYLOAD(attribute) >= sizeof(value)) {
            memcpy(&value, RTA_DATA(attribute), sizeof(value));
        }
    }
    return value;
}

/// Whether an RTM_NEWADDR message names an address a socket can bind now: an IPv6 address is tentative until
/// duplicate address detection ends (a bind fails with EADDRNOTAVAIL meanwhile, and another RTM_NEWADDR comes when it
/// ends), and useless when detection failed. The flags are in IFA_FLAGS (32 bits) when present, else in ifa_flags.
static inline int cnetlink_address_is_usable(const struct nlmsghdr *header) {
    const struct ifaddrmsg *info = (const struct ifaddrmsg *)NLMSG_DATA(header);
    unsigned int flags = cnetlink_attribute_u32(IFA_RTA(info), (int)IFA_PAYLOAD(header), IFA_FLAGS, info->ifa_flags);
    return (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) == 0;
}

/// Whether an RTM_NEWROUTE message is a route of the main table that a bind or a connect may need: routes of other
/// tables (the local table's, added with every address; policy-routing tables) and cached clones are not. The table
/// is in RTA_TABLE when present (tables past 255), else in rtm_table.
static inline int cnetlink_route_is_main(const struct nlmsghdr *header) {
    const struct rtmsg *route = (const struct rtmsg *)NLMSG_DATA(header);
    if (route->rtm_flags & RTM_F_CLONED) return 0;
    unsigned int table = cnetlink_attribute_u32(RTM_RTA(route), (int)RTM_PAYLOAD(header), RTA_TABLE, route->rtm_table);
    return table == RT_TABLE_MAIN;
}

/// Whether `header`'s message holds a body of `size` bytes after its netlink header: a shorter one is skipped, never
/// read past its end (into the next message).
static inline int cnetlink_has_body(const struct nlmsghdr *header, size_t size) {
    return header->nlmsg_len >= NLMSG_LENGTH(size);
}

/// The CNETLINK_* bits of the messages in `buffer` (as read from the socket).
static inline int cnetlink_classify(const void *buffer, int length) {
    int bits = 0;
    for (const struct nlmsghdr *header = (const struct nlmsghdr *)buffer; NLMSG_OK(header, (unsigned int)length);
         header = NLMSG_NEXT(header, length)) {
        switch (header->nlmsg_type) {
        case RTM_NEWLINK: {
            if (!cnetlink_has_body(header, sizeof(struct ifinfomsg))) break;
            const struct ifinfomsg *info = (const struct ifinfomsg *)NLMSG_DATA(header);
            if ((info->ifi_flags & IFF_UP) && (info->ifi_flags & IFF_RUNNING)) bits |= CNETLINK_LINK_UP;
            break;
        }
        case RTM_NEWADDR:
            if (cnetlink_has_body(header, sizeof(struct ifaddrmsg)) && cnetlink_address_is_usable(header))
                bits |= CNETLINK_ADDRESS_ADDED;
            break;
        case RTM_NEWROUTE:
            if (cnetlink_has_body(header, sizeof(struct rtmsg)) && cnetlink_route_is_main(header))
                bits |= CNETLINK_ROUTE_ADDED;
            break;
        default:
            break;
        }
    }
    return bits;
}
#endif

#endif
