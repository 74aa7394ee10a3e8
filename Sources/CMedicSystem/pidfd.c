#include "CMedicSystem.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

int medic_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    // PIDFD_NONBLOCK is not needed: the descriptor is only polled. Pidfds are close-on-exec.
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}
