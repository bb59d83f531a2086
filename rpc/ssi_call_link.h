/*
 * ssi_call_link.h - the call link's transport: one call-link message
 * (wire/ssi_call.h) as one or more ssi_chan records.
 *
 * Runs inside user processes (the trap in the body, the call server in the
 * deputy): raw system calls, caller-owned buffers, no malloc.
 */
#ifndef SSI_CALL_LINK_H
#define SSI_CALL_LINK_H

#include <stdint.h>

/* One message (request or answer: both have their u32 len at byte 4, the
 * payload after a header of hdr bytes) as one or more records. send: 0;
 * recv: the message's length. Or -errno: the link is unusable (a message
 * that breaks the rules is -EPROTO). ch is an ssi_chan_t. */
long ssi_call_send(void *ch, const uint8_t *msg, uint32_t len);
long ssi_call_recv(void *ch, uint8_t *msg, uint32_t cap, uint32_t hdr);

#endif
