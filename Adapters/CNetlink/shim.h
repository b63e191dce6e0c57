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
    CNETLINK_ADDRESS_ADDED = 2, // RTM_NEWADDR
    CNETLINK_ROUTE_ADDED = 4,   // RTM_NEWROUTE
};

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

/// The CNETLINK_* bits of the messages in `buffer` (as read from the socket).
static inline int cnetlink_classify(const void *buffer, int length) {
    int bits = 0;
    for (const struct nlmsghdr *header = (const struct nlmsghdr *)buffer; NLMSG_OK(header, (unsigned int)length);
         header = NLMSG_NEXT(header, length)) {
        switch (header->nlmsg_type) {
        case RTM_NEWLINK: {
            const struct ifinfomsg *info = (const struct ifinfomsg *)NLMSG_DATA(header);
            if ((info->ifi_flags & IFF_UP) && (info->ifi_flags & IFF_RUNNING)) bits |= CNETLINK_LINK_UP;
            break;
        }
        case RTM_NEWADDR:
            bits |= CNETLINK_ADDRESS_ADDED;
            break;
        case RTM_NEWROUTE:
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
