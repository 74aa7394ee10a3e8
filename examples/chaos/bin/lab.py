#!/usr/bin/env python3
"""The chaos lab: throwaway components on loopback and in ./sandbox, their faults, their
metrics and their cures. Needs nothing but python3. Every command is safe to run again.

  lab.py start|stop|restart|ensure|kill COMPONENT     web, dep, proxy, leaker, hog
  lab.py check web|api|proxy|disk|hog|leaker          exit 0 when it is healthy
  lab.py metric up|latency|rss|cpu|disk|errors        prints the value, or nothing when the
                                                      component is not part of an experiment
  lab.py slow SECONDS | leak | fill MB | clean | fail | heal | degrade | undegrade
"""
import http.client, os, signal, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
SANDBOX = os.environ.get("CHAOS_SANDBOX") or os.path.join(HERE, "..", "sandbox")
PROGRAMS = {"web": ["service.py", "web"], "dep": ["service.py", "dep"], "proxy": ["proxy.py"],
            "leaker": ["leaker.py"], "hog": ["hog.py"]}
LISTENS = {"web", "dep", "proxy"}


def path(name):
    os.makedirs(SANDBOX, exist_ok=True)
    return os.path.join(SANDBOX, name)


def read(name):
    try:
        with open(path(name)) as f:
            return f.read().strip()
    except OSError:
        return None


def pid_of(component):
    pid = read(component + ".pid")
    if not pid:
        return None
    try:
        os.kill(int(pid), 0)
        with open("/proc/%s/stat" % pid) as f:
            if f.read().split(") ")[1].startswith("Z"):
                return None
        return int(pid)
    except (OSError, ValueError, IndexError):
        return None


def get(port, target="/", timeout=1.0):
    """(status, seconds) of GET http://127.0.0.1:port/target; status None when it fails."""
    start = time.monotonic()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=timeout)
        connection.request("GET", target)
        status = connection.getresponse().status
        connection.close()
        return status, time.monotonic() - start
    except (OSError, ValueError, http.client.HTTPException):
        return None, time.monotonic() - start


def answers(component):
    if component not in LISTENS:
        return pid_of(component) is not None
    port = read(component + ".port")
    # A generous timeout: on a loaded machine a healthy service may be slow to answer, and a
    # false "down" would be an incident no injected fault explains.
    return pid_of(component) is not None and port is not None and get(port, timeout=3)[0] == 200


def start(component):
    if answers(component):
        return
    for leftover in (".port", ".pid"):
        if os.path.exists(path(component + leftover)):
            os.remove(path(component + leftover))
    log = open(path(component + ".log"), "ab")
    # A session of its own: the component outlives the step (or activity) that started it.
    process = subprocess.Popen([sys.executable, os.path.join(HERE, PROGRAMS[component][0])] + PROGRAMS[component][1:] + [SANDBOX],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    with open(path(component + ".pid"), "w") as f:
        f.write(str(process.pid))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if answers(component):
            return
        time.sleep(0.05)
    sys.exit("%s did not start" % component)


def stop(component, forget=True):
    pid = pid_of(component)
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 3
        while pid_of(component) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_of(component):
            os.kill(pid, signal.SIGKILL)
    names = [".pid", ".port"] + ([".expected"] if forget else [])
    for leftover in names:
        if os.path.exists(path(component + leftover)):
            os.remove(path(component + leftover))


def metric(kind, component=None):
    """The value of a metric, or None: no series (the component is not in an experiment)."""
    if kind == "disk":
        folder = path("disk")
        if not os.path.isdir(folder):
            return None
        return sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder))
    if kind == "cpu":
        pid = pid_of("hog")
        if not pid:
            return None
        def ticks():
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().split(") ")[1].split()
            return int(fields[11]) + int(fields[12])
        try:
            before, start_time = ticks(), time.monotonic()
            time.sleep(0.3)
            return 100.0 * (ticks() - before) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - start_time)
        except OSError:
            return None
    if read(component + ".expected") is None:
        return None
    if kind == "up":
        return 1 if answers(component) else 0
    if kind == "latency":
        port = read("proxy.port")
        status, seconds = get(port, timeout=5) if port else (None, 5.0)
        return seconds if status == 200 else 5.0
    if kind == "rss":
        pid = pid_of("leaker")
        if not pid:
            return 0
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0
    if kind == "errors":
        if read("dep.expected") is None:
            return None
        port = read("web.port")
        results = [get(port, "/api")[0] if port else None for _ in range(4)]
        return sum(1 for status in results if status != 200) / len(results)
    sys.exit("unknown metric %s" % kind)


def control(component, target):
    port = read(component + ".port")
    if port and get(port, target)[0] != 200:
        sys.exit("%s did not take %s" % (component, target))


def main(argv):
    command, rest = argv[0], argv[1:]
    if command in ("start", "ensure"):
        start(rest[0])
        with open(path(rest[0] + ".expected"), "w") as f:
            f.write("1")
    elif command == "stop":
        stop(rest[0])
    elif command == "restart":
        stop(rest[0], forget=False)
        start(rest[0])
    elif command == "kill":
        pid = pid_of(rest[0])
        if pid:
            os.kill(pid, signal.SIGKILL)
    elif command == "check":
        what = rest[0]
        healthy = {"web": lambda: answers("web"),
                   "api": lambda: read("web.port") is not None and get(read("web.port"), "/api")[0] == 200,
                   "proxy": lambda: read("proxy.port") is not None and (lambda r: r[0] == 200 and r[1] < 0.5)(get(read("proxy.port"), timeout=2)),
                   "disk": lambda: (metric("disk") or 0) < 20e6,
                   "hog": lambda: pid_of("hog") is None,
                   "leaker": lambda: answers("leaker") and (metric("rss", "leaker") or 0) < 100e6}[what]
        sys.exit(0 if healthy() else 1)
    elif command == "metric":
        value = metric(rest[0], rest[1] if len(rest) > 1 else None)
        if value is not None:
            print(value)
    elif command == "slow":
        control("proxy", "/__chaos/delay?seconds=" + rest[0])
    elif command == "leak":
        pid = pid_of("leaker")
        if pid:
            os.kill(pid, signal.SIGUSR1)
    elif command == "fill":
        os.makedirs(path("disk"), exist_ok=True)
        for i in range(int(rest[0])):
            with open(os.path.join(path("disk"), "junk-%03d.bin" % i), "wb") as f:
                f.write(b"\0" * 1_000_000)
    elif command == "clean":
        if os.path.isdir(path("disk")):
            for name in os.listdir(path("disk")):
                if name.startswith("junk-"):
                    os.remove(os.path.join(path("disk"), name))
    elif command in ("fail", "heal"):
        control("dep", "/__chaos/fail?on=%d" % (command == "fail"))
    elif command == "degrade":
        open(path("web.degraded"), "w").close()
    elif command == "undegrade":
        if os.path.exists(path("web.degraded")):
            os.remove(path("web.degraded"))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:] or ["help"])
