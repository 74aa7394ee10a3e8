/// One line of `incident-patterns.jsonl` (reference §9.3 `incident_patterns`): a recurring issue,
/// the same signal on the same component at least `minimumOccurrences` times in the window, as
/// `medic kb update` saw it. See docs/knowledge.md.
public struct IncidentPattern: Sendable, Equatable, Codable {
    public static let version = 1

    /// `recurring`; `temporal` when most occurrences fall in one hour of the day (§9.2).
    public enum PatternType: String, Sendable, Equatable, Codable {
        case recurring, temporal
    }

    /// What the occurrences have in common besides the component.
    public enum SignalKind: String, Sendable, Equatable, Codable {
        /// The detection rule that fired (watched runs).
        case rule
        /// The playbook's category (runs without a rule).
        case category
    }

    public var v: Int
    public var at: String
    /// The first 16 hex digits of the SHA-256 of the key (signal kind, signal, component): the
    /// same pattern has the same id at every update.
    public var patternID: String
    public var patternType: PatternType
    public var description: String
    public var signalKind: SignalKind
    public var signal: String
    /// Absent for incidents that named no component.
    public var affectedComponent: String?
    /// Occurrences per day of the window.
    public var frequency: Double
    /// The window's length, days.
    public var windowDays: Double
    /// The first and last occurrence in the window (their `timestamp`).
    public var firstSeen: String
    public var lastSeen: String
    public var occurrences: Int
    /// The hour of the day (UTC, 0–23) with the most occurrences (ties: the earliest hour), and
    /// its share of them.
    public var peakHour: Int?
    public var peakHourShare: Double?
    /// True when the pattern is temporal: it comes back at one hour of the day.
    public var seasonal: Bool
    /// True when seasonal (the only regularity Medic measures yet: it knows when to expect it).
    public var predictable: Bool
    /// The detection rules seen in the occurrences, sorted.
    public var earlyWarningSignals: [String]

    public init(at: String, patternID: String, patternType: PatternType, description: String, signalKind: SignalKind,
                signal: String, affectedComponent: String?, frequency: Double, windowDays: Double, firstSeen: String,
                lastSeen: String, occurrences: Int, peakHour: Int?, peakHourShare: Double?, earlyWarningSignals: [String]) {
        v = Self.version
        self.at = at
        self.patternID = patternID
        self.patternType = patternType
        self.description = description
        self.signalKind = signalKind
        self.signal = signal
        self.affectedComponent = affectedComponent
        self.frequency = frequency
        self.windowDays = windowDays
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.occurrences = occurrences
        self.peakHour = peakHour
        self.peakHourShare = peakHourShare
        seasonal = patternType == .temporal
        predictable = patternType == .temporal
        self.earlyWarningSignals = earlyWarningSignals
    }

    enum CodingKeys: String, CodingKey {
        case v, at, description, signal, frequency, occurrences, seasonal, predictable
        case patternID = "pattern_id"
        case patternType = "pattern_type"
        case signalKind = "signal_kind"
        case affectedComponent = "affected_component"
        case windowDays = "window_days"
        case firstSeen = "first_seen"
        case lastSeen = "last_seen"
        case peakHour = "peak_hour"
        case peakHourShare = "peak_hour_share"
        case earlyWarningSignals = "early_warning_signals"
    }

    /// The id of the pattern with this key: SHA-256 of the fields framed as netstrings
    /// (`<byte count>:<bytes>,`: kind, signal, then `1:` and the component, or `0:` for none).
    public static func id(kind: SignalKind, signal: String, component: String?) -> String {
        var message: [UInt8] = []
        func frame(_ text: String) {
            let bytes = Array(text.utf8)
            message += Array("\(bytes.count):".utf8) + bytes + [UInt8(ascii: ",")]
        }
        frame(kind.rawValue)
        frame(signal)
        frame(component == nil ? "0" : "1")
        if let component { frame(component) }
        return String(SHA256Hex.of(message).prefix(16))
    }
}
