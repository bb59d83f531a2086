/* ssid_state: this node's table of ssi processes kept in a file beside the
 * local socket (ssid.procs in its directory, /run/ssi by default), so that
 * an ssid that restarts (crashed, killed, `systemctl restart`) finds the
 * processes it served again: those still running (same pid, same start
 * time) are adopted, through a pidfd, as if their registration socket had
 * closed, with where their body runs. One line per process:
 *   PID STARTTIME UID PPID NODE|- CMD
 * Written when the table changed (checked from the loop's watch timer),
 * under a temporary name then renamed. Uses ssid_client and ssid_node.
 * Runs in ssid. */
#ifndef SSID_STATE_H
#define SSID_STATE_H

/* Where the file goes: beside socket_path. */
void ssid_state_init(const char *socket_path);

/* Adopts the processes of the file that still run; logs how many. */
void ssid_state_load(void);

/* Writes the file if the table changed since the last write. */
void ssid_state_save(void);

#endif
