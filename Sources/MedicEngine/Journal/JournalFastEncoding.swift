import MedicModel

extension JournalCodec {
    /// The records written most (a step's start and end, a target's, a stage's) as JSON without
    /// JSONEncoder, which costs some 13 µs a record on Linux: a rollout of a thousand targets
    /// writes four of them per target. The same keys, snake_case and sorted, as the encoder
    /// writes; nil for a record with a field this path does not write (a plan, a verification
    /// report, gate verdicts ...) or a number JSON cannot hold, which then goes through
    /// JSONEncoder. `JournalFastEncodingTests` checks both paths agree, and that this list of
    /// fields is JournalRecord's.
    static func fastEncode(_ r: JournalRecord) -> [UInt8]? {
        guard r.plan == nil, r.verification == nil, r.rollback == nil, r.notify == nil, r.gates == nil, r.needs == nil,
              r.targets == nil, r.baseline == nil, r.states == nil, r.detection == nil,
              r.chaos == nil else { return nil }
        var w = JSONWriter()
        w.bytes.append(UInt8(ascii: "{"))
        w.field("at", r.at)
        w.field("attempt", r.attempt)
        w.field("by", r.by)
        guard w.field("delay", r.delay) else { return nil }
        w.field("event", r.event.rawValue)
        w.field("host", r.host)
        w.field("idempotent", r.idempotent)
        w.field("item", r.item)
        w.field("message", r.message)
        w.field("mode", r.mode?.rawValue)
        w.field("outcome", r.outcome?.rawValue)
        w.field("passed", r.passed)
        w.field("phase", r.phase?.rawValue)
        w.field("pid", r.pid.map(Int.init))
        if let processes = r.processes {
            w.key("processes")
            w.processes(processes)
        }
        if let result = r.result {
            w.key("result")
            guard w.result(result) else { return nil }
        }
        w.field("role", r.role)
        w.field("run", r.run)
        if let seed = r.seed {
            w.key("seed")
            w.bytes.append(contentsOf: String(seed).utf8)
        }
        w.field("seq", r.seq)
        w.field("stage", r.stage)
        w.field("step", r.step)
        w.field("target", r.target)
        w.field("until", r.until)
        w.bytes.append(UInt8(ascii: "}"))
        return w.bytes
    }

    /// The fields `fastEncode` writes or refuses, for the test that keeps it complete.
    static let fastEncodedFields: Set<String> = [
        "seq", "at", "event", "run", "plan", "pid", "host", "seed", "step", "phase", "item", "attempt", "idempotent", "result",
        "delay", "verification", "rollback", "notify", "gates", "outcome", "message", "needs", "until", "mode", "by", "role",
        "target", "stage", "targets", "baseline", "passed", "states", "detection", "chaos", "processes",
    ]
}

/// JSON text, key by key, in the order written (callers write keys sorted).
struct JSONWriter {
    var bytes: [UInt8] = []
    private var first = true

    init() { bytes.reserveCapacity(256) }

    mutating func key(_ name: String) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func field(_ name: String, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    mutating func field(_ name: String, _ value: Int?) {
        guard let value else { return }
        key(name)
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func field(_ name: String, _ value: Bool?) {
        guard let value else { return }
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// False for a number JSON cannot hold (infinite, NaN).
    @discardableResult
    mutating func field(_ name: String, _ value: Double?) -> Bool {
        guard let value else { return true }
        guard value.isFinite else { return false }
        key(name)
        bytes.append(contentsOf: String(value).utf8)
        return true
    }

    /// `ExecutionResult`, its keys sorted as the encoder sorts them.
    mutating func result(_ r: ExecutionResult) -> Bool {
        var inner = JSONWriter()
        inner.bytes.append(UInt8(ascii: "{"))
        inner.field("exit_status", r.exitStatus.map(Int.init))
        inner.key("outputs")
        inner.bytes.append(UInt8(ascii: "{"))
        var firstOutput = true
        for (name, value) in r.outputs.sorted(by: { $0.key < $1.key }) {
            if !firstOutput { inner.bytes.append(UInt8(ascii: ",")) }
            firstOutput = false
            inner.string(name)
            inner.bytes.append(UInt8(ascii: ":"))
            inner.string(value)
        }
        inner.bytes.append(UInt8(ascii: "}"))
        guard inner.field("seconds", r.seconds) else { return false }
        inner.field("signal", r.signal.map(Int.init))
        inner.field("stderr", r.stderr)
        inner.field("stdout", r.stdout)
        inner.field("succeeded", r.succeeded)
        inner.field("summary", r.summary)
        inner.field("timed_out", r.timedOut)
        inner.bytes.append(UInt8(ascii: "}"))
        bytes.append(contentsOf: inner.bytes)
        return true
    }

    /// `StepProcess`es (a `step_process` record is written for every shell step), keys sorted.
    mutating func processes(_ list: [StepProcess]) {
        bytes.append(UInt8(ascii: "["))
        for (index, process) in list.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            var inner = JSONWriter()
            inner.bytes.append(UInt8(ascii: "{"))
            inner.field("boot_id", process.bootID)
            inner.field("command", process.command)
            inner.field("pid", Int(process.pid))
            inner.key("start_ticks")
            inner.bytes.append(contentsOf: String(process.startTicks).utf8)
            inner.field("token", process.token)
            inner.bytes.append(UInt8(ascii: "}"))
            bytes.append(contentsOf: inner.bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// A JSON string: `"` and `\` escaped, control characters as `\n`, `\t` ... or `\u00XX`;
    /// everything else as its UTF-8 (`/` unescaped, as the encoder is told).
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        // Most strings need no escape: their bytes are copied at once.
        let copied = text.utf8.withContiguousStorageIfAvailable { utf8 -> Bool in
            guard !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
            bytes.append(contentsOf: utf8)
            return true
        }
        if copied == true {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x08: bytes.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
