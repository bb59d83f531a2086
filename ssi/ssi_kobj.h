/* ssi_kobj: eventfd, timerfd and signalfd descriptors across a move
 * (libssi.so; see ssi_kobj.c). Both run in signal context: raw system
 * calls only. */
#ifndef SSI_KOBJ_H
#define SSI_KOBJ_H

/* Freeze hook: records every eventfd (counter, semaphore mode), timerfd
 * (clock, settings, time left, ticks not yet read) and signalfd (mask) of
 * the program (fds below 1024), with their flags, and every POSIX timer
 * (id, signal, value, clock, time left), in static memory that the image
 * carries. */
void ssi_kobj_freeze(void);

/* The deputy at home, once its body runs away: deletes the POSIX timers
 * the freeze recorded (the body has its own now), dropping a signal one of
 * them sent meanwhile. */
void ssi_kobj_deputy(void);

/* Restore hook (away or at home again), before the epoll instances (which
 * may watch them) are made again: makes each recorded object again at its
 * number with its state; a timer's time left loses the time spent frozen. */
void ssi_kobj_restore(void);

#endif
