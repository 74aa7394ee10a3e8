import MedicText

/// Timestamps as metric series files write them, read as epoch seconds (UTC):
/// - NAB's `YYYY-MM-DD HH:MM:SS` (UTC), optionally with fractional seconds;
/// - RFC 3339, `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` (a missing offset is read as UTC);
/// - epoch seconds, `1420070400` or `1420070400.5`.
/// Pure text work (no Foundation, no locale, no time zone database).
public enum SeriesTimestamp {
    /// Epoch seconds, or nil when `text` is none of the forms above or names an impossible
    /// date or time (month 13, February 30, hour 24).
    public static func parse<S: StringProtocol>(_ text: S) -> Double? {
        var bytes = Array(text.utf8)
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes.removeFirst() }
        guard !bytes.isEmpty else { return nil }
        if bytes.count >= 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") {
            return bytes.withUnsafeBufferPointer { Timestamp(rfc3339: $0, leniency: .series)?.secondsSince1970 }
        }
        // Epoch seconds: digits, an optional sign, fraction and exponent; never nan or inf.
        let allowed = Set("0123456789+-.eE".utf8)
        guard bytes.allSatisfy(allowed.contains), let value = Double(String(decoding: bytes, as: UTF8.self)),
              value.isFinite else { return nil }
        return value
    }
}
