/*
 * ssi_restore_creds.c - the restorer's last step: the body takes on the
 * process's user and groups, and its capabilities as they were at home. A
 * body restored by a root agent must not keep the agent's root (a user's
 * process), nor get back the capabilities a root process had dropped, nor
 * lose the ambient or kept capabilities a user's process held.
 *
 * Freestanding, as the rest of the restorer: raw system calls only.
 */
#include "ssi_restore.h"

#include "ssi_sys.h"

#include <linux/prctl.h>
#include <stdint.h>

/* capset(2): the three sets, 64 bits each. */
static long s_capset(const uint32_t eff[2], const uint32_t prm[2], const uint32_t inh[2])
{
    ssi_sys_capdata_t data[2];
    for (int i = 0; i < 2; i++) {
        data[i].effective = eff[i];
        data[i].permitted = prm[i];
        data[i].inheritable = inh[i];
    }
    ssi_sys_caphdr_t hdr = {SSI_SYS_CAP_V3, 0};
    return ssi_sys2(SYS_capset, (long)&hdr, (long)data);
}

/* The image's capabilities, from a root restorer that has changed uid with
 * SECBIT_KEEP_CAPS (so its permitted set is still full). The order is the
 * kernel's: inheritable first (while the bounding set is full and
 * CAP_SETPCAP effective), then the bounding set and the ambient set (both
 * need CAP_SETPCAP or full permitted and inheritable sets), then the
 * securebits (CAP_SETPCAP; this also drops KEEP_CAPS unless the image has
 * it), then the three sets as the image has them (ambient capabilities
 * survive: they are in both the permitted and inheritable sets), last
 * no_new_privs (it can only be set). */
static void s_restore_caps(const ssi_image_caps_t *k)
{
    ssi_sys_capdata_t now[2];
    long r = ssi_sys_capget(now);
    uint32_t prm[2];
    if (r < 0)
        ssi_restore_die("cannot read the restorer's capabilities", 0, r);
    prm[0] = now[0].permitted;
    prm[1] = now[1].permitted;
    r = s_capset(prm, prm, k->inheritable);
    if (r < 0)
        ssi_restore_die("cannot set the process's inheritable capabilities", 0, r);
    for (uint32_t cap = 0; cap <= k->last_cap && cap < 64; cap++)
        if (!(k->bounding & (1ULL << cap)) && ssi_sys2(SYS_prctl, PR_CAPBSET_READ, cap) == 1) {
            r = ssi_sys2(SYS_prctl, PR_CAPBSET_DROP, cap);
            if (r < 0)
                ssi_restore_die("cannot drop a capability from the bounding set", 0, r);
        }
    ssi_sys5(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    for (uint32_t cap = 0; cap <= k->last_cap && cap < 64; cap++)
        if (k->ambient & (1ULL << cap)) {
            r = ssi_sys5(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
            if (r < 0)
                ssi_restore_die("cannot raise an ambient capability", 0, r);
        }
    r = ssi_sys2(SYS_prctl, PR_SET_SECUREBITS, k->securebits);
    if (r < 0)
        ssi_restore_die("cannot set the process's securebits", 0, r);
    r = s_capset(k->effective, k->permitted, k->inheritable);
    if (r < 0)
        ssi_restore_die("cannot set the process's capabilities", 0, r);
    if (k->no_new_privs) {
        r = ssi_sys5(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if (r < 0)
            ssi_restore_die("cannot set no_new_privs", 0, r);
    }
}

/* Last of all (PR_SET_MM_MAP and raising rlimits needed root): the body
 * of a user's process must not keep the agent's root, nor a root process
 * the capabilities it had dropped. A restorer that is not root (in place,
 * the process itself) has nothing to change. */
void ssi_restore_creds(const ssi_image_creds_t *c, const ssi_image_caps_t *caps)
{
    uint32_t ru, eu, su;
    long r;
    ssi_sys3(SYS_getresuid, (long)&ru, (long)&eu, (long)&su);
    if (eu != 0) {
        if (ru != c->ruid || eu != c->euid || su != c->suid)
            ssi_restore_die("restorer runs as another user than the image", 0, 0);
        return;
    }
    r = ssi_sys2(SYS_setgroups, c->ngroups, (long)c->groups);
    if (r == 0)
        r = ssi_sys3(SYS_setresgid, c->rgid, c->egid, c->sgid);
    /* Keep the permitted set across the uid change, for s_restore_caps. */
    if (r == 0 && caps)
        r = ssi_sys2(SYS_prctl, PR_SET_KEEPCAPS, 1);
    if (r == 0)
        r = ssi_sys3(SYS_setresuid, c->ruid, c->euid, c->suid);
    if (r < 0)
        ssi_restore_die("cannot take on the process's user and groups", 0, r);
    if (caps)
        s_restore_caps(caps);
    /* Changing uid cleared it; without it /proc/self/fd is root's and the
     * next freeze could not read it. */
    ssi_sys2(SYS_prctl, PR_SET_DUMPABLE, c->dumpable);
}
