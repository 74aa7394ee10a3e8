#ifndef CMEDICSYSTEM_H
#define CMEDICSYSTEM_H

#include <sys/types.h>

/// A file descriptor that becomes readable when process `pid` exits (Linux 5.3+ pidfd_open),
/// or -1 with errno set (ENOSYS on older kernels). Close-on-exec.
int medic_pidfd_open(pid_t pid);

#endif
