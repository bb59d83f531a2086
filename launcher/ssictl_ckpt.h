/* ssictl_ckpt: `ssictl checkpoint PID [FILE]` (see ssictl(1)). */
#ifndef SSICTL_CKPT_H
#define SSICTL_CKPT_H

/* argv: the command's arguments after "checkpoint". Exit status. */
int ssictl_checkpoint(int argc, char **argv, const char *socket);

#endif
