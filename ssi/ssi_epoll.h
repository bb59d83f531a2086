/* ssi_epoll: epoll instances across a move (libssi.so; see ssi_epoll.c).
 * Both run in signal context: raw system calls only. */
#ifndef SSI_EPOLL_H
#define SSI_EPOLL_H

/* Freeze hook: records every epoll instance of the program (fds below
 * 1024) and its registrations, in static memory that the image carries. */
void ssi_epoll_freeze(void);

/* Restore hook (away or at home again): makes each recorded instance
 * again at its number, with the same registrations. */
void ssi_epoll_restore(void);

#endif
