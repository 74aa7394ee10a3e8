import Foundation
import XCTest

/// Real faults for the `medic` binary: a small C library, compiled by the test with `cc`,
/// loaded with LD_PRELOAD, that wraps system calls as the environment asks:
///
/// - `MEDIC_FAULT_FSYNC=directory`: `fsync` of a directory fails with EIO.
/// - `MEDIC_FAULT_FSYNC=journal:N`: after N `fsync`s of regular files under a `runs/` folder,
///   the next ones fail with EIO.
/// - `MEDIC_FAULT_KILL_WRITE=TEXT`: the process SIGKILLs itself at its first `write` to a
///   file whose path contains TEXT, before writing.
/// - `MEDIC_FAULT_KILL_OPEN=TEXT`: the same at an `open` for writing of such a path.
/// - `MEDIC_FAULT_KILL_RENAME=TEXT`: the same at a `rename` of a path containing TEXT, before it.
enum FaultInjection {
    static let source = #"""
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <errno.h>
        #include <fcntl.h>
        #include <signal.h>
        #include <stdarg.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/stat.h>
        #include <unistd.h>

        static int path_of(int fd, char *buf, size_t size) {
            char link[64];
            snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
            ssize_t n = readlink(link, buf, size - 1);
            if (n < 0) return -1;
            buf[n] = 0;
            return 0;
        }

        int fsync(int fd) {
            static int (*real)(int);
            static int journal_syncs;
            if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
            const char *mode = getenv("MEDIC_FAULT_FSYNC");
            struct stat st;
            if (mode && fstat(fd, &st) == 0) {
                if (strcmp(mode, "directory") == 0 && S_ISDIR(st.st_mode)) { errno = EIO; return -1; }
                char path[4096];
                if (strncmp(mode, "journal:", 8) == 0 && S_ISREG(st.st_mode) && path_of(fd, path, sizeof path) == 0
                    && strstr(path, "/runs/")) {
                    if (__atomic_add_fetch(&journal_syncs, 1, __ATOMIC_SEQ_CST) > atoi(mode + 8)) { errno = EIO; return -1; }
                }
            }
            return real(fd);
        }

        ssize_t write(int fd, const void *bytes, size_t count) {
            static ssize_t (*real)(int, const void *, size_t);
            if (!real) real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
            const char *text = getenv("MEDIC_FAULT_KILL_WRITE");
            char path[4096];
            if (text && path_of(fd, path, sizeof path) == 0 && strstr(path, text)) kill(getpid(), SIGKILL);
            return real(fd, bytes, count);
        }

        static void kill_on_open(const char *path, int flags) {
            const char *text = getenv("MEDIC_FAULT_KILL_OPEN");
            if (text && path && (flags & O_ACCMODE) != O_RDONLY && strstr(path, text)) kill(getpid(), SIGKILL);
        }

        #define OPEN_WRAPPER(name)                                                   \
            int name(const char *path, int flags, ...) {                             \
                static int (*real)(const char *, int, ...);                          \
                if (!real) real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name); \
                va_list args;                                                        \
                va_start(args, flags);                                               \
                mode_t mode = (flags & O_CREAT) ? (mode_t)va_arg(args, int) : 0;     \
                va_end(args);                                                        \
                kill_on_open(path, flags);                                           \
                return real(path, flags, mode);                                      \
            }
        OPEN_WRAPPER(open)
        OPEN_WRAPPER(open64)

        int rename(const char *from, const char *to) {
            static int (*real)(const char *, const char *);
            if (!real) real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
            const char *text = getenv("MEDIC_FAULT_KILL_RENAME");
            if (text && from && strstr(from, text)) kill(getpid(), SIGKILL);
            return real(from, to);
        }
        """#

    /// The compiled library, built once per test process; skips the test when there is no `cc`.
    static func library() throws -> String {
        try built.get()
    }

    private static let built: Result<String, Error> = Result {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/cc") else {
            throw XCTSkip("fault injection needs a C compiler at /usr/bin/cc")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-faults-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let source = dir.appendingPathComponent("faults.c"), library = dir.appendingPathComponent("libmedicfaults.so")
        try Self.source.write(to: source, atomically: true, encoding: .utf8)
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
        cc.arguments = ["-shared", "-fPIC", "-O1", "-o", library.path, source.path, "-ldl"]
        try cc.run()
        cc.waitUntilExit()
        guard cc.terminationStatus == 0 else { throw FaultError("cc could not build the fault library (status \(cc.terminationStatus))") }
        return library.path
    }

    struct FaultError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Runs `medic` with the fault library loaded and `faults` in its environment.
    static func medic(_ arguments: [String], in directory: URL, faults: [String: String], timeout: Double = 60,
                      file: StaticString = #filePath, line: UInt = #line) throws -> MedicRun {
        try Medic.run(arguments, in: directory, timeout: timeout,
                      environment: faults.merging(["LD_PRELOAD": try library()]) { fault, _ in fault }, file: file, line: line)
    }
}
